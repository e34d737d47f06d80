"""An Airflow dag run's detail: its task instances, the DAG's edges and the tries as
steps with dependencies and attempts, and the actions the run allows. Pure functions."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import Any

from flowwidgets.models import Actions, Attempt, Run, RunDetail, Status, Step
from flowwidgets.sources._airflow_parse import NOT_STARTED, TaskInstance

__all__ = ["actions_for", "build_detail"]

_MAPPED_ORDER = (Status.FAILED, Status.RUNNING, Status.PENDING, Status.SUCCEEDED,
                 Status.SKIPPED)
"""How a mapped task's instances combine into one step: the first status any has wins."""


def _order(tasks: dict[str, tuple[str, ...]], present: list[str]) -> list[str]:
    """``present`` task ids in a topological order of the DAG (ties by name)."""
    ups: dict[str, set[str]] = {t: set() for t in present}
    for t, downs in tasks.items():
        for d in downs:
            if d in ups and t in ups:
                ups[d].add(t)
    done: list[str] = []
    ready = sorted(t for t, u in ups.items() if not u)
    while ready:
        t = ready.pop(0)
        done.append(t)
        for d in sorted(tasks.get(t, ())):
            if d in ups and t in ups[d]:
                ups[d].discard(t)
                if not ups[d] and d not in done and d not in ready:
                    ready.append(d)
                    ready.sort()
    return done + sorted(t for t in present if t not in done)  # a cycle cannot happen


def _attempts(task_id: str, instances: tuple[TaskInstance, ...],
              tries: dict[tuple[str, int], tuple[TaskInstance, ...]],
              error: str | None = None) -> tuple[Attempt, ...]:
    out: list[Attempt] = []
    for ti in instances:
        history = tries.get((task_id, ti.map_index))
        if history is None:
            history = (ti,) if ti.try_number >= 1 and ti.describes_latest_try else ()
        for tr in history:
            if tr.try_number < 1 or tr.state in NOT_STARTED:
                continue  # try 0 never started (upstream failed); the next try not yet
            extra: dict[str, Any] = {"state": tr.state}
            if ti.map_index >= 0:
                extra["map_index"] = ti.map_index
            out.append(Attempt(number=tr.try_number, status=tr.status,
                               started_at=tr.started_at, finished_at=tr.finished_at,
                               step=task_id, extra=extra))
    out.sort(key=lambda a: (a.number, a.extra.get("map_index", -1)))
    if error:  # the error read from the task's log belongs to its latest failed try
        for i in range(len(out) - 1, -1, -1):
            if out[i].status is Status.FAILED:
                out[i] = replace(out[i], error=error)
                break
    return tuple(out)


def _step(task_id: str, instances: tuple[TaskInstance, ...], depends_on: tuple[str, ...],
          attempts: tuple[Attempt, ...], error: str | None) -> Step:
    mapped = any(ti.map_index >= 0 for ti in instances)
    statuses = {ti.status for ti in instances}
    status = next((s for s in _MAPPED_ORDER if s in statuses), Status.UNKNOWN)
    starts = [ti.started_at for ti in instances if ti.started_at is not None]
    ends = [ti.finished_at for ti in instances if ti.finished_at is not None]
    extra: dict[str, Any] = {"try_number": max(ti.try_number for ti in instances)}
    if mapped:
        extra["mapped"] = len(instances)
        extra["map_states"] = dict(sorted(Counter(ti.state for ti in instances).items()))
        finished = ends and status.is_terminal
        started, ended = (min(starts) if starts else None), (max(ends) if finished else None)
        duration = (int((ended - started).total_seconds() * 1000)
                    if started is not None and ended is not None else None)
    else:
        ti = instances[0]
        extra["state"] = ti.state
        started, ended, duration = ti.started_at, ti.finished_at, ti.duration_ms
        if ti.status is Status.UNKNOWN:
            extra["raw_status"] = ti.state
    if status is Status.PENDING:  # never started (``upstream_failed`` has fake times)
        started = ended = duration = None
    elif status is Status.RUNNING:
        ended = duration = None
    return Step(name=task_id, status=status, depends_on=depends_on, started_at=started,
                finished_at=ended, duration_ms=duration, error=error, attempts=attempts,
                extra=extra)


def build_detail(run: Run, instances: tuple[TaskInstance, ...],
                 tasks: dict[str, tuple[str, ...]],
                 tries: dict[tuple[str, int], tuple[TaskInstance, ...]],
                 errors: dict[str, str]) -> RunDetail:
    """A run's DAG from its task instances (mapped ones folded into one step), the DAG's
    edges (``downstream_task_ids`` inverted), each task's tries and the errors read from
    the failed tasks' logs."""
    by_task: dict[str, list[TaskInstance]] = {}
    for ti in sorted(instances, key=lambda t: (t.task_id, t.map_index)):
        by_task.setdefault(ti.task_id, []).append(ti)
    present = list(by_task)
    upstream: dict[str, set[str]] = {t: set() for t in present}
    for t, downs in tasks.items():
        for d in downs:
            if d in upstream and t in upstream:
                upstream[d].add(t)
    steps = []
    for task_id in _order(tasks, present):
        group = tuple(by_task[task_id])
        steps.append(_step(task_id, group, tuple(sorted(upstream[task_id])),
                           _attempts(task_id, group, tries, errors.get(task_id)),
                           errors.get(task_id)))
    failed = [s.name for s in steps if s.status is Status.FAILED]
    attempts = sorted((a for s in steps for a in s.attempts),
                      key=lambda a: (a.started_at is None, a.started_at or run.started_at,
                                     a.step or "", a.number))
    max_try = max((ti.try_number for ti in instances), default=0)
    summary = Run(run_id=run.run_id, pipeline=run.pipeline, status=run.status,
                  started_at=run.started_at, finished_at=run.finished_at,
                  duration_ms=run.duration_ms, attempts=max_try or None,
                  failed_step=failed[0] if failed else None, kind=run.kind,
                  trigger=run.trigger, extra=run.extra)
    return RunDetail(run=summary, steps=tuple(steps), attempts=tuple(attempts),
                     actions=actions_for(summary, steps),
                     error=errors.get(failed[0]) if failed else None,
                     extra={"restarts_in_place": True})


def actions_for(run: Run, steps: list[Step]) -> Actions:
    """Restart from any task of a finished run (suggesting the failed ones), rerun it
    whole; never while it is queued or running (then: cancel, i.e. mark it failed); no
    watermarks in Airflow."""
    reasons = {
        "resume_from_watermark": "Airflow has no watermarks to resume from",
        "restart": "Airflow restarts in place: the same dag run, with new tries of the "
                   "cleared task and everything downstream of it",
    }
    if not run.status.is_terminal:
        why = (f"the dag run is {run.extra.get('state') or run.status.value}: Airflow "
               "clears the tasks of a finished run")
        return Actions(reasons={**reasons, "restart": why, "rerun": why},
                       can_cancel=run.status.is_active)
    failed = tuple(s.name for s in steps if s.status is Status.FAILED)
    return Actions(restart_from_step=failed, rerun=True,
                   restart_steps=tuple(s.name for s in steps), reasons=reasons)
