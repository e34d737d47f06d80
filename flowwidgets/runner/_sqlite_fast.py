"""The step writes of :class:`~flowwidgets.runner.sqlite.SqliteRunLog` as ONE SQL
statement each: an attempt's end with its output, its step's success and the start of
the child run next, or a step's first start, each with its events, in the order they
happen.

Each is an ``INSERT`` into a TEMP view of the process's writer connection, whose
``INSTEAD OF`` trigger does the writes (SQLite runs them in C, in one step of the VM; a
lone write commits on its own, without ``BEGIN``/``COMMIT`` round trips). The trigger
first checks what the Python path checks: the run is ``running``, of the pipeline
given, and (fenced) claimed by the owner given; the attempt exists; a step it starts
exists and was never tried (so its attempt is number 1: retries take the Python path).
Otherwise it aborts with :data:`SLOW`, which undoes everything the statement wrote,
and the caller takes the Python path, which says why (or writes where it may). The
TEMP objects live in the connection only: nothing changes in the file or its schema.

The writes a group commit takes together are ONE statement too, a row each
(:func:`write`): the triggers fire row by row, in order, and the statement commits on its
own; a failed check in any row undoes them all, and the group commit then writes them
one by one.
"""

from __future__ import annotations

import sqlite3
from typing import Any

__all__ = ["MAX_ROWS", "SLOW", "WRITER_SQL", "Row", "Slow", "finish_row", "start_row", "write"]

SLOW = "flowwidgets: take the slow path"
"""The message of the trigger's abort when a check fails."""


class Slow(Exception):
    """The one-statement write did not apply (nothing was written): take the Python
    path."""


_CLAIM = """
    SELECT RAISE(ABORT, '{slow}') WHERE NOT EXISTS (SELECT 1 FROM runs
        WHERE run_id = NEW.run_id AND pipeline = NEW.pipeline AND status = 'running'
        AND (NEW.owner IS NULL OR worker = NEW.owner));"""

_FRESH = """
    SELECT RAISE(ABORT, '{slow}') WHERE {when} (SELECT attempts FROM steps
        WHERE run_id = NEW.run_id AND name = NEW.{step}) IS NOT 0;"""
"""The step must exist and never have been tried: its attempt is number 1 (a retry takes
the Python path)."""

_START = """
    UPDATE steps SET status = 'running', attempts = 1, error = NULL,
        started_at = COALESCE(started_at, NEW.at), finished_at = NULL
        WHERE {when} run_id = NEW.run_id AND name = NEW.{step};
    INSERT INTO attempts (run_id, step, number, status, started_at)
        SELECT NEW.run_id, NEW.{step}, 1, 'running', NEW.at WHERE {when} 1;
    INSERT INTO events (kind, run_id, pipeline, status, step, at)
        SELECT 'step', NEW.run_id, NEW.pipeline, 'running', NEW.{step}, NEW.at WHERE {when} 1
        UNION ALL
        SELECT 'attempt', NEW.run_id, NEW.pipeline, 'running', NEW.{step}, NEW.at
        WHERE {when} 1;"""


def _fill(sql: str, when: str, step: str) -> str:
    return sql.replace("{when}", when).replace("{step}", step)


_FRESH_CHILD = _fill(_FRESH, "NEW.child IS NOT NULL AND", "child")
_START_CHILD = _fill(_START, "NEW.child IS NOT NULL AND", "child")
_FRESH_STEP = _fill(_FRESH, "", "step")
_START_STEP = _fill(_START, "", "step")

_FINISH_COLUMNS = ("run_id, pipeline, owner, step, number, status, error, log_tail, output, "
                   "keys, child")
_START_COLUMNS = "run_id, pipeline, owner, step"
_FINISH_BODY = f"""
    {_CLAIM}
    {_FRESH_CHILD}
    UPDATE attempts SET status = NEW.status, finished_at = NEW.at, error = NEW.error,
        log_tail = NEW.log_tail
        WHERE run_id = NEW.run_id AND step = NEW.step AND number = NEW.number;
    SELECT RAISE(ABORT, '{{slow}}') WHERE changes() != 1;
    INSERT INTO outputs (run_id, step, value, saved_at, keys)
        SELECT NEW.run_id, NEW.step, NEW.output, NEW.at, NEW.keys WHERE NEW.output IS NOT NULL
        ON CONFLICT (run_id, step) DO UPDATE SET value = excluded.value,
            saved_at = excluded.saved_at, keys = excluded.keys;
    INSERT INTO events (kind, run_id, pipeline, status, step, at)
        VALUES ('attempt', NEW.run_id, NEW.pipeline, NEW.status, NEW.step, NEW.at);
    UPDATE steps SET status = 'succeeded', finished_at = NEW.at, error = NULL
        WHERE NEW.status = 'succeeded' AND run_id = NEW.run_id AND name = NEW.step;
    INSERT INTO events (kind, run_id, pipeline, status, step, at)
        SELECT 'step', NEW.run_id, NEW.pipeline, 'succeeded', NEW.step, NEW.at
        WHERE NEW.status = 'succeeded';
    {_START_CHILD}
"""
_START_BODY = f"""
    {_CLAIM}
    {_FRESH_STEP}
    {_START_STEP}
"""


