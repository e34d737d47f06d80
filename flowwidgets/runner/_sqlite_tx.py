"""One write transaction of the run log (:class:`Tx`: its clock, the events it appends and
the version bump, all committed together) and the stored time format."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, overload

__all__ = ["Tx", "dt", "ms", "now_ms", "now_text", "text_of_ns", "ts"]


def now_ms() -> datetime:
    """The current UTC time, truncated to the millisecond (what the file can hold)."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


_SECOND: tuple[int, str] = (-1, "")
"""The last second formatted and its text (replaced whole: safe across threads)."""


def text_of_ns(ns: int) -> str:
    """``ts(now_ms())`` for a time in nanoseconds since the epoch (at or after it): the
    second's text is kept, so a write in the same second only adds its milliseconds."""
    global _SECOND
    sec, rest = divmod(ns, 1_000_000_000)
    cached = _SECOND
    if cached[0] != sec:
        cached = _SECOND = (sec, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)))
    return f"{cached[1]}.{rest // 1_000_000:03d}Z"


def now_text() -> str:
    """The current time as stored (``ts(now_ms())``, about five times faster)."""
    return text_of_ns(time.time_ns())


@overload
def ts(value: datetime) -> str: ...
@overload
def ts(value: None) -> None: ...
@overload
def ts(value: datetime | None) -> str | None: ...
def ts(value: datetime | None) -> str | None:
    """A datetime as stored: ISO-8601 UTC, milliseconds, ``Z`` (naive means UTC).

    Same text as :func:`flowwidgets.models.format_time`, about four times faster (bulk
    imports format three times per run)."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    elif value.utcoffset():
        value = value.astimezone(UTC)
    return value.isoformat(timespec="milliseconds")[:-6] + "Z"


@overload
def dt(text: str) -> datetime: ...
@overload
def dt(text: None) -> None: ...
@overload
def dt(text: str | None) -> datetime | None: ...
def dt(text: str | None) -> datetime | None:
    """A stored time as an aware UTC datetime."""
    return None if text is None else datetime.fromisoformat(text)


def ms(value: datetime) -> int:
    """Milliseconds since the epoch of a time as stored (truncated; naive means UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return (value - _EPOCH) // _MS


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


_EVENT_SQL: dict[int, str] = {}
_EVENT_CHUNK = 256
"""Events per INSERT statement (SQLite's limit is 32,766 parameters)."""


def _event_sql(n: int) -> str:
    """One INSERT of ``n`` events in order (rows, and so ids, in the order given)."""
    sql = _EVENT_SQL.get(n)
    if sql is None:
        sql = _EVENT_SQL[n] = ("INSERT INTO events (kind, run_id, pipeline, status, step, at)"
                               " VALUES " + ", ".join(["(?, ?, ?, ?, ?, ?)"] * n))
    return sql


class Tx:
    """One write transaction: its connection, one clock reading, the events it appends."""

    __slots__ = ("conn", "now", "now_text", "_events", "_touched", "_appended")

    def __init__(self, conn: sqlite3.Connection, now: datetime | None = None):
        self.conn = conn
        self.now = now_ms() if now is None else now
        self.now_text: str = ts(self.now)
        self._events: list[tuple[Any, ...]] = []
        self._touched = False
        self._appended = False  # events already written (flushed, or by SQL)

    def execute(self, sql: str, args: Sequence[Any] = ()) -> sqlite3.Cursor:
        """Run one statement in this transaction."""
        return self.conn.execute(sql, args)

    def one(self, sql: str, args: Sequence[Any] = ()) -> Any:
        """The first row of a query, or None."""
        return self.conn.execute(sql, args).fetchone()

    def event(self, kind: str, run_id: str, pipeline: str, status: str | None,
              step: str | None = None) -> None:
        """Append an event (and bump the version) when this transaction commits."""
        self._events.append((kind, run_id, pipeline, None if status is None else str(status),
                             step, self.now_text))

    def touch(self) -> None:
        """Bump the version on commit even without an event."""
        self._touched = True

    @property
    def appended(self) -> bool:
        """True when this transaction appends events."""
        return self._appended or bool(self._events)

    def appended_by_sql(self) -> None:
        """Note that a statement of this transaction appended events itself."""
        self._appended = True

    def trim_events(self, keep: int) -> int:
        """Delete the events with ids up to ``MAX(id) - keep`` and record that id in
        ``meta.events_trimmed_through``; returns the number of rows deleted. Ids come from
        serialised write transactions (never reused, since the newest row is always
        kept; no gaps but the trimmed ones), so what stays is the newest ``keep`` events."""
        (top,) = self.one("SELECT COALESCE(MAX(id), 0) FROM events")
        cut = top - keep
        row = self.one("SELECT value FROM meta WHERE key = 'events_trimmed_through'")
        if row is None or cut <= row[0]:
            return 0
        deleted = self.execute("DELETE FROM events WHERE id <= ?", (cut,)).rowcount
        self.execute("UPDATE meta SET value = ? WHERE key = 'events_trimmed_through'", (cut,))
        return deleted

    def ms_since(self, start: str | None) -> int | None:
        """Milliseconds from a stored time to this transaction's clock (None for None)."""
        if start is None:
            return None
        return ms(self.now) - ms(dt(start))

    def flush_events(self) -> None:
        """Write the events appended so far (in order, before the next statement's)."""
        events = self._events
        if events:  # the version grows with the newest event id
            for i in range(0, len(events), _EVENT_CHUNK):
                chunk = events[i:i + _EVENT_CHUNK]
                self.conn.execute(_event_sql(len(chunk)), [v for e in chunk for v in e])
            self._events = []
            self._appended = True

    def flush(self) -> None:
        """Write the events and the version bump; called just before COMMIT."""
        self.flush_events()
        if self._touched and not self._appended:
            self.conn.execute("UPDATE meta SET value = value + 1 WHERE key = 'version'")
