"""The bulk import of :meth:`~flowwidgets.runner.sqlite.SqliteRunLog.import_runs`.

The statistics tables (``pipeline_totals``, ``duration_hist``, ``hour_outcomes``) are kept
by triggers on ``runs``: five upserts per inserted run. A bulk import instead drops those
triggers inside its transaction, counts what it inserts in Python (a few dictionary
updates per run), adds the counts in one upsert per distinct key and creates the
triggers again from their stored SQL before the commit. SQLite's DDL is transactional:
an import that fails rolls back the rows, the counts and the triggers together, and no
other writer runs in between (the import holds the write lock). Into a log that holds
few runs, the secondary indexes of ``runs`` are set aside the same way and built once
after the rows are in (see :data:`REINDEX_BELOW`).
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from flowwidgets.models import Status
from flowwidgets.runner._sqlite_ops import ATTEMPT_COLS, RUN_COLS, STEP_COLS
from flowwidgets.runner._sqlite_pool import ms, ts
from flowwidgets.runner.store import AttemptRecord, RunRecord, StepRecord, Watermark

__all__ = ["import_rows"]

_FINISHED = (Status.SUCCEEDED.value, Status.FAILED.value)


_STATUS: dict[str, str] = {s.value: s.value for s in Status}
"""A status (or its word) → the stored word: a dictionary read instead of ``Status(x)``."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


def _word(value: Any) -> str:
    """The stored word of a status the fast lookup missed (``ValueError`` naming it)."""
    return Status(value).value


class _Texts:
    """Stored text of values that repeat across rows (a step's times are usually its
    run's; dependency lists repeat per pipeline): formatted once each. The loops read
    the dictionaries directly (``get(x) or put(x)``): no call on a hit."""

    def __init__(self) -> None:
        self.times: dict[datetime | None, str] = {}
        self.deps: dict[tuple[str, ...], str] = {}

    def put_time(self, value: datetime | None) -> str | None:
        """Format (and keep) a time the cache missed."""
        if value is None:
            return None
        if len(self.times) >= 65_536:
            self.times.clear()
        text = self.times[value] = ts(value)
        return text

    def put_deps(self, depends_on: Sequence[str]) -> str:
        """Format (and keep) a dependency list the cache missed."""
        key = tuple(depends_on)
        text = self.deps.get(key)
        if text is None:
            text = self.deps[key] = json.dumps(list(key))
        return text


def _took(started: datetime | None, finished: datetime | None) -> int | None:
    """The duration as stored: whole milliseconds between the two stored times."""
    if started is None or finished is None:
        return None
    try:
        return (finished - _EPOCH) // _MS - (started - _EPOCH) // _MS
    except TypeError:  # naive times mean UTC
        return ms(finished) - ms(started)


class _Counts:
    """What the dropped triggers would have added, for the rows inserted."""

    def __init__(self, texts: _Texts) -> None:
        self.texts = texts
        self.totals: Counter[str] = Counter()
        self.timed: Counter[str] = Counter()
        self.hist: Counter[tuple[str, int, int]] = Counter()
        self.finished: Counter[tuple[str, str]] = Counter()
        self.failed: Counter[tuple[str, str]] = Counter()

    def rows(self, runs: Iterable[RunRecord]) -> Iterator[tuple[Any, ...]]:
        """The ``runs`` rows to insert, counted on the way."""
        get, put = self.texts.times.get, self.texts.put_time
        word = _STATUS.get
        totals, timed, hist = self.totals, self.timed, self.hist
        finished_in, failed_in = self.finished, self.failed
        succeeded, failed = Status.SUCCEEDED.value, Status.FAILED.value
        for r in runs:
            pipeline, started_at, finished_at = r.pipeline, r.started_at, r.finished_at
            status = word(r.status) or _word(r.status)
            created = get(r.created_at) or put(r.created_at)
            took = _took(started_at, finished_at)
            totals[pipeline] += 1
            if took is not None:
                timed[pipeline] += 1
                hist[(pipeline, 0, took)] += 1
                hist[(pipeline, 1, took >> 10)] += 1
                hist[(pipeline, 2, took >> 20)] += 1
            if status == succeeded or status == failed:
                hour = (pipeline, str(created)[:13])
                finished_in[hour] += 1
                if status == failed:
                    failed_in[hour] += 1
            yield (r.run_id, pipeline, r.kind, status, r.trigger, created,
                   get(started_at) or put(started_at), get(finished_at) or put(finished_at),
                   r.attempt, r.failed_step, r.error, r.failed_watermark, r.parent_run_id,
                   r.from_step, r.resume_watermark, put(r.scheduled_for), r.worker,
                   json.dumps(r.extras) if r.extras else "{}", took)

    def steps(self, steps: Iterable[StepRecord]) -> Iterator[tuple[Any, ...]]:
        """The ``steps`` rows to insert."""
        get, put = self.texts.times.get, self.texts.put_time
        deps, put_deps = self.texts.deps.get, self.texts.put_deps
        word = _STATUS.get
        for s in steps:
            d, started_at, finished_at = s.depends_on, s.started_at, s.finished_at
            yield (s.run_id, s.name, word(s.status) or _word(s.status),
                   (deps(d) if type(d) is tuple else None) or put_deps(d), s.position,
                   get(started_at) or put(started_at), get(finished_at) or put(finished_at),
                   s.error, s.attempts, s.reused_from)

    def add(self, conn: sqlite3.Connection) -> None:
        """Add the counts to the statistics tables."""
        conn.executemany(
            "INSERT INTO pipeline_totals (pipeline, runs, with_duration) VALUES (?, ?, ?) "
            "ON CONFLICT (pipeline) DO UPDATE SET runs = runs + excluded.runs, "
            "with_duration = with_duration + excluded.with_duration",
            [(p, n, self.timed[p]) for p, n in self.totals.items()])
        conn.executemany(
            "INSERT INTO duration_hist (pipeline, level, bucket, n) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (pipeline, level, bucket) DO UPDATE SET n = n + excluded.n",
            [(*key, n) for key, n in self.hist.items()])
        conn.executemany(
            "INSERT INTO hour_outcomes (pipeline, hour, finished, failed) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (pipeline, hour) DO UPDATE SET finished = finished + "
            "excluded.finished, failed = failed + excluded.failed",
            [(*key, n, self.failed[key]) for key, n in self.finished.items()])


