"""A Dagster run's detail: steps from its execution plan and step stats, errors from its
event log, the step log tail, the actions it allows. Pure functions.

- Steps and ``depends_on`` come from the run's execution plan (its op graph, step keys as
  Dagster names them); a step absent from ``stepStats`` never started: ``pending``, or, in
  a re-execution that did not select it, ``succeeded`` with ``reused_from`` the parent run
  (Dagster loads its stored output instead of running it).
- Attempts are ``stepStats.attempts``: every attempt but the last failed (Dagster retries
  after a failure); the last has the step's status.
- A step's error is its last ``ExecutionStepFailureEvent``: the user's exception and stack
  (``error.cause``; the top level is Dagster's wrapper), else the wrapper itself, laid out
  as Python prints a traceback (the exception on the last line).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flowwidgets.models import Actions, Attempt, RunDetail, Status, Step, format_time
from flowwidgets.sources import _fields as F
from flowwidgets.sources._dagster_parse import DAGSTER_STEP_STATES, RunInfo

__all__ = [
    "NO_RESUME",
    "Event",
    "RunExtras",
    "actions_for",
    "build_detail",
    "downstream",
    "format_step_log",
    "parse_events",
    "parse_run_extras",
    "restartable",
]

NO_RESUME = "Dagster has no watermarks to resume from"
_TAIL = 64_000
"""Characters of a step log kept (its end)."""


@dataclass(frozen=True, slots=True)
class Event:
    """One event of a run's log, as far as the detail needs it."""

    kind: str
    step: str | None
    message: str
    level: str | None
    at: datetime | None
    error: str | None = None
    file_key: str | None = None
    step_keys: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RunExtras:
    """What a run's detail query adds to its summary."""

    plan: dict[str, tuple[str, ...]]
    """Step key → the step keys it depends on, in plan order."""
    stats: dict[str, dict[str, Any]]
    to_execute: tuple[str, ...] | None
    can_terminate: bool
    """Dagster says the run can be terminated now and this user may."""
    may_reexecute: bool
    run_config: Any


def _error_text(err: dict[str, Any] | None, ep: str, where: str) -> str | None:
    """Dagster's PythonError as text: the user's exception (``cause``) when there is one,
    its message and stack."""
    if not err:
        return None
    cause = F.obj_or_none(err, "cause", ep, where)
    if cause:
        err, where = cause, f"{where}.cause"
    message = (F.s(err, "message", ep, where) or "").strip()
    stack = "".join(str(s) for s in F.need_list(err.get("stack") or [], ep, f"{where}.stack"))
    if stack:  # as Python prints it: the exception last (what one-line views show)
        return f"Traceback (most recent call last):\n{stack.rstrip()}\n{message}"
    return message or None


def parse_events(conn: dict[str, Any], ep: str, where: str) -> tuple[tuple[Event, ...],
                                                                     str | None, bool]:
    """An ``EventConnection``: its events, cursor and ``hasMore``."""
    out: list[Event] = []
    for n, ev in enumerate(F.need_list(F.req(conn, "events", ep, where), ep,
                                       f"{where}.events")):
        w = f"{where}.events[{n}]"
        ev = F.need_obj(ev, ep, w)
        ts = F.s(ev, "timestamp", ep, w)
        at = None
        if ts:
            try:
                at = F.t({"t": float(ts) / 1000}, "t", ep, w)
            except ValueError:
                at = None
        out.append(Event(kind=F.s(ev, "__typename", ep, w, required=True) or "",
                         step=F.s(ev, "stepKey", ep, w), message=F.s(ev, "message", ep, w) or "",
                         level=F.s(ev, "level", ep, w), at=at,
                         error=_error_text(F.obj_or_none(ev, "error", ep, w), ep, f"{w}.error"),
                         file_key=F.s(ev, "fileKey", ep, w),
                         step_keys=F.strs(ev, "stepKeys", ep, w)))
    return tuple(out), F.s(conn, "cursor", ep, where), F.b(conn, "hasMore", ep, where)


