"""When will a running run finish? The rest of its DAG, walked with each step's history.

Each step that has not finished gets the median (and, separately, the p90) of its own
durations over the last successful runs of its pipeline; a running step gets that minus
its elapsed time, floored at 0 (by default the median of its past durations longer than
the elapsed time, minus the elapsed: see :func:`estimate`). The remaining steps are then
scheduled in dependency order on the runner's workers (when the runner says how many;
otherwise all at once), and the last end is the estimate. A step with no history makes
the estimate *partial*: no number is invented, the steps are named instead
(:attr:`Eta.missing`).

:func:`estimate` is pure (a run, its pipeline's history, a clock); :func:`eta_plan` is the
Source plan behind ``src.eta(run_id)``.
"""

from __future__ import annotations

import heapq
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from flowwidgets._vocab import to_zone, zone_name
from flowwidgets.models import RunDetail, Status, format_time, parse_time
from flowwidgets.timing import dag_order

if TYPE_CHECKING:
    from flowwidgets.sources._base import Flavour, Plan

__all__ = ["HISTORY_RUNS", "Eta", "StepBasis", "estimate", "eta_plan", "format_eta",
           "step_durations"]

HISTORY_RUNS = 20
"""How many recent successful runs of the pipeline an estimate reads by default."""


@dataclass(frozen=True, slots=True)
class StepBasis:
    """What a step's estimate rests on: its median and p90 over ``runs`` past durations."""

    median_ms: int
    p90_ms: int
    runs: int


@dataclass(frozen=True, slots=True)
class Eta:
    """The estimated end of a run, with what it is based on."""

    run_id: str
    status: Status
    now: datetime
    finish_at: datetime | None
    """Median estimate of the run's end (None when partial, or for a run that ended
    without a time)."""
    finish_p90_at: datetime | None
    done: bool = False
    """True when the run has already ended (``finish_at`` is its end)."""
    missing: tuple[str, ...] = ()
    """Remaining steps with no successful history: the estimate is partial."""
    basis: dict[str, StepBasis] = field(default_factory=dict)
    history_runs: int = 0
    """How many past successful runs the step durations came from."""
    workers: int | None = None
    """How many steps the runner runs at once, when it says."""
    naive_finish_at: datetime | None = None
    """The naive estimate: the run's start plus its pipeline's median duration."""
    planned: dict[str, tuple[datetime, datetime]] = field(default_factory=dict)
    """Where each unfinished step is expected to run (median schedule): start, end."""

    @property
    def partial(self) -> bool:
        """True when some remaining step has no history (no number is given)."""
        return bool(self.missing)

    @property
    def remaining_ms(self) -> int | None:
        """Milliseconds from ``now`` to the median estimate."""
        return _ms(self.now, self.finish_at)

    @property
    def remaining_p90_ms(self) -> int | None:
        """Milliseconds from ``now`` to the p90 estimate."""
        return _ms(self.now, self.finish_p90_at)

    def describe(self) -> str:
        """One line: ``ETA 14:42:05 (in 3 min, p90 in 5 min)``, or why there is none."""
        return format_eta(self.to_dict())

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (times ISO-8601 ``Z``)."""
        return {
            "run_id": self.run_id, "status": self.status.value, "now": format_time(self.now),
            "finish_at": format_time(self.finish_at),
            "finish_p90_at": format_time(self.finish_p90_at), "done": self.done,
            "remaining_ms": self.remaining_ms, "remaining_p90_ms": self.remaining_p90_ms,
            "missing": list(self.missing), "partial": self.partial,
            "history_runs": self.history_runs, "workers": self.workers,
            "naive_finish_at": format_time(self.naive_finish_at),
            "planned": {n: [format_time(a), format_time(b)] for n, (a, b) in self.planned.items()},
        }


def format_eta(d: dict[str, Any] | None, zone: str = "UTC") -> str:
    """The one-line wording of an :meth:`Eta.to_dict` (shared by the views and the TUI),
    its clock in ``zone`` ("UTC" or "local", this machine's)."""
    if not d:
        return ""
    if d.get("done"):
        return ""
    missing = d.get("missing") or []
    if missing:
        n = len(missing)
        return f"ETA partial: {n} step{'s' if n != 1 else ''} ha{'ve' if n != 1 else 's'} " \
               "no history"
    if not d.get("history_runs"):
        return "ETA unknown: no successful run yet"
    fin, rem, p90 = d.get("finish_at"), d.get("remaining_ms"), d.get("remaining_p90_ms")
    if fin is None or rem is None:
        return ""
    clock, name = fin[11:19], "UTC"
    at = parse_time(fin) if zone != "UTC" else None
    if at is not None:
        at = to_zone(at, zone)
        clock, name = at.strftime("%H:%M:%S"), zone_name(zone, at)
    text = f"ETA {clock} {name} (in {_span(rem)}"
    if p90 is not None and p90 > rem:
        text += f", p90 in {_span(p90)}"
    return text + ")"


def _span(ms: int) -> str:
    s = max(0, round(ms / 1000))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{round(s / 60)} min"
    h, m = divmod(round(s / 60), 60)
    return f"{h} h {m:02d} min"


def step_durations(history: Iterable[RunDetail]) -> dict[str, list[int]]:
    """Each step's durations (ms) over the successful runs given: succeeded, not reused,
    with a start and an end."""
    out: dict[str, list[int]] = {}
    for run in history:
        if run.status is not Status.SUCCEEDED:
            continue
        for s in run.steps:
            if s.status is not Status.SUCCEEDED or s.reused_from:
                continue
            ms = s.duration_ms if s.duration_ms is not None else _ms(s.started_at, s.finished_at)
            if ms is not None and ms >= 0:
                out.setdefault(s.name, []).append(ms)
    return out


def _p90(values: Sequence[int]) -> int:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.9 * (len(ordered) - 1))))]


