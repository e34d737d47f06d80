"""Prefect 3 REST API payloads → flowwidgets models. Pure functions, no I/O.

Pipelines are named like Prefect's own CLI names deployments: ``"<flow>/<deployment>"``;
flow runs started without a deployment belong to the pipeline ``"<flow>"`` (Prefect
forbids ``/`` in both names, so the split is unambiguous).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flowwidgets.models import Pipeline, Run, Status
from flowwidgets.sources import _fields as F
from flowwidgets.sources._fields import median_ms

__all__ = [
    "NO_RESTART",
    "NO_WATERMARK",
    "PREFECT_RUN_STATES",
    "PREFECT_TASK_STATES",
    "RETRYABLE",
    "FlowRunInfo",
    "TaskRunInfo",
    "build_pipeline",
    "parse_flow_run",
    "parse_flow_runs",
    "parse_int",
    "parse_logs",
    "parse_names",
    "parse_states",
    "parse_task_runs",
    "schedule_summary",
]

PREFECT_RUN_STATES: dict[str, Status] = {
    "scheduled": Status.REQUESTED,
    "pending": Status.REQUESTED,
    "running": Status.RUNNING,
    "cancelling": Status.RUNNING,
    "paused": Status.PAUSED,
    "completed": Status.SUCCEEDED,
    "failed": Status.FAILED,
    "crashed": Status.FAILED,
    "cancelled": Status.CANCELLED,
}
"""Prefect's StateType of a flow run → Status."""

PREFECT_TASK_STATES: dict[str, Status] = {
    "scheduled": Status.PENDING,
    "pending": Status.PENDING,
    "running": Status.RUNNING,
    "cancelling": Status.RUNNING,
    "paused": Status.RUNNING,
    "completed": Status.SUCCEEDED,
    "failed": Status.FAILED,
    "crashed": Status.FAILED,
    "cancelled": Status.SKIPPED,
}
"""Prefect's StateType of a task run → Status (``PENDING``/"NotReady": a dependency
failed; ``CANCELLED``: not executed). The raw type and name stay in ``Step.extra``."""

RETRYABLE = frozenset({"FAILED", "CRASHED", "CANCELLED"})
"""Flow-run state types Prefect's UI offers a retry for."""
NO_RESTART = ("Prefect has no restart from a chosen task: Retry runs the whole flow again "
              "(completed tasks are reused only when result persistence is on: "
              "PREFECT_RESULTS_PERSIST_BY_DEFAULT=true or persist_result=True)")
NO_WATERMARK = "Prefect has no watermarks to resume from"


def _ms(seconds: float | None) -> int | None:
    return None if seconds is None else round(seconds * 1000)


def _state(row: dict[str, Any], ep: str, where: str) -> tuple[str, str | None, str | None]:
    """(state type, state name, state message) of a flow or task run row."""
    stype = F.s(row, "state_type", ep, where) or ""
    name = F.s(row, "state_name", ep, where)
    message = None
    state = F.obj_or_none(row, "state", ep, where)
    if state is not None:
        stype = stype or F.s(state, "type", ep, f"{where}.state") or ""
        name = name or F.s(state, "name", ep, f"{where}.state")
        message = F.s(state, "message", ep, f"{where}.state")
    return stype.upper(), name, message


# ---- flows, deployments, flow runs -----------------------------------------------------


def parse_names(ep: str) -> Callable[[Any], dict[str, tuple[str, str | None, dict[str, Any]]]]:
    """A parser for ``/flows/filter`` and ``/deployments/filter``:
    ``{id: (name, flow_id or None, row)}``."""
    def parse(data: Any) -> dict[str, tuple[str, str | None, dict[str, Any]]]:
        rows = F.need_list(data, ep, "")
        out: dict[str, tuple[str, str | None, dict[str, Any]]] = {}
        for n, row in enumerate(rows):
            where = F.path("", n)
            row = F.need_obj(row, ep, where)
            ident = F.s(row, "id", ep, where, required=True)
            out[ident] = (F.s(row, "name", ep, where, required=True),
                          F.s(row, "flow_id", ep, where), row)
        return out
    return parse


