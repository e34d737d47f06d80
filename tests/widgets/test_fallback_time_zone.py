"""The static fallbacks follow ``time_zone``: "UTC" (the default) or "local", which in a
static page is the kernel's zone (no browser to ask); every time says which zone it is in.
The kernel's zone is set to Asia/Kolkata (UTC+05:30, no daylight saving) for these tests."""

from __future__ import annotations

import time

import pytest

from flowwidgets.widgets import _fallback as fb
from flowwidgets.widgets._fallback_fleet import fleet_html
from flowwidgets.widgets._fallback_history import history_html
from flowwidgets.widgets._fallback_run import run_html
from flowwidgets.widgets._static import format_time, time_range, zone_name

AT = "2026-11-22T08:10:05Z"  # 13:40:05 in Kolkata


@pytest.fixture
def kolkata(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_format_time_in_the_kernel_zone(kolkata):
    assert format_time(AT) == "2026-11-22 08:10:05"
    assert format_time(AT, with_zone=True) == "2026-11-22 08:10:05 UTC"
    assert format_time(AT, zone="local") == "2026-11-22 13:40:05"
    assert format_time(AT, False, "local", with_zone=True) == "2026-11-22 13:40 IST"
    assert zone_name("local", AT) == "IST" and zone_name("UTC") == "UTC"
    assert format_time(None, zone="local") == "—"
    assert time_range(AT, None, "local") == "2026-11-22 13:40 – … IST"
    assert time_range(AT, None) == "2026-11-22 08:10 – … UTC"


def test_cards_table_run_history_and_timeline_fallbacks_follow_the_zone(kolkata):
    run = {"run_id": "r1", "pipeline": "etl", "status": "failed", "started_at": AT,
           "finished_at": "2026-11-22T08:11:05Z", "duration_ms": 60_000}
    cards = [{"name": "etl", "kind": "batch", "recent_runs": [run],
              "next_run_at": "2026-11-22T09:00:00Z"}]
    local = fb.cards_html(cards, zone="local")
    assert "started 2026-11-22 13:40:05 IST" in local and "14:30 IST" in local
    utc = fb.cards_html(cards)
    assert "started 2026-11-22 08:10:05 UTC" in utc and "09:00 UTC" in utc
    assert "next 2026-11-22 14:30 IST" in fb.cards_text(cards, zone="local")

    table = fb.table_html([run], total=1, page=0, page_size=25, zone="local")
    assert "Started (IST)" in table and "2026-11-22 13:40:05" in table
    assert "2026-11-22 13:41:05" in table and "08:10:05" not in table
    assert "Started (UTC)" in fb.table_html([run], total=1, page=0, page_size=25)
    assert "(times IST)" in fb.table_text([run], total=1, zone="local")

    payload = {"run": run, "steps": [], "attempts": [
        {"number": 1, "step": "load", "status": "failed", "started_at": AT, "error": "boom"}]}
    html = run_html(payload, None, zone="local")
    assert "2026-11-22 13:40:05 IST" in html
    assert "started, IST" in html and "08:10" not in html

    groups = [{"pipeline": "etl", "step": "load", "signature": "boom", "count": 2,
               "first_seen": AT, "last_seen": "2026-11-22T09:10:05Z"}]
    hist = history_html("etl", "14d", {}, [], groups, {}, zone="local")
    assert "first 2026-11-22 13:40:05, last 2026-11-22 14:40:05 IST" in hist

    t0 = 1_795_305_600_000  # 2026-11-22T00:00:00Z
    marks = {"t0": t0, "t1": t0 + 6 * 3_600_000, "rows": [
        {"pipeline": "etl", "marks": [[t0 + 3_600_000, t0 + 3_660_000, "succeeded", "r1", 1]],
         "ghosts": []}]}
    fleet = fleet_html(marks, zone="local")
    assert "times in IST" in fleet and ">05:30<" in fleet  # the axis starts at 00:00 UTC
    assert "times in UTC" in fleet_html(marks) and ">00:00<" in fleet_html(marks)