def estimate(detail: RunDetail, history: Iterable[RunDetail], *, now: datetime | None = None,
             workers: int | None = None, runs: int = HISTORY_RUNS,
             conditional: bool = True) -> Eta:
    """Estimate when ``detail`` ends from its pipeline's ``history`` (newest first; only
    the last ``runs`` successful ones count, never ``detail`` itself).

    A running step's remaining time: with ``conditional`` (default) the median (p90) of
    its past durations *longer than its elapsed time*, minus the elapsed — which is the
    plain median minus elapsed until the step outlives its shortest past runs, and stops a
    slow step from counting as done the moment it passes its median; once it outlives
    every past run, 0. ``conditional=False``: median (p90) minus elapsed, floored at 0."""
    now = now or datetime.now(UTC)
    ok = [h for h in history if h.status is Status.SUCCEEDED and h.run_id != detail.run_id]
    ok = ok[:runs]
    durations = step_durations(ok)
    basis = {n: StepBasis(int(statistics.median(v)), _p90(v), len(v))
             for n, v in durations.items()}
    run = detail.run
    whole = [d for h in ok if (d := h.run.duration_ms) is not None]
    naive = (run.started_at + timedelta(milliseconds=statistics.median(whole))
             if whole and run.started_at else None)
    common = dict(basis=basis, history_runs=len(ok), workers=workers, naive_finish_at=naive)
    if run.status.is_terminal:
        return Eta(run.run_id, run.status, now, run.finished_at, run.finished_at, done=True,
                   **common)  # type: ignore[arg-type]
    steps = dag_order(detail.steps)
    names = {s.name for s in steps}
    blocked = _blocked(steps, names)
    todo = [s for s in steps if not s.status.is_terminal and not s.reused_from
            and s.name not in blocked]
    missing = tuple(s.name for s in todo if s.name not in basis)
    if missing or not ok:
        return Eta(run.run_id, run.status, now, None, None, missing=missing,
                   **common)  # type: ignore[arg-type]
    ends = []
    planned: dict[str, tuple[datetime, datetime]] = {}
    for pick in ("median_ms", "p90_ms"):
        left: dict[str, float] = {}
        for s in todo:
            full = getattr(basis[s.name], pick)
            if s.status is Status.RUNNING and s.started_at is not None:
                elapsed = (now - s.started_at).total_seconds() * 1000
                left[s.name] = _left_of_running(durations[s.name], full, elapsed, pick,
                                                conditional)
            else:
                left[s.name] = float(full)
        running = {s.name for s in todo if s.status is Status.RUNNING}
        deps = {s.name: [d for d in s.depends_on if d in names and d in left]
                for s in todo}
        slots: dict[str, tuple[float, float]] = {}
        ends.append(now + timedelta(milliseconds=_schedule(todo, deps, left, running,
                                                           workers, slots)))
        if not planned:
            planned = {n: (now + timedelta(milliseconds=a), now + timedelta(milliseconds=b))
                       for n, (a, b) in slots.items()}
    return Eta(run.run_id, run.status, now, ends[0], ends[1], planned=planned,
               **common)  # type: ignore[arg-type]


