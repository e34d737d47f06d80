"""Hand-built runs for the timing and ETA tests: a diamond with known times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flowwidgets.models import Attempt, Run, RunDetail, Status, Step

T0 = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    """T0 plus ``seconds``."""
    return T0 + timedelta(seconds=seconds)


def step(name: str, start: float | None, end: float | None, *deps: str,
         status: Status = Status.SUCCEEDED, attempts: tuple[Attempt, ...] = (),
         reused_from: str | None = None) -> Step:
    """A step from ``start`` to ``end`` seconds after T0."""
    s, e = (at(start) if start is not None else None), (at(end) if end is not None else None)
    if not attempts and s is not None and not reused_from:
        attempts = (Attempt(1, status, s, e),)
    return Step(name, status, tuple(deps), s, e, None if s is None or e is None
                else int((e - s).total_seconds() * 1000), None, attempts, reused_from)


def run(run_id: str, steps: list[Step], *, status: Status = Status.SUCCEEDED,
        start: float = 0.0, end: float | None = None, pipeline: str = "diamond") -> RunDetail:
    """A run of ``steps``; it ends at the last step's end unless ``end`` says."""
    ends = [s.finished_at for s in steps if s.finished_at]
    fin = at(end) if end is not None else (max(ends) if ends and status.is_terminal else None)
    r = Run(run_id, pipeline, status, at(start), fin,
            int((fin - at(start)).total_seconds() * 1000) if fin else None)
    return RunDetail(r, tuple(steps))


def diamond(run_id: str = "r1", scale: float = 1.0) -> RunDetail:
    """a → slow (1.0 s), fast (0.2 s), side (0.2 s, queued behind fast) → d."""
    return run(run_id, [
        step("a", 0.0, 0.05 * scale),
        step("slow", 0.05 * scale, 1.05 * scale, "a"),
        step("fast", 0.05 * scale, 0.25 * scale, "a"),
        step("side", 0.25 * scale, 0.45 * scale, "a"),
        step("d", 1.05 * scale, 1.10 * scale, "slow", "fast", "side"),
    ])
