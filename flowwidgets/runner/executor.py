"""The executor: runs the steps of claimed runs on a bounded pool of worker threads.

A run's steps come from the run log (the DAG recorded when the run was created; steps
already ``succeeded`` there were reused from an earlier run). Each run keeps an
indegree map, so a completion costs O(its children), never a scan of the whole DAG: a
step is handed to the pool the moment its last dependency succeeds. When a step fails
with no retry left, no further step of that run starts; steps already running finish;
the rest stay ``pending`` and the run is ``failed`` with the first failed step in
topological order as ``failed_step``.

Two kinds of step (see :class:`~flowwidgets.runner.spec.StepSpec`):

- ``call="pkg.module:function"``: imported with ``Pipelines.base_dir`` on ``sys.path``
  (imported once per executor and cached; edit the module, restart the runner). Upstream
  outputs arrive as keyword arguments named after the upstream steps the function
  declares (all of them through ``**inputs``), and a :class:`StepContext` as ``ctx`` if
  it has that parameter. The return value is the output. ``print`` output and
  ``ctx.log`` lines form the attempt's log tail. With ``timeout_s`` the function runs in
  a thread of its own; a thread cannot be killed, so on timeout the attempt fails, the
  thread is abandoned (its result is ignored) and its ``ctx.should_stop()`` turns true:
  long-running functions should poll it.
- ``run="shell command"``: ``sh -c`` in the runner's data dir, see
  :mod:`flowwidgets.runner._shell`.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flowwidgets.models import Status
from flowwidgets.runner._attempts import StepAttempts
from flowwidgets.runner._call import CallTarget, StepContext
from flowwidgets.runner._capture import LogTail
from flowwidgets.runner._pool import RunState, ThreadPool
from flowwidgets.runner._stopping import STOPPED, StopPaths
from flowwidgets.runner.spec import Pipelines, PipelineSpec
from flowwidgets.runner.store import ClaimLost, RunLog, RunRecord

__all__ = ["MAX_OUTPUT_BYTES", "Executor", "RunHandle", "StepContext", "oversized"]

log = logging.getLogger(__name__)

MAX_OUTPUT_BYTES = 8 * 1024 * 1024
"""Default bound of a stored step output, as JSON (outputs are for handing values to the
next step; data belongs in files)."""


def oversized(value: Any, limit: int) -> str | None:
    """``"larger"`` when ``value`` as JSON exceeds ``limit`` bytes (found while encoding,
    without building the whole text), else None. Unencodable values pass: the store says
    why they cannot be saved."""
    if value is None or isinstance(value, bool | float) or (
            isinstance(value, int) and -_BIG < value < _BIG):  # at most 32 bytes of JSON
        return None if limit >= 32 else _oversized(value, limit)
    if isinstance(value, str) and 12 * len(value) + 2 <= limit:  # 12 bytes a character at most
        return None
    return _oversized(value, limit)


_BIG = 10 ** 30


def _oversized(value: Any, limit: int) -> str | None:
    size = 0
    try:
        for chunk in json.JSONEncoder(allow_nan=False).iterencode(value):
            size += len(chunk.encode("utf-8")) if not chunk.isascii() else len(chunk)
            if size > limit:
                return "larger"
    except (TypeError, ValueError, RecursionError):
        return None
    return None


class RunHandle:
    """A run the executor is working on; :meth:`wait` blocks until it is terminal."""

    def __init__(self, state: RunState):
        self._state = state

    @property
    def run_id(self) -> str:
        """The run's id."""
        return self._state.run.run_id

    def done(self) -> bool:
        """True once the run is terminal in the run log."""
        return self._state.finished.is_set()

    def wait(self, timeout: float | None = None) -> RunRecord | None:
        """The terminal run record, or None if ``timeout`` passed first."""
        if not self._state.finished.wait(timeout):
            return None
        return self._state.final


