"""Connections and transactions for :class:`~flowwidgets.runner.sqlite.SqliteRunLog`.

A :class:`Pool` hands each reader a connection of its own for the length of one
operation (created on demand, so there are as many as there are threads reading at once)
and closes them all on :meth:`Pool.close`. Connections are in autocommit mode; the log
opens transactions explicitly: ``BEGIN IMMEDIATE`` for writes (a writer never has to
upgrade a read lock, so ``busy_timeout`` applies and no ``SQLITE_BUSY`` surprises), plain
``BEGIN`` for multi-query reads (one WAL snapshot). A :class:`Tx` carries one write: its
clock, the events it appends and the version bump, all committed together.

The writes of a process go one at a time (a lock) through ONE writer connection, whose
page cache stays warm. :meth:`Pool.apply` is group commit: the writes threads queue while
one commits are committed together, in queue order, by the next of them to take the lock;
each thread returns once the commit holding its write is done.

Event retention: a write that appends events also trims the events table to the newest
``keep_events`` rows, at most once per ``trim_every_s`` per pool (and on the first such
write after opening), inside the same transaction; ``meta.events_trimmed_through`` records
the highest id deleted."""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime

from flowwidgets.errors import FlowwidgetsError
from flowwidgets.runner._schema import migrate, refuse_foreign
from flowwidgets.runner._sqlite_group import GroupCommit
from flowwidgets.runner._sqlite_tx import Tx, dt, ms, now_ms, now_text, ts

__all__ = ["Pool", "Tx", "dt", "ms", "now_ms", "ts"]

log = logging.getLogger(__name__)

_real_now_ms = now_ms


WAL_CHECKPOINT_PAGES = 8192
"""A commit that brings the WAL to this many pages (32 MB) checkpoints it (SQLite's
default is 1,000). A checkpoint fsyncs twice (1.6 ms each here) and copies each page
once however often it was rewritten: the step rows, attempts and events of a run hit the
same few pages, so a longer interval copies far fewer pages per commit. Commits stay
as durable (``synchronous = NORMAL``: a commit survives a crash of the process; the
WAL is read back on open)."""