def _left_of_running(past: list[int], full: float, elapsed: float, pick: str,
                     conditional: bool) -> float:
    if not conditional:
        return max(0.0, full - elapsed)
    longer = [d for d in past if d > elapsed]
    if not longer:
        return 0.0
    q = statistics.median(longer) if pick == "median_ms" else _p90(longer)
    return max(0.0, q - elapsed)


def _blocked(steps: list[Any], names: set[str]) -> set[str]:
    """Steps that will not run because a dependency failed or was skipped (transitively)."""
    out: set[str] = set()
    for s in steps:  # DAG order: dependencies first
        if s.status.is_terminal:
            continue
        for d in s.depends_on:
            dep = next((x for x in steps if x.name == d), None)
            if d in out or (dep is not None and dep.status in (
                    Status.FAILED, Status.CANCELLED, Status.SKIPPED)):
                out.add(s.name)
                break
    return out


def _schedule(todo: list[Any], deps: dict[str, list[str]], left: dict[str, float],
              running: set[str], workers: int | None,
              slots: dict[str, tuple[float, float]]) -> float:
    """List-schedule the remaining steps from t=0; the time the last one ends. ``slots``
    receives each step's (start, end)."""
    cap = workers if workers and workers > 0 else len(todo) or 1
    order = {s.name: i for i, s in enumerate(todo)}
    waiting = {n: set(ds) for n, ds in deps.items()}
    events: list[tuple[float, int, str]] = []
    for n in running:
        heapq.heappush(events, (left[n], order[n], n))
        slots[n] = (0.0, left[n])
    started = set(running)
    t, last = 0.0, 0.0
    while True:
        free = cap - len(events)
        ready = [n for n in order if n not in started and not waiting[n]]
        for n in ready[:max(0, free)]:
            started.add(n)
            heapq.heappush(events, (t + left[n], order[n], n))
            slots[n] = (t, t + left[n])
        if not events:
            break
        t, _, done = heapq.heappop(events)
        last = max(last, t)
        for w in waiting.values():
            w.discard(done)
    return last


def eta_plan(flavour: Flavour, run_id: str, runs: int,
             now: datetime | None = None) -> Plan[Eta]:
    """The plan behind ``src.eta``: the run, then its pipeline's successful history."""
    detail = yield from flavour.run(run_id)
    history: tuple[RunDetail, ...] = ()
    if not detail.run.status.is_terminal:
        history = yield from flavour.step_history(detail.run.pipeline, Status.SUCCEEDED,
                                                  runs + 1)
    workers = next((w for h in history if isinstance(w := h.extra.get("max_workers"), int)),
                   None)
    return estimate(detail, history, now=now, workers=workers, runs=runs)


def _ms(a: datetime | None, b: datetime | None) -> int | None:
    if a is None or b is None:
        return None
    return int(round((b - a).total_seconds() * 1000))