def import_rows(conn: sqlite3.Connection, runs: Iterable[RunRecord],
                steps: Iterable[StepRecord], attempts: Iterable[AttemptRecord],
                watermarks: Iterable[Watermark] = ()) -> int:
    """Insert records as given (inside the caller's write transaction); returns the
    number of runs. Durations are derived from the stored (millisecond) times; the
    statistics tables are updated once per distinct key, not by the per-row triggers."""
    (cache,) = conn.execute("PRAGMA cache_size").fetchone()
    conn.execute(f"PRAGMA cache_size = {-IMPORT_CACHE_KIB:d}")  # the indexes stay in memory
    try:
        count = _import(conn, runs, steps, attempts)
        _import_watermarks(conn, watermarks)
        return count
    finally:
        conn.execute(f"PRAGMA cache_size = {int(cache):d}")


def _import_watermarks(conn: sqlite3.Connection, marks: Iterable[Watermark]) -> None:
    """Append watermark commits as given, oldest first per pipeline: ``rows`` of each is the
    growth of ``rows_total`` since the pipeline's previous one (stored or imported)."""
    last: dict[str, int] = {}
    rows = []
    for m in marks:
        if m.pipeline not in last:
            prev = conn.execute("SELECT rows_total FROM watermarks WHERE pipeline = ? "
                                "ORDER BY id DESC LIMIT 1", (m.pipeline,)).fetchone()
            last[m.pipeline] = prev[0] if prev else 0
        rows.append((m.pipeline, str(m.value), m.run_id, ts(m.committed_at),
                     max(0, m.rows_total - last[m.pipeline]), m.rows_total, m.batches_total))
        last[m.pipeline] = m.rows_total
    conn.executemany("INSERT INTO watermarks (pipeline, value, run_id, committed_at, rows, "
                     "rows_total, batches_total) VALUES (?, ?, ?, ?, ?, ?, ?)", rows)


IMPORT_CACHE_KIB = 256 * 1024
"""Page cache of the importing connection while it imports: with SQLite's default (2 MB)
a big import spills pages to the WAL and reads them back many times over."""


def _import(conn: sqlite3.Connection, runs: Iterable[RunRecord],
            steps: Iterable[StepRecord], attempts: Iterable[AttemptRecord]) -> int:
    triggers = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
                            "AND tbl_name = 'runs' ORDER BY name").fetchall()
    for name, _ in triggers:
        conn.execute(f'DROP TRIGGER "{name}"')
    indexes = _set_aside_indexes(conn)
    texts = _Texts()
    counts = _Counts(texts)
    cur = conn.executemany(
        f"INSERT INTO runs ({RUN_COLS}, duration_ms) VALUES ({', '.join('?' * 19)})",
        counts.rows(runs))
    count = cur.rowcount
    for _, sql in indexes:
        conn.execute(sql)
    counts.add(conn)
    for _, sql in triggers:
        conn.execute(sql)
    conn.executemany(
        f"INSERT INTO steps ({STEP_COLS}) VALUES ({', '.join('?' * 10)})", counts.steps(steps))
    conn.executemany(
        f"INSERT INTO attempts ({ATTEMPT_COLS}) VALUES ({', '.join('?' * 8)})",
        ((a.run_id, a.step, a.number, _STATUS.get(a.status) or _word(a.status),
          ts(a.started_at), ts(a.finished_at), a.error, a.log_tail) for a in attempts))
    return count


REINDEX_BELOW = 1_000
"""An import into a log holding at most this many runs builds the secondary indexes of
``runs`` afterwards instead of updating them row by row (one sort per index: 2 µs per
row for the five, against 5.4 µs per imported row while inserting, measured at 50k)."""


def _set_aside_indexes(conn: sqlite3.Connection) -> list[tuple[str, str]]:
    """Drop the secondary indexes of ``runs`` (returned with their SQL, to be created
    again in the same transaction) when the log holds few runs; else keep them."""
    (held,) = conn.execute("SELECT COUNT(*) FROM (SELECT 1 FROM runs LIMIT ?)",
                           (REINDEX_BELOW + 1,)).fetchone()
    if held > REINDEX_BELOW:
        return []
    indexes = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND "
                           "tbl_name = 'runs' AND sql IS NOT NULL ORDER BY name").fetchall()
    for name, _ in indexes:
        conn.execute(f'DROP INDEX "{name}"')
    return [(str(name), str(sql)) for name, sql in indexes]
