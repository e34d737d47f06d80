"""Real widgets in a real browser: Debian's chromium driven by playwright, Voilà serving.

Hermetic: every request that is not to 127.0.0.1 (or data:/blob:) is aborted. A JS error
on the page, a console error that is not known third-party noise (``CONSOLE_NOISE``) or
an ``alert()`` fails the test. Every test saves a screenshot under
test-artifacts/browser/ — look at them.

Voilà is started the way ``flowwidgets demo`` starts it (``flowwidgets.demo._ui``):
this Python, a kernelspec of this Python first on ``JUPYTER_PATH``, the packaged
dashboard notebook.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from pathlib import Path

import pytest
from fwtest.browser import (  # noqa: E402,F401 - re-exported for the compat harness
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    CONSOLE_NOISE,
    LOCAL,
    ROOT,
    assert_no_tracebacks,
    free_port,
    is_noise,
    stop_process,
    wait_for_port,
)

from flowwidgets.demo._ui import UiServer


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="module")
def browser():
    """One chromium per test module. Not per session: Playwright's sync API keeps an
    asyncio loop running in the main thread while it is open, which would break every
    later test that calls ``asyncio.run`` (and a second sync_playwright elsewhere)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/bootstrap.sh --browser "
                    "(it installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def cleanup() -> Iterator[ExitStack]:
    """Servers register their stop here: it runs after ``page`` has closed, so a page
    never sees its server go away (which would log connection errors)."""
    with ExitStack() as stack:
        yield stack


@pytest.fixture
def page(browser, request, cleanup):
    """A fresh hermetic page; fails on JS errors, console errors of ours and dialogs;
    screenshots itself at the end. ``page.console_errors`` / ``page.dialogs`` /
    ``page.blocked`` hold what was seen."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    errors: list[str] = []
    console: list[str] = []
    dialogs: list[str] = []
    blocked: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))

    def _console(msg) -> None:
        if msg.type != "error":
            return
        where = msg.location.get("url", "") if msg.location else ""
        if not is_noise(msg.text, where):
            console.append(f"{msg.text} (at {where})")

    def _dialog(dialog) -> None:
        dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def _route(route):
        url = route.request.url
        if url.startswith(LOCAL):
            return route.continue_()
        blocked.append(url)
        return route.abort()

    pg.on("console", _console)
    pg.on("dialog", _dialog)
    context.route("**/*", _route)
    pg.js_errors = errors
    pg.console_errors = console
    pg.dialogs = dialogs
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


@pytest.fixture
def voila(tmp_path, cleanup) -> Callable[..., UiServer]:
    """Serve the dashboard notebook with Voilà: ``ui = voila(runner_url, env={...})``
    (``args=["--theme=light"]`` for the light page); ``ui.url`` is the page. Stopped
    (SIGTERM, then SIGKILL) after the page closed."""
    count = iter(range(1000))

    def start(runner_url: str, env: dict[str, str] | None = None,
              timeout: float = 90, args: Sequence[str] = ()) -> UiServer:
        ui = UiServer("voila", free_port(),
                      env={"RUNNER_STATUS_URL": runner_url, **(env or {})},
                      log_path=tmp_path / f"voila-{next(count)}.log", args=args)
        cleanup.callback(ui.stop)
        ui.start()
        ui.wait_ready(timeout)
        return ui

    return start