class Pool(GroupCommit):
    """Connections to one SQLite file, each used by one thread at a time."""

    def __init__(self, path: str, busy_timeout_s: float, *, keep_events: int = 50_000,
                 trim_every_s: float = 60.0, writer_sql: str = ""):
        if path == ":memory:" or path.startswith("file::memory:"):
            raise ValueError("SqliteRunLog needs a file: every connection of an in-memory "
                             "database is a separate database")
        if keep_events < 1:
            raise ValueError(f"keep_events must be at least 1, not {keep_events}")
        self.path = path
        self.busy_timeout_s = float(busy_timeout_s)
        self.keep_events = int(keep_events)
        self.trim_every_s = float(trim_every_s)
        self.writer_sql = writer_sql
        """Script run once on the writer connection (TEMP views and triggers)."""
        self.fast_writes = True
        """False once ``writer_sql`` failed: writes ignore their one-statement form."""
        self._next_trim = float("-inf")  # the first write with events trims
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()  # this process's writers, one at a time
        self._queue = deque()  # writes waiting for a group commit (apply)
        self._guard = threading.Lock()  # the queue and the lead (apply)
        self._leading = False
        self._listeners: dict[object, Callable[[], None]] = {}  # replaced, never mutated
        self._idle: list[sqlite3.Connection] = []
        self._writer: sqlite3.Connection | None = None  # idle writer (see _checkout_writer)
        self._open: set[sqlite3.Connection] = set()
        self._inherited: list[sqlite3.Connection] = []
        self._closed = False
        self._pid = os.getpid()
        try:
            with self.connection() as conn:
                refuse_foreign(conn, path)  # before WAL mode changes the file
                self._set_wal(conn)
                migrate(conn, path)
        except sqlite3.DatabaseError as exc:
            self.close()
            if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
                raise
            raise FlowwidgetsError(f"{path}: cannot use it as a run log: {exc}") from exc
        except BaseException:
            self.close()
            raise

    def _set_wal(self, conn: sqlite3.Connection) -> None:
        # Changing the journal mode may answer "locked" at once, without the busy
        # handler, while another process creates the file: retry until the timeout.
        deadline = time.monotonic() + self.busy_timeout_s
        while True:
            try:
                (mode,) = conn.execute("PRAGMA journal_mode = WAL").fetchone()
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)
        if str(mode).lower() != "wal":
            raise sqlite3.OperationalError(f"{self.path}: cannot use WAL mode (got {mode!r})")

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=self.busy_timeout_s, isolation_level=None,
                               check_same_thread=False)
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_s * 1000):d}")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA synchronous = NORMAL")  # durable at checkpoints under WAL
            conn.execute(f"PRAGMA wal_autocheckpoint = {WAL_CHECKPOINT_PAGES:d}")
        except BaseException:
            conn.close()
            raise
        return conn

    def _after_fork(self) -> None:
        """In a forked child (call holding ``_lock``): the parent's connections must not
        be used (or closed) here."""
        if os.getpid() != self._pid:
            self._inherited.extend(self._open)
            self._idle, self._open, self._pid = [], set(), os.getpid()
            self._writer = None
            self._write_lock = threading.Lock()  # a parent's thread may have held it
            self._queue = deque()
            self._guard, self._leading = threading.Lock(), False

    def _checkout(self) -> sqlite3.Connection:
        with self._lock:
            if self._closed:
                raise sqlite3.ProgrammingError(f"run log {self.path} is closed")
            self._after_fork()
            if self._idle:
                return self._idle.pop()
        conn = self._connect()
        with self._lock:
            self._open.add(conn)
        return conn

    def _write_lock_now(self) -> threading.Lock:
        """The lock of this process's writers (a new one in a forked child)."""
        if os.getpid() != self._pid:
            with self._lock:
                self._after_fork()
        return self._write_lock

    def _checkout_writer(self) -> sqlite3.Connection:
        """The connection of this process's writes (call holding the write lock): the
        same one for every write, so its page cache stays warm (a commit through another
        connection of the process would make it read its pages again)."""
        with self._lock:
            if self._closed:
                raise sqlite3.ProgrammingError(f"run log {self.path} is closed")
            conn, self._writer = self._writer, None
            if conn is not None:
                return conn
        conn = self._connect()
        if self.writer_sql and self.fast_writes:
            try:
                conn.executescript(self.writer_sql)
            except sqlite3.Error as exc:  # an SQLite that cannot: the Python path only
                self.fast_writes = False
                log.warning("%s: one-statement writes are off (%s); every write takes "
                            "the Python path", self.path, exc)
            except BaseException:
                conn.close()
                raise
        with self._lock:
            self._open.add(conn)
        return conn

    def _checkin_writer(self, conn: sqlite3.Connection) -> None:
        """Give the writer back (still holding the write lock)."""
        healthy = _rolled_back(conn)
        with self._lock:
            if conn not in self._open:  # opened before a fork
                return
            if healthy and not self._closed and self._writer is None:
                self._writer = conn
                return
            self._open.discard(conn)
        conn.close()

    def _foreign_keys_back(self, conn: sqlite3.Connection) -> bool:
        """Check foreign keys again on the writer (after its transaction); else close it
        (False): a writer must never go on without them."""
        try:
            if not conn.in_transaction:  # the pragma is a no-op inside one
                conn.execute("PRAGMA foreign_keys = ON")
                return True
        except sqlite3.Error:
            pass
        with self._lock:
            self._open.discard(conn)
        conn.close()
        return False

    def _checkin(self, conn: sqlite3.Connection) -> None:
        healthy = _rolled_back(conn)
        with self._lock:
            if conn not in self._open:  # opened before a fork
                return
            if healthy and not self._closed:
                self._idle.append(conn)
                return
            self._open.discard(conn)
        conn.close()

    @contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        """A connection for the length of the ``with`` block."""
        conn = self._checkout()
        try:
            yield conn
        finally:
            self._checkin(conn)

    @contextmanager
    def write(self, wait_s: float | None = None, *, foreign_keys: bool = True
              ) -> Iterator[Tx]:
        """One write transaction (``BEGIN IMMEDIATE``): committed with its events and
        version bump when the block ends, rolled back if it raises. Writers of this
        process queue on a lock first (woken the moment the previous one commits, where
        SQLite's busy handler would sleep a millisecond or more); other processes still
        wait on SQLite's lock for up to ``busy_timeout_s`` (``wait_s``: this long
        instead, for both waits). ``foreign_keys=False``: SQLite does not check foreign
        keys in this transaction (the pragma cannot change inside one); the block must
        check what it writes (the bulk import checks its rows' references in one
        query)."""
        wait = self.busy_timeout_s if wait_s is None else min(wait_s, self.busy_timeout_s)
        lock = self._write_lock_now()
        if not lock.acquire(timeout=wait):
            raise sqlite3.OperationalError(
                f"{self.path}: database is locked (another writer of this process held "
                f"it for {wait:g} s)")
        try:
            conn = self._checkout_writer()
            try:
                if not foreign_keys:
                    conn.execute("PRAGMA foreign_keys = OFF")
                if wait_s is not None:
                    conn.execute(f"PRAGMA busy_timeout = {int(wait * 1000):d}")
                    try:
                        conn.execute("BEGIN IMMEDIATE")
                    finally:
                        conn.execute(
                            f"PRAGMA busy_timeout = {int(self.busy_timeout_s * 1000):d}")
                else:
                    conn.execute("BEGIN IMMEDIATE")
                tx = Tx(conn, now_ms())  # the clock tests set is this module's
                try:
                    yield tx
                    self._seal(conn, tx)
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
            finally:
                if foreign_keys or self._foreign_keys_back(conn):
                    self._checkin_writer(conn)
        finally:
            lock.release()
        if tx.appended and self._listeners:
            self._notify()

    def _now(self) -> datetime:
        """The clock of write transactions (this module's ``now_ms``, which tests set)."""
        return now_ms()

    def _now_text(self) -> str:
        """``ts(self._now())``, formatted from the system clock directly unless a test
        has set this module's ``now_ms``."""
        clock = now_ms
        return now_text() if clock is _real_now_ms else ts(clock())

    def on_commit(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback()`` after each commit that appended events; returns the
        function that removes it (idempotent)."""
        key = object()
        with self._lock:
            self._listeners = {**self._listeners, key: callback}

        def remove() -> None:
            with self._lock:
                self._listeners = {k: v for k, v in self._listeners.items() if k is not key}
        return remove

    def _notify(self) -> None:
        for callback in self._listeners.values():  # a snapshot: the dict is replaced
            try:
                callback()
            except Exception:
                log.exception("run log commit listener failed")

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """One read transaction, so several queries see the same snapshot."""
        with self.connection() as conn:
            conn.execute("BEGIN")
            try:
                yield conn
            finally:
                if conn.in_transaction:
                    conn.execute("COMMIT")

    def close(self) -> None:
        """Close idle connections now and busy ones when their operation ends."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
            if self._writer is not None:
                idle.append(self._writer)
                self._writer = None
            for conn in idle:
                self._open.discard(conn)
        for conn in idle:
            conn.close()


def _rolled_back(conn: sqlite3.Connection) -> bool:
    """Roll back a transaction ``conn`` was left in; False if that failed (close it)."""
    if conn.in_transaction:
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error:
            return False
    return True
