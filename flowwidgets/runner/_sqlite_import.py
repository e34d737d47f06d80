"""The bulk import of :meth:`~flowwidgets.runner.sqlite.SqliteRunLog.import_runs`.

The statistics tables (``pipeline_totals``, ``duration_hist``, ``hour_outcomes``) are kept
by triggers on ``runs``: five upserts per inserted run. A bulk import instead drops those
triggers inside its transaction, counts what it inserts (C-level ``Counter`` over one key
per run), adds the counts in one upsert per distinct key and creates the triggers again
from their stored SQL before the commit. SQLite's DDL is transactional: an import that
fails rolls back the rows, the counts and the triggers together, and no other writer
runs in between (the import holds the write lock). Into a log that holds few runs, the
secondary indexes of ``runs`` are set aside the same way and built once after the rows
are in (see :data:`REINDEX_BELOW`).

Rows go to SQLite a chunk at a time in one multi-row ``INSERT`` (see
:mod:`~flowwidgets.runner._sqlite_chunks`), a missing value bound as ``NULL`` (a NaN). The
steps go in right after their runs, so that a step's times, usually its run's, are
compared with the run's texts instead of formatted again.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from flowwidgets.models import Status
from flowwidgets.runner._sqlite_chunks import CHUNK, NULL, Chunks, insert
from flowwidgets.runner._sqlite_import_rest import import_attempts, import_watermarks, missing
from flowwidgets.runner._sqlite_ops import RUN_COLS, STEP_COLS
from flowwidgets.runner._sqlite_pool import ms, ts
from flowwidgets.runner.store import AttemptRecord, RunRecord, StepRecord, Watermark

__all__ = ["import_rows"]

_NULLS: dict[Any, Any] = {None: NULL}
_NOTHING = object()
_NO_TIMES = (_NOTHING, NULL, _NOTHING, NULL)

FOLD = 65_536
"""Runs between two foldings of the noted keys into counts (see ``_Counts``)."""

_STATUS: dict[str, str] = {s.value: s.value for s in Status}
"""A status (or its word) → the stored word (a plain ``str``: a ``StrEnum`` member would
also go through the adapter lookup)."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NAIVE_EPOCH = datetime(1970, 1, 1)
_MS = timedelta(milliseconds=1)
_US = timedelta(microseconds=1)


def _word(value: Any) -> str:
    """The stored word of a status the fast lookup missed (``ValueError`` naming it)."""
    return Status(value).value


_TWO = [f"{i:02d}" for i in range(60)]
_FRACTION = [f".{i:03d}Z" for i in range(1000)]
_DAYS: dict[int, str] = {}
"""Day ordinal → ``YYYY-MM-DDT`` (at most 65,536 kept)."""


def _text(value: datetime) -> str:
    """:func:`ts`, quicker: an aware time becomes naive UTC by arithmetic (no tz calls),
    and the text is joined from cached parts (the day's, two-digit fields, milliseconds):
    half the cost of ``isoformat()``. A subclass (pandas' ``Timestamp`` writes
    nanoseconds) takes :func:`ts`."""
    if type(value) is not datetime:
        return ts(value)
    if value.tzinfo is not None:
        value = _NAIVE_EPOCH + (value - _EPOCH)
    day = _DAYS.get(value.toordinal())
    if day is None:
        if len(_DAYS) >= 65_536:
            _DAYS.clear()
        day = _DAYS[value.toordinal()] = value.date().isoformat() + "T"
    two = _TWO
    return (f"{day}{two[value.hour]}:{two[value.minute]}:{two[value.second]}"
            f"{_FRACTION[value.microsecond // 1000]}")


class _Texts:
    """Stored text of values that repeat across rows (a step's times are usually its
    run's; dependency lists repeat per pipeline): formatted once each. The loops read
    the dictionaries directly (``get(x) or put(x)``): no call on a hit (None is kept as
    :data:`NULL`)."""

    def __init__(self) -> None:
        self.times: dict[datetime | None, str | float] = {None: NULL}
        self.deps: dict[tuple[str, ...], str] = {}

    def put_time(self, value: datetime | None) -> str | float:
        """Format (and keep) a time the cache missed."""
        if value is None:
            return NULL
        if len(self.times) >= 65_536:
            self.times.clear()
            self.times[None] = NULL
        text = self.times[value] = _text(value)
        return text

    def put_deps(self, depends_on: Sequence[str]) -> str:
        """Format (and keep) a dependency list the cache missed."""
        key = tuple(depends_on)
        text = self.deps.get(key)
        if text is None:
            text = self.deps[key] = json.dumps(list(key))
        return text


def _took(started: datetime | None, finished: datetime | None) -> int | None:
    """The duration as stored: whole milliseconds between the two stored (truncated)
    times, None unless both are known."""
    if started is None or finished is None:
        return None
    if (started.tzinfo is UTC and finished.tzinfo is UTC and type(started) is datetime
            and type(finished) is datetime):  # floor(f) - floor(s), exactly
        return (finished - started + (started.microsecond % 1000) * _US) // _MS
    try:
        return (finished - _EPOCH) // _MS - (started - _EPOCH) // _MS
    except TypeError:  # naive times mean UTC
        return ms(finished) - ms(started)


