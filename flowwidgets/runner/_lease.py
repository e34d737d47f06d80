"""A runner's lease on its run log: cut itself off when its heartbeat cannot be written.

Peers declare a runner dead once its heartbeat is older than ``stale_after_s`` and may
then restart its steps. A runner whose heartbeat writes *fail* (the run log's directory
is gone, a disk I/O error, the file locked by something else until the cut-off is
due) would keep running those steps beside the restarted copies. The
:class:`Lease` watches every heartbeat write; once the last one *failed* and none has
succeeded for ``cut_off_after_s`` (below ``stale_after_s``; default half of it), it
calls ``on_cut_off`` once (the executor kills its shell steps and abandons its call
steps) and logs it loudly. A heartbeat that is merely late (a loaded machine, a slow
disk: no write failed) never cuts the runner off. The next successful heartbeat ends
the cut-off (``on_back``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

__all__ = ["Lease"]

log = logging.getLogger(__name__)


class Lease:
    """Heartbeats through ``beat(wait_s)`` and watches them (see the module).

    ``beat(wait_s)`` writes one heartbeat, waiting at most ``wait_s`` for a lock held
    by another writer (then it must raise). :meth:`start` runs the watchdog thread, which
    also heartbeats itself when no heartbeat was tried for ``beat_every_s`` (the
    scheduler's tick may be stuck in another write of the same unreachable log).
    """

    def __init__(self, beat: Callable[[float], None], *, cut_off_after_s: float,
                 on_cut_off: Callable[[str], object],
                 on_back: Callable[[], object] | None = None, worker: str = "",
                 beat_every_s: float = 1.0, clock: Callable[[], float] = time.monotonic):
        if cut_off_after_s <= 0:
            raise ValueError(f"cut_off_after_s must be positive, got {cut_off_after_s}")
        self.cut_off_after_s = float(cut_off_after_s)
        """How long heartbeats may fail (since the last one written) before cutting off."""
        self.min_wait_s = self.cut_off_after_s / 10
        """The shortest wait of a heartbeat for another writer's lock (see :meth:`beat`)."""
        self.worker = worker
        self.beat_every_s = float(beat_every_s)
        self._beat = beat
        self._on_cut_off = on_cut_off
        self._on_back = on_back
        self._clock = clock
        self._lock = threading.Lock()
        self._ok_at = clock()  # start of the last heartbeat that was written
        self._tried_at = self._ok_at  # start of the last heartbeat tried
        self._beating = 0  # heartbeats in progress
        self._failing: str | None = None  # why the last heartbeat failed
        self._cut_off = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def cut_off(self) -> bool:
        """True from the cut-off until the next heartbeat is written."""
        return self._cut_off

    def beat(self) -> None:
        """Write one heartbeat (re-raises its error after recording it). It waits for
        another writer's lock until the cut-off would be due (at least
        :attr:`min_wait_s`): a lock held briefly, or a slow writer on a loaded machine,
        only delays it; a lock held past the limit makes it fail in time."""
        started = self._clock()
        with self._lock:
            wait = max(self.min_wait_s, self._ok_at + self.cut_off_after_s - started)
            self._tried_at = started
            self._beating += 1
        try:
            self._beat(wait)
        except Exception as exc:
            with self._lock:
                self._beating -= 1
                self._failing = f"{type(exc).__name__}: {exc}"
            self.check()
            raise
        with self._lock:
            self._beating -= 1
            self._ok_at, self._failing = max(self._ok_at, started), None
            back, self._cut_off = self._cut_off, False
        if back:
            log.warning("worker %s: the run log is writable again; runs it gave up are "
                        "settled (fenced: nothing is written to a run a peer recovered)",
                        self.worker)
            if self._on_back is not None:
                self._on_back()

    def check(self) -> bool:
        """Cut off now if heartbeats have failed for too long; True if it did."""
        with self._lock:
            if self._cut_off or self._failing is None:
                return False
            silent = self._clock() - self._ok_at
            if silent <= self.cut_off_after_s:
                return False
            self._cut_off = True
            why = (f"its heartbeat could not be written for {silent:.1f} s (limit "
                   f"{self.cut_off_after_s:g} s; last error: {self._failing})")
        log.error("worker %s: RUN LOG UNREACHABLE: %s; killing this runner's steps so "
                  "that a peer recovering its runs cannot run a second copy", self.worker, why)
        try:
            self._on_cut_off(why)
        except Exception:
            log.exception("worker %s: could not stop its steps", self.worker)
        return True

    def start(self) -> None:
        """Watch on a thread (every ``cut_off_after_s / 10``, at most 0.25 s) until
        :meth:`stop`: a heartbeat blocked in a write still cuts off in time."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._watch, name="flowwidgets-lease",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the watchdog thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def _watch(self) -> None:
        period = min(0.25, self.cut_off_after_s / 10)
        while not self._stop.wait(period):
            self.check()
            with self._lock:
                due = not self._beating and self._clock() - self._tried_at >= self.beat_every_s
            if due:
                try:
                    self.beat()
                except Exception as exc:  # recorded; the scheduler logs its own failures
                    log.warning("worker %s: heartbeat failed: %s", self.worker, exc)