def schedule_summary(row: dict[str, Any], ep: str, where: str) -> tuple[str | None, str | None]:
    """A deployment's active schedules as text (cron, ``every N s`` or an RRULE) and the
    first one's timezone."""
    parts: list[str] = []
    tz: str | None = None
    for n, item in enumerate(F.need_list(row.get("schedules") or [], ep, f"{where}.schedules")):
        w = f"{where}.schedules[{n}]"
        item = F.need_obj(item, ep, w)
        if item.get("active") is False:
            continue
        sched = F.obj_or_none(item, "schedule", ep, w) or {}
        if sched.get("cron") is not None:
            parts.append(F.s(sched, "cron", ep, f"{w}.schedule") or "")
        elif sched.get("interval") is not None:
            parts.append(f"every {F.f(sched, 'interval', ep, f'{w}.schedule'):g} s")
        elif sched.get("rrule") is not None:
            parts.append(F.s(sched, "rrule", ep, f"{w}.schedule") or "")
        tz = tz or F.s(sched, "timezone", ep, f"{w}.schedule")
    return ("; ".join(p for p in parts if p) or None), tz


@dataclass(frozen=True, slots=True)
class FlowRunInfo:
    """A flow run as the API gives it, before its pipeline name is known."""

    id: str
    name: str | None
    flow_id: str
    deployment_id: str | None
    state_type: str
    state_name: str | None
    message: str | None
    started_at: datetime | None
    finished_at: datetime | None
    expected_start: datetime | None
    total_run_time_ms: int | None
    run_count: int

    @property
    def status(self) -> Status:
        """The run's status."""
        return PREFECT_RUN_STATES.get(self.state_type.lower(), Status.UNKNOWN)

    def to_run(self, pipeline: str, failed_step: str | None = None) -> Run:
        """The model, under ``pipeline``."""
        extra: dict[str, Any] = {"state_type": self.state_type, "state_name": self.state_name,
                                 "flow_id": self.flow_id, "deployment_id": self.deployment_id}
        if self.name:
            extra["name"] = self.name
        if self.expected_start is not None:
            extra["expected_start_time"] = self.expected_start
        if self.status is Status.UNKNOWN:
            extra["raw_status"] = self.state_type
        return Run(run_id=self.id, pipeline=pipeline, status=self.status,
                   started_at=self.started_at,
                   finished_at=self.finished_at if self.status.is_terminal else None,
                   duration_ms=self.total_run_time_ms if self.status.is_terminal else None,
                   attempts=self.run_count or None, failed_step=failed_step,
                   trigger="deployment" if self.deployment_id else "direct", extra=extra)


def parse_flow_run(row: Any, ep: str, where: str) -> FlowRunInfo:
    """One flow run object."""
    row = F.need_obj(row, ep, where)
    stype, name, message = _state(row, ep, where)
    return FlowRunInfo(
        id=F.s(row, "id", ep, where, required=True),
        name=F.s(row, "name", ep, where),
        flow_id=F.s(row, "flow_id", ep, where, required=True),
        deployment_id=F.s(row, "deployment_id", ep, where),
        state_type=stype, state_name=name, message=message,
        started_at=F.t(row, "start_time", ep, where), finished_at=F.t(row, "end_time", ep, where),
        expected_start=F.t(row, "expected_start_time", ep, where),
        total_run_time_ms=_ms(F.f(row, "total_run_time", ep, where)),
        run_count=F.i(row, "run_count", ep, where) or 0)


def parse_flow_runs(ep: str) -> Callable[[Any], tuple[FlowRunInfo, ...]]:
    """A parser for ``POST /flow_runs/filter`` (a bare list)."""
    def parse(data: Any) -> tuple[FlowRunInfo, ...]:
        rows = F.need_list(data, ep, "")
        return tuple(parse_flow_run(r, ep, F.path("", n)) for n, r in enumerate(rows))
    return parse


def parse_int(ep: str) -> Callable[[Any], int]:
    """A parser for ``POST /.../count`` (a bare integer)."""
    def parse(data: Any) -> int:
        value = F.i({"count": data}, "count", ep, "")
        if value is None:
            F.req({}, "count", ep, "")
        return value  # type: ignore[return-value]
    return parse


def build_pipeline(name: str, recent: tuple[Run, ...], total: int,
                   week: tuple[int, int] | None, *, schedule: str | None = None,
                   timezone: str | None = None, next_run: datetime | None = None,
                   paused: bool = False, extra: dict[str, Any] | None = None) -> Pipeline:
    """A card: ``recent`` newest first as listed; ``week`` is (failed, finished)."""
    durations = [r.duration_ms for r in recent
                 if r.duration_ms is not None and r.status.is_terminal]
    return Pipeline(name=name, kind="batch", schedule=schedule, timezone=timezone,
                    next_run_at=None if paused else next_run,
                    latest_run=recent[0] if recent else None,
                    recent_runs=tuple(reversed(recent)), median_duration_ms=median_ms(durations),
                    failure_rate_7d=(week[0] / week[1]) if week and week[1] else None,
                    total_runs=total, paused=paused, extra=dict(extra or {}))


