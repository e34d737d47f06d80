"""The run log in one SQLite file (WAL), safe across threads and processes.

    log = SqliteRunLog("runs.db")
    run_id, created = log.create_run(pipeline="orders", kind="batch", trigger="manual",
                                     steps=[("fetch", []), ("load", ["fetch"])])
    run = log.claim_requested("worker-1")      # exactly one claimer gets it
    n = log.start_attempt(run_id, "fetch"); log.finish_attempt(run_id, "fetch", n,
                                                               status=Status.SUCCEEDED)
    log.close()

Connections come from a small pool (one per concurrently active thread, created on
demand, each in autocommit mode with explicit transactions), so readers run in parallel
under WAL while writers serialise on ``BEGIN IMMEDIATE``; ``close()`` closes them all.
Every write that changes what the API shows bumps :meth:`SqliteRunLog.version` and
appends :class:`~flowwidgets.runner.store.Event` rows in the same transaction;
heartbeats and schedule-fire claims do not (they would defeat ETags). The events table
keeps the newest ``keep_events`` rows (trimmed by a writer at most once a minute, see
:mod:`flowwidgets.runner._sqlite_pool`).
Times are stored as ISO-8601 UTC text with milliseconds and come back as aware UTC
datetimes truncated to the millisecond; the DDL lives in :mod:`flowwidgets.runner._schema`.
"""

from __future__ import annotations

import copy
import os
import socket
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from flowwidgets.models import Status
from flowwidgets.runner import _sqlite_fast as fast
from flowwidgets.runner import _sqlite_import
from flowwidgets.runner import _sqlite_ops as q
from flowwidgets.runner._sqlite_pool import Pool, Tx, ts
from flowwidgets.runner._sqlite_reads import SqliteReads
from flowwidgets.runner.store import (
    NO_OUTPUT,
    AttemptRecord,
    ClaimLost,
    RunLog,
    RunRecord,
    StepRecord,
    Watermark,
)

__all__ = ["SqliteRunLog"]

INTERRUPTED = q.INTERRUPTED
"""The error recorded on runs, steps and attempts whose worker disappeared."""

KEEP_EVENTS = 50_000
"""Events kept by default (about 6,000 runs' worth at ~8 events per run)."""


