"""Pipeline statistics for :class:`~flowwidgets.runner.sqlite.SqliteRunLog`: exact over the
whole history, read from tables the triggers of schema v6 keep (see
:mod:`flowwidgets.runner._schema`), so the cost does not grow with the history.

- total runs: ``pipeline_totals``;
- the last ten runs: ten entries of the ``(pipeline, created_at, run_id)`` index;
- the median duration: the k-th smallest found by walking ``duration_hist`` down its three
  levels (each walk at most 1,024 buckets, summed by a window function in SQLite);
- the 7-day failure rate: ``hour_outcomes`` for the whole hours of the window plus an
  index count of the one partial hour at its start.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from flowwidgets.models import Status
from flowwidgets.runner._sqlite_ops import RUN_COLS, run_row
from flowwidgets.runner._sqlite_pool import ts
from flowwidgets.runner.store import PipelineStats, RunRecord

__all__ = ["cached_run_row", "kth_duration", "kth_pair", "median_duration", "pipeline_stats"]

_WALK = (
    "SELECT bucket, below FROM (SELECT bucket, n, SUM(n) OVER (ORDER BY bucket ROWS "
    "UNBOUNDED PRECEDING) - n AS below FROM duration_hist WHERE pipeline = ? AND level = ? "
    "AND bucket BETWEEN ? AND ?) WHERE below + n > ? LIMIT 1")
"""The bucket of one level that holds the runs of rank ``rank`` (0-based) within a range
of buckets, and how many runs the buckets before it hold."""

_PAIR = (
    "SELECT bucket, below, n FROM (SELECT bucket, n, SUM(n) OVER (ORDER BY bucket ROWS "
    "UNBOUNDED PRECEDING) - n AS below FROM duration_hist WHERE pipeline = ? AND level = ? "
    "AND bucket BETWEEN ? AND ?) WHERE n > 0 AND below + n > ? LIMIT 2")
"""As :data:`_WALK`, and also the next bucket that holds runs (where rank + 1 lies when
it is not in the first)."""

_ALL = (-(1 << 62), (1 << 62))


def _descend(conn: sqlite3.Connection, pipeline: str, level: int, lo: int, hi: int,
             rank: int) -> int | None:
    """The ``rank``-th smallest duration among the buckets ``lo..hi`` of ``level``,
    walking down to level 0; None when they hold fewer runs."""
    value: int | None = None
    for lv in range(level, -1, -1):
        row = conn.execute(_WALK, (pipeline, lv, lo, hi, rank)).fetchone()
        if row is None:
            return None
        value, below = row
        rank -= below
        lo, hi = value << 10, (value << 10) + 1023
    return value


def kth_duration(conn: sqlite3.Connection, pipeline: str, rank: int) -> int | None:
    """The ``rank``-th smallest duration (0-based) of the pipeline's timed runs, or None
    when it has fewer: at most three walks of at most 1,024 buckets."""
    return _descend(conn, pipeline, 2, *_ALL, rank)


def kth_pair(conn: sqlite3.Connection, pipeline: str, rank: int
             ) -> tuple[int | None, int | None]:
    """The ``rank``-th and ``rank + 1``-th smallest durations (None past the end), in
    one walk down the levels while both lie in the same bucket (the two middle runs of
    an even count nearly always do), apart from where they part."""
    lo, hi = _ALL
    for level in (2, 1, 0):
        rows = conn.execute(_PAIR, (pipeline, level, lo, hi, rank)).fetchall()
        if not rows:
            return None, None
        bucket, below, n = rows[0]
        if below + n > rank + 1:  # both in this bucket: go down together
            if level == 0:
                return bucket, bucket
            rank -= below
            lo, hi = bucket << 10, (bucket << 10) + 1023
            continue
        lower = bucket if level == 0 else _descend(
            conn, pipeline, level - 1, bucket << 10, (bucket << 10) + 1023, rank - below)
        if len(rows) < 2:  # rank + 1 is past the last run (only at the top level)
            return lower, None
        nxt, nxt_below, _ = rows[1]
        upper = nxt if level == 0 else _descend(
            conn, pipeline, level - 1, nxt << 10, (nxt << 10) + 1023, rank + 1 - nxt_below)
        return lower, upper
    return None, None  # pragma: no cover - the loop returns at level 0


def median_duration(conn: sqlite3.Connection, pipeline: str, n: int) -> int | None:
    """Median duration of the pipeline's ``n`` timed runs (integer mean of the two middle
    values for an even count, like ematix-flow), or None."""
    if not n:
        return None
    if n % 2:
        return kth_duration(conn, pipeline, (n - 1) // 2)
    lower, upper = kth_pair(conn, pipeline, n // 2 - 1)
    if lower is None:
        return None
    return lower if upper is None else (lower + upper) // 2


def failure_rate_7d(conn: sqlite3.Connection, pipeline: str, now: datetime) -> float | None:
    """Failed / (failed + succeeded) over the runs created since ``now - 7 days``."""
    start = ts(now - timedelta(days=7))
    assert start is not None
    first_hour = start[:13]
    finished, failed = conn.execute(
        "SELECT COALESCE(SUM(finished), 0), COALESCE(SUM(failed), 0) FROM hour_outcomes "
        "WHERE pipeline = ? AND hour > ?", (pipeline, first_hour)).fetchone()
    next_hour = first_hour + "\uffff"  # after every time in that hour
    for status, count in conn.execute(
            "SELECT status, COUNT(*) FROM runs WHERE pipeline = ? AND status IN "
            "('failed', 'succeeded') AND created_at >= ? AND created_at < ? GROUP BY status",
            (pipeline, start, next_hour)):
        finished += count
        failed += count if status == Status.FAILED else 0
    return failed / finished if finished else None


_RECORDS: dict[tuple[Any, ...], RunRecord] = {}
_RECORDS_MAX = 1024
_ERROR_MAX = 16_384
"""A row whose error text is longer is not kept (at most about 16 MB kept in all)."""


def cached_run_row(row: tuple[Any, ...]) -> RunRecord:
    """The record of a ``RUN_COLS`` row, reused while the row is the same (the recent
    runs of every pipeline, and flowtoy's current run, are read again after each write:
    most are unchanged). Records are frozen; a changed row is a new key."""
    record = _RECORDS.get(row)
    if record is None:
        record = run_row(row)
        if len(row[10] or "") <= _ERROR_MAX:  # RUN_COLS' error
            if len(_RECORDS) >= _RECORDS_MAX:
                _RECORDS.clear()
            _RECORDS[row] = record
    return record


def pipeline_stats(conn: sqlite3.Connection, pipelines: Sequence[str], now: datetime
                   ) -> dict[str, PipelineStats]:
    """Statistics of the named pipelines, then of every other pipeline with runs (by
    name). Call inside one read transaction so the figures agree with each other."""
    totals = {name: (runs, timed) for name, runs, timed in conn.execute(
        "SELECT pipeline, runs, with_duration FROM pipeline_totals WHERE runs > 0")}
    out: dict[str, PipelineStats] = {}
    for name in dict.fromkeys([*pipelines, *sorted(totals)]):
        runs, timed = totals.get(name, (0, 0))
        if not runs:
            out[name] = PipelineStats(pipeline=name, total_runs=0, latest_run=None,
                                      recent_runs=(), median_duration_ms=None,
                                      failure_rate_7d=None)
            continue
        recent = [cached_run_row(r) for r in conn.execute(
            f"SELECT {RUN_COLS} FROM runs WHERE pipeline = ? "
            "ORDER BY created_at DESC, run_id DESC LIMIT 10", (name,))][::-1]
        out[name] = PipelineStats(
            pipeline=name, total_runs=runs,
            latest_run=recent[-1] if recent else None, recent_runs=tuple(recent),
            median_duration_ms=median_duration(conn, name, timed),
            failure_rate_7d=failure_rate_7d(conn, name, now))
    return out