class _Counts:
    """What the dropped triggers would have added, for the rows inserted."""

    def __init__(self, conn: sqlite3.Connection, texts: _Texts) -> None:
        self.conn, self.texts = conn, texts
        # one key per run, appended; folded into the counters (in C) every FOLD runs, so
        # a million-run import holds the distinct keys, not a tuple per run
        self.timed: list[tuple[str, int]] = []  # (pipeline, duration) per timed run
        self.untimed: list[str] = []  # pipeline per run without a duration
        self.finished: list[tuple[str, str, str]] = []  # (pipeline, hour, status)
        self.timed_n: Counter[tuple[str, int]] = Counter()
        self.untimed_n: Counter[str] = Counter()
        self.finished_n: Counter[tuple[str, str, str]] = Counter()
        # the run ids read recently (two generations of up to FOLD each): a step whose
        # run is in neither was stored before, or its run comes later (more runs are read)
        self.ids: set[str] = set()
        self.old_ids: set[str] = set()
        # run id -> (started_at, its text, finished_at, its text) of recent runs: a step's
        # times are usually its run's, compared (no hashing of fresh datetimes)
        self.run_times: dict[str, tuple[Any, str | float, Any, str | float]] = {}
        # runs of steps that are not among the recent ones once all runs are in: stored
        # before, imported earlier, or nowhere (see check_runs: no foreign keys checked)
        self.elsewhere: set[str] = set()

    def rows(self, runs: Iterable[RunRecord]) -> Iterator[list[Any]]:
        """The ``runs`` rows to insert, :data:`CHUNK` per flat list, noted on the way."""
        full = CHUNK * 19
        chunk: list[Any] = []
        add = chunk.extend
        get, put = self.texts.times.get, self.texts.put_time
        word = _STATUS.get
        timed, untimed, finished = self.timed.append, self.untimed.append, self.finished.append
        nulls = _NULLS.get  # nulls(x, x): NULL for None, else x (one C call)
        seen = self.ids.add
        run_times = self.run_times
        succeeded, failed = Status.SUCCEEDED.value, Status.FAILED.value
        for r in runs:
            run_id, pipeline, created_at = r.run_id, r.pipeline, r.created_at
            started_at, finished_at = r.started_at, r.finished_at
            seen(run_id)
            status = word(r.status) or _word(r.status)
            created = NULL if created_at is None else _text(created_at)  # None: refused
            start = (created if started_at is created_at else
                     NULL if started_at is None else _text(started_at))
            finish = NULL if finished_at is None else _text(finished_at)
            run_times[run_id] = (started_at, start, finished_at, finish)
            took = _took(started_at, finished_at)
            if took is None:
                untimed(pipeline)
            else:
                timed((pipeline, took))
            if status == succeeded or status == failed:
                finished((pipeline, str(created)[:13], status))
            extras = r.extras
            add((run_id, pipeline, r.kind, status, r.trigger, created, start, finish,
                   r.attempt, nulls(r.failed_step, r.failed_step), nulls(r.error, r.error),
                   nulls(r.failed_watermark, r.failed_watermark),
                   nulls(r.parent_run_id, r.parent_run_id), nulls(r.from_step, r.from_step),
                   nulls(r.resume_watermark, r.resume_watermark),
                   get(r.scheduled_for) or put(r.scheduled_for), nulls(r.worker, r.worker),
                   json.dumps(extras) if extras else "{}", NULL if took is None else took))
            if len(chunk) == full:
                yield chunk
                chunk = []
                add = chunk.extend
                if len(self.ids) >= FOLD:
                    self.fold()
                    seen = self.ids.add
        if chunk:
            yield chunk

    def fold(self) -> None:
        """Count the keys noted so far, and start a new generation of run ids."""
        self.timed_n.update(self.timed)
        self.untimed_n.update(self.untimed)
        self.finished_n.update(self.finished)
        for noted in (self.timed, self.untimed, self.finished):
            noted.clear()  # the same lists: rows() holds their append
        self.old_ids, self.ids = self.ids, set()
        self.run_times.clear()  # a step of an older run compares with the cached texts

    def known(self, run_id: str) -> bool:
        """Whether ``run_id`` is among the runs read recently."""
        return run_id in self.ids or run_id in self.old_ids

    def steps(self, steps: Iterable[StepRecord], more_runs: Callable[[], bool]
              ) -> Iterator[list[Any]]:
        """The ``steps`` rows to insert, :data:`CHUNK` per flat list. ``more_runs()``
        inserts the next runs (False when none are left); it is called until the step's
        run is in: steps go in right after their runs (as foreign keys require) while the
        runs' time texts are still cached."""
        get, put = self.texts.times.get, self.texts.put_time
        deps, put_deps = self.texts.deps.get, self.texts.put_deps
        word = _STATUS.get
        known = self.known
        full = CHUNK * 10
        chunk: list[Any] = []
        add = chunk.extend
        # the previous step's times, compared before the dictionary: a fresh datetime's
        # first hash costs ~0.3 µs (an aware one builds two temporaries), == with the
        # same tzinfo compares its fields
        last_start: Any = _NOTHING
        last_finish: Any = _NOTHING
        start: str | float = NULL
        finish: str | float = NULL
        run_times, last_run = self.run_times.get, None
        for s in steps:
            run_id = s.run_id
            if run_id != last_run:
                if not known(run_id):
                    while more_runs():
                        if known(run_id):
                            break
                    else:  # all runs are in
                        self.elsewhere.add(run_id)
                        if len(self.elsewhere) >= FOLD:
                            self.check_runs()
                last_run = run_id
                last_start, start, last_finish, finish = run_times(run_id, _NO_TIMES)
            d, started_at, finished_at = s.depends_on, s.started_at, s.finished_at
            if started_at != last_start:
                last_start, start = started_at, get(started_at) or put(started_at)
            if finished_at != last_finish:
                last_finish, finish = finished_at, get(finished_at) or put(finished_at)
            error, reused = s.error, s.reused_from
            add((run_id, s.name, word(s.status) or _word(s.status),
                 (deps(d) if type(d) is tuple else None) or put_deps(d), s.position,
                 start, finish, NULL if error is None else error, s.attempts,
                 NULL if reused is None else reused))
            if len(chunk) == full:
                yield chunk
                chunk = []
                add = chunk.extend
        if chunk:
            yield chunk

    def check_runs(self) -> None:
        """Raise ``IntegrityError`` (naming them) if runs of steps are neither imported nor
        stored: one query for the steps' runs that were not among the recent ones (SQLite
        does not check the import's foreign keys)."""
        if self.elsewhere:
            missing(self.conn, "SELECT j.value FROM json_each(?) AS j WHERE NOT EXISTS "
                    "(SELECT 1 FROM runs WHERE run_id = j.value)",
                    sorted(map(str, self.elsewhere)), "steps of no run (imported or stored)")
            self.elsewhere.clear()

    def add(self, conn: sqlite3.Connection) -> None:
        """Add the counts to the statistics tables (in key order: upserts scattered over
        the table's B-tree cost twice as much)."""
        self.fold()
        hist: dict[str, tuple[Counter[int], Counter[int], Counter[int]]] = {}
        for (pipeline, took), n in self.timed_n.items():
            levels = hist.get(pipeline)
            if levels is None:
                levels = hist[pipeline] = (Counter(), Counter(), Counter())
            levels[0][took] = n
        totals = Counter(self.untimed_n)
        with_duration: dict[str, int] = {}
        rows: list[tuple[str, int, int, int]] = []
        for pipeline in sorted(hist):
            ms0, ms1, ms2 = hist[pipeline]
            for took, n in ms0.items():
                ms1[took >> 10] += n
            for bucket, n in ms1.items():
                ms2[bucket >> 10] += n
            totals[pipeline] += (timed := sum(ms2.values()))
            with_duration[pipeline] = timed
            for level, counts in enumerate((ms0, ms1, ms2)):
                rows.extend((pipeline, level, bucket, counts[bucket]) for bucket in sorted(counts))
        insert(conn, "pipeline_totals (pipeline, runs, with_duration)", 3,
                sorted((p, n, with_duration.get(p, 0)) for p, n in totals.items()),
                "ON CONFLICT (pipeline) DO UPDATE SET runs = runs + excluded.runs, "
                "with_duration = with_duration + excluded.with_duration")
        insert(conn, "duration_hist (pipeline, level, bucket, n)", 4, rows,
                "ON CONFLICT (pipeline, level, bucket) DO UPDATE SET n = n + excluded.n")
        hours = self.finished_n
        outcomes: Counter[tuple[str, str]] = Counter()
        failures: Counter[tuple[str, str]] = Counter()
        failed = Status.FAILED.value
        for (pipeline, hour, status), n in hours.items():
            outcomes[(pipeline, hour)] += n
            if status == failed:
                failures[(pipeline, hour)] += n
        insert(conn, "hour_outcomes (pipeline, hour, finished, failed)", 4,
                sorted((*key, n, failures[key]) for key, n in outcomes.items()),
                "ON CONFLICT (pipeline, hour) DO UPDATE SET finished = finished + "
                "excluded.finished, failed = failed + excluded.failed")


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
        import_watermarks(conn, watermarks)
        return count
    finally:
        conn.execute(f"PRAGMA cache_size = {int(cache):d}")


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
    counts = _Counts(conn, texts)
    run_rows = Chunks(conn, f"runs ({RUN_COLS}, duration_ms)", 19, counts.rows(runs))
    Chunks(conn, f"steps ({STEP_COLS})", 10, counts.steps(steps, run_rows.more)).all()
    count = run_rows.all()
    counts.check_runs()
    for _, sql in indexes:
        conn.execute(sql)
    counts.add(conn)
    for _, sql in triggers:
        conn.execute(sql)
    import_attempts(conn, attempts)
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
