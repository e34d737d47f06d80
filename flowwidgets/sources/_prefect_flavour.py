"""The Prefect flavour's plans (see :mod:`flowwidgets.sources.prefect` for what they do)."""

from __future__ import annotations

import getpass
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from flowwidgets import errors
from flowwidgets.models import Pipeline, RunDetail, RunPage, Status, format_time
from flowwidgets.sources import _fields as F
from flowwidgets.sources._base import Flavour, Plan, Snapshot
from flowwidgets.sources._cards_state import read_details
from flowwidgets.sources._http import Reply, Request
from flowwidgets.sources._prefect_cards import PrefectCards
from flowwidgets.sources._prefect_detail import build_detail, collapse
from flowwidgets.sources._prefect_parse import (
    NO_RESTART,
    NO_WATERMARK,
    PREFECT_RUN_STATES,
    RETRYABLE,
    FlowRunInfo,
    TaskRunInfo,
    parse_flow_run,
    parse_flow_runs,
    parse_int,
    parse_logs,
    parse_names,
    parse_states,
    parse_task_runs,
)

__all__ = ["PrefectFlavour"]

PAGE = 200
"""Prefect's default ``PREFECT_API_DEFAULT_LIMIT``."""
SETTLE = timedelta(seconds=30)
"""How long after a flow run ends the poller still re-reads its detail: Prefect records
task-run states through its event pipeline, seconds after the flow run's own state."""
SCHEDULE_SLACK = timedelta(seconds=5)
"""Runs expected to start later than now + this are future schedule, not history."""
_FAILED_TYPES = ["FAILED", "CRASHED"]


def _who() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name in this environment
        return "an unknown user"


def _seg(value: str) -> str:
    return quote(str(value), safe="")


