"""``streaming_stats``: rates over the last 1 and 5 minutes computed from the run log's
watermark history, so they are exact on an API's first answer, after a restart and when
another process commits. Checked against an independent computation over every commit."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fwtest.api import TestClient

from flowwidgets.runner import _sqlite_pool
from flowwidgets.runner._local import LocalRunner
from flowwidgets.runner.api import _read, create_app
from flowwidgets.runner.api._streaming import streaming_stats, window_rates
from flowwidgets.runner.store import Watermark

T0 = datetime(2026, 11, 22, 10, 0, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]


def _wm(seconds: float, rows_total: int, batches: int) -> Watermark:
    return Watermark(pipeline="events", value=f"w{batches}", run_id="r1",
                     committed_at=T0 + timedelta(seconds=seconds), rows_total=rows_total,
                     batches_total=batches)


def _expected(db: Path, pipeline: str, now: datetime, window_s: float) -> dict:
    """The rates straight from every row of the watermarks table (no store code)."""
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute("SELECT committed_at, rows_total, batches_total FROM watermarks "
                            "WHERE pipeline = ? ORDER BY id", (pipeline,)).fetchall()
    finally:
        conn.close()
    commits = [(datetime.fromisoformat(t), r, b) for t, r, b in rows]
    start = now - timedelta(seconds=window_s)
    before = [c for c in commits if c[0] <= start]
    last = commits[-1]
    if before:
        base, span = max(before, key=lambda c: c[0]), window_s
    elif len(commits) == 1:
        return {"rows_consumed_per_sec": None, "batches_per_sec": None, "span_seconds": None}
    else:
        base = commits[0]
        span = (now - base[0]).total_seconds()
    return {"rows_consumed_per_sec": round((last[1] - base[1]) / span, 3),
            "batches_per_sec": round((last[2] - base[2]) / span, 3),
            "span_seconds": round(span, 3)}


# ---- the arithmetic ------------------------------------------------------------------

def test_rates_over_the_whole_window_from_the_commit_at_its_start() -> None:
    base, last = _wm(-65, 1000, 10), _wm(-1, 1600, 22)
    assert window_rates(last, base, None, T0, 60.0) == {
        "rows_consumed_per_sec": 10.0, "batches_per_sec": 0.2, "span_seconds": 60.0}


def test_a_first_commit_inside_the_window_measures_from_it_to_now() -> None:
    first, last = _wm(-10, 100, 1), _wm(-2, 300, 5)
    assert window_rates(last, None, first, T0, 60.0) == {
        "rows_consumed_per_sec": 20.0, "batches_per_sec": 0.4, "span_seconds": 10.0}


def test_one_commit_inside_the_window_has_no_rate_yet() -> None:
    only = _wm(-3, 100, 1)
    assert window_rates(only, None, only, T0, 60.0) == {
        "rows_consumed_per_sec": None, "batches_per_sec": None, "span_seconds": None}


def test_a_stopped_stream_reads_zero_over_the_full_window() -> None:
    last = _wm(-3600, 500, 5)
    assert window_rates(last, last, None, T0, 300.0) == {
        "rows_consumed_per_sec": 0.0, "batches_per_sec": 0.0, "span_seconds": 300.0}


# ---- from the run log --------------------------------------------------------------

def _pin(monkeypatch: pytest.MonkeyPatch, moments: list[datetime]) -> None:
    """The run log's clock reads ``moments[0]`` (change it by assigning)."""
    monkeypatch.setattr(_sqlite_pool, "now_ms", lambda: moments[0])


