"""A run's time: segments per attempt, waits, the critical path and slack. Pure functions.

Everything here reads a :class:`~flowwidgets.models.RunDetail` and nothing else, so every
Source's runs are timed the same way and the JS view, the static SVG and the tests share
one computation.

- A *segment* is one attempt of a step from its start to its end (``None`` end while it
  runs). A step without attempts but with its own start/end is one segment; a step with no
  times at all has none (the runner did not say: shown as such, never guessed).
- The *wait* of a step is its first start minus the moment it became ready (the latest end
  of its dependencies, or the run's start for a root step) when the runner gives all those
  times; otherwise ``None``.
- The *critical path* is the chain of steps that decided when the run ended: from the
  step that finished last, walk back through the dependency that finished last.
- The *slack* of a finished step off the path is how much longer it could have taken
  without delaying the run: the earliest start of its dependants (or the run's end for a
  leaf) minus its end, minimised over its dependants' chains (computed backward).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flowwidgets.models import RunDetail, Status, Step

__all__ = ["Segment", "StepTiming", "Timing", "dag_order", "timing"]


@dataclass(frozen=True, slots=True)
class Segment:
    """One attempt of a step on the time axis (``end`` None while it runs)."""

    attempt: int
    status: Status
    start: datetime
    end: datetime | None


@dataclass(frozen=True, slots=True)
class StepTiming:
    """A step's place in time: its segments, its wait, its slack, whether it is critical."""

    name: str
    status: Status
    segments: tuple[Segment, ...] = ()
    ready_at: datetime | None = None
    """When all its dependencies were done (None when a dependency gave no end)."""
    wait_ms: int | None = None
    """Ready but not started yet, in ms (None when the runner gives no times)."""
    slack_ms: int | None = None
    """How much longer it could have taken without delaying the run (None: unknown or
    on the critical path)."""
    critical: bool = False
    reused_from: str | None = None

    @property
    def start(self) -> datetime | None:
        """The start of its first attempt."""
        return self.segments[0].start if self.segments else None

    @property
    def end(self) -> datetime | None:
        """The end of its last attempt (None while it runs or when unknown)."""
        return self.segments[-1].end if self.segments else None


