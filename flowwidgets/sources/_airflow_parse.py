"""Airflow 3 REST API (``/api/v2``) payloads → flowwidgets models. Pure functions, no I/O.

Every field read goes through :mod:`flowwidgets.sources._fields`, so a payload of the
wrong shape becomes a SchemaError naming the endpoint and the field. Run ids exposed to
the widgets are ``"<dag_id>/<dag_run_id>"`` (a DAG id cannot contain ``/``), so
``run(run_id)`` knows the DAG.
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
    "AIRFLOW_RUN_STATES",
    "AIRFLOW_TASK_STATES",
    "NOT_STARTED",
    "DagInfo",
    "TaskInstance",
    "build_pipeline",
    "join_run_id",
    "parse_count",
    "parse_dags",
    "parse_failed_index",
    "parse_log",
    "parse_run",
    "parse_runs_page",
    "parse_task_instances",
    "parse_tasks",
    "split_run_id",
    "tail",
]

AIRFLOW_RUN_STATES: dict[str, Status] = {
    "queued": Status.REQUESTED,
    "running": Status.RUNNING,
    "success": Status.SUCCEEDED,
    "failed": Status.FAILED,
}
"""Airflow's DagRunState → Status."""

AIRFLOW_TASK_STATES: dict[str, Status] = {
    "": Status.PENDING,
    "none": Status.PENDING,
    "scheduled": Status.PENDING,
    "queued": Status.PENDING,
    "upstream_failed": Status.PENDING,
    "running": Status.RUNNING,
    "restarting": Status.RUNNING,
    "deferred": Status.RUNNING,
    "up_for_retry": Status.RUNNING,
    "up_for_reschedule": Status.RUNNING,
    "success": Status.SUCCEEDED,
    "failed": Status.FAILED,
    "skipped": Status.SKIPPED,
    "removed": Status.SKIPPED,
}
"""Airflow's TaskInstanceState → Status. A task that has not run (no state yet, queued,
or ``upstream_failed``: never started because a dependency failed) is ``pending``; a task
waiting for its next try or poke is still under way (``running``). The raw word is kept in
``Step.extra["state"]``."""

NOT_STARTED = frozenset({"", "none", "scheduled", "queued"})


def split_run_id(run_id: str) -> tuple[str, str]:
    """``"<dag_id>/<dag_run_id>"`` → ``(dag_id, dag_run_id)``; ValueError otherwise."""
    dag_id, sep, dag_run_id = str(run_id).partition("/")
    if not sep or not dag_id or not dag_run_id:
        raise ValueError(f"an Airflow run id is '<dag_id>/<dag_run_id>' (as runs() returns "
                         f"it), got {run_id!r}")
    return dag_id, dag_run_id


def join_run_id(dag_id: str, dag_run_id: str) -> str:
    """The run id the widgets see."""
    return f"{dag_id}/{dag_run_id}"


def _ms(seconds: float | None) -> int | None:
    return None if seconds is None else round(seconds * 1000)


# ---- DAGs and DAG runs -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DagInfo:
    """What ``GET /dags`` says about one DAG."""

    dag_id: str
    paused: bool
    schedule: str | None
    next_run_after: datetime | None
    extra: dict[str, Any]


def parse_dags(data: Any) -> tuple[tuple[DagInfo, ...], int]:
    """``GET /api/v2/dags`` → the DAGs of this page and ``total_entries``."""
    ep = "GET /api/v2/dags"
    d = F.need_obj(data, ep, "")
    rows = F.need_list(F.req(d, "dags", ep, ""), ep, "dags")
    out = []
    for n, row in enumerate(rows):
        where = F.path("dags", n)
        row = F.need_obj(row, ep, where)
        tags: list[str | None] = []
        for k, tag in enumerate(F.need_list(row.get("tags") or [], ep, f"{where}.tags")):
            if isinstance(tag, dict):
                tags.append(F.s(tag, "name", ep, f"{where}.tags[{k}]", required=True))
            else:
                tags.append(F.s({"name": tag}, "name", ep, f"{where}.tags[{k}]"))
        extra: dict[str, Any] = {"tags": tuple(t for t in tags if t)}
        for key in ("timetable_description", "dag_display_name", "description"):
            if row.get(key) is not None:
                extra[key] = F.s(row, key, ep, where)
        if row.get("has_import_errors"):
            extra["has_import_errors"] = F.b(row, "has_import_errors", ep, where)
        nxt = F.t(row, "next_dagrun_run_after", ep, where)
        if nxt is not None:
            extra["next_dagrun_run_after"] = nxt
        out.append(DagInfo(
            dag_id=F.s(row, "dag_id", ep, where, required=True),
            paused=F.b(row, "is_paused", ep, where), schedule=F.s(row, "timetable_summary",
                                                                  ep, where),
            next_run_after=nxt, extra=extra))
    return tuple(out), _total(d, ep, len(out))