def parse_run_extras(run: dict[str, Any], ep: str, where: str) -> RunExtras:
    """The execution plan, step stats and flags of a ``Run``."""
    plan: dict[str, tuple[str, ...]] = {}
    ex = F.obj_or_none(run, "executionPlan", ep, where)
    if ex is not None:
        for n, st in enumerate(F.need_list(F.req(ex, "steps", ep, f"{where}.executionPlan"),
                                           ep, f"{where}.executionPlan.steps")):
            sw = f"{where}.executionPlan.steps[{n}]"
            st = F.need_obj(st, ep, sw)
            deps: list[str] = []
            for k, inp in enumerate(F.need_list(st.get("inputs") or [], ep, f"{sw}.inputs")):
                iw = f"{sw}.inputs[{k}]"
                inp = F.need_obj(inp, ep, iw)
                for m, dep in enumerate(F.need_list(inp.get("dependsOn") or [], ep,
                                                    f"{iw}.dependsOn")):
                    deps.append(F.s(F.need_obj(dep, ep, f"{iw}.dependsOn[{m}]"), "key", ep,
                                    f"{iw}.dependsOn[{m}]", required=True) or "")
            plan[F.s(st, "key", ep, sw, required=True) or ""] = tuple(dict.fromkeys(deps))
    stats: dict[str, dict[str, Any]] = {}
    for n, st in enumerate(F.need_list(run.get("stepStats") or [], ep, f"{where}.stepStats")):
        sw = f"{where}.stepStats[{n}]"
        st = F.need_obj(st, ep, sw)
        attempts = []
        for k, a in enumerate(F.need_list(st.get("attempts") or [], ep, f"{sw}.attempts")):
            aw = f"{sw}.attempts[{k}]"
            a = F.need_obj(a, ep, aw)
            attempts.append((F.t(a, "startTime", ep, aw), F.t(a, "endTime", ep, aw)))
        status, raw = F.status(st, "status", DAGSTER_STEP_STATES, ep, sw, required=False)
        stats[F.s(st, "stepKey", ep, sw, required=True) or ""] = {
            "status": status, "raw": raw or F.s(st, "status", ep, sw),
            "start": F.t(st, "startTime", ep, sw), "end": F.t(st, "endTime", ep, sw),
            "attempts": attempts}
    keys = run.get("stepKeysToExecute")
    return RunExtras(plan=plan, stats=stats,
                     to_execute=F.strs(run, "stepKeysToExecute", ep, where) if keys is not None
                     else None,
                     can_terminate=F.b(run, "canTerminate", ep, where)
                     and F.b(run, "hasTerminatePermission", ep, where, default=True),
                     may_reexecute=F.b(run, "hasReExecutePermission", ep, where, default=True),
                     run_config=run.get("runConfig"))


def _topological(plan: dict[str, tuple[str, ...]]) -> list[str]:
    """Step keys in dependency order (ties keep plan order)."""
    waiting = {k: {d for d in deps if d in plan} for k, deps in plan.items()}
    order: list[str] = []
    while waiting:
        ready = [k for k in plan if k in waiting and not waiting[k]] or \
            [k for k in plan if k in waiting]  # a cycle cannot come from Dagster
        for k in ready:
            del waiting[k]
            order.append(k)
        for deps in waiting.values():
            deps.difference_update(ready)
    return order


def downstream(plan: dict[str, tuple[str, ...]], start: Iterable[str]) -> list[str]:
    """``start`` and every step downstream of it, in dependency order."""
    chosen = set(start)
    for key in _topological(plan):
        if any(d in chosen for d in plan[key]):
            chosen.add(key)
    return [k for k in _topological(plan) if k in chosen]


def _attempts(step: str, status: Status, stats: dict[str, Any] | None,
              error: str | None) -> tuple[Attempt, ...]:
    if not stats:
        return ()
    spans = list(stats["attempts"]) or [(stats["start"], stats["end"])]
    out = []
    for n, (start, end) in enumerate(spans, start=1):
        last = n == len(spans)
        st = status if last else Status.FAILED
        out.append(Attempt(number=n, status=st, started_at=start,
                           finished_at=end if st.is_terminal else None,
                           error=error if last and st is Status.FAILED else None, step=step))
    return tuple(out)


