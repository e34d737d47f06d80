"""The read side of :class:`~flowwidgets.runner.sqlite.SqliteRunLog`, mixed into it: runs
and their pages, steps, step states (the status endpoint's shape), attempts, outputs,
watermarks, pipeline statistics, the version and the events. Nothing here writes; every
method reads through a pooled connection (in parallel under WAL)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson

from flowwidgets.runner import _sqlite_ops as q
from flowwidgets.runner import _sqlite_stats
from flowwidgets.runner._sqlite_pool import Pool, dt, ms, ts
from flowwidgets.runner.store import (
    RUN_SUMMARY_FIELDS,
    AttemptRecord,
    Event,
    PipelineStats,
    RunRecord,
    StatusSteps,
    StepRecord,
    StepState,
    Watermark,
)

__all__ = ["SqliteReads"]

_FLOWTOY_DONE = frozenset({"succeeded", "failed", "skipped"})
"""The step states flowtoy counts as completed."""
_SUMMARY_JSON = ("json_object(" + ", ".join(f"'{f}', {f}" for f in RUN_SUMMARY_FIELDS)
                 + ", 'error_summary', NULL), error, json_extract(extras, '$.imported')")
"""A run summary's object as SQLite writes it, complete for a run without error or
import mark (the other two columns say what Python adds)."""
_NULL_END = len('null}')
_STATUS_SQL = (
    "SELECT s.name, s.status, s.started_at, s.finished_at, s.error, "
    "CASE WHEN s.status = 'succeeded' THEN o.keys END "
    "FROM steps s LEFT JOIN outputs o ON o.run_id = s.run_id AND o.step = s.name "
    "WHERE s.run_id = ? ORDER BY s.position")
"""``STEP_STATES_SQL`` with the times as stored: only a changed row's are converted."""
_STATUS_RUNS = 4
_STATUS_KEPT_BYTES = 4 << 20
"""A run whose encoded entries are larger is not kept (as the API's kept answers)."""
"""Runs whose encoded ``/status`` entries are kept (the current run of each pipeline a
client polls)."""


