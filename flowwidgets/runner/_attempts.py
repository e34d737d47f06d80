"""One attempt of a step, mixed into :class:`~flowwidgets.runner.executor.Executor`: a
``call=`` function (in a thread of its own when it has a timeout) or a ``run=`` shell
command, and the capture of ``print`` output into the attempt's log tail."""

from __future__ import annotations

import os
import threading
import traceback
from pathlib import Path
from typing import Any

from flowwidgets.runner import _capture
from flowwidgets.runner._call import CallTarget, StepContext, clip, invoke, resolve
from flowwidgets.runner._capture import LogTail
from flowwidgets.runner._pool import RunState
from flowwidgets.runner._shell import run_shell
from flowwidgets.runner._stopping import STOPPED
from flowwidgets.runner.spec import Pipelines, StepSpec
from flowwidgets.runner.store import RunLog

__all__ = ["StepAttempts"]

_NEVER = threading.Event()
"""The ``abandoned`` flag of attempts without a timeout (never set)."""


class StepAttempts:
    """The attempt methods of the executor (the attributes below are set by its
    ``__init__``)."""

    store: RunLog
    pipelines: Pipelines
    data_dir: Path
    stop_event: threading.Event
    stopped_limit_s: float
    _cancel: threading.Event
    _lock: threading.Lock
    _shells: int
    _targets: dict[str, CallTarget]
    _orphans: list[threading.Thread]
    _closed: bool
    _capturing: bool

    def _attempt(self, state: RunState, step: StepSpec, number: int, inputs: dict[str, Any],
                 tail: LogTail) -> tuple[bool, Any, str | None]:
        """One try; returns (succeeded, output, error)."""
        if step.run is not None:
            return self._attempt_shell(state, step, number, tail)
        assert step.call is not None
        try:
            target = self._targets.get(step.call) or resolve(step.call,
                                                             Path(self.pipelines.base_dir))
            self._targets[step.call] = target
        except Exception as exc:
            return False, None, clip(
                f"cannot import {step.call!r} (from {self.pipelines.base_dir}):\n"
                + "".join(traceback.format_exception_only(exc)).strip())
        self._capture_output()
        # only a timed-out attempt is abandoned: without a timeout it never is
        abandoned = _NEVER if step.timeout_s is None else threading.Event()
        ctx = StepContext(run_id=state.run.run_id, pipeline=state.run.pipeline, step=step.name,
                          attempt=number, inputs=dict(inputs), data_dir=self.data_dir,
                          watermark=state.watermark, store=self.store, tail=tail, run=state,
                          abandoned=abandoned)
        kwargs = target.kwargs(inputs, ctx)
        if step.timeout_s is None:
            return invoke(target.fn, kwargs, tail)
        box: list[tuple[bool, Any, str | None]] = []
        thread = threading.Thread(target=lambda: box.append(invoke(target.fn, kwargs, tail)),
                                  name=f"flowwidgets-call-{step.name}", daemon=True)
        thread.start()
        thread.join(step.timeout_s)
        if thread.is_alive():
            abandoned.set()
            with self._lock:
                self._orphans = [t for t in self._orphans if t.is_alive()] + [thread]
            return False, None, f"timed out after {step.timeout_s:g} s"
        return box[0]

    def _attempt_shell(self, state: RunState, step: StepSpec, number: int, tail: LogTail
                       ) -> tuple[bool, Any, str | None]:
        assert step.run is not None
        env = dict(os.environ)
        env.update(FLOWWIDGETS_RUN_ID=state.run.run_id, FLOWWIDGETS_PIPELINE=state.run.pipeline,
                   FLOWWIDGETS_STEP=step.name, FLOWWIDGETS_ATTEMPT=str(number),
                   FLOWWIDGETS_DATA_DIR=str(self.data_dir))
        streaming = state.run.kind == "streaming"
        with self._lock:
            self._shells += 1
            state.shells += 1
        try:  # a streaming command is asked to stop (SIGTERM) as soon as the runner stops
            res = run_shell(step.run, cwd=self.data_dir, env=env, timeout_s=step.timeout_s,
                            cancel=(self.stop_event if streaming else self._cancel,
                                    state.cancel_event, state.lost), log=tail,
                            stopped_limit_s=self.stopped_limit_s)
        except OSError as exc:
            return False, None, f"cannot start the command: {type(exc).__name__}: {exc}"
        finally:
            with self._lock:
                self._shells -= 1
                state.shells -= 1
        if res.killed == "timeout":
            return False, None, f"timed out after {step.timeout_s:g} s"
        if res.killed == "stopped":
            if streaming:  # stopped as asked: like a call step returning on should_stop()
                return True, {"returncode": res.returncode, "stdout_tail": res.stdout_tail,
                              "stopped": True}, None
            return False, None, f"{STOPPED} while the command was running"
        if res.returncode != 0:
            tail.write(f"\n[exit status {res.returncode}]\n")
            msg = res.stderr_tail.strip() or f"command exited with status {res.returncode}"
            return False, None, clip(msg)
        return True, {"returncode": 0, "stdout_tail": res.stdout_tail}, None

    def _capture_output(self) -> None:
        """Route ``print`` output of step threads to their attempts (from the first call
        step until :meth:`stop`)."""
        with self._lock:
            if self._capturing or self._closed:
                return
            self._capturing = True
        _capture.install()
