"""``flowwidgets tui --time-zone``: with the terminal in Asia/Kolkata (UTC+05:30, no DST),
``local`` shows every time in IST and names it in the headers; ``UTC`` (the default) shows
UTC. Headless pilot over our real runner (SQLite run log, HTTP on 127.0.0.1); the expected
clocks are computed here from the runner's own times with a fixed +05:30 offset, not with
the code under test."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from fwtest.clock import no_cron_fires
from tui_helpers import ARTIFACTS, column, text_of, wait_until

from flowwidgets import LocalRunner, serve_in_thread
from flowwidgets.models import Status
from flowwidgets.runner.spec import Pipelines, PipelineSpec, StepSpec
from flowwidgets.tui import FlowTui

pytestmark = pytest.mark.integration

HERE = Path(__file__).resolve().parent
IST = timezone(timedelta(hours=5, minutes=30))


@pytest.fixture
def kolkata() -> Iterator[None]:
    """This process's local zone is Asia/Kolkata for the test, then what it was."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "Asia/Kolkata"
    time.tzset()
    try:
        assert datetime(2026, 1, 1, tzinfo=UTC).astimezone().utcoffset() == \
            timedelta(hours=5, minutes=30)
        yield
    finally:
        if before is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = before
        time.tzset()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A yearly pipeline (next fire 1 January 00:00 UTC) with one finished run whose
    ``load`` step took three attempts."""
    spec = PipelineSpec("loader", schedule="0 0 1 1 *", steps=(
        StepSpec("prepare", call="tui_jobs:noop"),
        StepSpec("load", depends_on=("prepare",), call="tui_jobs:flaky", retries=2),
    ))
    runner = LocalRunner(Pipelines(pipelines=(spec,), base_dir=HERE), db=tmp_path / "r.sqlite",
                         data_dir=tmp_path, tick_s=0.1)
    no_cron_fires(runner)  # at New Year's midnight a fire would add a run to the table
    handle = serve_in_thread(runner, port=0)
    try:
        run_id = runner.run_now("loader")
        assert runner.wait(run_id, 30).status is Status.SUCCEEDED
        yield handle.url, run_id
    finally:
        handle.stop()


def _header(app: FlowTui, table: str, key: str) -> str:
    return str(app.query_one(f"#{table}").columns[key].label)  # type: ignore[attr-defined]


def _short(at: datetime) -> tuple[str, str]:
    """What a "Started" cell may read for ``at``: today's clock, or (had the day turned
    between the run and the refresh) month-day and minutes."""
    return at.strftime("%H:%M:%S"), at.strftime("%m-%d %H:%M")


@pytest.mark.parametrize("zone", ["local", "UTC"])
def test_every_time_follows_the_chosen_zone(kolkata, served, zone):
    url, run_id = served
    to = IST if zone == "local" else UTC
    name = "IST" if zone == "local" else "UTC"

    async def scenario() -> None:
        before = datetime.now(UTC)
        app = FlowTui(url, interval=0.3, time_zone=zone)
        async with app.run_test(size=(160, 44)) as pilot:
            await wait_until(pilot, lambda: app.detail is not None
                             and app.detail.run_id == run_id
                             and "load" in column(app, "steps", "step")[-1], "the run")
            detail = app.detail
            assert detail is not None
            # headers name the zone
            assert _header(app, "pipelines", "next") == f"Next ({name})"
            assert _header(app, "runs", "started") == f"Started ({name})"
            assert _header(app, "steps", "started") == f"Started ({name})"
            # pipelines: the next fire, 1 January 00:00 UTC = 05:30 IST
            # (the year after the clock's when the table was read: between the two reads)
            fires = {datetime(at.year + 1, 1, 1, tzinfo=UTC).astimezone(to)
                     .strftime("%Y-%m-%d %H:%M") for at in (before, datetime.now(UTC))}
            (shown,) = column(app, "pipelines", "next")
            assert shown in fires, (shown, fires)
            # runs: the run's start
            started = detail.run.started_at
            assert started is not None
            assert column(app, "runs", "started")[0] in _short(started.astimezone(to))
            # steps: each step's start
            by_name = {s.name: s for s in detail.steps}
            cells = dict(zip([c.strip(" └") for c in column(app, "steps", "step")],
                             column(app, "steps", "started"), strict=True))
            for step in ("prepare", "load"):
                at = by_name[step].started_at
                assert at is not None
                assert cells[step] in _short(at.astimezone(to)), (step, cells)
            # the run line and the banner name the zone
            assert f" {name}  " in text_of(app, "#run-info")
            assert " · updated " in text_of(app, "#banner")
            assert text_of(app, "#banner").endswith(f" {name}")
            # the step panel: each attempt's start, with the zone's name
            app.query_one("#steps").focus()
            await pilot.press("down", "enter")
            await wait_until(pilot, lambda: "ATTEMPTS (3)" in text_of(app, "#step-text"),
                             "the attempts")
            panel = text_of(app, "#step-text")
            attempts = by_name["load"].attempts
            assert len(attempts) == 3
            for a in attempts:
                assert a.started_at is not None
                when = a.started_at.astimezone(to).strftime("%Y-%m-%d %H:%M:%S")
                assert f"#{a.number:<3}" in panel and f" {when} {name} " in panel, (when, panel)
            other = "UTC" if zone == "local" else "IST"
            assert f" {other}" not in panel and f"({other})" not in _header(app, "runs",
                                                                             "started")
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            app.save_screenshot(f"time-zone-{zone.lower()}.svg", path=str(ARTIFACTS))

    asyncio.run(scenario())


def test_a_zone_outside_the_vocabulary_is_refused():
    with pytest.raises(ValueError, match="time_zone must be one of"):
        FlowTui("http://127.0.0.1:1", time_zone="Asia/Kolkata")


def test_today_is_the_zone_s_calendar_day(kolkata):
    from flowwidgets.tui._format import format_at, format_started

    now = datetime(2026, 12, 6, 20, 0, tzinfo=UTC)  # 7 December 01:30 IST
    after_ist_midnight = datetime(2026, 12, 6, 19, 0, tzinfo=UTC)  # 7 December 00:30 IST
    before_ist_midnight = datetime(2026, 12, 6, 18, 0, tzinfo=UTC)  # 6 December 23:30 IST
    assert format_started(after_ist_midnight, now, "local") == "00:30:00"
    assert format_started(before_ist_midnight, now, "local") == "12-06 23:30"
    assert format_started(before_ist_midnight, now, "UTC") == "18:00:00"
    assert format_started(None, now, "local") == "—"
    assert format_at(now, "local", "%H:%M", with_zone=True) == "01:30 IST"
    assert format_at(now, "UTC", "%H:%M", with_zone=True) == "20:00 UTC"
    # naive means UTC
    assert format_at(now.replace(tzinfo=None), "local", "%d %H:%M") == "07 01:30"


def test_the_eta_clock_follows_the_zone(kolkata):
    from flowwidgets.eta import format_eta

    d = {"history_runs": 3, "finish_at": "2026-12-06T18:45:00Z", "remaining_ms": 120_000}
    assert format_eta(d) == "ETA 18:45:00 UTC (in 2 min)"
    assert format_eta(d, "local") == "ETA 00:15:00 IST (in 2 min)"