def build_detail(info: RunInfo, pipeline: str, extras: RunExtras,
                 errors_by_step: dict[str, str]) -> RunDetail:
    """A run with its steps, attempts, errors and actions (see the module docstring)."""
    keys = _topological(extras.plan) if extras.plan else list(extras.stats)
    reused_from = info.parent_run_id if extras.to_execute is not None else None
    steps: list[Step] = []
    for key in keys:
        st = extras.stats.get(key)
        extra: dict[str, Any] = {}
        reused = None
        if st is not None:
            status = st["status"]
            if status is Status.UNKNOWN:
                extra["raw_status"] = st["raw"]
        elif (reused_from and extras.to_execute is not None
              and key not in extras.to_execute):
            status, reused = Status.SUCCEEDED, reused_from
        else:
            status = Status.PENDING
        if st is not None and status is Status.SKIPPED:
            extra["dagster_status"] = "SKIPPED"
        error = errors_by_step.get(key) if status is Status.FAILED else None
        attempts = _attempts(key, status, st, error)
        start = st["start"] if st else None
        end = st["end"] if st and status.is_terminal else None
        duration = int((end - start).total_seconds() * 1000) if start and end else None
        steps.append(Step(name=key, status=status, depends_on=extras.plan.get(key, ()),
                          started_at=start, finished_at=end, duration_ms=duration, error=error,
                          attempts=attempts, reused_from=reused, extra=extra))
    failed = [s for s in steps if s.status is Status.FAILED]
    most = max((len(s.attempts) for s in steps), default=0)
    run = info.to_run(pipeline, failed[0].name if failed else None, most or None)
    history = sorted((a for s in steps for a in s.attempts),
                     key=lambda a: (a.started_at is None, format_time(a.started_at) or "",
                                    a.step or "", a.number))
    more: dict[str, Any] = {"reexecution_makes_new_run": True}
    if extras.to_execute is not None:
        more["step_keys_to_execute"] = list(extras.to_execute)
    return RunDetail(run=run, steps=tuple(steps), attempts=tuple(history),
                     actions=actions_for(run, steps, extras),
                     error=failed[0].error if failed else None,
                     parent_run_id=info.parent_run_id, extra=more)


def restartable(steps: list[Step] | tuple[Step, ...]) -> tuple[str, ...]:
    """Steps a re-execution may start from: every step upstream of the selection (the
    step and its downstream) must have an output to reuse (succeeded or reused)."""
    plan = {s.name: s.depends_on for s in steps}
    ok = {s.name for s in steps if s.status is Status.SUCCEEDED}
    out = []
    for s in steps:
        chosen = set(downstream(plan, [s.name]))
        feeds = {d for k in chosen for d in plan[k] if d not in chosen}
        if feeds <= ok:
            out.append(s.name)
    return tuple(out)


def actions_for(run: Any, steps: list[Step], extras: RunExtras) -> Actions:
    """Re-execution from the failed steps or a chosen step (and its downstream), rerun of
    every step: for a finished run Dagster lets this user re-execute; cancel (terminate)
    when Dagster says the run can be terminated; no watermarks."""
    reasons = {"resume_from_watermark": NO_RESUME,
               "restart": "Dagster re-executes into a new run: only the chosen step and its "
                          "downstream run, upstream outputs are loaded from this run"}
    cancel = extras.can_terminate
    if not cancel and run.status.is_active:
        reasons["cancel"] = "Dagster says this run cannot be terminated (canTerminate)"
    if not extras.may_reexecute:
        why = "Dagster does not let this user re-execute runs (hasReExecutePermission)"
        return Actions(reasons={**reasons, "restart": why, "rerun": why}, can_cancel=cancel)
    if not run.status.is_terminal:
        why = (f"the run is {run.extra.get('dagster_status') or run.status.value}: Dagster "
               "re-executes finished runs")
        return Actions(reasons={**reasons, "restart": why, "rerun": why}, can_cancel=cancel)
    failed = tuple(s.name for s in steps if s.status is Status.FAILED)
    return Actions(restart_from_step=failed, rerun=True, restart_steps=restartable(steps),
                   reasons=reasons)


def format_step_log(step: str, events: tuple[Event, ...], attempt: int | None,
                    captured: str | None, shared_with: tuple[str, ...]) -> str | None:
    """The step's own events (one attempt's: ``attempt``, latest by default), then the
    output Dagster captured for the process that ran it; None when there is neither."""
    mine = [e for e in events if e.step == step]
    starts = [n for n, e in enumerate(mine)
              if e.kind in ("ExecutionStepStartEvent", "ExecutionStepRestartEvent")]
    if starts:
        pick = len(starts) if attempt is None else min(max(attempt, 1), len(starts))
        lo = starts[pick - 1]
        hi = starts[pick] if pick < len(starts) else len(mine)
        mine = mine[lo:hi]
    lines = []
    for e in mine:
        stamp = format_time(e.at) or ""
        lines.append(f"{stamp} {e.level or 'INFO'} {e.message}".strip())
        if e.error:
            lines.append(e.error)
    text = "\n".join(lines)
    if captured:
        others = [k for k in shared_with if k != step]
        head = ("--- captured output" + (f" of the process that also ran {', '.join(others)}"
                                         if others else "") + " ---")
        text = f"{text}\n{head}\n{captured}" if text else f"{head}\n{captured}"
    if not text:
        return None
    return text if len(text) <= _TAIL else text[-_TAIL:]
