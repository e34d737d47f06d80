"""The bulk import's attempts and watermarks, and the check of its references: the
import's transaction does not have SQLite check foreign keys (see
:meth:`~flowwidgets.runner._sqlite_pool.Pool.write`); each kind of reference is checked
in one query instead."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from typing import Any

from flowwidgets.models import Status
from flowwidgets.runner._sqlite_ops import ATTEMPT_COLS
from flowwidgets.runner._sqlite_pool import ts
from flowwidgets.runner.store import AttemptRecord, Watermark

__all__ = ["import_attempts", "import_watermarks", "missing"]


def missing(conn: sqlite3.Connection, sql: str, keys: list[Any], what: str) -> None:
    """Raise ``sqlite3.IntegrityError`` naming the ``keys`` that ``sql`` (given them as one
    JSON array, each as ``j.value``) answers as missing: an import's foreign keys, which
    SQLite does not check in its transaction."""
    absent = [v for (v,) in conn.execute(sql, (json.dumps(keys),))]
    if absent:
        shown = ", ".join(map(repr, absent[:5]))
        more = f" and {len(absent) - 5} more" if len(absent) > 5 else ""
        raise sqlite3.IntegrityError(f"FOREIGN KEY constraint failed: {what}: {shown}{more}")


def import_attempts(conn: sqlite3.Connection, attempts: Iterable[AttemptRecord]) -> None:
    """Insert the attempts, then check in one query that their steps exist."""
    of_steps: set[tuple[str, str]] = set()
    rows = []
    for a in attempts:
        of_steps.add((a.run_id, a.step))
        rows.append((a.run_id, a.step, a.number, Status(a.status).value,
                     ts(a.started_at), ts(a.finished_at), a.error, a.log_tail))
    conn.executemany(f"INSERT INTO attempts ({ATTEMPT_COLS}) VALUES ({', '.join('?' * 8)})",
                     rows)
    if of_steps:
        missing(conn, "SELECT j.value FROM json_each(?) AS j WHERE NOT EXISTS (SELECT 1 FROM "
                "steps WHERE run_id = json_extract(j.value, '$[0]') AND name = "
                "json_extract(j.value, '$[1]'))", sorted((str(r), str(s)) for r, s in of_steps),
                "attempts of no step (imported or stored)")


def import_watermarks(conn: sqlite3.Connection, marks: Iterable[Watermark]) -> None:
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