def _total(d: dict[str, Any], ep: str, default: int) -> int:
    total = F.i(d, "total_entries", ep, "")
    return default if total is None else total


def parse_run(row: Any, ep: str, where: str) -> Run:
    """One DAG run (``GET .../dagRuns`` item or ``GET .../dagRuns/{run}``)."""
    row = F.need_obj(row, ep, where)
    dag_id = F.s(row, "dag_id", ep, where, required=True)
    dag_run_id = F.s(row, "dag_run_id", ep, where, required=True)
    st, raw = F.status(row, "state", AIRFLOW_RUN_STATES, ep, where)
    started = F.t(row, "start_date", ep, where)
    finished = F.t(row, "end_date", ep, where)
    extra: dict[str, Any] = {"dag_id": dag_id, "dag_run_id": dag_run_id,
                             "state": F.s(row, "state", ep, where)}
    if raw is not None:
        extra["raw_status"] = raw
    for key in ("run_after", "queued_at", "logical_date"):
        if row.get(key) is not None:
            extra[key] = F.t(row, key, ep, where)
    if row.get("note") is not None:
        extra["note"] = F.s(row, "note", ep, where)
    duration = _ms(F.f(row, "duration", ep, where))
    if duration is None and started is not None and finished is not None:
        duration = int((finished - started).total_seconds() * 1000)
    return Run(run_id=join_run_id(dag_id, dag_run_id), pipeline=dag_id,
               status=st, started_at=started, finished_at=finished,
               duration_ms=duration if st.is_terminal else None,
               trigger=F.s(row, "run_type", ep, where), extra=extra)


def parse_runs_page(ep: str) -> Callable[[Any], tuple[tuple[Run, ...], int]]:
    """A parser for ``GET .../dagRuns``: ``(runs, total_entries)``."""
    def parse(data: Any) -> tuple[tuple[Run, ...], int]:
        d = F.need_obj(data, ep, "")
        rows = F.need_list(F.req(d, "dag_runs", ep, ""), ep, "dag_runs")
        runs = tuple(parse_run(r, ep, F.path("dag_runs", n)) for n, r in enumerate(rows))
        return runs, _total(d, ep, len(runs))
    return parse


def parse_count(ep: str) -> Callable[[Any], int]:
    """A parser for a ``limit=0`` list request: its ``total_entries``."""
    def parse(data: Any) -> int:
        d = F.need_obj(data, ep, "")
        F.req(d, "total_entries", ep, "")
        return _total(d, ep, 0)
    return parse


def build_pipeline(dag: DagInfo, recent: tuple[Run, ...], total: int,
                   week: tuple[int, int] | None) -> Pipeline:
    """A card: ``recent`` newest first as listed; ``week`` is (failed, finished) over the
    last 7 days. A paused DAG shows no next run (it will not fire)."""
    oldest_first = tuple(reversed(recent))
    durations = [r.duration_ms for r in recent
                 if r.duration_ms is not None and r.status.is_terminal]
    failure_rate = None
    if week is not None and week[1]:
        failure_rate = week[0] / week[1]
    return Pipeline(name=dag.dag_id, kind="batch", schedule=dag.schedule,
                    next_run_at=None if dag.paused else dag.next_run_after,
                    latest_run=recent[0] if recent else None, recent_runs=oldest_first,
                    median_duration_ms=median_ms(durations), failure_rate_7d=failure_rate,
                    total_runs=total, paused=dag.paused, extra=dict(dag.extra))


# ---- tasks and task instances ----------------------------------------------------------


def parse_tasks(data: Any) -> dict[str, tuple[str, ...]]:
    """``GET /dags/{id}/tasks`` → each task's downstream task ids (sorted: the API's order
    is not stable)."""
    ep = "GET /api/v2/dags/{dag_id}/tasks"
    d = F.need_obj(data, ep, "")
    rows = F.need_list(F.req(d, "tasks", ep, ""), ep, "tasks")
    out: dict[str, tuple[str, ...]] = {}
    for n, row in enumerate(rows):
        where = F.path("tasks", n)
        row = F.need_obj(row, ep, where)
        task_id = F.s(row, "task_id", ep, where, required=True)
        out[task_id] = tuple(sorted(F.strs(row, "downstream_task_ids", ep, where)))
    return out


