"""Rows to records and back for :class:`~flowwidgets.runner.sqlite.SqliteRunLog`, and its
operations that span tables: pages of runs, the bulk
import, recovery.

Statistics live in :mod:`flowwidgets.runner._sqlite_stats`. A page of runs
picks its rowids from a covering index first and reads only those rows, so a deep
``OFFSET`` walks index entries, not table rows.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import socket
import sqlite3
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import orjson

from flowwidgets.errors import Unprocessable
from flowwidgets.models import Status
from flowwidgets.runner._sqlite_pool import Tx, dt, ms, ts
from flowwidgets.runner.store import (
    RUN_SUMMARY_FIELDS,
    AttemptRecord,
    Event,
    RunRecord,
    StepRecord,
    Watermark,
)

__all__ = [
    "ATTEMPT_COLS",
    "EVENT_COLS",
    "INTERRUPTED",
    "RUN_COLS",
    "STEP_COLS",
    "STEP_STATES_SQL",
    "SUMMARY_COLS",
    "WATERMARK_COLS",
    "attempt_row",
    "cancel",
    "event_row",
    "duration_ms",
    "insert_run",
    "json_text",
    "last_line",
    "put_output",
    "recover",
    "request_text",
    "run_page",
    "run_row",
    "same_request",
    "step_row",
    "watermark_row",
]

INTERRUPTED = "runner interrupted"
"""The error recorded on runs, steps and attempts whose worker disappeared."""

RUN_COLS = (
    "run_id, pipeline, kind, status, trigger, created_at, started_at, finished_at, attempt, "
    "failed_step, error, failed_watermark, parent_run_id, from_step, resume_watermark, "
    "scheduled_for, worker, extras"
)
STEP_COLS = ("run_id, name, status, depends_on, position, started_at, finished_at, error, "
             "attempts, reused_from")
ATTEMPT_COLS = "run_id, step, number, status, started_at, finished_at, error, log_tail"
EVENT_COLS = "id, kind, run_id, pipeline, status, step, at"
WATERMARK_COLS = "pipeline, value, run_id, committed_at, rows_total, batches_total"
SUMMARY_COLS = ", ".join(RUN_SUMMARY_FIELDS)
"""The summary straight from the columns: times are stored in the API's format, the
status as its word, the duration in whole milliseconds."""


def run_row(r: Sequence[Any]) -> RunRecord:
    """A ``SELECT RUN_COLS`` row as a record."""
    return RunRecord(
        run_id=r[0], pipeline=r[1], kind=r[2], status=Status.parse(r[3]), trigger=r[4],
        created_at=dt(r[5]), started_at=dt(r[6]), finished_at=dt(r[7]), attempt=r[8],
        failed_step=r[9], error=r[10], failed_watermark=r[11], parent_run_id=r[12],
        from_step=r[13], resume_watermark=r[14], scheduled_for=dt(r[15]), worker=r[16],
        extras=json.loads(r[17]) if r[17] else {})


_STATUSES = {s.value: s for s in Status}
"""Stored status words (written by this module) to their members, without parsing."""


def _names(text: str) -> tuple[str, ...]:
    """A stored JSON array of step names (``depends_on``)."""
    try:
        return tuple(orjson.loads(text))
    except orjson.JSONDecodeError:  # stored by hand: what json reads
        return tuple(json.loads(text))


def step_row(r: Sequence[Any]) -> StepRecord:
    """A ``SELECT STEP_COLS`` row as a record (about 2 µs: the executor reads a run's
    steps with it)."""
    return StepRecord(
        run_id=r[0], name=r[1], status=_STATUSES.get(r[2]) or Status.parse(r[2]),
        depends_on=_names(r[3]), position=r[4], started_at=dt(r[5]), finished_at=dt(r[6]),
        error=r[7], attempts=r[8], reused_from=r[9])


def attempt_row(r: Sequence[Any]) -> AttemptRecord:
    """A ``SELECT ATTEMPT_COLS`` row as a record."""
    return AttemptRecord(
        run_id=r[0], step=r[1], number=r[2], status=Status.parse(r[3]), started_at=dt(r[4]),
        finished_at=dt(r[5]), error=r[6], log_tail=r[7])


def event_row(r: Sequence[Any]) -> Event:
    """A ``SELECT EVENT_COLS`` row as an event."""
    return Event(id=r[0], kind=r[1], run_id=r[2], pipeline=r[3], status=r[4], step=r[5],
                 at=dt(r[6]))


def watermark_row(r: Sequence[Any]) -> Watermark:
    """A ``SELECT WATERMARK_COLS`` row as a record."""
    return Watermark(pipeline=r[0], value=r[1], run_id=r[2], committed_at=dt(r[3]),
                     rows_total=r[4], batches_total=r[5])


def insert_run(tx: Tx, pipeline: str, kind: str, trigger: str, parent_run_id: str | None,
               from_step: str | None, resume_watermark: str | None,
               scheduled_for: datetime | None, plan: Sequence[tuple[str, Sequence[str]]],
               reused: Mapping[str, str]) -> str:
    """Insert a ``requested`` run under a fresh id ``<pipeline>-<UTC stamp>-<6 hex>`` with
    its steps: ``pending``, or ``succeeded`` with the source run's output copied for the
    steps in ``reused`` (step → source run id). Returns the run id."""
    stamp = tx.now.strftime("%Y%m%dT%H%M%S")
    for _ in range(8):
        run_id = f"{pipeline}-{stamp}-{secrets.token_hex(3)}"
        try:
            tx.execute(
                "INSERT INTO runs (run_id, pipeline, kind, status, trigger, created_at, "
                "parent_run_id, from_step, resume_watermark, scheduled_for) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (run_id, pipeline, kind, Status.REQUESTED, trigger, tx.now_text,
                 parent_run_id, from_step, resume_watermark, ts(scheduled_for)))
            break
        except sqlite3.IntegrityError:  # same second, same 24 random bits: draw again
            continue
    else:
        raise RuntimeError(f"could not draw a unique run id for {pipeline!r}")
    for position, (name, deps) in enumerate(plan):
        source = reused.get(name)
        tx.execute(
            "INSERT INTO steps (run_id, name, position, status, depends_on, reused_from)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (run_id, name, position, Status.SUCCEEDED if source else Status.PENDING,
             json.dumps(list(deps)), source))
        if source:
            tx.execute(
                "INSERT INTO outputs (run_id, step, value, saved_at, keys) "
                "SELECT ?, step, value, ?, keys FROM outputs WHERE run_id = ? AND step = ?",
                (run_id, tx.now_text, source, name))
    return run_id


_STRICT = json.JSONEncoder(allow_nan=False)
"""``json.dumps(value, allow_nan=False)``, without building an encoder per call."""


def json_text(run_id: str, step: str, value: Any) -> tuple[str, str | None]:
    """An output as stored: strict JSON (``TypeError`` otherwise), and the JSON array of
    its keys when it is an object."""
    if value is None:  # a step that returns nothing (the most common output)
        return "null", None
    try:
        body = _STRICT.encode(value)
    except ValueError as exc:
        raise TypeError(f"output of {run_id}/{step} is not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        return body, None
    if all(isinstance(k, str) for k in value):
        return body, json.dumps(list(value))
    return body, json.dumps(list(json.loads(body)))  # 1 → "1", True → "true", as stored


def put_output(tx: Tx, run_id: str, step: str, stored: tuple[str, str | None]) -> None:
    tx.execute("INSERT INTO outputs (run_id, step, value, saved_at, keys) "
               "VALUES (?, ?, ?, ?, ?) ON CONFLICT (run_id, step) DO UPDATE SET "
               "value = excluded.value, saved_at = excluded.saved_at, keys = excluded.keys",
               (run_id, step, stored[0], tx.now_text, stored[1]))


def _epoch_ms_sql(col: str) -> str:
    """SQL for a stored time as integer epoch milliseconds (NULL stays NULL). SQLite
    keeps times as integer milliseconds inside; the rounding undoes the float."""
    return f"CAST(round((julianday({col}) - 2440587.5) * 86400000.0) AS INTEGER)"


STEP_STATES_SQL = (
    "SELECT s.name, s.status, " + _epoch_ms_sql("s.started_at") + ", "
    + _epoch_ms_sql("s.finished_at") + ", s.error, "
    "CASE WHEN s.status = 'succeeded' THEN o.keys END "
    "FROM steps s LEFT JOIN outputs o ON o.run_id = s.run_id AND o.step = s.name "
    "WHERE s.run_id = ? ORDER BY s.position")
"""A run's steps with their output's keys (objects only, kept by the write): one join,
epoch times computed by SQLite."""


def run_page(conn: sqlite3.Connection, cols: str, *, pipeline: str | None,
             status: str | None, since: str | None, limit: int, offset: int,
             after: tuple[str, str] | None = None) -> tuple[list[Any], int]:
    """``cols`` of one page of runs (newest first by created time, then run id) and the
    number that match. Call inside one read transaction. The page's rowids come from a
    covering index (``(created_at, run_id)``, ``(pipeline, created_at, run_id)`` or
    ``(pipeline, status, created_at, run_id)``); the count from ``pipeline_totals`` when
    only the pipeline (or nothing) is filtered. ``after`` (a run's stored ``created_at``
    and id: a keyset cursor) starts the page just after that run, one index seek however
    deep; the count ignores it."""
    clauses: list[str] = []
    args: list[Any] = []
    for clause, value in (("pipeline = ?", pipeline),
                          ("status = ?", None if status is None else str(status)),
                          ("created_at >= ?", since)):
        if value is not None:
            clauses.append(clause)
            args.append(value)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    page_where, page_args = where, list(args)
    if after is not None:
        page_where = f"{where} AND " if where else "WHERE "
        page_where += "(created_at, run_id) < (?, ?)"
        page_args += [after[0], after[1]]
    order = "ORDER BY created_at DESC, run_id DESC"
    if offset > 0:  # skip index entries only, then read the page's rows
        rows = conn.execute(
            f"SELECT {cols} FROM runs WHERE rowid IN (SELECT rowid FROM runs {page_where} "
            f"{order} LIMIT ? OFFSET ?) {order}",
            [*page_args, max(0, int(limit)), int(offset)]).fetchall()
    else:  # nothing to skip: read the rows straight along the index
        rows = conn.execute(f"SELECT {cols} FROM runs {page_where} {order} LIMIT ?",
                            [*page_args, max(0, int(limit))]).fetchall()
    if status is None and since is None:
        (total,) = conn.execute(
            "SELECT COALESCE(SUM(runs), 0) FROM pipeline_totals"
            + (" WHERE pipeline = ?" if pipeline is not None else ""),
            [] if pipeline is None else [pipeline]).fetchone()
    else:
        (total,) = conn.execute(f"SELECT COUNT(*) FROM runs {where}", args).fetchone()
    return rows, total


def last_line(error: str | None) -> str | None:
    """The last non-empty line of an error (a traceback's ``Type: message`` line)."""
    for line in reversed((error or "").strip().splitlines()):
        if line.strip():
            return line.strip()
    return None


def duration_ms(r: RunRecord) -> int | None:
    """The run's duration as the file will hold it (times truncated to milliseconds)."""
    if r.started_at is None or r.finished_at is None:
        return None
    return ms(r.finished_at) - ms(r.started_at)


def recover(tx: Tx, stale_after_s: float) -> list[str]:
    """Fail the ``running`` runs whose worker is gone: its pid is dead on this host, its
    heartbeat is older than ``stale_after_s``, or it never sent one and the run started
    longer ago than that. Their running steps and open attempts fail with
    :data:`INTERRUPTED`; nothing else changes. Returns the run ids, oldest first."""
    host = socket.gethostname()
    cutoff = ts(tx.now - timedelta(seconds=stale_after_s))
    gone = [
        (run_id, pipeline, started)
        for run_id, pipeline, started, pid, worker_host, beat in tx.execute(
            "SELECT r.run_id, r.pipeline, r.started_at, w.pid, w.host, w.heartbeat_at "
            "FROM runs r LEFT JOIN workers w ON w.id = r.worker WHERE r.status = ? "
            "ORDER BY r.created_at, r.rowid", (Status.RUNNING,)).fetchall()
        if (beat is None and (started or "") < cutoff) or (beat is not None and (
            beat < cutoff or (worker_host == host and _pid_is_dead(pid))))]
    for run_id, pipeline, started in gone:
        _interrupt(tx, run_id, pipeline, started)
    return [run_id for run_id, _, _ in gone]


def _interrupt(tx: Tx, run_id: str, pipeline: str, started: str | None) -> None:
    running = [name for (name,) in tx.execute(
        "SELECT name FROM steps WHERE run_id = ? AND status = ? ORDER BY position",
        (run_id, Status.RUNNING))]
    for step, number in tx.execute(
            "SELECT step, number FROM attempts WHERE run_id = ? AND finished_at IS NULL",
            (run_id,)).fetchall():
        tx.execute("UPDATE attempts SET status = ?, finished_at = ?, error = ? "
                   "WHERE run_id = ? AND step = ? AND number = ?",
                   (Status.FAILED, tx.now_text, INTERRUPTED, run_id, step, number))
        tx.event("attempt", run_id, pipeline, Status.FAILED, step)
    for step in running:
        tx.execute("UPDATE steps SET status = ?, finished_at = ?, error = ? "
                   "WHERE run_id = ? AND name = ?",
                   (Status.FAILED, tx.now_text, INTERRUPTED, run_id, step))
        tx.event("step", run_id, pipeline, Status.FAILED, step)
    tx.execute(
        "UPDATE runs SET status = ?, finished_at = ?, duration_ms = ?, error = ?, "
        "failed_step = COALESCE(failed_step, ?), attempt = MAX(1, COALESCE("
        "(SELECT MAX(attempts) FROM steps WHERE run_id = ?), 1)) WHERE run_id = ?",
        (Status.FAILED, tx.now_text, tx.ms_since(started), INTERRUPTED,
         running[0] if running else None, run_id, run_id))
    tx.event("run", run_id, pipeline, Status.FAILED)


def cancel(tx: Tx, run_id: str, by: str | None) -> None:
    """See :meth:`~flowwidgets.runner.store.RunLog.cancel_run` (inside its transaction)."""
    row = tx.one("SELECT pipeline, status, started_at, extras FROM runs WHERE run_id = ?",
                 (run_id,))
    if row is None:
        raise KeyError(f"no run {run_id!r}")
    pipeline, status, started, extras_text = row
    if Status(status).is_terminal:
        raise ValueError(f"run {run_id} is {status}; only requested or running runs can be "
                         "cancelled")
    who = by or "unknown"
    why = f"cancelled by {who}"
    for step, number in tx.execute(
            "SELECT step, number FROM attempts WHERE run_id = ? AND finished_at IS NULL",
            (run_id,)).fetchall():
        tx.execute("UPDATE attempts SET status = ?, finished_at = ?, error = ? "
                   "WHERE run_id = ? AND step = ? AND number = ?",
                   (Status.CANCELLED, tx.now_text, why, run_id, step, number))
        tx.event("attempt", run_id, pipeline, Status.CANCELLED, step)
    running = [name for (name,) in tx.execute(
        "SELECT name FROM steps WHERE run_id = ? AND status = ? ORDER BY position",
        (run_id, Status.RUNNING)).fetchall()]
    for step in running:
        tx.execute("UPDATE steps SET status = ?, finished_at = ?, error = ? "
                   "WHERE run_id = ? AND name = ?",
                   (Status.CANCELLED, tx.now_text, why, run_id, step))
        tx.event("step", run_id, pipeline, Status.CANCELLED, step)
    extras = json.loads(extras_text) if extras_text else {}
    extras.update(cancelled_by=who, cancelled_at=tx.now_text, cancelled_while=status)
    tx.execute(
        "UPDATE runs SET status = ?, finished_at = ?, duration_ms = ?, error = ?, extras = ?, "
        "attempt = MAX(1, COALESCE((SELECT MAX(attempts) FROM steps WHERE run_id = ?), 1)) "
        "WHERE run_id = ?",
        (Status.CANCELLED, tx.now_text, tx.ms_since(started),
         why + (f" while {', '.join(running)} ran" if running else f" while {status}"),
         json.dumps(extras), run_id, run_id))
    tx.event("run", run_id, pipeline, Status.CANCELLED)


def request_text(request: str | None) -> str | None:
    """What an idempotency key is bound to, as stored: the request (clipped to 160
    characters) and a hash of the whole of it."""
    if request is None:
        return None
    digest = hashlib.sha256(request.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    shown = request if len(request) <= 160 else request[:159] + "…"
    return f"{shown} #{digest}"


def same_request(key: str, stored: str | None, request: str | None) -> None:
    """Raise Unprocessable when ``key`` was stored for another request than ``request``
    (keys stored without a request, and requests given without one, are not checked)."""
    if stored is None or request is None or stored == request_text(request):
        return
    first = stored.rsplit(" #", 1)[0]
    now = request_text(request).rsplit(" #", 1)[0]  # type: ignore[union-attr]
    raise Unprocessable(f"Idempotency-Key {key[:80]!r} was used for another request "
                        f"({first}), not this one ({now}); send a new key for a new request")


def _pid_is_dead(pid: int | None) -> bool:
    """True only when no process has this pid here (a pid we may not signal is alive)."""
    if pid is None or pid <= 0:  # os.kill(0, ...) would signal our own process group
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False