def _view(name: str, columns: str, bodies: dict[str, str]) -> str:
    """A TEMP view of ``columns`` and its INSTEAD OF triggers (``WHEN NEW.kind`` is each
    key, or one trigger without a condition for the key ``""``)."""
    n = columns.count(",") + 1
    sql = f"CREATE TEMP VIEW {name} ({columns}) AS SELECT {', '.join(['NULL'] * n)};\n"
    for kind, body in bodies.items():
        when = f"WHEN NEW.kind = '{kind}' " if kind else ""
        sql += (f"CREATE TEMP TRIGGER {name}_{kind or 'one'} INSTEAD OF INSERT ON {name} "
                f"{when}BEGIN{body}END;\n")
    return sql


WRITER_SQL = (
    _view("fw_finish", _FINISH_COLUMNS + ", at", {"": _FINISH_BODY})
    + _view("fw_start", _START_COLUMNS + ", at", {"": _START_BODY})
    + _view("fw_write", "kind, " + _FINISH_COLUMNS + ", at",
            {"finish": _FINISH_BODY, "start": _START_BODY})
).replace("{slow}", SLOW)
"""Run once on each writer connection: a view for a lone end, one for a lone start
(their triggers test nothing more), and ``fw_write``, whose rows are either."""

MAX_ROWS = 200
"""The most writes one statement carries (13 parameters each: SQLite allows 32,766)."""

_N_FINISH = _FINISH_COLUMNS.count(",") + 1  # a finish row's values (``at`` comes after)
_N_START = _START_COLUMNS.count(",") + 1
_ONE = {_N_FINISH: f"INSERT INTO fw_finish VALUES ({'?, ' * _N_FINISH}?)",
        _N_START: f"INSERT INTO fw_start VALUES ({'?, ' * _N_START}?)"}
_SQL: dict[int, str] = {}
_PAD = (None,) * (_N_FINISH - _N_START)  # a start's row in fw_write: no number, ..., child


def _sql(n: int) -> str:
    sql = _SQL.get(n)
    if sql is None:
        row = "(" + ", ".join(["?"] * (_N_FINISH + 2)) + ")"  # kind, the values, at
        sql = _SQL[n] = "INSERT INTO fw_write VALUES " + ", ".join([row] * n)
    return sql


Row = tuple[Any, ...]
"""One write for :func:`write` (from :func:`finish_row` or :func:`start_row`)."""


def write(conn: sqlite3.Connection, at: str, rows: list[Row]) -> None:
    """Apply ``rows`` in order, in ONE statement, at ``at``. Raises :class:`Slow`, with
    nothing written, when a check of any row fails (and ``ValueError`` for more than
    :data:`MAX_ROWS` rows)."""
    n = len(rows)
    if n == 1:
        row = rows[0]
        sql, args = _ONE[len(row)], row + (at,)
    elif n > MAX_ROWS:
        raise ValueError(f"{n} writes in one statement (at most {MAX_ROWS})")
    else:
        sql, args = _sql(n), tuple(v for r in rows for v in (
            ("finish", *r, at) if len(r) == _N_FINISH else ("start", *r, *_PAD, at)))
    try:
        conn.execute(sql, args)
    except sqlite3.IntegrityError as exc:
        if SLOW in str(exc):
            raise Slow from None
        raise


def finish_row(run_id: str, pipeline: str, owner: str | None, step: str, number: int,
               status: str, error: str | None, log_tail: str | None,
               output: tuple[str, str | None] | None, child: str | None) -> Row:
    """The write that ends an attempt (storing ``output``: its JSON text and keys),
    marks a succeeded step and starts ``child`` (never tried before: else the statement
    fails with :class:`Slow`); its result is ``[child's attempt number]``, ``[1]``
    (or ``[]``)."""
    return (run_id, pipeline, owner, step, number, status, error, log_tail,
            None if output is None else output[0], None if output is None else output[1],
            child)


def start_row(run_id: str, pipeline: str, owner: str | None, step: str) -> Row:
    """The write that starts the step's first attempt (its result: number 1; a step
    tried before fails the statement with :class:`Slow`)."""
    return (run_id, pipeline, owner, step)
