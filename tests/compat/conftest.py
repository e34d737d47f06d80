"""Fixtures for the front-end compatibility checks (Notebook 7, JupyterLab 4, marimo,
nbconvert exports): a real demo runner on 127.0.0.1, Debian's chromium (the browser
harness's ``browser`` fixture, see _compat_harness.py), and a hermetic page that
screenshots itself into test-artifacts/compat/."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass

import pytest
from _compat_harness import ARTIFACTS, browser, harness, known_page_error

import flowwidgets as fw
from flowwidgets import demo

__all__ = ["browser", "cleanup", "demo_runner", "page"]


@pytest.fixture
def cleanup() -> Iterator[ExitStack]:
    """Servers and runners register their stop here; it runs after the page closed."""
    with ExitStack() as stack:
        yield stack


@pytest.fixture
def page(browser, request, cleanup, tmp_path):
    """A fresh hermetic page (127.0.0.1, data:, blob: and files under ``tmp_path`` only).

    Fails on an uncaught JS error not in ``KNOWN_PAGE_ERRORS``, on a console error that
    is not the harness's known noise, and on a dialog. ``page.blocked`` lists the
    requests it aborted. Screenshots itself into test-artifacts/compat/ at the end.
    """
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    errors: list[str] = []
    console: list[str] = []
    dialogs: list[str] = []
    blocked: list[str] = []
    allowed = (*harness.LOCAL, tmp_path.as_uri())

    def _pageerror(exc) -> None:
        stack = getattr(exc, "stack", "") or ""
        if not known_page_error(str(exc), stack):
            errors.append(f"{exc}\n{stack}")

    def _console(msg) -> None:
        if msg.type != "error":
            return
        where = msg.location.get("url", "") if msg.location else ""
        if not harness.is_noise(msg.text, where):
            console.append(f"{msg.text} (at {where})")

    def _dialog(dialog) -> None:
        dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def _route(route) -> None:
        url = route.request.url
        if url.startswith(allowed):
            route.continue_()
        else:
            blocked.append(url)
            route.abort()

    pg.on("pageerror", _pageerror)
    pg.on("console", _console)
    pg.on("dialog", _dialog)
    context.route("**/*", _route)
    pg.blocked = blocked
    yield pg
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    name = request.node.name.replace("/", "_").replace("[", "-").replace("]", "")
    try:
        pg.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    finally:
        context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"
    assert not console, f"console errors on the page: {console}"
    assert not dialogs, f"dialogs opened on the page: {dialogs}"


@dataclass
class DemoRunner:
    """The demo pipelines served on 127.0.0.1 with one failed ``warehouse_etl`` run."""

    url: str
    source: fw.Source
    failed_run: str
    """A ``warehouse_etl`` run that failed at ``merge_payments`` (the demo's failure)."""


@pytest.fixture
def demo_runner(tmp_path, monkeypatch, cleanup) -> DemoRunner:
    """A fresh demo runner (steps at a fifth of the demo's pace), served until the page
    closed, with one finished, failed ``warehouse_etl`` run."""
    monkeypatch.setenv("FLOWWIDGETS_DEMO_PACE", "0.2")
    data = demo.prepare(tmp_path / "demo-data")  # the failure switch is on
    runner = fw.LocalRunner(fw.load_pipelines(demo.pipelines_path()),
                            db=data / "runs.sqlite", data_dir=data)
    server = cleanup.enter_context(fw.serve_in_thread(runner, port=0))
    source = cleanup.enter_context(fw.connect(server.url))
    run_id = source.run_now("warehouse_etl")
    deadline = time.monotonic() + 30
    while (status := str(source.run(run_id).status)) not in ("failed", "succeeded"):
        assert time.monotonic() < deadline, f"{run_id} still {status} after 30 s"
        time.sleep(0.05)
    assert status == "failed", f"the demo's warehouse_etl should fail, got {status}"
    return DemoRunner(server.url, source, run_id)
