"""Event retention on real SQLite files: the events table keeps the newest ``keep_events``,
trimmed by a writer at most every ``trim_every_s`` (and on its first write), with the
trimmed horizon recorded for the push channel."""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from flowwidgets.models import Status
from flowwidgets.runner.sqlite import KEEP_EVENTS, SqliteRunLog

STEPS: list[tuple[str, list[str]]] = [("fetch", [])]


def _runs(log: SqliteRunLog, n: int) -> list[str]:
    """``n`` new runs: one event each."""
    return [log.create_run(pipeline="orders", kind="batch", trigger="manual", steps=STEPS)[0]
            for _ in range(n)]


def _ids(path: Path) -> list[int]:
    conn = sqlite3.connect(path)
    try:
        return [i for (i,) in conn.execute("SELECT id FROM events ORDER BY id")]
    finally:
        conn.close()


def test_the_default_keeps_fifty_thousand() -> None:
    assert KEEP_EVENTS == 50_000


def test_keep_events_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="keep_events"):
        SqliteRunLog(tmp_path / "runs.db", keep_events=0)
    with SqliteRunLog(tmp_path / "runs.db") as log, pytest.raises(ValueError, match="keep"):
        log.trim_events(0)


def test_a_writer_trims_at_most_once_per_period(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    with SqliteRunLog(path) as big:  # default retention: nothing goes
        _runs(big, 12)
    assert _ids(path) == list(range(1, 13))
    with SqliteRunLog(path, keep_events=5, trim_every_s=0.2) as log:
        assert log.events_trimmed_through() == 0
        _runs(log, 1)  # the first write of this log trims: 13 events → the newest 5
        assert _ids(path) == [9, 10, 11, 12, 13]
        assert log.events_trimmed_through() == 8
        _runs(log, 4)  # within the period: no trim
        assert _ids(path) == list(range(9, 18))
        time.sleep(0.25)
        _runs(log, 1)
        assert _ids(path) == list(range(14, 19))
        assert log.events_trimmed_through() == 13
        assert log.last_event_id() == 18
        assert [e.id for e in log.events_since(0)] == list(range(14, 19))
        assert [e.id for e in log.events_since(15)] == [16, 17, 18]


def test_explicit_trim_and_ids_are_never_reused(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    with SqliteRunLog(path, keep_events=100) as log:
        run_ids = _runs(log, 6)
        version = log.version()
        assert log.trim_events(2) == 4
        assert log.trim_events(2) == 0  # nothing more to do
        assert log.trim_events(10) == 0  # a wider window does not bring anything back
        assert log.events_trimmed_through() == 4
        assert log.version() == version  # trimming changes nothing the API shows
        assert [e.run_id for e in log.events_since(0)] == run_ids[4:]
        _runs(log, 1)
        assert _ids(path) == [5, 6, 7]
    with SqliteRunLog(path, keep_events=1) as log:
        assert log.trim_events() == 2  # the log's own keep_events
        assert _ids(path) == [7] and log.events_trimmed_through() == 6


def test_writes_without_events_do_not_trim(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    with SqliteRunLog(path) as log:
        _runs(log, 4)
    with SqliteRunLog(path, keep_events=1) as log:
        log.heartbeat("w1")
        log.claim_schedule_fire("orders", datetime(2026, 1, 1, tzinfo=UTC))
        assert _ids(path) == [1, 2, 3, 4] and log.events_trimmed_through() == 0


def test_retention_bounds_a_busy_log(tmp_path: Path) -> None:
    """Each of these runs appends six events; the table stays at the bound."""
    path = tmp_path / "runs.db"
    with SqliteRunLog(path, keep_events=50, trim_every_s=0.0) as log:
        for run_id in _runs(log, 30):
            n = log.start_attempt(run_id, "fetch")
            log.finish_attempt(run_id, "fetch", n, status=Status.SUCCEEDED)
            log.finish_run(run_id, status=Status.SUCCEEDED)
        ids = _ids(path)
        assert len(ids) == 50 and ids[-1] == log.last_event_id() == 30 * 6
        assert log.events_trimmed_through() == ids[0] - 1
