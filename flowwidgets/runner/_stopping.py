"""The ways a run ends other than by its steps finishing, mixed into
:class:`~flowwidgets.runner.executor.Executor`: the runner's stop, a cancel (here or by
another process on the same run log), a claim lost to a peer, and the cut-off from an
unwritable run log with its settling once the log is back."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from flowwidgets.models import Status
from flowwidgets.runner import _capture
from flowwidgets.runner._pool import RunState, ThreadPool
from flowwidgets.runner._shell import KILL_GRACE_S
from flowwidgets.runner.store import ClaimLost, RunLog, RunRecord

__all__ = ["STOPPED", "StopPaths"]

log = logging.getLogger("flowwidgets.runner.executor")

STOPPED = "runner stopped"


class StopPaths:
    """Stop, cancel, lose and cut-off methods of the executor (the attributes below are
    set by its ``__init__``)."""

    store: RunLog
    on_finished: Callable[[RunRecord], None] | None
    worker: str | None
    stop_event: threading.Event
    cut_off_since: float | None
    _cancel: threading.Event
    _pool: ThreadPool
    _lock: threading.Lock
    _runs: dict[str, RunState]
    _shells: int
    _orphans: list[threading.Thread]
    _closed: bool
    _capturing: bool
    _cut_off: list[tuple[RunState, list[str], str]]

    # ---- stopping ------------------------------------------------------------------------

    def stop(self, timeout: float = 10) -> None:
        """Stop: no new steps or retries; running steps get until ``timeout`` to finish
        (streaming ones see ``should_stop()``); then shell steps are killed, and runs
        still unfinished are recorded as cancelled (their still-running call steps are
        abandoned: a thread cannot be killed). Runs cut short are ``cancelled``."""
        if self._closed:
            return
        self.stop_event.set()
        deadline = time.monotonic() + max(0.0, timeout)
        for state in self._active_states():
            state.finished.wait(max(0.0, deadline - time.monotonic()))
        if self._active_states():
            self._cancel.set()  # shell steps: kill their process groups
            if self._shells:
                for state in self._active_states():
                    state.finished.wait(2 * KILL_GRACE_S + 0.5)
        for state in self._active_states():
            self._abandon(state)
        with self._lock:
            self._closed = True
            orphans = list(self._orphans)
            capturing, self._capturing = self._capturing, False
        self._pool.shutdown(max(0.1, deadline - time.monotonic()))
        for thread in orphans:
            thread.join(max(0.0, deadline - time.monotonic()))
        if capturing:
            _capture.uninstall()

    # ---- cancelling ----------------------------------------------------------------------

    def cancel(self, run_id: str, wait_s: float = 2 * KILL_GRACE_S + 0.5) -> bool:
        """Stop executing a run already marked ``cancelled`` in the run log: no further
        step starts, its shell steps' process groups are killed (SIGTERM, then SIGKILL
        after :data:`KILL_GRACE_S`; this waits up to ``wait_s`` for them to be gone), and
        its call steps are abandoned (a thread cannot be killed; their
        ``ctx.should_stop()`` turns true and whatever they return is discarded). False
        when this executor is not running the run."""
        with self._lock:
            state = self._runs.pop(run_id, None)
        if state is None:
            return False
        state.abandon()
        state.cancel_event.set()
        deadline = time.monotonic() + wait_s
        while state.shells and time.monotonic() < deadline:
            time.sleep(0.02)
        try:
            state.final = self.store.get_run(run_id)
        except Exception:
            log.exception("could not read cancelled run %s", run_id)
        state.finished.set()
        if self.on_finished is not None and state.final is not None:
            try:
                self.on_finished(state.final)
            except Exception:
                log.exception("on_finished failed for run %s", run_id)
        return True

    def reap_cancelled(self) -> list[str]:
        """Cancel locally the runs this executor runs that the run log says are
        ``cancelled`` (by another process on the same file); returns their ids."""
        found = []
        for state in self._active_states():
            run = self.store.get_run(state.run.run_id)
            if run is not None and run.status is Status.CANCELLED:
                found.append(run.run_id)
        for run_id in found:
            self.cancel(run_id)
        return found

    def _active_states(self) -> list[RunState]:
        with self._lock:
            return list(self._runs.values())

    def check_claims(self) -> list[str]:
        """Give up the runs whose claim this executor lost (a peer recovered them while
        this process was paused or cut off): their shell steps are killed and nothing more
        is written to them. Called every scheduler tick; returns the run ids."""
        if self.worker is None:
            return []
        lost = []
        for state in self._active_states():
            run = self.store.get_run(state.run.run_id)
            if run is None or run.worker != self.worker or run.status not in (
                    Status.RUNNING, Status.CANCELLED):  # cancelled: reap_cancelled's job
                self._lose(state)
                lost.append(state.run.run_id)
        return lost

    def cut_off(self, why: str) -> list[str]:
        """The run log cannot be written (see :mod:`flowwidgets.runner._lease`): kill
        every shell step (SIGTERM to its process group, SIGKILL after
        :data:`KILL_GRACE_S`), abandon every call step, write nothing. The runs are given
        up here and settled by :meth:`settle_cut_off` once the log is back. Returns the
        run ids."""
        with self._lock:
            self.cut_off_since = time.monotonic()
            states = list(self._runs.values())
            self._runs.clear()
        for state in states:
            running = state.abandon()
            state.lost.set()  # shell steps of the run are killed
            log.error("run %s: killing its running steps (%s): %s", state.run.run_id,
                      ", ".join(running) or "none", why)
            with self._lock:
                self._cut_off.append((state, running, why))
            state.finished.set()
        return [state.run.run_id for state in states]

    def settle_cut_off(self) -> list[str]:
        """The run log is writable again: record each run given up by :meth:`cut_off`
        as failed (its killed steps too, restartable), through the fenced store: a run
        a peer recovered meanwhile is left as the peer wrote it. Returns the run ids
        written; a run whose write failed stays for the next call."""
        with self._lock:
            pending, self._cut_off = self._cut_off, []
        written, left = [], []
        for state, running, why in pending:
            run_id = state.run.run_id
            error = f"runner cut off from its run log: {why}; steps killed"
            try:
                self._end_steps(state, running, Status.FAILED, error)
                self.store.finish_run(run_id, status=Status.FAILED,
                                      failed_step=running[0] if running else None,
                                      error=error)
                written.append(run_id)
            except ClaimLost:
                log.warning("run %s was recovered by a peer while this runner was cut off; "
                            "nothing written to it", run_id)
            except Exception:
                log.exception("could not record the end of run %s (cut off)", run_id)
                left.append((state, running, why))
                continue
            if self.on_finished is not None:
                try:
                    final = self.store.get_run(run_id)
                    if final is not None:
                        self.on_finished(final)
                except Exception:
                    log.exception("on_finished failed for run %s", run_id)
        with self._lock:
            self._cut_off[:0] = left
            if not self._cut_off:
                self.cut_off_since = None
        return written

    def _end_steps(self, state: RunState, running: list[str], status: Status,
                   error: str) -> None:
        """Record the steps ``running`` of ``state``'s run (and their open attempts) as
        ended with ``status`` and ``error``."""
        run_id = state.run.run_id
        for name in running:
            if name in state.attempts:
                self.store.finish_attempt(run_id, name, state.attempts[name], status=status,
                                          error=error)
            self.store.set_step_status(run_id, name, status, error)

    def _lose(self, state: RunState) -> None:
        if state.lost.is_set():
            return
        log.warning("run %s is no longer ours (recovered by a peer): giving it up",
                    state.run.run_id)
        state.lost.set()  # shell steps of the run are killed
        state.abandon()
        with self._lock:
            self._runs.pop(state.run.run_id, None)
        state.finished.set()

    def _abandon(self, state: RunState) -> None:
        """Record a run whose steps would not finish in time as cancelled."""
        running = state.abandon()
        run_id = state.run.run_id
        try:
            why = f"{STOPPED} while the step was running"
            self._end_steps(state, running, Status.CANCELLED, why)
            self.store.finish_run(run_id, status=Status.CANCELLED,
                                  error=f"{STOPPED} while {', '.join(running)} still ran")
        except ClaimLost:
            log.warning("run %s was recovered by a peer; its cancellation was not written",
                        run_id)
        except Exception:
            log.exception("could not record the cancellation of run %s", run_id)
        with self._lock:
            self._runs.pop(run_id, None)
        state.finished.set()