def _pin_api(monkeypatch: pytest.MonkeyPatch, at: datetime) -> None:
    """``GET /api/pipelines`` answers as at ``at``: its windows end there, however long the
    test took to get there (a loaded machine took more than the 10 s the windows allow)."""

    class _At(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> datetime:  # type: ignore[override]
            return at

    monkeypatch.setattr(_read, "datetime", _At)


def test_stats_are_computed_from_every_commit(runner: LocalRunner, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """A stream that speeds up: 1 commit / 20 s for 8 minutes, then 1 / 2 s; rows vary."""
    clock = [T0]
    _pin(monkeypatch, clock)
    store = runner.store
    assert streaming_stats(store, "events", T0) is None
    t, i = -480.0, 0
    while t < 0:
        clock[0] = T0 + timedelta(seconds=t)
        store.commit_watermark("r1", "events", f"offset-{i}", rows=17 * (i % 7) + 3)
        t, i = t + (20 if t < -90 else 2), i + 1
    for now in (T0, T0 + timedelta(seconds=7.5), T0 + timedelta(seconds=200)):
        s = streaming_stats(store, "events", now)
        for key, window in (("stats_1m", 60.0), ("stats_5m", 300.0)):
            assert s[key] == _expected(tmp_path / "runs.sqlite", "events", now, window), key
    s = streaming_stats(store, "events", T0)
    assert s["stats_1m"]["span_seconds"] == 60.0 and s["stats_5m"]["span_seconds"] == 300.0
    assert s["stats_1m"]["batches_per_sec"] == round(29 / 60, 3)  # -58 s, -56 s, ..., -2 s
    assert (s["watermark"], s["batches_total"], s["run_id"]) == (f"offset-{i - 1}", i, "r1")
    assert s["snapshot_at"] == "2026-11-22T09:59:58.000Z"


def test_a_new_stream_measures_from_its_first_commit(runner: LocalRunner,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [T0 - timedelta(seconds=30)]
    _pin(monkeypatch, clock)
    runner.store.commit_watermark("r1", "events", "a", rows=50)
    s = streaming_stats(runner.store, "events", T0)
    assert s["stats_1m"] == s["stats_5m"] == {
        "rows_consumed_per_sec": None, "batches_per_sec": None, "span_seconds": None}
    clock[0] = T0 - timedelta(seconds=10)
    runner.store.commit_watermark("r1", "events", "b", rows=300)
    s = streaming_stats(runner.store, "events", T0)
    assert s["stats_1m"] == s["stats_5m"] == {
        "rows_consumed_per_sec": 10.0, "batches_per_sec": 0.033, "span_seconds": 30.0}


def test_the_api_is_exact_on_its_first_answer_and_after_a_restart(
        runner: LocalRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    """Commits made before the API existed (one every 20 s for ten minutes, rows = its
    index) give full-window rates at once; a second app on the same log answers the same."""
    ref = datetime.now(UTC)
    clock = [ref]
    _pin(monkeypatch, clock)
    _pin_api(monkeypatch, ref)
    for k in range(30):
        clock[0] = ref - timedelta(seconds=590 - 20 * k)
        runner.store.commit_watermark("r1", "events", str(k), rows=k)
    answers = []
    for _ in range(2):  # the API, then the API restarted
        with TestClient(create_app(runner)) as c:
            cards = {p["name"]: p for p in c.get("/api/pipelines").json()["pipelines"]}
        answers.append(cards["events"]["streaming_stats"])
    assert answers[0] == answers[1]
    s = answers[0]
    assert s["rows_consumed_total"] == sum(range(30)) and s["batches_total"] == 30
    # commits at ref-590, -570, ..., -10: the windows start after ref-70's and ref-310's
    assert s["stats_1m"] == {"rows_consumed_per_sec": round((27 + 28 + 29) / 60, 3),
                             "batches_per_sec": 0.05, "span_seconds": 60.0}
    assert s["stats_5m"] == {"rows_consumed_per_sec": round(sum(range(15, 30)) / 300, 3),
                             "batches_per_sec": 0.05, "span_seconds": 300.0}


def test_commits_from_another_process_are_measured_exactly(
        runner: LocalRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another process commits (at pinned times: 1 batch every 20 s over the last ten
    minutes, rows = its index); the API, which observed none of it, answers the rates."""
    db = tmp_path / "runs.sqlite"
    script = textwrap.dedent(f"""
        import json, sys
        from datetime import UTC, datetime, timedelta
        from flowwidgets.runner import _sqlite_pool
        from flowwidgets.runner.sqlite import SqliteRunLog
        now = datetime.now(UTC).replace(microsecond=0)
        clock = [now]
        _sqlite_pool.now_ms = lambda: clock[0]
        with SqliteRunLog({str(db)!r}) as log:
            for k in range(30):
                clock[0] = now - timedelta(seconds=590 - 20 * k)
                log.commit_watermark("r-other", "events", f"o{{k}}", rows=k)
        print(json.dumps(now.isoformat()))
    """)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         env=env, timeout=60, check=True).stdout
    ref = datetime.fromisoformat(json.loads(out))
    _pin_api(monkeypatch, ref)
    with TestClient(create_app(runner)) as c:
        s = {p["name"]: p for p in c.get("/api/pipelines").json()["pipelines"]
             }["events"]["streaming_stats"]
    # commits at ref-590, -570, ..., -10: the 1-minute window starts after ref-70's
    assert s["stats_1m"] == {"rows_consumed_per_sec": round((27 + 28 + 29) / 60, 3),
                             "batches_per_sec": 0.05, "span_seconds": 60.0}
    assert s["stats_5m"] == {"rows_consumed_per_sec": round(sum(range(15, 30)) / 300, 3),
                             "batches_per_sec": 0.05, "span_seconds": 300.0}
    assert (s["watermark"], s["run_id"], s["rows_consumed_total"]) == ("o29", "r-other", 435)
