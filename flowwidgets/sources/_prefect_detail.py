"""A Prefect flow run's detail: its task runs collapsed into steps, and its actions.

Task runs are collapsed into steps by ``task_key``: a retried flow adds new task-run rows
beside the old ones, and the newest row says the step's state (rows of the same flow
attempt are combined, for mapped tasks); every row that ran is an attempt (a row that
Prefect itself retried splits into one attempt per ``Running`` state). Pure functions.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from flowwidgets.models import Actions, Attempt, RunDetail, Status, Step
from flowwidgets.sources._prefect_parse import (
    NO_RESTART,
    NO_WATERMARK,
    PREFECT_TASK_STATES,
    RETRYABLE,
    FlowRunInfo,
    TaskRunInfo,
)

__all__ = ["actions_for", "build_detail", "collapse", "step_names"]


def step_names(rows: Iterable[TaskRunInfo]) -> dict[str, str]:
    """``task_key`` → step name: the task's display name, or the task key itself where
    two different tasks share a display name."""
    by_key: dict[str, str] = {}
    for r in sorted(rows, key=lambda r: r.created):
        by_key.setdefault(r.task_key, r.display_name)
    counts: dict[str, int] = {}
    for name in by_key.values():
        counts[name] = counts.get(name, 0) + 1
    return {k: (v if counts[v] == 1 else k) for k, v in by_key.items()}


def collapse(rows: tuple[TaskRunInfo, ...]) -> dict[str, tuple[TaskRunInfo, ...]]:
    """Step name → its rows, oldest first."""
    names = step_names(rows)
    out: dict[str, list[TaskRunInfo]] = {}
    for r in sorted(rows, key=lambda r: (r.created, r.id)):
        out.setdefault(names[r.task_key], []).append(r)
    return {k: tuple(v) for k, v in out.items()}


_COMBINE = (Status.FAILED, Status.RUNNING, Status.PENDING, Status.SUCCEEDED, Status.SKIPPED)


def _tries(r: TaskRunInfo, history: tuple[tuple[str, str | None, datetime | None], ...] | None
           ) -> list[tuple[Status, datetime | None, datetime | None, str | None, str | None]]:
    """The tries of one row: (status, started, finished, state name, error). A row Prefect
    retried itself (``run_count`` > 1) has one try per ``Running`` state in its history."""
    if r.run_count > 1 and history:
        out: list[tuple[Status, datetime | None, datetime | None, str | None, str | None]] = []
        for i, (stype, name, at) in enumerate(history):
            if stype != "RUNNING":
                continue
            end = history[i + 1] if i + 1 < len(history) else None
            end_type = end[0] if end else "RUNNING"
            status = (Status.FAILED if end_type == "SCHEDULED"  # AwaitingRetry: it failed
                      else PREFECT_TASK_STATES.get(end_type.lower(), Status.UNKNOWN))
            out.append((status, at, end[2] if end else None, end[1] if end else name, None))
        return out
    if r.run_count >= 1 or r.started_at is not None:
        return [(r.status, r.started_at, r.finished_at if r.status.is_terminal else None,
                 r.state_name, r.message if r.status is Status.FAILED else None)]
    return []  # never started (NotReady)


def _attempts(step: str, rows: tuple[TaskRunInfo, ...],
              states: dict[str, tuple[tuple[str, str | None, datetime | None], ...]]
              ) -> tuple[Attempt, ...]:
    """Attempts numbered per map item: a mapped task's items in one flow try are
    ``map_index`` 0, 1, ... and each counts its own tries across flow retries."""
    by_flow_try: dict[int, list[TaskRunInfo]] = {}
    for r in rows:
        by_flow_try.setdefault(r.flow_attempt, []).append(r)
    mapped = any(len(g) > 1 for k, g in by_flow_try.items() if k > 0)
    counts: dict[int, int] = {}
    out: list[Attempt] = []
    for flow_try in sorted(by_flow_try):
        for index, r in enumerate(by_flow_try[flow_try]):
            for status, started, finished, name, error in _tries(r, states.get(r.id)):
                counts[index] = counts.get(index, 0) + 1
                extra: dict[str, Any] = {"task_run_id": r.id, "flow_attempt": r.flow_attempt,
                                         "state_name": name}
                if mapped:
                    extra["map_index"] = index
                out.append(Attempt(number=counts[index], status=status, started_at=started,
                                   finished_at=finished, error=error, step=step, extra=extra))
    return tuple(out)


def _step(name: str, rows: tuple[TaskRunInfo, ...], deps: tuple[str, ...],
          attempts: tuple[Attempt, ...], flow: FlowRunInfo) -> Step:
    newest = max(rows, key=lambda r: (r.created, r.id))
    current = [r for r in rows if newest.flow_attempt > 0 and r.flow_attempt == newest.flow_attempt]
    current = current or [newest]
    statuses = {r.status for r in current}
    status = next((s for s in _COMBINE if s in statuses), Status.UNKNOWN)
    extra: dict[str, Any] = {"state_type": newest.state_type, "state_name": newest.state_name,
                             "task_key": newest.task_key, "task_runs": len(rows)}
    if len(current) > 1:
        extra["mapped"] = len(current)
    if (flow.status.is_active and flow.run_count > newest.flow_attempt
            and newest.flow_attempt > 0 and status is not Status.RUNNING):
        # the flow is on a later try that has not reached this task yet
        extra["previous_status"] = status.value
        status = Status.PENDING
    started = min((r.started_at for r in current if r.started_at), default=None)
    ended = max((r.finished_at for r in current if r.finished_at), default=None)
    if status is Status.PENDING:
        started = ended = None
    elif not status.is_terminal:
        ended = None
    duration = (sum(r.total_run_time_ms or 0 for r in current)
                if status.is_terminal and any(r.total_run_time_ms is not None for r in current)
                else None)
    error = next((r.message for r in reversed(current) if r.status is Status.FAILED), None)
    return Step(name=name, status=status, depends_on=deps, started_at=started,
                finished_at=ended, duration_ms=duration, error=error, attempts=attempts,
                extra=extra)


def build_detail(flow: FlowRunInfo, pipeline: str, rows: tuple[TaskRunInfo, ...],
                 states: dict[str, tuple[tuple[str, str | None, datetime | None], ...]]
                 ) -> RunDetail:
    """A flow run with its task runs as steps (see the module docstring)."""
    groups = collapse(rows)
    step_of = {r.id: name for name, rs in groups.items() for r in rs}
    steps: list[Step] = []
    for name, rs in groups.items():
        deps = sorted({step_of[u] for r in rs for u in r.upstream
                       if u in step_of and step_of[u] != name})
        steps.append(_step(name, rs, tuple(deps), _attempts(name, rs, states), flow))
    steps = _topological(steps)
    failed = [s for s in steps if s.status is Status.FAILED]
    run = flow.to_run(pipeline, failed[0].name if failed else None)
    attempts = sorted((a for s in steps for a in s.attempts),
                      key=lambda a: (a.started_at is None, a.started_at, a.step or "", a.number))
    error = failed[0].error if failed else None
    if error is None and run.status is Status.FAILED:
        error = flow.message
    return RunDetail(run=run, steps=tuple(steps), attempts=tuple(attempts),
                     actions=actions_for(flow), error=error,
                     extra={"retries_in_place": True, "state_message": flow.message})


def _topological(steps: list[Step]) -> list[Step]:
    """Steps in dependency order (Kahn's algorithm; ties keep their first-seen order)."""
    by_name = {s.name: s for s in steps}
    waiting = {s.name: {d for d in s.depends_on if d in by_name} for s in steps}
    order = [s.name for s in steps]
    done: list[Step] = []
    while waiting:
        ready = [n for n in order if n in waiting and not waiting[n]]
        if not ready:  # a cycle cannot come from Prefect; keep the rest as they are
            ready = [n for n in order if n in waiting]
        for n in ready:
            del waiting[n]
            done.append(by_name[n])
        for deps in waiting.values():
            deps.difference_update(ready)
    return done


def actions_for(flow: FlowRunInfo) -> Actions:
    """Retry (``rerun``) a failed, crashed or cancelled deployment run; cancel an active
    run (not one already cancelling); nothing else."""
    reasons = {"restart": NO_RESTART, "resume_from_watermark": NO_WATERMARK}
    cancel = flow.status.is_active and flow.state_type != "CANCELLING"
    if flow.deployment_id is None:
        reasons["rerun"] = ("this flow run was started by calling the flow, not from a "
                            "deployment: Prefect can only retry runs a deployment's runner "
                            "or worker picks up")
        return Actions(reasons=reasons, can_cancel=cancel)
    if flow.state_type not in RETRYABLE:
        reasons["rerun"] = (f"the flow run is {flow.state_name or flow.state_type}: Prefect "
                            "retries failed, crashed or cancelled runs (use Run now for a "
                            "new run)")
        return Actions(reasons=reasons, can_cancel=cancel)
    return Actions(rerun=True, reasons=reasons)
