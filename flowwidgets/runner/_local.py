"""``LocalRunner``: the run log, the executor and the scheduler behind one object.

    runner = LocalRunner(load_pipelines("pipelines.yaml"))   # runs.sqlite beside the file
    with runner:                                             # start(): recover, schedule
        run_id = runner.run_now("orders")
        run = runner.wait(run_id)
        if run.status == "failed":
            runner.restart(run_id)                           # from the failed step

The action methods (:meth:`LocalRunner.restart`, ``rerun``, ``resume``, ``run_now``)
only *request* runs: they validate, write one ``requested`` run, and the scheduler (of
this process or another one on the same file) claims and executes it. A refused action
raises a :class:`~flowwidgets.errors.APIError` (NotFound, Conflict, Unprocessable) and
writes nothing.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from flowwidgets.errors import Conflict, NotFound, Unprocessable
from flowwidgets.models import Status
from flowwidgets.runner._lease import Lease
from flowwidgets.runner.executor import MAX_OUTPUT_BYTES, Executor, pipeline_steps
from flowwidgets.runner.scheduler import Scheduler
from flowwidgets.runner.spec import Pipelines, PipelineSpec
from flowwidgets.runner.store import RunLog, RunRecord, StepRecord

__all__ = ["LocalRunner"]

log = logging.getLogger(__name__)

_KEYS_KEPT = 1024
"""Idempotency keys remembered in memory, so replaying an action on a streaming pipeline
returns its run instead of a conflict with that very run."""


class LocalRunner:
    """A local runner over ``pipelines`` with a SQLite run log (``db``).

    ``db``: a path, a :class:`~flowwidgets.runner.store.RunLog` (left open by
    :meth:`stop`: its owner closes it), or None for ``<base_dir>/.flowwidgets/runs.sqlite``.
    ``max_workers`` steps run at once (a streaming step holds one for as long as it
    runs); ``tick_s`` is the scheduler's period; ``data_dir`` is the working directory
    of ``run`` steps and ``ctx.data_dir`` (default: the pipelines' ``base_dir``);
    ``max_output_bytes`` bounds a stored step output as JSON (a larger one fails its step
    with an error saying so).

    Several runners may share one run log (processes, machines on a shared disk). Each
    heartbeats every tick, and every tick recovers the runs of dead peers (marked failed,
    "runner interrupted", as at start): a peer on this host whose process is gone within
    one tick; any peer whose heartbeat is older than ``stale_after_s`` (default
    ``max(5, 5 * tick_s)`` s: another host, a stopped process) within ``stale_after_s``
    plus one tick. Writes are fenced: a runner whose run was recovered by a peer writes
    nothing more to it and kills its shell steps at its next tick.

    A runner whose heartbeat writes *fail* (the run log unreachable: its directory gone,
    an I/O error, the file locked by something else all along) for ``cut_off_after_s``
    since the last one written (default ``stale_after_s / 2``;
    must be below ``stale_after_s``) cuts itself off before any peer may declare it
    dead: it logs an error, kills its shell steps, abandons its call steps and claims
    nothing. Once a heartbeat is written again, each run it gave up is recorded failed
    (restartable) unless a peer recovered it meanwhile (fenced: nothing written). A
    heartbeat that is only late (a loaded machine) never cuts a runner off.
    """

    def __init__(self, pipelines: Pipelines | Sequence[PipelineSpec], *,
                 db: str | Path | RunLog | None = None, max_workers: int = 4,
                 tick_s: float = 1.0, worker_id: str | None = None,
                 data_dir: str | Path | None = None,
                 max_output_bytes: int = MAX_OUTPUT_BYTES,
                 stale_after_s: float | None = None,
                 cut_off_after_s: float | None = None):
        if not isinstance(pipelines, Pipelines):
            pipelines = Pipelines(pipelines=tuple(pipelines))
        self.pipelines: Pipelines = pipelines
        self.tick_s: float = float(tick_s)
        self.worker_id: str = worker_id or (
            f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}")
        self._owns_store = not isinstance(db, RunLog)
        if isinstance(db, RunLog):
            self.store: RunLog = db
        else:
            from flowwidgets.runner.sqlite import SqliteRunLog

            if db is None:
                db = Path(pipelines.base_dir) / ".flowwidgets" / "runs.sqlite"
            Path(db).parent.mkdir(parents=True, exist_ok=True)
            self.store = SqliteRunLog(db)
        data = Path(data_dir) if data_dir is not None else Path(pipelines.base_dir)
        data.mkdir(parents=True, exist_ok=True)
        self.data_dir: Path = data
        self.stale_after_s: float = float(stale_after_s if stale_after_s is not None
                                          else max(5.0, 5 * self.tick_s))
        self.cut_off_after_s: float = float(cut_off_after_s if cut_off_after_s is not None
                                            else self.stale_after_s / 2)
        if not 0 < self.cut_off_after_s < self.stale_after_s:
            raise ValueError(f"cut_off_after_s must be positive and below stale_after_s "
                             f"({self.stale_after_s:g} s), got {self.cut_off_after_s:g}")
        self._executor = Executor(self.store.fenced(self.worker_id), pipelines,
                                  max_workers=max_workers, data_dir=data,
                                  on_finished=self._on_finished,
                                  max_output_bytes=max_output_bytes, worker=self.worker_id,
                                  stopped_limit_s=self.stale_after_s / 2)
        self._lease = Lease(
            lambda wait_s: self.store.heartbeat(self.worker_id, wait_s=wait_s),
            cut_off_after_s=self.cut_off_after_s, on_cut_off=self._executor.cut_off,
            worker=self.worker_id, beat_every_s=self.tick_s)
        self._scheduler = Scheduler(pipelines, self.store, worker_id=self.worker_id,
                                    dispatch=self._executor.submit,
                                    has_capacity=self._executor.has_capacity,
                                    tick_s=self.tick_s, stale_after_s=self.stale_after_s,
                                    after_beat=self._after_beat,
                                    housekeeping=self._executor.reap_cancelled,
                                    heartbeat=self._lease.beat)
        self._finished = threading.Condition()
        self._keys: OrderedDict[str, str] = OrderedDict()
        self._started = False
        self._stopped = False

    @property
    def max_workers(self) -> int:
        """How many steps this runner runs at once (its worker pool)."""
        return self._executor.max_workers

    # ---- life cycle ----------------------------------------------------------------------

    def start(self) -> None:
        """Recover runs left ``running`` by a dead runner, then start the scheduler thread."""
        if self._stopped:
            raise RuntimeError("this LocalRunner was stopped; make a new one")
        if self._started:
            return
        self._lease.beat()
        self.store.recover_interrupted(stale_after_s=self.stale_after_s)
        self._lease.start()
        self._scheduler.start()
        self._started = True

    def stop(self, timeout: float = 10) -> None:
        """Stop claiming, ask streaming steps to stop, wait up to ``timeout`` s for running
        steps (then kill shell steps, about 2 s more at most; runs cut short are
        cancelled), and close the run log if this runner opened it."""
        if self._stopped:
            return
        self._stopped = True
        deadline = time.monotonic() + timeout
        self._scheduler.stop(timeout)
        self._lease.stop()
        self._executor.stop(max(0.0, deadline - time.monotonic()))
        if self._owns_store:
            self.store.close()

    def __enter__(self) -> LocalRunner:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return (f"LocalRunner({len(self.pipelines)} pipelines, store={self.store!r}, "
                f"worker={self.worker_id!r})")

    def tick(self) -> None:
        """One scheduler tick in this thread: heartbeat, cron fires, claim requested runs."""
        self._scheduler.tick()

    def _after_beat(self) -> None:
        """After each heartbeat written: settle runs given up while cut off, then give
        up runs a peer recovered."""
        if self._executor.cut_off_since is not None:
            self._executor.settle_cut_off()
        self._executor.check_claims()

    def _on_finished(self, run: RunRecord) -> None:
        with self._finished:
            self._finished.notify_all()
        self._scheduler.wake()

    # ---- actions -------------------------------------------------------------------------

    def run_now(self, pipeline: str, *, idempotency_key: str | None = None) -> str:
        """Request a run of ``pipeline`` now; returns its id (``NotFound``)."""
        spec = self._pipeline(pipeline)
        if spec.kind == "streaming":
            self._no_active_stream(spec.name, idempotency_key)
        return self._create(spec, trigger="run_now", idempotency_key=idempotency_key,
                            request=f"run-now of pipeline {pipeline}")

    def restart(self, run_id: str, from_step: str | None = None, *,
                idempotency_key: str | None = None) -> str:
        """Request a run that re-executes ``from_step`` and everything downstream of it and
        reuses the stored outputs of the other steps. ``from_step`` None: the run's failed
        step (a failed streaming run resumes from its watermark instead)."""
        run = self._run(run_id)
        self._not_active(run, "restarted")
        asked = f"restart of run {run_id} from " + (
            "its failed step" if from_step is None else f"step {from_step!r}")
        if from_step is None and run.kind == "streaming" and run.status is Status.FAILED:
            return self._resume(run_id, idempotency_key, asked)
        spec = self._spec_of(run)
        steps = self.store.get_steps(run_id)
        names = [s.name for s in steps]
        if from_step is None:
            if not run.failed_step:
                raise Unprocessable(f"run {run_id} has no failed step; name from_step "
                                    f"(one of: {', '.join(names)})")
            from_step = run.failed_step
        if from_step not in names:
            raise Unprocessable(f"run {run_id} has no step {from_step!r}; its steps are: "
                                f"{', '.join(names)}")
        if from_step not in spec.step_names:
            raise Unprocessable(f"step {from_step!r} is no longer in pipeline {spec.name!r} "
                                f"(its steps: {', '.join(spec.step_names)}); rerun instead")
        if spec.kind == "streaming":
            self._no_active_stream(spec.name, idempotency_key)
        reused = self._reuse_plan(run_id, steps, spec, from_step)
        return self._create(spec, trigger="restart", parent_run_id=run_id,
                            from_step=from_step, reused=reused,
                            resume_watermark=self._watermark(spec),
                            idempotency_key=idempotency_key, request=asked)

    def rerun(self, run_id: str, *, idempotency_key: str | None = None) -> str:
        """Request a run of the same pipeline executing every step (streaming: from the
        beginning, no watermark)."""
        run = self._run(run_id)
        self._not_active(run, "rerun")
        spec = self._spec_of(run)
        if spec.kind == "streaming":
            self._no_active_stream(spec.name, idempotency_key)
        return self._create(spec, trigger="rerun", parent_run_id=run_id,
                            idempotency_key=idempotency_key, request=f"rerun of run {run_id}")

    def resume(self, run_id: str, *, idempotency_key: str | None = None) -> str:
        """Streaming runs: request a run that continues from the pipeline's last committed
        watermark (``ctx.watermark``)."""
        return self._resume(run_id, idempotency_key, f"resume of run {run_id}")

    def _resume(self, run_id: str, idempotency_key: str | None, asked: str) -> str:
        run = self._run(run_id)
        if run.kind != "streaming":
            raise Unprocessable(f"run {run_id} is a {run.kind} run; only streaming runs resume "
                                "from a watermark (restart or rerun it)")
        self._not_active(run, "resumed")
        spec = self._spec_of(run)
        watermark = self._watermark(spec)
        if watermark is None:
            raise Unprocessable(f"pipeline {spec.name!r} has committed no watermark yet; "
                                "nothing to resume from (rerun it)")
        self._no_active_stream(spec.name, idempotency_key)
        return self._create(spec, trigger="resume", parent_run_id=run_id,
                            resume_watermark=watermark, idempotency_key=idempotency_key,
                            request=asked)

    def cancel(self, run_id: str, *, by: str | None = None,
               idempotency_key: str | None = None) -> RunRecord:
        """Cancel a ``requested``, ``running`` or ``paused`` run (also one of a pipeline
        no longer in the pipelines file): the run log records it ``cancelled`` with
        ``by`` and the time, and the executor running it stops its steps (shell steps:
        their process group is killed; call steps: their result is discarded). An
        executor in another process on the same file notices within a scheduler tick.
        Returns the cancelled record (``NotFound``; ``Conflict`` once finished,
        except for a repeat of the cancel that used the same ``idempotency_key``)."""
        run = self._run(run_id)
        if idempotency_key is not None and self._keys.get(idempotency_key) == run_id \
                and run.status is Status.CANCELLED:
            return run
        if run.status.is_terminal:
            raise Conflict(f"run {run_id} is {run.status}; only requested or running runs "
                              "can be cancelled")
        try:
            record = self.store.cancel_run(run_id, by=by)
        except ValueError as exc:  # it finished between the read and the write
            raise Conflict(str(exc)) from exc
        except KeyError as exc:
            raise NotFound(f"run {run_id} not found") from exc
        if idempotency_key is not None:
            self._remember(idempotency_key, run_id)
        self._executor.cancel(run_id)
        with self._finished:
            self._finished.notify_all()
        self._scheduler.wake()
        return self.store.get_run(run_id) or record

    def actions_for(self, run: RunRecord, steps: Sequence[StepRecord] | None = None
                    ) -> dict[str, Any]:
        """Which actions apply to ``run``, in ematix-flow's shape plus ``restart_steps``
        (every step of a finished run is a valid restart point) and ``cancel`` (true while
        it is requested or running). Pause is not supported. ``steps``: the run's steps
        when the caller has read them already (read here otherwise)."""
        actions: dict[str, Any] = {"pause": False, "resume": False, "restart_from_step": [],
                                   "rerun_full": False, "resume_from_watermark": False,
                                   "restart_steps": [], "cancel": run.status.is_active}
        if not run.status.is_terminal or run.pipeline not in self.pipelines:
            return actions
        spec = self.pipelines[run.pipeline]
        streaming = run.kind == "streaming"
        actions["rerun_full"] = True
        if run.status is Status.FAILED and not streaming and run.failed_step \
                and run.failed_step in spec.step_names:
            actions["restart_from_step"] = [run.failed_step]
        if streaming and run.status in (Status.FAILED, Status.CANCELLED):
            actions["resume_from_watermark"] = self.store.last_watermark(spec.name) is not None
        current = set(spec.step_names)
        if steps is None:
            steps = self.store.get_steps(run.run_id)
        actions["restart_steps"] = [s.name for s in steps if s.name in current]
        return actions

    def next_run_at(self, pipeline: str, now: datetime | None = None) -> datetime | None:
        """The pipeline's next scheduled fire as aware UTC (None: unscheduled or streaming)."""
        return self._scheduler.next_run_at(self._pipeline(pipeline), now)

    # ---- waiting and running in the foreground -------------------------------------------

    def wait(self, run_id: str, timeout: float = 30) -> RunRecord:
        """Block until the run is terminal and return it (``TimeoutError`` after
        ``timeout`` s; the run may be executed by this process or another one)."""
        deadline = time.monotonic() + timeout
        run = self._run(run_id)
        while not run.status.is_terminal:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"run {run_id} is still {run.status} after {timeout:g} s")
            with self._finished:
                self._finished.wait(min(left, 0.05))
            run = self._run(run_id)
        return run

    def run_once(self, pipeline: str) -> RunRecord:
        """Run ``pipeline`` now and block until it is terminal (``flowwidgets run``).
        Older requested runs of it that this claims on the way are executed too."""
        spec = self._pipeline(pipeline)
        run_id = self._create(spec, trigger="manual", wake=False)
        beating = threading.Event()
        beat = None
        if not self._started:  # no scheduler thread: keep our claim visibly alive
            beat = threading.Thread(target=self._beat, args=(beating,), daemon=True,
                                    name="flowwidgets-heartbeat")
            beat.start()
            self._lease.start()
        try:
            while True:
                run = self.store.get_run(run_id)
                if run is None or run.status is not Status.REQUESTED:
                    return self.wait(run_id, timeout=float("inf"))  # claimed elsewhere
                claimed = self.store.claim_requested(self.worker_id, pipelines=[spec.name])
                if claimed is None:
                    continue
                if claimed.run_id == run_id:
                    return self._executor.execute(claimed)
                self._executor.submit(claimed)
        finally:
            beating.set()
            if beat is not None:
                beat.join()
                self._lease.stop()

    def _beat(self, done: threading.Event) -> None:
        while True:
            try:
                self._lease.beat()
                if self._executor.cut_off_since is not None:
                    self._executor.settle_cut_off()
            except Exception:
                log.exception("heartbeat failed (worker %s)", self.worker_id)
            if done.wait(self.tick_s):
                return

    # ---- helpers -------------------------------------------------------------------------

    def _pipeline(self, name: str) -> PipelineSpec:
        if name not in self.pipelines:
            raise NotFound(f"no pipeline {name!r}; this runner has: "
                                   f"{', '.join(self.pipelines.names) or 'none'}")
        return self.pipelines[name]

    def _run(self, run_id: str) -> RunRecord:
        run = self.store.get_run(run_id)
        if run is None:
            raise NotFound(f"run {run_id} not found")
        return run

    def _spec_of(self, run: RunRecord) -> PipelineSpec:
        if run.pipeline not in self.pipelines:
            raise Unprocessable(f"pipeline {run.pipeline!r} of run {run.run_id} is not in this "
                                f"runner's pipelines ({', '.join(self.pipelines.names)})")
        return self.pipelines[run.pipeline]

    @staticmethod
    def _not_active(run: RunRecord, verb: str) -> None:
        if run.status.is_active:
            raise Conflict(f"run {run.run_id} is {run.status}; it can be {verb} once it "
                              "has finished")

    def _no_active_stream(self, pipeline: str, key: str | None) -> None:
        """One streaming run per pipeline at a time (a replayed key returns its run)."""
        for status in (Status.RUNNING, Status.REQUESTED):
            runs, _ = self.store.list_runs(pipeline=pipeline, status=status, limit=1)
            if runs:
                if key is not None and self._keys.get(key) == runs[0].run_id:
                    return
                raise Conflict(f"streaming pipeline {pipeline!r} already has an active "
                                  f"run {runs[0].run_id} ({status}); stop it first")

    def _watermark(self, spec: PipelineSpec) -> str | None:
        if spec.kind != "streaming":
            return None
        mark = self.store.last_watermark(spec.name)
        return None if mark is None else mark.value

    def _reuse_plan(self, run_id: str, steps: list[StepRecord], spec: PipelineSpec,
                    from_step: str) -> dict[str, str]:
        """Steps of the new run to reuse → source run id: every step outside ``from_step``
        and its downstream (in the old and the current DAG) whose output is stored; a step
        that cannot be reused is re-executed, and so is everything downstream of it."""
        old = {s.name: s for s in steps}
        children: dict[str, list[str]] = {}  # in the old DAG and the current one
        for name, deps in [*((s.name, s.depends_on) for s in steps),
                           *((s.name, s.depends_on) for s in spec.steps)]:
            for d in deps:
                children.setdefault(d, []).append(name)
        execute: set[str] = set()

        def add(name: str) -> None:  # each step is visited once: linear in the edges
            todo = [name]
            while todo:
                n = todo.pop()
                if n in execute:
                    continue
                execute.add(n)
                todo.extend(c for c in children.get(n, ()) if c not in execute)

        add(from_step)
        reused: dict[str, str] = {}
        for name in spec.step_names:  # declaration order; sources before what needs them
            if name in execute:
                continue
            source = self._stored_source(run_id, old.get(name))
            if source is None:
                add(name)
            else:
                reused[name] = source
        return {n: src for n, src in reused.items() if n not in execute}

    def _stored_source(self, run_id: str, step: StepRecord | None) -> str | None:
        """Where a step's output can be reused from (None: it cannot)."""
        if step is None or step.status is not Status.SUCCEEDED:
            return None
        for source in dict.fromkeys(s for s in (step.reused_from, run_id) if s):
            try:
                self.store.load_output(source, step.name)
            except KeyError:
                continue
            return source
        return None

    def _remember(self, key: str, run_id: str) -> None:
        self._keys[key] = run_id
        while len(self._keys) > _KEYS_KEPT:
            self._keys.popitem(last=False)

    def _create(self, spec: PipelineSpec, *, trigger: str, wake: bool = True,
                idempotency_key: str | None = None, request: str | None = None,
                **fields: Any) -> str:
        run_id, _ = self.store.create_run(pipeline=spec.name, kind=spec.kind,
                                          steps=pipeline_steps(spec), trigger=trigger,
                                          idempotency_key=idempotency_key,
                                          idempotency_request=request, **fields)
        if idempotency_key is not None:
            self._remember(idempotency_key, run_id)
        if wake:
            self._scheduler.wake()
        return run_id