# ---- task runs -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TaskRunInfo:
    """One task-run row."""

    id: str
    name: str
    task_key: str
    dynamic_key: str
    state_type: str
    state_name: str | None
    message: str | None
    run_count: int
    flow_attempt: int
    """``flow_run_run_count``: which try of the flow made this row (0: never ran)."""
    created: str
    started_at: datetime | None
    finished_at: datetime | None
    total_run_time_ms: int | None
    upstream: tuple[str, ...]
    """Task-run ids this row took inputs from or waited for."""
    flow_run_id: str | None = None

    @property
    def status(self) -> Status:
        """The row's status as a step."""
        return PREFECT_TASK_STATES.get(self.state_type.lower(), Status.UNKNOWN)

    @property
    def display_name(self) -> str:
        """The task's name: the run name without its dynamic-key suffix, else the
        function name from ``task_key`` (``<qualname>-<hash>``)."""
        for suffix in (self.dynamic_key, self.dynamic_key[:3]):
            if suffix and self.name.endswith(f"-{suffix}"):
                return self.name[: -len(suffix) - 1]
        head, sep, _ = self.task_key.rpartition("-")
        return head if sep else self.task_key


def parse_task_runs(data: Any) -> tuple[TaskRunInfo, ...]:
    """``POST /task_runs/filter`` (a bare list)."""
    ep = "POST /api/task_runs/filter"
    rows = F.need_list(data, ep, "")
    out = []
    for n, row in enumerate(rows):
        where = F.path("", n)
        row = F.need_obj(row, ep, where)
        stype, name, message = _state(row, ep, where)
        upstream: list[str] = []
        inputs = F.obj_or_none(row, "task_inputs", ep, where) or {}
        for key, items in inputs.items():
            for k, item in enumerate(F.need_list(items, ep, f"{where}.task_inputs.{key}")):
                w = f"{where}.task_inputs.{key}[{k}]"
                item = F.need_obj(item, ep, w)
                if item.get("input_type") == "task_run":
                    upstream.append(F.s(item, "id", ep, w, required=True))
        out.append(TaskRunInfo(
            id=F.s(row, "id", ep, where, required=True),
            name=F.s(row, "name", ep, where, required=True),
            task_key=F.s(row, "task_key", ep, where, required=True),
            dynamic_key=F.s(row, "dynamic_key", ep, where) or "",
            state_type=stype, state_name=name, message=message,
            run_count=F.i(row, "run_count", ep, where) or 0,
            flow_attempt=F.i(row, "flow_run_run_count", ep, where) or 0,
            created=F.s(row, "created", ep, where) or "",
            started_at=F.t(row, "start_time", ep, where),
            finished_at=F.t(row, "end_time", ep, where),
            total_run_time_ms=_ms(F.f(row, "total_run_time", ep, where)),
            upstream=tuple(dict.fromkeys(upstream)),
            flow_run_id=F.s(row, "flow_run_id", ep, where)))
    return tuple(out)


def parse_states(data: Any) -> tuple[tuple[str, str | None, datetime | None], ...]:
    """``GET /task_run_states/?task_run_id=`` → (type, name, timestamp), oldest first."""
    ep = "GET /api/task_run_states/"
    rows = F.need_list(data, ep, "")
    out = []
    for n, row in enumerate(rows):
        where = F.path("", n)
        row = F.need_obj(row, ep, where)
        out.append(((F.s(row, "type", ep, where, required=True) or "").upper(),
                    F.s(row, "name", ep, where), F.t(row, "timestamp", ep, where)))
    return tuple(sorted(out, key=lambda s: (s[2] is None, s[2])))


def parse_logs(data: Any) -> str | None:
    """``POST /logs/filter`` (newest first as asked) → the text, oldest line first."""
    ep = "POST /api/logs/filter"
    rows = F.need_list(data, ep, "")
    lines = []
    for n, row in enumerate(rows):
        where = F.path("", n)
        row = F.need_obj(row, ep, where)
        level = F.i(row, "level", ep, where)
        word = {10: "DEBUG", 20: "INFO", 30: "WARNING", 40: "ERROR", 50: "CRITICAL"}.get(
            level or 0, str(level))
        lines.append(f"{F.s(row, 'timestamp', ep, where) or ''} {word} "
                     f"{F.s(row, 'message', ep, where) or ''}")
    return "\n".join(reversed(lines)) if lines else None
