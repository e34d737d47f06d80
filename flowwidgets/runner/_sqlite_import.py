"""The bulk import of :meth:`~flowwidgets.runner.sqlite.SqliteRunLog.import_runs`.

The statistics tables (``pipeline_totals``, ``duration_hist``, ``hour_outcomes``) are kept
by triggers on ``runs``: five upserts per inserted run. A bulk import instead drops those
triggers inside its transaction, counts what it inserts in Python (a few dictionary
updates per run), adds the counts in one upsert per distinct key and creates the
triggers again from their stored SQL before the commit. SQLite's DDL is transactional:
an import that fails rolls back the rows, the counts and the triggers together, and no
other writer runs in between (the import holds the write lock).
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from flowwidgets.models import Status
from flowwidgets.runner._sqlite_ops import ATTEMPT_COLS, RUN_COLS, STEP_COLS, duration_ms
from flowwidgets.runner._sqlite_pool import ts
from flowwidgets.runner.store import AttemptRecord, RunRecord, StepRecord, Watermark

__all__ = ["import_rows"]

_FINISHED = (Status.SUCCEEDED.value, Status.FAILED.value)


class _Texts:
    """Stored text of values that repeat across rows (a step's times are usually its
    run's; dependency lists repeat per pipeline): formatted once each."""

    def __init__(self) -> None:
        self._times: dict[datetime, str | None] = {}
        self._json: dict[tuple[str, ...], str] = {}

    def time(self, value: datetime | None) -> str | None:
        if value is None:
            return None
        text = self._times.get(value)
        if text is None:
            if len(self._times) > 4096:
                self._times.clear()
            text = self._times[value] = ts(value)
        return text

    def deps(self, depends_on: Sequence[str]) -> str:
        key = tuple(depends_on)
        text = self._json.get(key)
        if text is None:
            text = self._json[key] = json.dumps(list(key))
        return text


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
        time = self.texts.time
        for r in runs:
            status = Status(r.status)
            created = time(r.created_at)
            took = duration_ms(r)
            self.totals[r.pipeline] += 1
            if took is not None:
                self.timed[r.pipeline] += 1
                self.hist[(r.pipeline, 0, took)] += 1
                self.hist[(r.pipeline, 1, took >> 10)] += 1
                self.hist[(r.pipeline, 2, took >> 20)] += 1
            if status.value in _FINISHED:
                hour = (r.pipeline, str(created)[:13])
                self.finished[hour] += 1
                if status is Status.FAILED:
                    self.failed[hour] += 1
            yield (r.run_id, r.pipeline, r.kind, status, r.trigger, created,
                   time(r.started_at), time(r.finished_at), r.attempt, r.failed_step,
                   r.error, r.failed_watermark, r.parent_run_id, r.from_step,
                   r.resume_watermark, ts(r.scheduled_for), r.worker,
                   json.dumps(r.extras) if r.extras else "{}", took)

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
    texts = _Texts()
    counts = _Counts(texts)
    cur = conn.executemany(
        f"INSERT INTO runs ({RUN_COLS}, duration_ms) VALUES ({', '.join('?' * 19)})",
        counts.rows(runs))
    count = cur.rowcount
    counts.add(conn)
    for _, sql in triggers:
        conn.execute(sql)
    conn.executemany(
        f"INSERT INTO steps ({STEP_COLS}) VALUES ({', '.join('?' * 10)})",
        ((s.run_id, s.name, Status(s.status), texts.deps(s.depends_on), s.position,
          texts.time(s.started_at), texts.time(s.finished_at), s.error, s.attempts,
          s.reused_from) for s in steps))
    conn.executemany(
        f"INSERT INTO attempts ({ATTEMPT_COLS}) VALUES ({', '.join('?' * 8)})",
        ((a.run_id, a.step, a.number, Status(a.status), ts(a.started_at), ts(a.finished_at),
          a.error, a.log_tail) for a in attempts))
    return count
