"""Group commit, mixed into :class:`~flowwidgets.runner._sqlite_pool.Pool`: the step writes
that threads queue while one commits are committed together, in the order they were
queued, by the next of them to take the write lock (:meth:`GroupCommit.apply`)."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from flowwidgets.runner._sqlite_fast import Slow
from flowwidgets.runner._sqlite_tx import Tx

__all__ = ["GroupCommit"]

T = TypeVar("T")


class GroupCommit:
    """The group commit methods of the pool (the attributes below are set by its
    ``__init__``; the pool's methods below are its own)."""

    path: str
    busy_timeout_s: float
    keep_events: int
    trim_every_s: float
    _next_trim: float
    fast_writes: bool
    _queue: deque[_Op]
    _listeners: dict[object, Callable[[], None]]

    def _write_lock_now(self) -> threading.Lock:
        raise NotImplementedError

    def _checkout_writer(self) -> sqlite3.Connection:
        raise NotImplementedError

    def _checkin_writer(self, conn: sqlite3.Connection) -> None:
        raise NotImplementedError

    def _notify(self) -> None:
        raise NotImplementedError

    def _now(self) -> datetime:
        raise NotImplementedError

    def _now_text(self) -> str:
        raise NotImplementedError

    def apply(self, fn: Callable[[Tx], T],
              fast: Callable[[sqlite3.Connection, str], T] | None = None) -> T:
        """``fn(tx)`` in a write transaction, committed before this returns (group
        commit): writes that other threads queue while one commits are committed
        together by the next of them to take the lock, in the order they were queued,
        in ONE transaction (one clock reading). Its result, or its exception (then
        nothing it wrote is kept: a batch in which one write raises is rolled back and
        its writes are committed one by one).

        ``fast(conn, now_text)``, when given, is tried first: one statement that writes
        the same (events included, in order) and commits on its own when it is the only
        write queued; it raises :class:`~flowwidgets.runner._sqlite_fast.Slow`, having
        written nothing, to have ``fn`` run instead."""
        op = _Op(fn, fast)
        lock = self._write_lock_now()
        queue = self._queue
        queue.append(op)
        evented = False
        if not lock.acquire(timeout=self.busy_timeout_s):
            try:
                queue.remove(op)
            except ValueError:  # a leader has taken it: it commits it now
                lock.acquire()
                lock.release()
            else:
                raise sqlite3.OperationalError(
                    f"{self.path}: database is locked (another writer of this process "
                    f"held it for {self.busy_timeout_s:g} s)") from None
        else:
            try:
                if not op.done:
                    batch = [queue.popleft() for _ in range(len(queue))]
                    try:
                        conn = self._checkout_writer()
                    except BaseException as exc:  # closed: for every write taken
                        for taken in batch:
                            taken.error, taken.done = exc, True
                    else:
                        if not self.fast_writes:
                            for taken in batch:
                                taken.fast = None
                        try:
                            if len(batch) == 1 and batch[0].fast is not None \
                                    and time.monotonic() < self._next_trim:
                                evented = self._commit_alone(conn, batch[0])
                            else:
                                evented = self._commit_batch(conn, batch)
                        finally:
                            self._checkin_writer(conn)
            finally:
                lock.release()
        if evented and self._listeners:
            self._notify()
        if op.error is not None:
            raise op.error
        return op.result

    def _commit_alone(self, conn: sqlite3.Connection, op: _Op) -> bool:
        """One write's single statement, committing on its own (autocommit); its
        Python path in a transaction of its own when the statement says so."""
        assert op.fast is not None
        try:
            op.result = op.fast(conn, self._now_text())
        except Slow:
            op.fast = None
            return self._commit_batch(conn, [op])
        except BaseException as exc:
            op.error = exc
        op.done = True
        return op.error is None

    def _commit_batch(self, conn: sqlite3.Connection, batch: list[_Op]) -> bool:
        """Commit ``batch`` in one transaction (each write alone when one raises);
        every op is done afterwards. True when events were appended."""
        try:
            return self._commit(conn, batch)
        except _OpFailed as failed:
            if len(batch) == 1:
                batch[0].error = failed.error
                batch[0].done = True
                return False
        except BaseException as exc:  # the transaction itself failed: for every write
            for op in batch:
                op.error, op.done = exc, True
            return False
        evented = False
        for op in batch:  # one write raised: the others are committed one by one
            try:
                evented = self._commit(conn, [op]) or evented
            except _OpFailed as failed:
                op.error = failed.error
            except BaseException as exc:
                op.error = exc
            op.done = True
        return evented

    def _seal(self, conn: sqlite3.Connection, tx: Tx) -> None:
        """Flush ``tx``'s events, trim old events when it is time, and commit."""
        tx.flush()
        if tx.appended and time.monotonic() >= self._next_trim:
            self._next_trim = time.monotonic() + self.trim_every_s
            tx.trim_events(self.keep_events)
        conn.execute("COMMIT")

    def _commit(self, conn: sqlite3.Connection, batch: list[_Op]) -> bool:
        conn.execute("BEGIN IMMEDIATE")
        try:
            tx = Tx(conn, self._now())
            for op in batch:
                try:
                    if op.fast is not None:
                        tx.flush_events()  # the statement's events come after these
                        try:
                            op.result = op.fast(conn, tx.now_text)
                            tx.appended_by_sql()
                            continue
                        except Slow:  # nothing written (only the statement is undone)
                            pass
                    op.result = op.fn(tx)
                except BaseException as exc:
                    raise _OpFailed(exc) from exc
            self._seal(conn, tx)
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        for op in batch:
            op.done = True
        return tx.appended


class _Op:
    """A write queued for :meth:`Pool.apply`."""

    __slots__ = ("fn", "fast", "result", "error", "done")

    def __init__(self, fn: Callable[[Tx], Any],
                 fast: Callable[[sqlite3.Connection, str], Any] | None = None):
        self.fn = fn
        self.fast = fast
        self.result: Any = None
        self.error: BaseException | None = None
        self.done = False


class _OpFailed(Exception):
    """A queued write raised ``error`` (the transaction is rolled back)."""

    def __init__(self, error: BaseException):
        super().__init__(error)
        self.error = error
