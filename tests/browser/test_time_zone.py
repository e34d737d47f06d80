"""``Dashboard(src, time_zone=…)`` in Voilà, in a Chromium whose zone is Asia/Kolkata
(UTC+05:30, no daylight saving): with "local" every absolute time shown — the card's
square, the Runs table, the run view's header and attempts, the Timeline's bars, the
History's marks — is the Kolkata wall clock and names the zone; with "UTC" the same
places show UTC. Expected times are computed here from the runner's ISO times.

The notebook is tests/browser/notebooks/time_zone.ipynb (``$FW_TIME_ZONE`` is the
Dashboard's ``time_zone``)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fwtest.browser import ARTIFACTS, LOCAL, assert_no_tracebacks

import flowwidgets as fw
from flowwidgets.demo import _ui
from flowwidgets.models import Status
from flowwidgets.runner._local import LocalRunner
from flowwidgets.runner.serve import serve_in_thread
from flowwidgets.runner.spec import Pipelines, PipelineSpec, StepSpec

pytestmark = [pytest.mark.integration]

NOTEBOOK = Path(__file__).with_name("notebooks") / "time_zone.ipynb"
ZONE = "Asia/Kolkata"


@pytest.fixture
def served(tmp_path: Path, cleanup) -> Iterator[tuple[LocalRunner, str, str]]:
    """A runner with one finished run of "orders" whose load step failed once and
    succeeded on its retry (two attempts)."""
    flag = tmp_path / "first.flag"
    flag.touch()
    steps = (StepSpec("extract", run="echo extracted"),
             StepSpec("load", depends_on=("extract",), retries=1,
                      run="if [ -f first.flag ]; then rm first.flag; echo 'bad row 7' >&2; "
                          "exit 2; fi; echo loaded"))
    runner = LocalRunner(Pipelines((PipelineSpec("orders", steps),), base_dir=tmp_path),
                         db=tmp_path / "runs.sqlite", data_dir=tmp_path, tick_s=0.1)
    server = serve_in_thread(runner, port=0)
    cleanup.callback(server.stop)  # after the page closed
    run_id = runner.run_now("orders")
    assert runner.wait(run_id, 30).status is Status.SUCCEEDED
    yield runner, server.url, run_id


def _clock(t: datetime | None, zone: str, seconds: bool = True) -> str:
    """The wall clock of ``t`` as the views print it ("2026-11-22 13:40:05")."""
    assert t is not None
    t = t.astimezone(ZoneInfo(ZONE) if zone == "local" else ZoneInfo("UTC"))
    return t.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


@pytest.mark.parametrize("zone", ["local", "UTC"])
def test_every_view_shows_times_in_the_chosen_zone(browser, voila, served, zone, monkeypatch):
    runner, url, run_id = served
    with fw.connect(url) as src:  # the run as every view reads it: over HTTP
        detail = src.run(run_id)
    started, finished = detail.run.started_at, detail.run.finished_at
    attempts = [a.started_at for a in detail.attempts if a.step == "load"]
    assert started and finished and len(attempts) == 2 and all(attempts), detail.attempts

    monkeypatch.setattr(_ui, "dashboard_notebook", lambda: NOTEBOOK)
    ui = voila(url, env={"FW_TIME_ZONE": zone})
    context = browser.new_context(viewport={"width": 1280, "height": 900}, timezone_id=ZONE)
    errors: list[str] = []
    shots: list[str] = []

    def shot(name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"time-zone-{zone.lower()}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        shots.append(path.name)

    try:
        context.route("**/*", lambda r: r.continue_() if r.request.url.startswith(LOCAL)
                      else r.abort())
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(ui.url, timeout=90_000)
        # the browser really is 5 h 30 min east of UTC (ICU may call it Asia/Calcutta)
        assert page.evaluate("new Date().getTimezoneOffset()") == -330
        # what Chromium calls the zone ("GMT+5:30"): the views name it after local times
        name = page.evaluate("new Intl.DateTimeFormat(undefined, {timeZoneName: 'short'})"
                             ".formatToParts(new Date()).find(p => p.type === 'timeZoneName')"
                             ".value") if zone == "local" else "UTC"
        assert name != "UTC" or zone == "UTC", name
        cards = page.locator('.fw-root.fw-cards[data-ready="1"]')
        cards.locator("article.fw-card").first.wait_for(timeout=90_000)
        assert_no_tracebacks(page)

        # the card's square: "started <time> <zone>" on hover
        square = cards.locator(f'button.fw-sq[data-run-id="{run_id}"]')
        assert f"started {_clock(started, zone)} {name}" in square.get_attribute("title")
        shot("cards")

        # the Runs table: the header names the zone, Finished is the wall clock,
        # Started's hover is absolute
        page.locator('.fw-navbar .fw-tab[data-key="jobs"]').click()
        row = page.locator(f'.fw-root.fw-jobs tr[data-run-id="{run_id}"]')
        row.wait_for(timeout=30_000)
        head = page.locator(".fw-root.fw-jobs thead").text_content()
        assert ("Finished (local)" if zone == "local" else "Finished (UTC)") in head, head
        assert _clock(finished, zone) in row.inner_text()
        assert row.locator("time").first.get_attribute("title") == \
            f"{_clock(started, zone)} {name}"
        shot("runs")

        # the run view: the header's Started and the attempts table
        row.click()
        run = page.locator('.fw-root.fw-run[data-ready="1"]')
        run.wait_for(timeout=30_000)
        assert run.locator(".fw-started time").get_attribute("title") == \
            f"{_clock(started, zone)} {name}"
        table = run.locator('table[aria-label="attempt history"]')
        table.wait_for(timeout=15_000)
        assert ("Started (local)" if zone == "local" else "Started (UTC)") in \
            table.locator("thead").text_content()
        body = table.locator("tbody").inner_text()
        for a in attempts:
            assert _clock(a, zone) in body, (a, body)
        shot("run")

        # the Timeline: the note names the zone, a bar's hover is the wall clock
        page.locator('.fw-navbar .fw-tab[data-key="timeline"]').click()
        bar = page.locator(f'.fw-root.fw-fleet rect.fw-fl-bar[data-run-id="{run_id}"]')
        bar.wait_for(timeout=30_000)
        note = page.locator(".fw-root.fw-fleet .fw-fl-note").inner_text()
        assert (f"times in local time ({name})" if zone == "local" else "times in UTC") in note
        # a bar starts at its pixel bucket's start (the kernel merges what is narrower than a
        # few pixels): the wall clock within 10 min of the run's, where UTC vs Kolkata
        # would be 5 h 30 min apart
        shown = re.search(r"· (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) (\S+)$",
                          bar.locator("title").text_content() or "")
        assert shown is not None and shown.group(2) == name, shown
        off = datetime.fromisoformat(shown.group(1)) - datetime.fromisoformat(_clock(started, zone))
        assert abs(off.total_seconds()) <= 600, (shown.group(1), _clock(started, zone))
        shot("timeline")

        # History: the meta names the zone, a mark's hover is the wall clock
        page.locator('.fw-navbar .fw-tab[data-key="history"]').click()
        mark = page.locator(f'.fw-root.fw-history .fw-mark[data-run-id="{run_id}"]')
        mark.wait_for(timeout=30_000)
        meta = page.locator(".fw-root.fw-history .fw-history-meta").inner_text()
        assert (f"times in local time ({name})" if zone == "local" else "times in UTC") in meta
        assert f"started {_clock(started, zone)} {name}" in \
            mark.locator("title").text_content()
        shot("history")
        assert not errors, errors
    finally:
        context.close()
    assert len(shots) == 5
