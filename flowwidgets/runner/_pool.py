"""The executor's moving parts: a small thread pool and the per-run scheduling state.

:class:`RunState` keeps an indegree map over the run's recorded DAG: a completion touches
only the finished step's children, so scheduling a 1,000-step DAG is linear in its edges.
"""

from __future__ import annotations

import heapq
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from flowwidgets.models import Status
from flowwidgets.runner.spec import PipelineSpec, StepSpec
from flowwidgets.runner.store import RunLog, RunRecord, StepRecord

__all__ = ["RunState", "ThreadPool", "topological_order"]

log = logging.getLogger(__name__)


class ThreadPool:
    """``size`` daemon worker threads fed by one queue, started as work arrives.

    Daemon threads, unlike ``concurrent.futures``' workers, never hold the interpreter
    open at exit when a user's step function hangs.
    """

    def __init__(self, size: int, name: str):
        self._size = size
        self._name = name
        self._queue: queue.SimpleQueue[tuple[Callable[..., Any], tuple[Any, ...]] | None] = (
            queue.SimpleQueue())
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        """Queue ``fn(*args)``; ``RuntimeError`` after :meth:`shutdown`."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the pool is shut down")
            self._queue.put((fn, args))
            if len(self._threads) < self._size:
                t = threading.Thread(target=self._work, daemon=True,
                                     name=f"{self._name}-{len(self._threads)}")
                self._threads.append(t)
                t.start()

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            fn, args = item
            try:
                fn(*args)
            except BaseException:  # tasks handle their own errors; never kill a worker
                log.exception("task %r failed", fn)

    def shutdown(self, timeout: float) -> list[threading.Thread]:
        """Let queued work finish, then end the workers; returns those still busy after
        ``timeout`` seconds (left running, as daemons)."""
        with self._lock:
            self._closed = True
            threads = list(self._threads)
        for _ in threads:
            self._queue.put(None)
        deadline = time.monotonic() + timeout
        for t in threads:
            t.join(max(0.0, deadline - time.monotonic()))
        return [t for t in threads if t.is_alive()]


def topological_order(steps: list[StepRecord]) -> list[str]:
    """Step names in dependency order, ties broken by declaration position (a step whose
    dependency is missing or in a cycle comes last, in position order)."""
    position = {s.name: s.position for s in steps}
    indegree = {s.name: sum(1 for d in s.depends_on if d in position) for s in steps}
    children: dict[str, list[str]] = {s.name: [] for s in steps}
    for s in steps:
        for d in s.depends_on:
            if d in children:
                children[d].append(s.name)
    heap = [(position[n], n) for n, k in indegree.items() if k == 0]
    heapq.heapify(heap)
    order: list[str] = []
    while heap:
        _, name = heapq.heappop(heap)
        order.append(name)
        for c in children[name]:
            indegree[c] -= 1
            if indegree[c] == 0:
                heapq.heappush(heap, (position[c], c))
    seen = set(order)
    order += sorted((n for n in position if n not in seen), key=position.__getitem__)
    return order


class RunState:
    """What the executor knows about one run while it executes it (thread-safe)."""

    def __init__(self, run: RunRecord, spec: PipelineSpec | None, steps: list[StepRecord],
                 stop_event: threading.Event):
        self.run = run
        self.spec = spec
        self.specs: dict[str, StepSpec] = {} if spec is None else {s.name: s for s in spec.steps}
        """The spec's steps by name (``PipelineSpec.step`` scans them: quadratic per run)."""
        self.stop_event = stop_event
        self.deps = {s.name: tuple(s.depends_on) for s in steps}
        self._steps = steps  # for the topological index, built when first needed
        self._index: dict[str, int] | None = None
        self.done = {s.name for s in steps if s.status is Status.SUCCEEDED}
        self.todo = [s.name for s in sorted(steps, key=lambda s: s.position)
                     if s.name not in self.done]
        self.children: dict[str, list[str]] = {}
        for s in steps:
            for d in s.depends_on:
                self.children.setdefault(d, []).append(s.name)
        self.indegree = {n: sum(1 for d in self.deps[n] if d not in self.done)
                         for n in self.todo}
        self.running: set[str] = set()
        self.failed: dict[str, str | None] = {}
        self.outputs: dict[str, Any] = {}
        self.attempts: dict[str, int] = {}
        """The number of each step's latest attempt."""
        self.watermark: str | None = run.resume_watermark
        """The last watermark committed by this run (else the one it resumed from)."""
        self.abandoned = False
        """Given up (runner stopping, or cancelled): its steps write nothing more."""
        self.cancel_event = threading.Event()
        """Set when the run is cancelled: its shell steps are killed, call steps see
        ``ctx.should_stop()``."""
        self.shells = 0
        """Shell commands of this run running now."""
        self.lost = threading.Event()
        """Set when a peer recovered the run: its shell steps are killed."""
        self.cut_short: list[str] = []
        """Steps the runner's stop killed (recorded as cancelled)."""
        self.finished = threading.Event()
        self.final: RunRecord | None = None
        self.waiting: deque[str] = deque()
        """Steps handed to the pool and not started yet (oldest first): each has a pool
        task that starts the oldest one left, unless a worker took it first."""
        self._lock = threading.Lock()

    @property
    def index(self) -> dict[str, int]:
        """Each step's position in topological order (only a failure or a stop needs it:
        built then, once)."""
        if self._index is None:
            self._index = {name: i for i, name in enumerate(topological_order(self._steps))}
        return self._index

    def initial_ready(self) -> list[str]:
        """Steps that can start at once (marked running)."""
        with self._lock:
            ready = [n for n in self.todo if self.indegree[n] == 0]
            self.running.update(ready)
            return ready

    def ready_after(self, name: str) -> list[str]:
        """The children of ``name`` whose only dependency left is ``name`` (they become
        ready when it succeeds), none once the run has a failure, stops or is given up:
        the executor starts the first of them in the transaction that records ``name``'s
        success and runs it next on the same worker."""
        with self._lock:
            if self.failed or self.abandoned or self.stop_event.is_set():
                return []
            indegree = self.indegree
            return [c for c in self.children.get(name, ()) if indegree.get(c) == 1]

    def add_waiting(self, name: str, first: bool = False) -> None:
        """Queue a step for a worker (see :attr:`waiting`), last or ``first``."""
        with self._lock:
            if first:
                self.waiting.appendleft(name)
            else:
                self.waiting.append(name)

    def next_waiting(self) -> str | None:
        """The oldest step waiting for a worker (for its pool task), or None."""
        with self._lock:
            return self.waiting.popleft() if self.waiting else None

    def take_waiting(self) -> str | None:
        """The oldest step waiting for a worker, for a worker whose step just ended
        with no child to run next: started with that end, it runs next on the same
        worker. None once the run has a failure, stops or is given up (a waiting step
        is then left to its pool task, as before)."""
        with self._lock:
            if self.failed or self.abandoned or self.stop_event.is_set() or not self.waiting:
                return None
            return self.waiting.popleft()

    def step_done(self, name: str, ok: bool | None, error: str | None, stopping: bool,
                  started: list[str] | None = None) -> tuple[list[str], bool]:
        """Record a step's end (``ok`` None: it never started and stays pending, or the
        runner's stop cut it short); returns (steps to start now, whether the run is
        over). ``started``: children already started with this step's end (see
        :meth:`ready_after`); they come first and are returned even when a failure or
        the stop arrived meanwhile (their attempt is open: they run or record their
        cancellation)."""
        with self._lock:
            self.running.discard(name)
            newly: list[str] = []
            if ok is None:
                if error is not None:  # cut short by the stop
                    self.cut_short.append(name)
            elif ok:
                self.done.add(name)
                for child in self.children.get(name, ()):
                    if child in self.indegree:
                        self.indegree[child] -= 1
                        if self.indegree[child] == 0:
                            newly.append(child)
            else:
                self.failed[name] = error
            ready = [] if self.failed or stopping or self.abandoned else newly
            if started:
                ready = started + [c for c in ready if c not in started]
            self.running.update(ready)
            return ready, not self.running and not self.abandoned

    def outcome(self, stopping: bool) -> tuple[Status, str | None, str | None]:
        """(status, failed_step, error) for the run, once nothing is running."""
        with self._lock:
            if self.failed:
                index = self.index
                first = min(self.failed, key=lambda n: index.get(n, -1))
                return Status.FAILED, first or None, self.failed[first]
            left = [n for n in self.todo if n not in self.done]
            if not left:
                if stopping and self.run.kind == "streaming":
                    return Status.CANCELLED, None, None
                return Status.SUCCEEDED, None, None
            if stopping:
                return Status.CANCELLED, None, f"runner stopped before {', '.join(left)} ran" \
                    if not self.cut_short else (f"runner stopped while "
                                                f"{', '.join(self.cut_short)} still ran")
            return (Status.FAILED, None,
                    f"steps {', '.join(left)} could not start: a dependency never finished")

    def output(self, store: RunLog, name: str) -> Any:
        """An upstream step's output (from this run, or copied from the run it reused)."""
        with self._lock:
            if name in self.outputs:
                return self.outputs[name]
        value = store.load_output(self.run.run_id, name)
        with self._lock:
            self.outputs[name] = value
        return value

    def set_output(self, name: str, value: Any) -> None:
        """Keep a step's output for its downstream steps."""
        with self._lock:
            self.outputs[name] = value

    def abandon(self) -> list[str]:
        """Give the run up (runner stopping); returns the steps still running."""
        with self._lock:
            self.abandoned = True
            index = self.index
            return sorted(self.running, key=lambda n: index.get(n, 0))