@dataclass(frozen=True, slots=True)
class Timing:
    """The timing of one run: its steps in DAG order and the critical path."""

    run_id: str
    start: datetime | None
    end: datetime | None
    steps: tuple[StepTiming, ...] = ()
    critical_path: tuple[str, ...] = ()
    """Step names from the first to the last on the path."""
    critical_ms: int | None = None
    """Wall time from the path's first start to its last end."""
    untimed: tuple[str, ...] = field(default=())
    """Steps that ran (or are done) but whose runner gave no times."""

    @property
    def duration_ms(self) -> int | None:
        """The run's wall time, or None while it runs."""
        return _ms(self.start, self.end)

    @property
    def critical_share(self) -> float | None:
        """The critical path's wall time as a share (0–1) of the run's."""
        total = self.duration_ms
        if not total or self.critical_ms is None:
            return None
        return min(1.0, self.critical_ms / total)

    def step(self, name: str) -> StepTiming:
        """The timing of step ``name`` (``KeyError`` naming the steps otherwise)."""
        for s in self.steps:
            if s.name == name:
                return s
        raise KeyError(f"run {self.run_id} has no step {name!r}; steps: "
                       f"{[s.name for s in self.steps]}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: times as epoch milliseconds (what the views draw from)."""
        return {
            "run_id": self.run_id, "start": _epoch(self.start), "end": _epoch(self.end),
            "critical_path": list(self.critical_path), "critical_ms": self.critical_ms,
            "critical_share": self.critical_share, "untimed": list(self.untimed),
            "steps": [{
                "name": s.name, "status": s.status.value, "critical": s.critical,
                "wait_ms": s.wait_ms, "slack_ms": s.slack_ms, "reused_from": s.reused_from,
                "ready_at": _epoch(s.ready_at),
                "segments": [{"attempt": g.attempt, "status": g.status.value,
                              "start": _epoch(g.start), "end": _epoch(g.end)}
                             for g in s.segments],
            } for s in self.steps],
        }


def dag_order(steps: Iterable[Step]) -> list[Step]:
    """Steps in a topological order that keeps the runner's order among equals (a
    dependency on an unknown step is ignored; a cycle keeps its input order)."""
    steps = list(steps)
    names = {s.name for s in steps}
    placed: set[str] = set()
    out: list[Step] = []
    pending = steps
    while pending:
        rest = []
        for s in pending:
            if all(d in placed or d not in names for d in s.depends_on):
                out.append(s)
                placed.add(s.name)
            else:
                rest.append(s)
        if len(rest) == len(pending):  # a cycle: keep the rest as given
            out.extend(rest)
            break
        pending = rest
    return out


def _segments(step: Step) -> tuple[Segment, ...]:
    if step.reused_from:
        return ()
    segs = [Segment(a.number, a.status, a.started_at, a.finished_at)
            for a in sorted(step.attempts, key=lambda a: a.number) if a.started_at is not None]
    if not segs and step.started_at is not None:
        segs = [Segment(1, step.status, step.started_at, step.finished_at)]
    if segs and step.status.is_terminal and segs[-1].end is None and step.finished_at:
        last = segs[-1]
        segs[-1] = Segment(last.attempt, last.status, last.start, step.finished_at)
    return tuple(segs)


def timing(detail: RunDetail, now: datetime | None = None) -> Timing:
    """Time a run: segments, waits, the critical path and slack of each step. For a run
    still going, ``now`` ends its running steps for the path so far (without it, only
    finished steps count)."""
    steps = dag_order(detail.steps)
    segs = {s.name: _segments(s) for s in steps}
    names = set(segs)
    deps = {s.name: [d for d in s.depends_on if d in names] for s in steps}
    end = {n: (g[-1].end if g else None) for n, g in segs.items()}
    start = {n: (g[0].start if g else None) for n, g in segs.items()}
    run_start = detail.run.started_at or min((t for t in start.values() if t), default=None)
    run_end = detail.run.finished_at if detail.run.status.is_terminal else None

    ready: dict[str, datetime | None] = {}
    for s in steps:
        ds = deps[s.name]
        if not ds:
            ready[s.name] = run_start
        elif all(end[d] is not None for d in ds):
            ready[s.name] = max(end[d] for d in ds)  # type: ignore[type-var]
        else:
            ready[s.name] = None

    so_far = dict(end)
    if run_end is None and now is not None:
        for s in steps:
            if so_far[s.name] is None and start[s.name] is not None and s.status.is_active:
                so_far[s.name] = now
    path = _critical_path(steps, deps, so_far, start)
    on_path = set(path)
    slack = _slack(steps, deps, start, end, run_end or _last(end.values()), on_path)
    out = []
    for s in steps:
        r, st = ready[s.name], start[s.name]
        wait = max(0, _ms(r, st) or 0) if r is not None and st is not None else None
        out.append(StepTiming(s.name, s.status, segs[s.name], r, wait, slack.get(s.name),
                              s.name in on_path, s.reused_from))
    crit_ms = _ms(start[path[0]], so_far[path[-1]]) if path else None
    untimed = tuple(s.name for s in steps if not segs[s.name] and not s.reused_from
                    and s.status not in (Status.PENDING, Status.SKIPPED))
    return Timing(detail.run_id, run_start, run_end, tuple(out), tuple(path), crit_ms, untimed)


def _critical_path(steps: list[Step], deps: dict[str, list[str]],
                   end: dict[str, datetime | None],
                   start: dict[str, datetime | None]) -> list[str]:
    finished = [(t, i) for i, s in enumerate(steps) if (t := end[s.name]) is not None]
    if not finished:
        return []
    name = steps[max(finished)[1]].name
    path = [name]
    seen = {name}
    while True:
        timed = [(t, d) for d in deps[name] if (t := end[d]) is not None and d not in seen]
        if not timed:
            break
        name = max(timed)[1]
        path.append(name)
        seen.add(name)
    path.reverse()
    return path


def _slack(steps: list[Step], deps: dict[str, list[str]],
           start: dict[str, datetime | None], end: dict[str, datetime | None],
           run_end: datetime | None, on_path: set[str]) -> dict[str, int]:
    """Total slack, backward: latest allowed end = min over dependants of their latest
    allowed start (their own latest end minus their duration); run end for a leaf."""
    kids: dict[str, list[str]] = {s.name: [] for s in steps}
    for n, ds in deps.items():
        for d in ds:
            kids[d].append(n)
    latest_end: dict[str, datetime | None] = {}
    for s in reversed(steps):
        n = s.name
        bounds: list[datetime] = []
        known = True
        for k in kids[n]:
            le, ks, ke = latest_end.get(k), start[k], end[k]
            if le is None or ks is None or ke is None:
                known = False
                break
            bounds.append(le - (ke - ks))
        if not kids[n]:
            known, bounds = run_end is not None, [run_end] if run_end is not None else []
        latest_end[n] = min(bounds) if known and bounds else None
    out: dict[str, int] = {}
    for s in steps:
        n, le = s.name, latest_end[s.name]
        if n in on_path or le is None or end[n] is None:
            continue
        out[n] = max(0, _ms(end[n], le) or 0)
    return out


def _last(values: Iterable[datetime | None]) -> datetime | None:
    return max((v for v in values if v is not None), default=None)


def _ms(a: datetime | None, b: datetime | None) -> int | None:
    if a is None or b is None:
        return None
    return int(round((b - a).total_seconds() * 1000))


def _epoch(t: datetime | None) -> int | None:
    return None if t is None else int(round(t.timestamp() * 1000))