@dataclass(frozen=True, slots=True)
class TaskInstance:
    """One task instance (or one try of it) as the API lists it."""

    task_id: str
    map_index: int
    state: str
    try_number: int
    started_at: datetime | None
    finished_at: datetime | None
    duration_ms: int | None
    label: str | None = None
    """``rendered_map_index`` of a mapped instance."""

    @property
    def status(self) -> Status:
        """The state in the flowwidgets vocabulary."""
        return AIRFLOW_TASK_STATES.get(self.state, Status.UNKNOWN)

    @property
    def describes_latest_try(self) -> bool:
        """False when the instance waits for a new try, so its last try's outcome lives
        only in ``/tries`` (after a clear, or while up for retry)."""
        return self.state not in NOT_STARTED and self.state != "up_for_retry"


def parse_task_instances(ep: str, key: str = "task_instances"
                         ) -> Callable[[Any], tuple[tuple[TaskInstance, ...], int]]:
    """A parser for ``.../taskInstances`` and ``.../tries``: ``(instances, total)``."""
    def parse(data: Any) -> tuple[tuple[TaskInstance, ...], int]:
        d = F.need_obj(data, ep, "")
        rows = F.need_list(F.req(d, key, ep, ""), ep, key)
        out = []
        for n, row in enumerate(rows):
            where = F.path(key, n)
            row = F.need_obj(row, ep, where)
            map_index = F.i(row, "map_index", ep, where)
            out.append(TaskInstance(
                task_id=F.s(row, "task_id", ep, where, required=True),
                map_index=-1 if map_index is None else map_index,
                state=(F.s(row, "state", ep, where) or "none").strip().lower(),
                try_number=F.i(row, "try_number", ep, where) or 0,
                started_at=F.t(row, "start_date", ep, where),
                finished_at=F.t(row, "end_date", ep, where),
                duration_ms=_ms(F.f(row, "duration", ep, where)),
                label=F.s(row, "rendered_map_index", ep, where)))
        return tuple(out), _total(d, ep, len(out))
    return parse


def parse_failed_index(data: Any) -> dict[tuple[str, str], str]:
    """``POST /dags/~/dagRuns/~/taskInstances/list`` of failed instances → the first failed
    task of each ``(dag_id, dag_run_id)`` (the one that ended first)."""
    ep = "POST /api/v2/dags/~/dagRuns/~/taskInstances/list"
    d = F.need_obj(data, ep, "")
    rows = F.need_list(F.req(d, "task_instances", ep, ""), ep, "task_instances")
    found: dict[tuple[str, str], tuple[str, str]] = {}
    for n, row in enumerate(rows):
        where = F.path("task_instances", n)
        row = F.need_obj(row, ep, where)
        key = (F.s(row, "dag_id", ep, where, required=True),
               F.s(row, "dag_run_id", ep, where, required=True))
        task_id = F.s(row, "task_id", ep, where, required=True)
        ended = F.s(row, "end_date", ep, where) or "~"  # sorts after any ISO time
        if key not in found or (ended, task_id) < found[key]:
            found[key] = (ended, task_id)
    return {k: v[1] for k, v in found.items()}


def parse_log(data: Any) -> tuple[str, str | None]:
    """A structured task log (``{"content": [{event, level, timestamp, error_detail}]}``)
    → (its text, one line per entry; the error it ends with, or None)."""
    ep = "GET /api/v2/.../logs/{try_number}"
    d = F.need_obj(data, ep, "")
    content = F.req(d, "content", ep, "")
    if isinstance(content, str):  # plain-text logs (older task runners)
        errors = [ln for ln in content.splitlines() if "ERROR" in ln]
        return content, errors[-1].strip() if errors else None
    rows = F.need_list(content, ep, "content")
    lines: list[str] = []
    error: str | None = None
    for n, row in enumerate(rows):
        where = F.path("content", n)
        if isinstance(row, str):
            lines.append(row)
            continue
        row = F.need_obj(row, ep, where)
        event = F.s(row, "event", ep, where) or ""
        level = F.s(row, "level", ep, where)
        stamp = F.s(row, "timestamp", ep, where)
        head = " ".join(x for x in (stamp, (level or "").upper() or None) if x)
        lines.append(f"{head} {event}" if head else event)
        details = row.get("error_detail")
        if isinstance(details, list):
            for det in details:
                if isinstance(det, dict) and isinstance(det.get("exc_type"), str):
                    value = det.get("exc_value")
                    text = f"{det['exc_type']}: {value}" if isinstance(value, str) else \
                        det["exc_type"]
                    lines.append(f"    {text}")
                    if not det.get("is_cause"):
                        error = text
        elif level == "error" and error is None and event:
            error = event
    return "\n".join(lines), error


def tail(text: str, lines: int = 80, chars: int = 8000) -> str:
    """The last ``lines`` lines of ``text``, at most ``chars`` characters."""
    cut = "\n".join(text.splitlines()[-lines:])
    return cut[-chars:]