class Executor(StepAttempts, StopPaths):
    """Executes claimed runs on ``max_workers`` threads, writing everything to ``store``.

    ``on_finished(run)`` is called (from a worker thread) after each run becomes terminal.
    """

    def __init__(self, store: RunLog, pipelines: Pipelines, *, max_workers: int = 4,
                 data_dir: str | Path | None = None,
                 on_finished: Callable[[RunRecord], None] | None = None,
                 max_output_bytes: int = MAX_OUTPUT_BYTES, worker: str | None = None,
                 stopped_limit_s: float = 0.0):
        if max_workers < 1:
            raise ValueError(f"max_workers must be at least 1, got {max_workers}")
        if max_output_bytes < 1:
            raise ValueError(f"max_output_bytes must be at least 1, got {max_output_bytes}")
        self.stopped_limit_s = float(stopped_limit_s)
        """Shell steps are killed after this process is stopped this long (0: never)."""
        self.worker = worker
        """The claim this executor's runs hold (None: not checked; see check_claims)."""
        self.max_output_bytes = int(max_output_bytes)
        """Largest step output stored (as JSON); a larger one fails its step."""
        self.store = store
        self.pipelines = pipelines
        self.max_workers = max_workers
        self.data_dir = Path(data_dir) if data_dir is not None else Path(pipelines.base_dir)
        self.on_finished = on_finished
        self.stop_event = threading.Event()
        """Set by :meth:`stop`: no new steps start, streaming steps see ``should_stop()``."""
        self._cancel = threading.Event()  # hard stop: kill shell steps
        self._pool = ThreadPool(max_workers, "flowwidgets-step")
        self._lock = threading.Lock()
        self._runs: dict[str, RunState] = {}
        self._in_flight = 0
        self._shells = 0  # shell commands running
        self._targets: dict[str, CallTarget] = {}
        self._orphans: list[threading.Thread] = []
        self._closed = False
        self._capturing = False
        self._cut_off: list[tuple[RunState, list[str], str]] = []  # settled when back
        self.cut_off_since: float | None = None
        """Monotonic time of :meth:`cut_off` until :meth:`settle_cut_off` (no claims)."""

    # ---- submitting ------------------------------------------------------------------

    def has_capacity(self) -> bool:
        """True while fewer steps are queued or running than there are workers."""
        with self._lock:
            return not self._closed and not self.stop_event.is_set() \
                and self.cut_off_since is None and self._in_flight < self.max_workers

    @property
    def active_runs(self) -> list[str]:
        """Ids of the runs being executed."""
        with self._lock:
            return list(self._runs)

    def submit(self, run: RunRecord) -> RunHandle:
        """Start executing ``run``, already claimed (``running``) in the run log (a run
        cancelled meanwhile is left as it is)."""
        if self._closed or self.stop_event.is_set():
            raise RuntimeError("the executor is stopping; it takes no new runs")
        steps = self.store.get_steps(run.run_id)
        spec = self.pipelines[run.pipeline] if run.pipeline in self.pipelines else None
        state = RunState(run, spec, steps, self.stop_event)
        with self._lock:
            self._runs[run.run_id] = state
        current = self.store.get_run(run.run_id)
        if current is not None and current.status is Status.CANCELLED:
            self.cancel(run.run_id)  # cancelled between its claim and now
            return RunHandle(state)
        if spec is None:
            state.failed[""] = (f"pipeline {run.pipeline!r} is not in this runner's "
                                f"pipelines ({', '.join(self.pipelines.names) or 'none'})")
            self._finish_run(state)
            return RunHandle(state)
        ready = state.initial_ready()
        if not ready:
            self._finish_run(state)
        for name in ready:
            self._launch(state, name)
        return RunHandle(state)

    def execute(self, run: RunRecord) -> RunRecord:
        """Execute ``run`` (already claimed) and return its terminal record."""
        final = self.submit(run).wait()
        if final is None:
            raise RuntimeError(f"run {run.run_id} finished but the run log could not be read")
        return final

    def _launch(self, state: RunState, name: str, number: int = 0) -> None:
        with self._lock:
            self._in_flight += 1
        if number:  # already started: its worker must run it
            self._pool.submit(self._step_task, state, name, number)
            return
        state.add_waiting(name)
        self._pool.submit(self._waiting_task, state)

    def _requeue(self, state: RunState, name: str) -> None:
        """Put a waiting step taken for a commit that did not start it back first in
        line, with a pool task (the one it had may have found the line empty)."""
        state.add_waiting(name, first=True)
        try:
            with self._lock:
                self._in_flight += 1
            self._pool.submit(self._waiting_task, state)
        except RuntimeError:  # the pool is shut down (stopping): it stays pending
            with self._lock:
                self._in_flight -= 1
            log.warning("step %s/%s not started: the runner is stopping",
                        state.run.run_id, name)

    def _waiting_task(self, state: RunState) -> None:
        """A pool task: run the oldest step of ``state`` still waiting for a worker
        (none left when workers took them with their steps' ends)."""
        name = state.next_waiting()
        if name is None:
            with self._lock:
                self._in_flight -= 1
            return
        self._step_task(state, name)

    # ---- one step ----------------------------------------------------------------------

    def _step_task(self, state: RunState, name: str, number: int = 0) -> None:
        """Run a step (``number``: its first attempt, already opened by its parent's
        success), then the first child its success started, on this worker, and so on."""
        while name:
            ok: bool | None
            started: dict[str, int] = {}
            try:
                if self.stop_event.is_set():  # queued, not started: stays pending
                    ok, error = None, None
                    if number:  # its attempt was opened with its parent's end: close it
                        ok, error = None, STOPPED
                        self._record_cut(state.run.run_id, name, number, STOPPED)
                else:
                    ok, error, started = self._run_step(state, name, number)
            except ClaimLost:  # a peer recovered the run: write nothing more to it
                self._lose(state)
                ok, error = False, STOPPED
            except BaseException as exc:  # the run log failed us: record what we can
                log.exception("runner error in %s/%s", state.run.run_id, name)
                ok, error = False, f"runner error: {type(exc).__name__}: {exc}"
                if not state.abandoned:
                    try:
                        self.store.set_step_status(state.run.run_id, name, Status.FAILED,
                                                   error)
                    except Exception:
                        log.exception("could not record the failure of %s/%s",
                                      state.run.run_id, name)
            done, name, number = name, "", 0
            try:
                ready, finished = state.step_done(done, ok, error, self.stop_event.is_set(),
                                                  list(started))
                # the first child started with this success runs next on this worker
                name = next((c for c in ready if started.get(c)), "")
                number = started.get(name, 0)
            except BaseException:
                log.exception("runner error after step %s/%s", state.run.run_id, done)
                ready, finished = [], False
            if not name:
                with self._lock:
                    self._in_flight -= 1
            try:
                for child in ready:
                    if child != name:
                        self._launch(state, child, started.get(child, 0))
                if finished:
                    self._finish_run(state)
            except BaseException:
                log.exception("runner error after step %s/%s", state.run.run_id, done)

    def _record_cut(self, run_id: str, name: str, number: int, error: str) -> None:
        """Record an attempt the runner's stop cut short (the step: cancelled)."""
        self.store.finish_attempt(run_id, name, number, status=Status.CANCELLED, error=error)
        self.store.set_step_status(run_id, name, Status.CANCELLED, error)

    def _run_step(self, state: RunState, name: str, number: int = 0
                  ) -> tuple[bool | None, str | None, dict[str, int]]:
        """All attempts of one step (``number``: its first attempt, already opened);
        returns (succeeded, error, the children started with its success and their
        attempt numbers); succeeded is None when the runner's stop cut the step short
        (recorded as cancelled)."""
        run_id = state.run.run_id
        assert state.spec is not None
        step = state.specs.get(name)
        problem: str | None = None  # a reason the step cannot even be tried
        inputs: dict[str, Any] = {}
        if step is None:
            problem = (f"step {name!r} is no longer in pipeline {state.spec.name!r} "
                       f"(its steps: {', '.join(state.spec.step_names)})")
        else:
            try:
                inputs = {d: state.output(self.store, d) for d in state.deps[name]}
            except KeyError as exc:
                problem = f"KeyError: {exc.args[0] if exc.args else exc}"
        attempts = 1 if step is None or problem else 1 + max(0, step.retries)
        error = problem
        for i in range(attempts):
            if i and self.stop_event.wait(step.retry_delay_s if step else 0):
                break  # stopping: no more retries
            if state.abandoned:
                return False, STOPPED, {}
            if not (i == 0 and number):
                number = self.store.start_attempt(run_id, name)
                if number == 0:  # cancelled (by another process) before it could start
                    return False, STOPPED, {}
            state.attempts[name] = number
            if state.abandoned:  # given up while its start was written (cut off)
                return False, STOPPED, {}
            tail = LogTail()
            if problem is None:
                assert step is not None
                ok, value, error = self._attempt(state, step, number, inputs, tail)
                if state.abandoned:  # given up while it ran: write nothing more
                    return False, STOPPED, {}
                if ok and (too_big := oversized(value, self.max_output_bytes)):
                    ok, error = False, (f"the output of step {name!r} is {too_big} than the "
                                        f"{self.max_output_bytes:,}-byte limit as JSON; return "
                                        "a file path or a summary instead (or raise "
                                        "max_output_bytes)")
                if ok:
                    # only the step that runs next on this worker starts with this
                    # commit: a child this success made ready, else the oldest step of
                    # the run waiting for a worker; another waits for a free worker,
                    # and its start (and the wait before it, which the timeline draws)
                    # is recorded then
                    nxt = state.ready_after(name)[:1]
                    taken = None if nxt else state.take_waiting()
                    if taken is not None:
                        nxt = [taken]
                    started = {}
                    try:  # the output, the step's success and the next start: one commit
                        numbers = self.store.finish_attempt(
                            run_id, name, number, status=Status.SUCCEEDED,
                            log_tail=tail.text() or None, output=value, start=nxt)
                        started = {c: n for c, n in zip(nxt, numbers or (), strict=False)
                                   if n}
                    except TypeError as exc:
                        ok, error = False, (f"TypeError: the output of step {name!r} is not "
                                            f"JSON-serialisable: {exc}")
                    finally:
                        if taken is not None and taken not in started:  # back in line
                            self._requeue(state, taken)
                if ok:
                    state.set_output(name, value)
                    for child, n in started.items():
                        state.attempts[child] = n
                    return True, None, started
            if self.stop_event.is_set() and error is not None and error.startswith(STOPPED):
                # killed because the runner stops (stop(), SIGTERM): cancelled, not failed
                self.store.finish_attempt(run_id, name, number, status=Status.CANCELLED,
                                          error=error, log_tail=tail.text() or None)
                self.store.set_step_status(run_id, name, Status.CANCELLED, error)
                return None, error, {}
            self.store.finish_attempt(run_id, name, number, status=Status.FAILED,
                                      error=error, log_tail=tail.text() or None)
        if state.abandoned:
            return False, STOPPED, {}
        self.store.set_step_status(run_id, name, Status.FAILED, error)
        return False, error, {}

    # ---- finishing -----------------------------------------------------------------------

    def _finish_run(self, state: RunState) -> None:
        status, failed_step, error = state.outcome(self.stop_event.is_set())
        run = state.run
        watermark = state.watermark if status is Status.FAILED and run.kind == "streaming" \
            else None
        final: RunRecord | None = None
        try:
            if not state.abandoned:
                self.store.finish_run(run.run_id, status=status, failed_step=failed_step,
                                      error=error, failed_watermark=watermark)
            final = self.store.get_run(run.run_id)
        except ClaimLost:
            log.warning("run %s was recovered by a peer; its end was not written", run.run_id)
        except Exception:
            log.exception("could not record the end of run %s", run.run_id)
        state.final = final
        with self._lock:
            self._runs.pop(run.run_id, None)
        state.finished.set()
        if self.on_finished is not None and final is not None:
            try:
                self.on_finished(final)
            except Exception:
                log.exception("on_finished failed for run %s", run.run_id)



def pipeline_steps(spec: PipelineSpec) -> list[tuple[str, tuple[str, ...]]]:
    """The DAG of ``spec`` as ``create_run`` takes it."""
    return [(s.name, s.depends_on) for s in spec.steps]