class PrefectFlavour(Flavour):
    """Plans for Prefect 3's ``/api`` (see the module docstring). ``clock`` gives "now"
    for the history cut-off, the next scheduled run and the 7-day window."""

    name = "prefect"
    capabilities = frozenset({"rerun", "run_now", "cancel"})

    def __init__(self, *, version: str | None = None,
                 clock: Callable[[], datetime] | None = None):
        self.version = version
        self._clock = clock or (lambda: datetime.now(UTC))
        self._lock = threading.Lock()
        self._flows: dict[str, str] = {}
        self._deployments: dict[str, tuple[str, str | None]] = {}
        self._cards = PrefectCards(self._send, self._clock)
        self._page: tuple[RunPage | None, int, dict[str, RunDetail]] = (None, -1, {})
        self._done: OrderedDict[str, str] = OrderedDict()

    # ---- names -------------------------------------------------------------------------

    def _post(self, path: str, ep: str, body: dict[str, Any],
              parse: Callable[[Any], Any]) -> Plan[Any]:
        reply = yield Request("POST", path, ep, body=body, parse=parse)
        return reply.value

    def _learn_names(self, runs: tuple[FlowRunInfo, ...]) -> Plan[None]:
        """Fetch the names of flows and deployments not seen yet (names never change)."""
        with self._lock:
            flows = sorted({r.flow_id for r in runs} - set(self._flows))
            deps = sorted({r.deployment_id for r in runs if r.deployment_id}
                          - set(self._deployments))
        if flows:
            found = yield from self._post("/api/flows/filter", "POST /api/flows/filter",
                                          {"flows": {"id": {"any_": flows}}},
                                          parse_names("POST /api/flows/filter"))
            with self._lock:
                self._flows.update({k: v[0] for k, v in found.items()})
        if deps:
            found = yield from self._post(
                "/api/deployments/filter", "POST /api/deployments/filter",
                {"deployments": {"id": {"any_": deps}}},
                parse_names("POST /api/deployments/filter"))
            with self._lock:
                self._deployments.update({k: (v[0], v[1]) for k, v in found.items()})

    def _pipeline_of(self, r: FlowRunInfo) -> str:
        with self._lock:
            flow = self._flows.get(r.flow_id, r.flow_id)
            if r.deployment_id is None:
                return flow
            dep = self._deployments.get(r.deployment_id)
        return f"{flow}/{dep[0] if dep else r.deployment_id}"

    def _pipeline_filter(self, pipeline: str) -> Plan[dict[str, Any]]:
        """The filter body selecting a pipeline's flow runs."""
        flow, sep, dep = pipeline.partition("/")
        if sep:
            ep = "GET /api/deployments/name/{flow}/{deployment}"
            row = yield from self._get(f"/api/deployments/name/{_seg(flow)}/{_seg(dep)}", ep,
                                       lambda d: F.need_obj(d, ep, ""))
            return {"deployments": {"id": {"any_": [F.s(row, "id", ep, "", required=True)]}}}
        found = yield from self._post("/api/flows/filter", "POST /api/flows/filter",
                                      {"flows": {"name": {"any_": [flow]}}},
                                      parse_names("POST /api/flows/filter"))
        if not found:
            raise errors.NotFound(f"Prefect has no flow named {flow!r}")
        return {"flows": {"id": {"any_": list(found)}},
                "flow_runs": {"deployment_id": {"is_null_": True}}}

    def _get(self, path: str, ep: str, parse: Callable[[Any], Any],
             cache: bool = False) -> Plan[Any]:
        reply = yield Request("GET", path, ep, parse=parse, cache=cache)
        return reply.value

    # ---- reading -----------------------------------------------------------------------

    def _history(self, base: dict[str, Any]) -> dict[str, Any]:
        """``base`` limited to runs due by now (future schedule is not history)."""
        body = {k: dict(v) for k, v in base.items()}
        runs = body.setdefault("flow_runs", {})
        runs["expected_start_time"] = {"before_": format_time(self._clock() + SCHEDULE_SLACK)}
        return body

    def _recent(self, base: dict[str, Any], limit: int, offset: int = 0
                ) -> Plan[tuple[FlowRunInfo, ...]]:
        body = {**self._history(base), "sort": "EXPECTED_START_TIME_DESC", "limit": limit,
                "offset": offset}
        ep = "POST /api/flow_runs/filter"
        return (yield from self._post("/api/flow_runs/filter", ep, body, parse_flow_runs(ep)))

    def _count(self, body: dict[str, Any]) -> Plan[int]:
        ep = "POST /api/flow_runs/count"
        return (yield from self._post("/api/flow_runs/count", ep, body, parse_int(ep)))

    def pipelines(self) -> Plan[tuple[Pipeline, ...]]:
        return (yield from self._cards.pipelines())

    def runs(self, pipeline: str | None, status: Status | None, limit: int, offset: int,
             cache: bool) -> Plan[RunPage]:
        base: dict[str, Any] = {}
        if pipeline:
            base = yield from self._pipeline_filter(pipeline)
        if status is not None:
            types = [k.upper() for k, v in PREFECT_RUN_STATES.items() if v is status]
            if not types:
                return RunPage(runs=(), total=0, next_offset=None)
            base = {k: dict(v) for k, v in base.items()}
            base.setdefault("flow_runs", {})["state"] = {"type": {"any_": types}}
        infos: list[FlowRunInfo] = []
        while len(infos) < limit:
            want = min(PAGE, limit - len(infos))
            page = yield from self._recent(base, want, offset + len(infos))
            infos.extend(page)
            if len(page) < want:
                break
        total = yield from self._count(self._history(base))
        yield from self._learn_names(tuple(infos))
        failed = yield from self._failed_steps([i.id for i in infos
                                                if i.status is Status.FAILED])
        runs = tuple(i.to_run(self._pipeline_of(i), failed.get(i.id)) for i in infos)
        end = offset + len(runs)
        return RunPage(runs=runs, total=total, next_offset=end if end < total else None)

    def _failed_steps(self, run_ids: list[str]) -> Plan[dict[str, str]]:
        if not run_ids:
            return {}
        body = {"flow_runs": {"id": {"any_": run_ids}},
                "task_runs": {"state": {"type": {"any_": _FAILED_TYPES}}},
                "sort": "EXPECTED_START_TIME_DESC", "limit": PAGE}
        rows = yield from self._post("/api/task_runs/filter", "POST /api/task_runs/filter",
                                     body, parse_task_runs)
        found: dict[str, tuple[str, str]] = {}
        for r in rows:
            if r.flow_run_id and (r.flow_run_id not in found
                                  or r.created > found[r.flow_run_id][0]):
                found[r.flow_run_id] = (r.created, r.display_name)
        return {k: v[1] for k, v in found.items()}

    def _flow_run(self, run_id: str) -> Plan[FlowRunInfo]:
        ep = "GET /api/flow_runs/{id}"
        return (yield from self._get(f"/api/flow_runs/{_seg(run_id)}", ep,
                                     lambda d: parse_flow_run(d, ep, "")))

    def _task_runs(self, run_id: str) -> Plan[tuple[TaskRunInfo, ...]]:
        rows: list[TaskRunInfo] = []
        while True:
            page = yield from self._post(
                "/api/task_runs/filter", "POST /api/task_runs/filter",
                {"flow_runs": {"id": {"any_": [run_id]}}, "sort": "EXPECTED_START_TIME_ASC",
                 "limit": PAGE, "offset": len(rows)}, parse_task_runs)
            rows.extend(page)
            if len(page) < PAGE:
                return tuple(rows)

    def run(self, run_id: str) -> Plan[RunDetail]:
        flow = yield from self._flow_run(run_id)
        rows = yield from self._task_runs(run_id)
        yield from self._learn_names((flow,))
        states = {}
        for r in rows:
            if r.run_count > 1:
                ep = "GET /api/task_run_states/"
                states[r.id] = yield from self._get(
                    f"/api/task_run_states/?task_run_id={_seg(r.id)}", ep, parse_states)
        return build_detail(flow, self._pipeline_of(flow), rows, states)

    def step_log(self, run_id: str, step: str, attempt: int | None) -> Plan[str | None]:
        rows = yield from self._task_runs(run_id)
        groups = collapse(rows)
        if step not in groups:
            raise errors.Unprocessable(f"flow run {run_id} has no step {step!r}; its steps: "
                                       f"{sorted(groups)}")
        ran = [r for r in groups[step] if r.run_count >= 1 or r.started_at is not None]
        if not ran:
            return None  # never started: no log
        index = len(ran) if attempt is None else min(max(attempt, 1), len(ran))
        body = {"logs": {"task_run_id": {"any_": [ran[index - 1].id]}},
                "sort": "TIMESTAMP_DESC", "limit": PAGE}
        return (yield from self._post("/api/logs/filter", "POST /api/logs/filter", body,
                                      parse_logs))

    def health(self) -> Plan[bool]:
        reply = yield Request("GET", "/api/health", "GET /api/health", probe=True)
        return reply.status_code == 200 and reply.value is True

    def _send(self, req: Request) -> Plan[Reply]:
        return (yield req)

    def snapshot(self) -> Plan[Snapshot]:
        """The cards (one request when idle, see :mod:`._prefect_cards`), the newest runs
        page only when a run changed since it was read, and the details of active runs
        and of runs that ended in the last SETTLE (their task runs are still being
        recorded); a scheduled run's detail is reused until the page is read again."""
        pipes = yield from self.pipelines()
        with self._lock:
            page, generation, kept = self._page
        fresh = page is None or generation != self._cards.generation
        if fresh:
            generation = self._cards.generation
            page = yield from self.runs(None, None, 50, 0, True)
        assert page is not None
        runs: dict[str, Any] = {r.run_id: r for r in page.runs}
        now = self._clock()
        watch = [r for r in page.runs if r.status.is_active
                 or (r.finished_at is not None and now - r.finished_at < SETTLE)]
        queued = yield from read_details(watch[:10], runs, kept, fresh, self.run)
        with self._lock:
            self._page = (page, generation, queued)
        return Snapshot({p.name: p for p in pipes}, runs)

    # ---- actions -----------------------------------------------------------------------

    def _why_not(self, action: str) -> str:
        return {"restart": NO_RESTART, "resume": NO_WATERMARK}.get(
            action, super()._why_not(action))

    def restart(self, run_id: str, from_step: str | None, key: str | None) -> Plan[str]:
        """Always ActionNotSupported: Prefect retries whole flows only (use rerun)."""
        raise errors.ActionNotSupported("restart", NO_RESTART)
        yield  # pragma: no cover - makes this a generator

    def rerun(self, run_id: str, key: str | None) -> Plan[str]:
        """Prefect's Retry: ``set_state`` AwaitingRetry (forced), as its UI does. The
        deployment's runner reruns the whole flow in place; returns ``run_id``."""
        with self._lock:
            if key is not None and key in self._done:
                return self._done[key]
        flow = yield from self._flow_run(run_id)
        if flow.deployment_id is None:
            raise errors.ActionNotSupported(
                "rerun", f"flow run {run_id} was started by calling the flow, not from a "
                "deployment: Prefect can only retry runs a deployment's runner or worker "
                "picks up")
        if flow.state_type not in RETRYABLE:
            raise errors.Conflict(
                f"cannot retry flow run {run_id}: it is {flow.state_name or flow.state_type};"
                " Prefect retries failed, crashed or cancelled runs")
        ep = "POST /api/flow_runs/{id}/set_state"
        reply = yield Request("POST", f"/api/flow_runs/{_seg(run_id)}/set_state", ep,
                              body={"state": {"type": "SCHEDULED", "name": "AwaitingRetry",
                                              "message": "Retry requested from flowwidgets"},
                                    "force": True},
                              parse=lambda d: F.need_obj(d, ep, ""))
        verdict = F.s(reply.value, "status", ep, "", required=True)
        if verdict != "ACCEPT":
            details = F.obj_or_none(reply.value, "details", ep, "") or {}
            raise errors.Conflict(
                f"{ep}: Prefect answered {verdict} to the retry of {run_id}: "
                f"{details.get('reason') or details}", status_code=reply.status_code,
                detail=details)
        with self._lock:
            if key is not None:
                self._done[key] = run_id
                while len(self._done) > 256:
                    self._done.popitem(last=False)
        return run_id

    def cancel(self, run_id: str, key: str | None) -> Plan[str]:
        """Prefect's Cancel (as ``prefect flow-run cancel``): ``set_state`` CANCELLING. The
        deployment's runner or worker then stops the flow's process and the run becomes
        CANCELLED; a scheduled run with nothing started Prefect cancels at once. Returns
        the status word of the state Prefect set (``running`` while cancelling)."""
        flow = yield from self._flow_run(run_id)
        if flow.state_type == "CANCELLING":
            return flow.status.value  # asked before (this key or another): still stopping
        if flow.status.is_terminal:
            raise errors.Conflict(
                f"cannot cancel flow run {run_id}: it is {flow.state_name or flow.state_type};"
                " only scheduled, pending, running or paused runs can be cancelled")
        ep = "POST /api/flow_runs/{id}/set_state"
        who = f"Cancelled from flowwidgets by {_who()}"
        reply = yield Request("POST", f"/api/flow_runs/{_seg(run_id)}/set_state", ep,
                              body={"state": {"type": "CANCELLING", "name": "Cancelling",
                                              "message": who}, "force": False},
                              parse=lambda d: F.need_obj(d, ep, ""))
        verdict = F.s(reply.value, "status", ep, "", required=True)
        state = F.obj_or_none(reply.value, "state", ep, "") or {}
        stype = str(state.get("type") or "").lower()
        if verdict == "ACCEPT" or (verdict == "REJECT" and stype == "cancelled"):
            return PREFECT_RUN_STATES.get(stype, Status.UNKNOWN).value
        details = F.obj_or_none(reply.value, "details", ep, "") or {}
        raise errors.Conflict(
            f"{ep}: Prefect answered {verdict} to the cancel of {run_id}: "
            f"{details.get('reason') or details}", status_code=reply.status_code,
            detail=details)

    def run_now(self, pipeline: str, key: str | None) -> Plan[str]:
        """Create a flow run from the deployment ``"<flow>/<deployment>"``."""
        flow, sep, dep = pipeline.partition("/")
        if not sep:
            raise errors.ActionNotSupported(
                "run_now", f"{pipeline!r} is a flow without a deployment here: Prefect "
                "starts runs from deployments ('<flow>/<deployment>')")
        ep = "GET /api/deployments/name/{flow}/{deployment}"
        row = yield from self._get(f"/api/deployments/name/{_seg(flow)}/{_seg(dep)}", ep,
                                   lambda d: F.need_obj(d, ep, ""))
        dep_id = F.s(row, "id", ep, "", required=True)
        # Prefect deduplicates a deployment's flow runs by this key, so one is made when
        # the caller gave none: a lost answer, or the 503 Prefect answers while its database
        # is locked, is then retried without a second run (the key rides on the request)
        key = key if key is not None else uuid.uuid4().hex
        body = {"idempotency_key": key}
        ep = "POST /api/deployments/{id}/create_flow_run"
        reply = yield Request("POST", f"/api/deployments/{_seg(dep_id)}/create_flow_run", ep,
                              body=body, parse=lambda d: parse_flow_run(d, ep, ""),
                              idempotency_key=key)
        return reply.value.id