class SqliteReads:
    """The reading methods of the SQLite run log (``_pool`` is set by its ``__init__``)."""

    _pool: Pool

    # ---- runs ----------------------------------------------------------------

    def child_runs(self, run_id: str) -> list[RunRecord]:
        """See :meth:`RunLog.child_runs`: a child is of the same pipeline and created at
        or after its parent, so this reads the ``(pipeline, created_at)`` index from the
        parent on (no index of its own on ``parent_run_id``)."""
        with self._pool.read() as conn:
            parent = conn.execute("SELECT pipeline, created_at FROM runs WHERE run_id = ?",
                                  (run_id,)).fetchone()
            if parent is None:
                return []
            rows = conn.execute(
                f"SELECT {q.RUN_COLS} FROM runs WHERE pipeline = ? AND created_at >= ? "
                "AND parent_run_id = ? ORDER BY created_at, rowid",
                (parent[0], parent[1], run_id)).fetchall()
        return [q.run_row(r) for r in rows]

    def get_run(self, run_id: str) -> RunRecord | None:
        """The run, or None."""
        row = self._one(f"SELECT {q.RUN_COLS} FROM runs WHERE run_id = ?", (run_id,))
        return None if row is None else q.run_row(row)

    def list_runs(self, *, pipeline: str | None = None, status: str | None = None,
                  limit: int = 50, offset: int = 0, since: datetime | None = None
                  ) -> tuple[list[RunRecord], int]:
        """See :meth:`RunLog.list_runs`: newest first by created time then run id;
        ``since`` keeps runs created at or after it."""
        with self._pool.read() as conn:
            rows, total = q.run_page(conn, q.RUN_COLS, pipeline=pipeline, status=status,
                                     since=ts(since), limit=limit, offset=offset)
        record = _sqlite_stats.cached_run_row
        return [record(r) for r in rows], total

    def list_run_summaries(self, *, pipeline: str | None = None, status: str | None = None,
                           limit: int = 50, offset: int = 0,
                           after: tuple[str, str] | None = None
                           ) -> tuple[list[dict[str, Any]], int]:
        """See :meth:`RunLog.list_run_summaries`: one indexed query for the page (times
        are stored in the API's format, the duration is a column) and a count that reads
        ``pipeline_totals`` unless a status is given. ``after`` = (``created_at``,
        ``run_id``) of a summary: the page starts right after that run (keyset)."""
        with self._pool.read() as conn:
            rows, total = q.run_page(conn, q.SUMMARY_COLS + ", error, json_extract(extras, "
                                     "'$.imported')", pipeline=pipeline, status=status,
                                     since=None, limit=limit, offset=offset, after=after)
        out: list[dict[str, Any]] = []
        add, fields, last_line = out.append, RUN_SUMMARY_FIELDS, q.last_line
        n = len(fields)
        for r in rows:
            d = dict(zip(fields, r, strict=False))  # n columns; error, imported follow
            error = r[n]
            d["error_summary"] = last_line(error) if error else None
            if r[n + 1]:  # a run that came in through import_runs says so
                d["imported"] = True
            add(d)
        return out, total

    def encoded_run_summaries(self, *, pipeline: str | None = None,
                              status: str | None = None, limit: int = 50, offset: int = 0,
                              after: tuple[str, str] | None = None
                              ) -> tuple[list[str], int]:
        """See :meth:`RunLog.encoded_run_summaries`: SQLite writes each summary's object
        (``json_object``, about a third cheaper than Python objects, dicts and orjson);
        Python adds ``error_summary`` (the error's last line) and ``imported``."""
        with self._pool.read() as conn:
            rows, total = q.run_page(conn, _SUMMARY_JSON, pipeline=pipeline, status=status,
                                     since=None, limit=limit, offset=offset, after=after)
        out = [text for text, _, _ in rows]
        last_line, dumps = q.last_line, orjson.dumps
        for k, (text, error, imported) in enumerate(rows):
            if error or imported:  # "error_summary":null} ends the text
                tail = "null}" if not error else dumps(last_line(error)).decode() + "}"
                if imported:
                    tail = tail[:-1] + ',"imported":true}'
                out[k] = text[:-_NULL_END] + tail
        return out, total

    # ---- steps and attempts --------------------------------------------------

    def get_steps(self, run_id: str) -> list[StepRecord]:
        """The run's steps in declaration order (empty for an unknown run)."""
        with self._pool.connection() as conn:
            rows = conn.execute(f"SELECT {q.STEP_COLS} FROM steps WHERE run_id = ? "
                                "ORDER BY position", (run_id,)).fetchall()
        return [q.step_row(r) for r in rows]

    def step_states(self, run_id: str) -> list[StepState]:
        """See :meth:`RunLog.step_states`: one query (steps joined to their outputs;
        epoch times and output keys computed by SQLite)."""
        with self._pool.connection() as conn:
            rows = conn.execute(q.STEP_STATES_SQL, (run_id,)).fetchall()
        loads = orjson.loads  # about five times json.loads on these small arrays
        return [StepState(n, st, a, b, e, loads(k) if k else []) for n, st, a, b, e, k in rows]

    def status_steps(self, run_id: str) -> StatusSteps:
        """See :meth:`RunLog.status_steps`: one query (steps joined to their outputs'
        keys), each row straight to its entry, encoded once: an entry whose row is
        unchanged since the last ask for this run is the same JSON again (rows are compared
        whole, so nothing stale is served; runs whose entries pass 4 MB are not kept); the
        output's keys are passed on as the JSON text the write stored
        (``orjson.Fragment``), not parsed and encoded again."""
        with self._pool.connection() as conn:
            rows = conn.execute(_STATUS_SQL, (run_id,)).fetchall()
        fragment, dumps = orjson.Fragment, orjson.dumps
        kept = self._status_entries(run_id)
        fresh: dict[str, tuple[Any, Any, int]] = {}
        steps: dict[str, Any] = {}
        running: list[str] = []
        completed = size = 0
        for row in rows:
            name, status, started, finished, error, keys = row
            hit = kept.get(name)
            if hit is None or hit[0] != row:
                text = dumps({  # times as stored: epoch ms only here
                    "state": status,
                    "started_at": None if started is None else ms(dt(started)) / 1000,
                    "ended_at": None if finished is None else ms(dt(finished)) / 1000,
                    "notes": [error] if error else [],
                    "outputs": fragment(keys) if keys else [],
                })
                hit = (row, fragment(text), len(text))
            fresh[name] = hit
            size += hit[2]
            steps[name] = hit[1]
            if status == "running":
                running.append(name)
            elif status in _FLOWTOY_DONE:
                completed += 1
        if size <= _STATUS_KEPT_BYTES:
            self._keep_status_entries(run_id, fresh)
        return StatusSteps(steps, len(rows), completed, running)

    _status_kept: dict[str, dict[str, tuple[Any, Any, int]]]

    def _status_entries(self, run_id: str) -> dict[str, tuple[Any, Any, int]]:
        try:
            return self._status_kept.get(run_id) or {}
        except AttributeError:
            return {}

    def _keep_status_entries(self, run_id: str,
                             entries: dict[str, tuple[Any, Any, int]]) -> None:
        """Keep the encoded entries of the last :data:`_STATUS_RUNS` runs asked for
        (replaced whole, so threads never see one half-updated)."""
        try:
            kept = dict(self._status_kept)
        except AttributeError:
            kept = {}
        kept.pop(run_id, None)
        kept[run_id] = entries
        while len(kept) > _STATUS_RUNS:
            del kept[next(iter(kept))]
        self._status_kept = kept

    def get_attempts(self, run_id: str, step: str | None = None) -> list[AttemptRecord]:
        """Attempts of a run (or one step), ordered by step position then number."""
        sql = (f"SELECT {', '.join('a.' + c.strip() for c in q.ATTEMPT_COLS.split(','))} "
               "FROM attempts a JOIN steps s ON s.run_id = a.run_id AND s.name = a.step "
               "WHERE a.run_id = ?")
        args: list[Any] = [run_id]
        if step is not None:
            sql += " AND a.step = ?"
            args.append(step)
        with self._pool.connection() as conn:
            rows = conn.execute(sql + " ORDER BY s.position, a.number", args).fetchall()
        return [q.attempt_row(r) for r in rows]

    # ---- outputs and watermarks ----------------------------------------------

    def load_output(self, run_id: str, step: str) -> Any:
        """A stored output; ``KeyError`` if the step has none."""
        row = self._one("SELECT value FROM outputs WHERE run_id = ? AND step = ?",
                        (run_id, step))
        if row is None:
            raise KeyError(f"run {run_id!r} step {step!r} has no stored output")
        return json.loads(row[0])

    def last_watermark(self, pipeline: str) -> Watermark | None:
        """The pipeline's newest committed watermark, or None."""
        return self._watermark("WHERE pipeline = ? ORDER BY id DESC", (pipeline,))

    def watermark_at(self, pipeline: str, at: datetime) -> Watermark | None:
        """See :meth:`RunLog.watermark_at` (one read of the ``(pipeline, committed_at)``
        index; of commits in the same millisecond, the last one)."""
        return self._watermark("WHERE pipeline = ? AND committed_at <= ? "
                               "ORDER BY committed_at DESC, id DESC", (pipeline, ts(at)))

    def first_watermark(self, pipeline: str) -> Watermark | None:
        """The pipeline's oldest commit, or None."""
        return self._watermark("WHERE pipeline = ? ORDER BY id", (pipeline,))

    def _watermark(self, where: str, args: Sequence[Any]) -> Watermark | None:
        row = self._one(f"SELECT {q.WATERMARK_COLS} FROM watermarks {where} LIMIT 1", args)
        return None if row is None else q.watermark_row(row)

    # ---- reading for the API -------------------------------------------------

    def pipeline_stats(self, pipelines: Sequence[str], *, now: datetime
                       ) -> dict[str, PipelineStats]:
        """See :meth:`RunLog.pipeline_stats`. Named pipelines come first, then the others
        that have runs, by name. The median is over runs with a duration (integer mean of
        the two middle values for an even count); the 7-day failure rate is over runs
        *created* since ``now - 7 days`` that succeeded or failed."""
        with self._pool.read() as conn:
            return _sqlite_stats.pipeline_stats(conn, pipelines, now)

    def version(self) -> int:
        """A number that grows with every visible write: the newest event id plus the
        writes that appended no event (two indexed row reads)."""
        return self._one("SELECT (SELECT value FROM meta WHERE key = 'version') + "
                         "(SELECT COALESCE(MAX(id), 0) FROM events)")[0]

    def events_since(self, event_id: int, limit: int = 500) -> list[Event]:
        """Events with id greater than ``event_id``, oldest first."""
        with self._pool.connection() as conn:
            found = conn.execute(f"SELECT {q.EVENT_COLS} FROM events WHERE id > ? ORDER BY id"
                                 " LIMIT ?", (int(event_id), max(0, int(limit)))).fetchall()
        return [q.event_row(r) for r in found]

    def last_event_id(self) -> int:
        """The newest event's id, 0 when there is none (one index read)."""
        return self._one("SELECT COALESCE(MAX(id), 0) FROM events")[0]

    def events_trimmed_through(self) -> int:
        """See :meth:`RunLog.events_trimmed_through` (one row read)."""
        row = self._one("SELECT value FROM meta WHERE key = 'events_trimmed_through'")
        return 0 if row is None else row[0]

    def _one(self, sql: str, args: Sequence[Any] = ()) -> Any:
        """The first row of one query (None when there is none)."""
        with self._pool.connection() as conn:
            return conn.execute(sql, args).fetchone()
