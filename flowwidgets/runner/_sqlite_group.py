"""Group commit, mixed into :class:`~flowwidgets.runner._sqlite_pool.Pool`: the step writes
that threads queue while one commits are committed together, in the order they were
queued, by the next of them to lead (:meth:`GroupCommit.apply`); the others wait on
their own write, each woken once, never on the write lock. One-statement writes taken
together are one multi-row statement."""

from __future__ import annotations

import sqlite3
import threading
import time
from _thread import allocate_lock as _allocate_lock
from collections import deque
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from flowwidgets.runner._sqlite_fast import MAX_ROWS, Row, Slow, write
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
    _guard: threading.Lock  # the queue and the lead
    _leading: bool  # a thread leads (takes the write lock for the queue, or will)
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

    def apply(self, fn: Callable[[Tx], T], fast: tuple[Row, T] | None = None) -> T:
        """``fn(tx)`` in a write transaction, committed before this returns (group
        commit): writes that other threads queue while one commits are committed
        together by the next of them to lead, in the order they were queued, in ONE
        transaction (one clock reading). Its result, or its exception (then nothing it
        wrote is kept: a batch in which one write raises is rolled back and its writes
        are committed one by one).

        One thread at a time leads: it takes the write lock, commits every write queued
        and wakes their threads; a thread that queues a write while another leads waits
        on its own write (woken once: done, or handed the lead when the queue is not
        empty after a commit), never on the write lock.

        ``fast``, when given, is ``(row, result)``: the same write as a row of the
        one-statement write (:func:`~flowwidgets.runner._sqlite_fast.write`, events
        included, in order), tried first; ``result`` is returned when it applies. When
        every write taken has one, they are ONE statement that commits on its own;
        otherwise (or when a row's checks fail) each runs in the transaction, its row
        first, else ``fn``."""
        op = _Op(fn, fast)
        lock = self._write_lock_now()
        guard = self._guard
        with guard:
            self._queue.append(op)
            if self._leading:
                wake = op.wake = _allocate_lock()
                wake.acquire()
            else:
                self._leading = True
        if op.wake is not None and not self._follow(op, op.wake):
            if op.error is not None:
                raise op.error
            return op.result
        evented = False
        batch: list[_Op] = []
        try:
            if not lock.acquire(timeout=self.busy_timeout_s):
                with guard:
                    self._queue.remove(op)  # only a leader takes writes off the queue
                raise sqlite3.OperationalError(
                    f"{self.path}: database is locked (another writer of this process "
                    f"held it for {self.busy_timeout_s:g} s)") from None
            try:
                evented = self._lead(guard, batch)
            finally:
                lock.release()
        finally:
            self._hand_on(guard, batch, op)
        if evented and self._listeners:
            self._notify()
        if op.error is not None:
            raise op.error
        return op.result

    def _follow(self, op: _Op, wake: Any) -> bool:
        """Wait for ``op``'s commit (False) or for the lead to be handed to it (True);
        a write still queued after the busy timeout leaves the queue and raises. A wait
        interrupted (an exception in this thread) leaves the queue too, or passes the
        lead on: the other writers never wait for a thread that is gone."""
        try:
            if not wake.acquire(timeout=self.busy_timeout_s):
                with self._guard:
                    if not op.taken and not op.lead:
                        self._queue.remove(op)
                        raise sqlite3.OperationalError(
                            f"{self.path}: database is locked (another writer of this "
                            f"process held it for {self.busy_timeout_s:g} s)") from None
                wake.acquire()  # taken by a leader (or handed the lead): not long now
        except BaseException:
            with self._guard:
                lead = op.lead and not op.taken
                if not lead and not op.taken:
                    try:
                        self._queue.remove(op)
                    except ValueError:  # it left above
                        pass
            if lead:
                self._hand_on(self._guard, [], op)
            raise
        return op.lead

    def _lead(self, guard: Any, batch: list[_Op]) -> bool:
        """Commit every queued write (holding the write lock); True when events were
        appended. ``batch`` receives the writes taken."""
        rows: list[Row] | None = []
        with guard:
            batch.extend(self._queue)
            self._queue.clear()
            for taken in batch:
                taken.taken = True
                if rows is not None:
                    if taken.fast is None:
                        rows = None
                    else:
                        rows.append(taken.fast)
        try:
            conn = self._checkout_writer()
        except BaseException as exc:  # closed: for every write taken
            for taken in batch:
                taken.error, taken.done = exc, True
            return False
        try:
            if not self.fast_writes:
                for taken in batch:
                    taken.fast = None
            elif rows is not None and len(rows) <= MAX_ROWS \
                    and time.monotonic() < self._next_trim and self._commit_rows(conn, rows, batch):
                return True
            return self._commit_batch(conn, batch)
        finally:
            self._checkin_writer(conn)

    def _hand_on(self, guard: Any, batch: list[_Op], op: _Op) -> None:
        """After a lead: hand it to the first write queued meanwhile (or end it), then
        wake the threads of the writes committed."""
        with guard:
            if not op.taken:  # left before taking the queue (interrupted)
                try:
                    self._queue.remove(op)
                except ValueError:
                    pass
            if self._queue:
                nxt = self._queue[0]
                nxt.lead = True
                assert nxt.wake is not None
                nxt.wake.release()
            else:
                self._leading = False
        for taken in batch:
            if taken is not op:
                if not taken.done:  # interrupted before its commit: say so
                    taken.error = taken.error or sqlite3.OperationalError(
                        f"{self.path}: the group commit holding this write was interrupted")
                    taken.done = True
                assert taken.wake is not None
                taken.wake.release()

    def _commit_rows(self, conn: sqlite3.Connection, rows: list[Row], batch: list[_Op]
                     ) -> bool:
        """The writes' rows as one statement that commits on its own (autocommit);
        False, with nothing written, when it does not apply (then the caller commits
        them in a transaction, one by one inside it)."""
        try:
            write(conn, self._now_text(), rows)
        except Slow:
            return False
        except sqlite3.Error:  # (nothing was committed) the transaction path says which
            return False  # write failed, or fails them all
        for op in batch:
            op.result, op.done = op.result_fast, True
        return True

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
                            write(conn, tx.now_text, [op.fast])
                            op.result = op.result_fast
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

    __slots__ = ("fn", "fast", "result_fast", "result", "error", "done", "wake", "taken",
                 "lead")

    def __init__(self, fn: Callable[[Tx], Any], fast: tuple[Row, Any] | None = None):
        self.fn = fn
        self.fast: Row | None = None if fast is None else fast[0]
        self.result_fast: Any = None if fast is None else fast[1]
        self.result: Any = None
        self.error: BaseException | None = None
        self.done = False
        self.wake: Any = None  # a held lock its thread waits on while another leads
        self.taken = False  # by a leader: committed (or failed) in its batch
        self.lead = False  # the lead was handed to its thread


class _OpFailed(Exception):
    """A queued write raised ``error`` (the transaction is rolled back)."""

    def __init__(self, error: BaseException):
        super().__init__(error)
        self.error = error
