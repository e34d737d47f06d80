"""Watermark history reads: ``watermark_at`` (newest commit at or before a time, with the
totals as they were then) and ``first_watermark``, on real SQLite files with commit times
set by pinning the log's clock."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from flowwidgets.runner import _sqlite_pool
from flowwidgets.runner.sqlite import SqliteRunLog

T0 = datetime(2026, 11, 22, 10, 0, 0, tzinfo=UTC)


class Clock:
    """The run log's clock (``_sqlite_pool.now_ms``), set by the test."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = T0
        monkeypatch.setattr(_sqlite_pool, "now_ms", lambda: self.now)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return Clock(monkeypatch)


@pytest.fixture
def log(tmp_path: Path) -> Iterator[SqliteRunLog]:
    with SqliteRunLog(tmp_path / "runs.db") as log:
        yield log


def _commit(log: SqliteRunLog, clock: Clock, seconds: float, value: str, rows: int,
            pipeline: str = "events") -> None:
    clock.now = T0 + timedelta(seconds=seconds)
    log.commit_watermark("run-1", pipeline, value, rows)


def test_nothing_committed_reads_none(log: SqliteRunLog) -> None:
    assert log.watermark_at("events", T0) is None
    assert log.first_watermark("events") is None
    assert log.last_watermark("events") is None


def test_watermark_at_is_the_newest_commit_at_or_before(log: SqliteRunLog, clock: Clock
                                                        ) -> None:
    for i, t in enumerate([0, 10, 20, 30]):
        _commit(log, clock, t, f"w{i}", rows=100 * (i + 1))
    _commit(log, clock, 15, "other", rows=7, pipeline="clicks")  # another pipeline
    at = log.watermark_at
    assert at("events", T0 - timedelta(milliseconds=1)) is None
    assert at("events", T0).value == "w0"  # at, inclusive
    assert at("events", T0 + timedelta(seconds=9.999)).value == "w0"
    w1 = at("events", T0 + timedelta(seconds=10))
    assert (w1.value, w1.rows_total, w1.batches_total, w1.run_id) == ("w1", 300, 2, "run-1")
    assert w1.committed_at == T0 + timedelta(seconds=10)
    assert at("events", T0 + timedelta(seconds=25)).value == "w2"
    assert at("events", T0 + timedelta(days=1)).value == "w3"
    assert at("clicks", T0 + timedelta(seconds=14)) is None
    assert at("clicks", T0 + timedelta(seconds=15)).value == "other"
    first = log.first_watermark("events")
    assert (first.value, first.rows_total, first.batches_total) == ("w0", 100, 1)
    assert log.last_watermark("events").value == "w3"


def test_commits_in_one_millisecond_read_the_last_of_them(log: SqliteRunLog, clock: Clock
                                                          ) -> None:
    _commit(log, clock, 5, "a", rows=1)
    _commit(log, clock, 5, "b", rows=2)
    _commit(log, clock, 5, "c", rows=3)
    w = log.watermark_at("events", T0 + timedelta(seconds=5))
    assert (w.value, w.rows_total, w.batches_total) == ("c", 6, 3)
    assert log.first_watermark("events").value == "a"


def test_watermark_at_reads_one_index(tmp_path: Path, clock: Clock,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The statement watermark_at runs (traced, values expanded) is one index search."""
    traced: list[str] = []
    connect = _sqlite_pool.Pool._connect

    def tracing(pool: _sqlite_pool.Pool) -> sqlite3.Connection:
        conn = connect(pool)
        conn.set_trace_callback(traced.append)
        return conn

    monkeypatch.setattr(_sqlite_pool.Pool, "_connect", tracing)
    with SqliteRunLog(tmp_path / "runs.db") as log:
        _commit(log, clock, 0, "w0", rows=1)
        traced.clear()
        assert log.watermark_at("events", T0).value == "w0"
    (sql,) = [s for s in traced if "FROM watermarks" in s]
    conn = sqlite3.connect(tmp_path / "runs.db")
    try:
        plan = [row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}")]
    finally:
        conn.close()
    assert plan == ["SEARCH watermarks USING INDEX watermarks_pipeline_committed "
                    "(pipeline=? AND committed_at<?)"]


def test_naive_times_mean_utc(log: SqliteRunLog, clock: Clock) -> None:
    _commit(log, clock, 0, "w0", rows=1)
    assert log.watermark_at("events", T0.replace(tzinfo=None)).value == "w0"