class SqliteRunLog(SqliteReads, RunLog):
    """A :class:`~flowwidgets.runner.store.RunLog` kept in the SQLite file at ``path``.

    The file and its schema are created (or upgraded) on open. ``busy_timeout_s`` is how
    long a writer waits for another writer (thread or process) before
    ``sqlite3.OperationalError``. ``keep_events`` bounds the events table (the push
    channel's history; ``ValueError`` below 1), trimmed by a write that appends events at
    most every ``trim_every_s``. Usable as a context manager; ``close()`` releases every
    connection it opened.
    """

    def __init__(self, path: str | Path, *, busy_timeout_s: float = 10.0,
                 keep_events: int = KEEP_EVENTS, trim_every_s: float = 60.0):
        self.path = Path(path)
        self._pool = Pool(str(self.path), busy_timeout_s, keep_events=keep_events,
                          trim_every_s=trim_every_s, writer_sql=fast.WRITER_SQL)
        st = os.stat(self.path)
        self._identity = (st.st_dev, st.st_ino)
        self._pipelines: dict[str, str] = {}
        """Pipeline of the runs written to lately (shared with fenced views): the
        one-statement step writes check it, so a stale entry only costs the slow path."""

    _owner: str | None = None
    """Set on a :meth:`fenced` view: the worker whose claim every run write checks."""

    def fenced(self, worker: str) -> SqliteRunLog:
        """See :meth:`RunLog.fenced`: a view sharing this log's connections (closing
        the view closes them too; close the original instead)."""
        view = copy.copy(self)
        view._owner = worker
        return view

    def _fence(self, tx: Tx, run_id: str) -> None:
        if self._owner is None:
            return
        row = tx.one("SELECT status, worker FROM runs WHERE run_id = ?", (run_id,))
        # a run cancelled while its steps wind down stays ours: its writes change nothing
        if row is not None and (row[0] not in (Status.RUNNING, Status.CANCELLED)
                                or row[1] != self._owner):
            raise ClaimLost(f"run {run_id} is no longer claimed by {self._owner} (it is "
                            f"{row[0]}, worker {row[1]}); nothing written")

    def _run(self, tx: Tx, run_id: str) -> tuple[str, str, str | None]:
        """(pipeline, status, started_at) of a run this transaction writes to, read
        once: ``KeyError`` for an unknown run, :class:`ClaimLost` on a fenced view whose
        claim is gone (a cancelled run stays ours; its writes change nothing)."""
        row = tx.one("SELECT pipeline, status, started_at, worker FROM runs WHERE run_id = ?",
                     (run_id,))
        if row is None:
            raise KeyError(f"no run {run_id!r}")
        if self._owner is not None and (row[1] not in (Status.RUNNING, Status.CANCELLED)
                                        or row[3] != self._owner):
            raise ClaimLost(f"run {run_id} is no longer claimed by {self._owner} (it is "
                            f"{row[1]}, worker {row[3]}); nothing written")
        return row[0], row[1], row[2]

    def _remember(self, run_id: str, pipeline: str) -> None:
        if len(self._pipelines) >= 4096:
            self._pipelines.clear()
        self._pipelines[run_id] = pipeline

    def __enter__(self) -> SqliteRunLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SqliteRunLog({str(self.path)!r})"

    # ---- runs ----------------------------------------------------------------------

    def create_run(
        self,
        *,
        pipeline: str,
        kind: str,
        steps: Sequence[tuple[str, Sequence[str]]],
        trigger: str,
        parent_run_id: str | None = None,
        from_step: str | None = None,
        reused: Mapping[str, str] | None = None,
        resume_watermark: str | None = None,
        idempotency_key: str | None = None,
        scheduled_for: datetime | None = None,
        idempotency_request: str | None = None,
    ) -> tuple[str, bool]:
        """See :meth:`RunLog.create_run`. Also raises ``ValueError`` for duplicate step
        names or a ``reused`` step the run does not have, and ``KeyError`` when a
        ``reused`` source run does not exist. A source step without a stored output is
        reused without one."""
        plan = [(str(name), [str(d) for d in deps]) for name, deps in steps]
        names = [name for name, _ in plan]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate step names in {names}")
        reused = dict(reused or {})
        if unknown := sorted(set(reused) - set(names)):
            raise ValueError(f"reused steps {unknown} are not steps of this run: {names}")
        with self._pool.write() as tx:
            if idempotency_key is not None:
                row = tx.one("SELECT run_id, request FROM idempotency WHERE key = ?",
                             (idempotency_key,))
                if row is not None:
                    q.same_request(idempotency_key, row[1], idempotency_request)
                    return row[0], False
            for source in sorted(set(reused.values())):
                if tx.one("SELECT 1 FROM runs WHERE run_id = ?", (source,)) is None:
                    raise KeyError(f"reused source run {source!r} does not exist")
            run_id = q.insert_run(tx, pipeline, kind, trigger, parent_run_id, from_step,
                                  resume_watermark, scheduled_for, plan, reused)
            if idempotency_key is not None:
                tx.execute("INSERT INTO idempotency (key, run_id, created_at, request) "
                           "VALUES (?, ?, ?, ?)", (idempotency_key, run_id, tx.now_text,
                                                   q.request_text(idempotency_request)))
            tx.event("run", run_id, pipeline, Status.REQUESTED)
            return run_id, True

    def claim_requested(self, worker: str, pipelines: Sequence[str] | None = None
                        ) -> RunRecord | None:
        """See :meth:`RunLog.claim_requested` (``BEGIN IMMEDIATE`` makes it exactly-once)."""
        where, args = "status = ?", [Status.REQUESTED.value]
        if pipelines is not None:
            if not pipelines:
                return None
            where += f" AND pipeline IN ({', '.join('?' * len(pipelines))})"
            args += list(pipelines)
        with self._pool.write() as tx:
            row = tx.one(f"SELECT run_id, pipeline FROM runs WHERE {where} "
                         "ORDER BY created_at, rowid LIMIT 1", args)  # FIFO within a millisecond
            if row is None:
                return None
            run_id, pipeline = row
            cur = tx.execute("UPDATE runs SET status = ?, started_at = ?, worker = ? "
                             "WHERE run_id = ? AND status = ?",
                             (Status.RUNNING, tx.now_text, worker, run_id, Status.REQUESTED))
            if cur.rowcount != 1:  # cannot happen under the write lock; be loud if it does
                raise RuntimeError(f"run {run_id} changed while claimed")
            tx.event("run", run_id, pipeline, Status.RUNNING)
            return q.run_row(tx.one(f"SELECT {q.RUN_COLS} FROM runs WHERE run_id = ?", (run_id,)))

    def finish_run(self, run_id: str, *, status: Status, failed_step: str | None = None,
                   error: str | None = None, failed_watermark: str | None = None) -> None:
        """See :meth:`RunLog.finish_run`; ``ValueError`` for a status that is not terminal."""
        status = Status(status)
        if not status.is_terminal:
            raise ValueError(f"finish_run needs a terminal status, not {status.value!r}")
        with self._pool.write() as tx:
            pipeline, current, started = self._run(tx, run_id)
            if current == Status.CANCELLED:
                return  # cancelled while its steps wound down: the cancel stands
            tx.execute(
                "UPDATE runs SET status = ?, finished_at = ?, duration_ms = ?, failed_step = ?,"
                " error = ?, failed_watermark = ?, attempt = MAX(1, COALESCE("
                "(SELECT MAX(attempts) FROM steps WHERE run_id = ?), 1)) WHERE run_id = ?",
                (status, tx.now_text, tx.ms_since(started), failed_step, error,
                 failed_watermark, run_id, run_id))
            tx.event("run", run_id, pipeline, status)

    def cancel_run(self, run_id: str, *, by: str | None = None) -> RunRecord:
        """See :meth:`RunLog.cancel_run`."""
        with self._pool.write() as tx:
            q.cancel(tx, run_id, by)
            return q.run_row(tx.one(f"SELECT {q.RUN_COLS} FROM runs WHERE run_id = ?",
                                    (run_id,)))

    # ---- steps and attempts --------------------------------------------------------

    def start_attempt(self, run_id: str, step: str) -> int:
        """See :meth:`RunLog.start_attempt`; ``KeyError`` for an unknown run or step."""
        def write(tx: Tx) -> int:
            pipeline, current, _ = self._run(tx, run_id)
            self._remember(run_id, pipeline)
            if current == Status.CANCELLED:
                if tx.one("SELECT 1 FROM steps WHERE run_id = ? AND name = ?",
                          (run_id, step)) is None:
                    raise KeyError(f"run {run_id!r} has no step {step!r}")
                return 0
            return self._start(tx, run_id, pipeline, step)
        pipeline = self._pipelines.get(run_id)
        if pipeline is None:
            return self._pool.apply(write)
        owner = self._owner
        return self._pool.apply(write, (fast.start_row(run_id, pipeline, owner, step), 1))

    @staticmethod
    def _start(tx: Tx, run_id: str, pipeline: str, step: str) -> int:
        row = tx.execute("UPDATE steps SET status = 'running', attempts = attempts + 1, "
                         "error = NULL, started_at = COALESCE(started_at, ?), "
                         "finished_at = NULL WHERE run_id = ? AND name = ? RETURNING attempts",
                         (tx.now_text, run_id, step)).fetchone()
        if row is None:
            raise KeyError(f"run {run_id!r} has no step {step!r}")
        number: int = row[0]
        tx.execute("INSERT INTO attempts (run_id, step, number, status, started_at) "
                   "VALUES (?, ?, ?, 'running', ?)", (run_id, step, number, tx.now_text))
        if number > 1:  # runs.attempt starts at 1
            tx.execute("UPDATE runs SET attempt = MAX(attempt, ?) WHERE run_id = ?",
                       (number, run_id))
        tx.event("step", run_id, pipeline, "running", step)
        tx.event("attempt", run_id, pipeline, "running", step)
        return number

    def finish_attempt(self, run_id: str, step: str, number: int, *, status: Status,
                       error: str | None = None, log_tail: str | None = None,
                       output: Any = NO_OUTPUT, start: Sequence[str] = ()) -> list[int]:
        """See :meth:`RunLog.finish_attempt`. A succeeded attempt also marks the step
        succeeded; a failed one leaves the step running until :meth:`set_step_status`.
        ``output`` is stored as by :meth:`save_output` in the same transaction (one
        commit per finished step; ``TypeError``, and nothing written, if it is not
        JSON). The steps in ``start`` are then started as by :meth:`start_attempt`, in
        the same transaction, after this attempt's end. ``KeyError`` (and nothing
        written) for an unknown attempt or step."""
        status = status if status.__class__ is Status else Status(status)
        body = None if output is NO_OUTPUT else q.json_text(run_id, step, output)

        def write(tx: Tx) -> list[int]:
            pipeline, current, _ = self._run(tx, run_id)
            self._remember(run_id, pipeline)
            if current == Status.CANCELLED:
                return [0] * len(start)
            if tx.execute("UPDATE attempts SET status = ?, finished_at = ?, error = ?, "
                          "log_tail = ? WHERE run_id = ? AND step = ? AND number = ?",
                          (status.value, tx.now_text, error, log_tail, run_id, step,
                           number)).rowcount != 1:
                raise KeyError(f"run {run_id!r} step {step!r} has no attempt {number}")
            if body is not None:
                q.put_output(tx, run_id, step, body)
            tx.event("attempt", run_id, pipeline, status.value, step)
            if status is Status.SUCCEEDED:
                tx.execute("UPDATE steps SET status = 'succeeded', finished_at = ?, "
                           "error = NULL WHERE run_id = ? AND name = ?",
                           (tx.now_text, run_id, step))
                tx.event("step", run_id, pipeline, "succeeded", step)
            return [self._start(tx, run_id, pipeline, name) for name in start]
        pipeline = self._pipelines.get(run_id)
        if pipeline is None or len(start) > 1:
            return self._pool.apply(write)
        owner, child = self._owner, (start[0] if start else None)
        return self._pool.apply(write, (fast.finish_row(
            run_id, pipeline, owner, step, number, status.value, error, log_tail, body, child),
            [] if child is None else [1]))

    def set_step_status(self, run_id: str, step: str, status: Status,
                        error: str | None = None) -> None:
        """See :meth:`RunLog.set_step_status`. A ``failed`` step given no error keeps its
        last failed attempt's error. ``KeyError`` for an unknown run or step."""
        status = Status(status)
        with self._pool.write() as tx:
            pipeline, current, _ = self._run(tx, run_id)
            if current == Status.CANCELLED:
                return
            if error is None and status is Status.FAILED:
                row = tx.one("SELECT error FROM attempts WHERE run_id = ? AND step = ? "
                             "AND status = ? ORDER BY number DESC LIMIT 1",
                             (run_id, step, Status.FAILED))
                error = None if row is None else row[0]
            cur = tx.execute(
                "UPDATE steps SET status = ?, error = ?, finished_at = ?, started_at = CASE "
                "WHEN ? THEN COALESCE(started_at, ?) ELSE started_at END "
                "WHERE run_id = ? AND name = ?",
                (status, error, tx.now_text if status.is_terminal else None,
                 status is Status.RUNNING, tx.now_text, run_id, step))
            if cur.rowcount != 1:
                raise KeyError(f"run {run_id!r} has no step {step!r}")
            tx.event("step", run_id, pipeline, status, step)

    # ---- outputs and watermarks ----------------------------------------------------

    def save_output(self, run_id: str, step: str, value: Any) -> None:
        """See :meth:`RunLog.save_output`: strict JSON (``TypeError`` also for NaN,
        infinities and cycles); ``KeyError`` for an unknown run or step."""
        body = q.json_text(run_id, step, value)
        with self._pool.write() as tx:
            self._fence(tx, run_id)
            if tx.one("SELECT 1 FROM steps WHERE run_id = ? AND name = ?",
                      (run_id, step)) is None:
                raise KeyError(f"run {run_id!r} has no step {step!r}")
            q.put_output(tx, run_id, step, body)
            tx.touch()

    def commit_watermark(self, run_id: str, pipeline: str, value: str, rows: int = 0) -> None:
        """Append a watermark commit; totals accumulate over the pipeline's history."""
        if rows < 0:
            raise ValueError(f"rows must be >= 0, not {rows}")
        with self._pool.write() as tx:
            self._fence(tx, run_id)
            prev = tx.one("SELECT rows_total, batches_total FROM watermarks WHERE pipeline = ? "
                          "ORDER BY id DESC LIMIT 1", (pipeline,)) or (0, 0)
            tx.execute("INSERT INTO watermarks (pipeline, value, run_id, committed_at, rows, "
                       "rows_total, batches_total) VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (pipeline, str(value), run_id, tx.now_text, int(rows),
                        prev[0] + int(rows), prev[1] + 1))
            tx.event("watermark", run_id, pipeline, None)

    # ---- scheduling and recovery ---------------------------------------------------

    def claim_schedule_fire(self, pipeline: str, fire_at: datetime) -> bool:
        """True for exactly one caller per (pipeline, fire time) across processes."""
        with self._pool.write() as tx:
            cur = tx.execute("INSERT OR IGNORE INTO schedule_fires (pipeline, fire_at, "
                             "claimed_at) VALUES (?, ?, ?)", (pipeline, ts(fire_at), tx.now_text))
            return cur.rowcount == 1

    def heartbeat(self, worker: str, *, wait_s: float | None = None) -> None:
        """Record that ``worker`` (this process, on this host) is alive now (``wait_s``:
        fail after waiting this long for another writer's lock, not ``busy_timeout_s``).
        ``OSError`` when the file at ``path`` is gone or is another file than the one
        opened (open connections would write to the old file, which peers no longer
        read)."""
        st = os.stat(self.path)
        if (st.st_dev, st.st_ino) != self._identity:
            raise OSError(f"{self.path} is no longer the run log this runner opened (the "
                          "file was replaced)")
        with self._pool.write(wait_s) as tx:
            tx.execute("INSERT INTO workers (id, pid, host, heartbeat_at) VALUES (?, ?, ?, ?) "
                       "ON CONFLICT (id) DO UPDATE SET pid = excluded.pid, host = excluded.host,"
                       " heartbeat_at = excluded.heartbeat_at",
                       (worker, os.getpid(), socket.gethostname(), tx.now_text))

    def recover_interrupted(self, *, stale_after_s: float) -> list[str]:
        """See :meth:`RunLog.recover_interrupted`. A running run whose worker never sent
        a heartbeat counts as gone once it has been running for ``stale_after_s``."""
        with self._pool.write() as tx:
            return q.recover(tx, stale_after_s)

    # ---- events and connections ----------------------------------------------------

    def on_commit(self, callback: Callable[[], None]) -> Callable[[], None]:
        """See :meth:`RunLog.on_commit`. A callback that raises is logged and kept."""
        return self._pool.on_commit(callback)

    def trim_events(self, keep: int | None = None) -> int:
        """Trim the events table to the newest ``keep`` (default ``keep_events``) now,
        whatever the once-a-minute pace; returns the number deleted."""
        keep = self._pool.keep_events if keep is None else int(keep)
        if keep < 1:
            raise ValueError(f"keep must be at least 1, not {keep}")
        with self._pool.write() as tx:
            return tx.trim_events(keep)

    def close(self) -> None:
        """Close every connection this log opened (idempotent)."""
        self._pool.close()

    # ---- bulk history --------------------------------------------------------------

    def import_runs(self, runs: Iterable[RunRecord], steps: Iterable[StepRecord] = (),
                    attempts: Iterable[AttemptRecord] = (),
                    watermarks: Iterable[Watermark] = ()) -> int:
        """Insert history in one transaction (benchmarks, migrations from another runner);
        returns the number of runs. Records are stored as given (ids, statuses, times);
        durations are derived. Appends no events and bumps the version once. Raises
        ``sqlite3.IntegrityError`` (and imports nothing) for a duplicate run id, or a step
        or attempt whose run or step is neither imported nor stored. ``watermarks`` are
        streaming commits (oldest first, running totals as given), appended after the
        pipeline's stored ones.

        For a benchmark, build ``RunRecord(run_id=f"orders-{i:06d}", pipeline="orders",
        kind="batch", status=Status.SUCCEEDED, trigger="schedule", created_at=t,
        started_at=t, finished_at=t + timedelta(seconds=40))`` for ``i`` in ``range(n)``."""
        with self._pool.write(foreign_keys=False) as tx:  # the import checks them
            count = _sqlite_import.import_rows(tx.conn, runs, steps, attempts, watermarks)
            tx.touch()
        return count
