"""The ``/api`` flavour: our runner and ematix-flow's ``flow web``.

Both serve the same paths and field names (ematix-flow 1.0 ``web/server.py``,
``run_log/history.py``): ``/api/pipelines`` → ``{"pipelines": [...]}``, ``/api/runs`` →
``{"runs", "total", "next_offset"}``, ``/api/runs/{id}`` → the summary plus ``attempts``,
``steps`` and an ``actions`` object. Ours adds fields (``created_at``, ``trigger``,
``parent_run_id``, per-step times, errors and attempts, per-attempt ``step``), a step-log
endpoint, ETags, server-sent events and ``resume-from-watermark``; on ematix a resume is a
restart with ``{"from_step": null}`` of a failed streaming run.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from flowwidgets import errors
from flowwidgets.models import Actions, Attempt, Pipeline, Run, RunDetail, RunPage, Status, Step
from flowwidgets.sources import _fields as F
from flowwidgets.sources._http import HttpCore, Reply, Request
from flowwidgets.sources._plan import ACTIONS, Flavour, Plan
from flowwidgets.sources._registry import FlavourProbe

__all__ = ["EMATIX_PROBE", "OURS_PROBE", "STATUS", "ApiFlavour", "EmatixFlavour",
           "FlowwidgetsFlavour"]

STATUS: dict[str, Status] = {
    "requested": Status.REQUESTED,
    "queued": Status.REQUESTED,
    "running": Status.RUNNING,
    "paused": Status.PAUSED,
    "succeeded": Status.SUCCEEDED,
    "success": Status.SUCCEEDED,
    "failed": Status.FAILED,
    "cancelled": Status.CANCELLED,
    "canceled": Status.CANCELLED,
    "pending": Status.PENDING,
    "skipped": Status.SKIPPED,
}
"""The /api vocabulary (ematix-flow's run and step words, a few spellings) → Status."""

MAX_HISTORY = 200
"""Most runs our runner's step-history endpoint returns at once."""

STUB_RUN_PREFIX = "01HQSTUB"
"""ematix-flow's placeholder run ids, served when ``flow web`` has no run log."""


def _who() -> str | None:
    """Who cancels, as the runner records it: the kernel's user name."""
    try:
        return getpass.getuser()
    except Exception:  # no user name in this environment (a container without one)
        return None


def _seg(value: str) -> str:
    return quote(str(value), safe="")


class ApiFlavour(Flavour):
    """Shared /api logic; the two servers differ in what they add."""

    capabilities = frozenset(ACTIONS) - {"cancel"}  # ematix-flow's /api cannot cancel
    step_logs = False  # ematix-flow's /api has no step logs; ours adds them

    # ---- parsing -----------------------------------------------------------------------

    def parse_run(self, d: Any, ep: str, where: str, pipeline: str | None = None) -> Run:
        """A run summary (``to_summary_dict`` shape, plus our additions)."""
        d = F.need_obj(d, ep, where)
        run_id = F.s(d, "run_id", ep, where, required=True)
        name = F.s(d, "pipeline", ep, where, required=pipeline is None) or pipeline
        st, raw = F.status(d, "status", STATUS, ep, where)
        started = F.t(d, "started_at", ep, where)
        finished = F.t(d, "finished_at", ep, where)
        duration = F.i(d, "duration_ms", ep, where)
        if duration is None and started is not None and finished is not None:
            duration = int((finished - started).total_seconds() * 1000)
        attempts = F.i(d, "attempt", ep, where)
        if attempts is None:
            attempts = F.i(d, "attempts", ep, where)
        extra: dict[str, Any] = {}
        if raw is not None:
            extra["raw_status"] = raw
        if "created_at" in d:
            extra["created_at"] = F.t(d, "created_at", ep, where)
        if d.get("parent_run_id") is not None:
            extra["parent_run_id"] = F.s(d, "parent_run_id", ep, where)
        if d.get("from_step") is not None:
            extra["from_step"] = F.s(d, "from_step", ep, where)
        if d.get("imported") is True:
            extra["imported"] = True
        if d.get("error_summary") is not None:
            extra["error_summary"] = F.s(d, "error_summary", ep, where)
        if self.stub_mode:
            extra["stub"] = True
        return Run(run_id=run_id, pipeline=name, status=st, started_at=started,  # type: ignore[arg-type]
                   finished_at=finished, duration_ms=duration, attempts=attempts,
                   failed_step=F.s(d, "failed_step", ep, where),
                   kind=F.s(d, "kind", ep, where, default="batch") or "batch",
                   trigger=F.s(d, "trigger", ep, where), extra=extra)

    def parse_page(self, data: Any) -> RunPage:
        """``GET /api/runs``."""
        ep = "GET /api/runs"
        d = F.need_obj(data, ep, "")
        rows = F.need_list(F.req(d, "runs", ep, ""), ep, "runs")
        runs = tuple(self.parse_run(r, ep, f"runs[{n}]") for n, r in enumerate(rows))
        total = F.i(d, "total", ep, "")
        if total is None:
            F.req(d, "total", ep, "")
            total = len(runs)
        cursor = d.get("next_cursor")
        return RunPage(runs=runs, total=total, next_offset=F.i(d, "next_offset", ep, ""),
                       next_cursor=cursor if isinstance(cursor, str) and cursor else None)

    def parse_pipelines(self, data: Any) -> tuple[Pipeline, ...]:
        """``GET /api/pipelines``."""
        ep = "GET /api/pipelines"
        d = F.need_obj(data, ep, "")
        rows = F.need_list(F.req(d, "pipelines", ep, ""), ep, "pipelines")
        return tuple(self.parse_pipeline(p, ep, f"pipelines[{n}]") for n, p in enumerate(rows))

    def parse_pipeline(self, d: Any, ep: str, where: str) -> Pipeline:
        """One pipeline card's data."""
        d = F.need_obj(d, ep, where)
        name = F.s(d, "name", ep, where, required=True)
        assert name is not None
        latest = d.get("latest_run")
        latest_run = (self.parse_run(latest, ep, f"{where}.latest_run", name)
                      if latest is not None else None)
        recent_rows = F.need_list(d.get("recent_runs") or [], ep, f"{where}.recent_runs")
        recent = tuple(self.parse_run(r, ep, f"{where}.recent_runs[{n}]", name)
                       for n, r in enumerate(recent_rows))
        median = F.f(d, "median_duration_ms", ep, where)
        extra: dict[str, Any] = {}
        if d.get("description") is not None:
            extra["description"] = F.s(d, "description", ep, where)
        if d.get("steps") is not None:
            extra["steps"] = F.strs(d, "steps", ep, where)
        if self.stub_mode:
            extra["stub"] = True
        return Pipeline(
            name=name, kind=F.s(d, "kind", ep, where, default="batch") or "batch",
            schedule=F.s(d, "schedule", ep, where), timezone=F.s(d, "timezone", ep, where),
            next_run_at=F.t(d, "next_run_at", ep, where), latest_run=latest_run,
            recent_runs=recent, median_duration_ms=None if median is None else round(median),
            failure_rate_7d=F.f(d, "failure_rate_7d", ep, where),
            total_runs=F.i(d, "total_runs", ep, where),
            paused=F.b(d, "paused", ep, where),
            streaming_stats=F.obj_or_none(d, "streaming_stats", ep, where), extra=extra)

    def parse_detail(self, data: Any, ep: str = "GET /api/runs/{id}", at: str = "",
                     extra_fields: dict[str, Any] | None = None) -> RunDetail:
        """``GET /api/runs/{id}`` (or one run of a step history: ``at`` is where it sits
        in that answer, ``extra_fields`` go into the detail's ``extra``)."""
        def w(where: str) -> str:
            return f"{at}.{where}" if at and where else (at or where)

        d = F.need_obj(data, ep, w(""))
        run = self.parse_run(d, ep, w(""))
        attempts = tuple(self._parse_attempt(a, ep, w(f"attempts[{n}]"), n) for n, a in
                         enumerate(F.need_list(d.get("attempts") or [], ep, w("attempts"))))
        steps = tuple(self._parse_step(s, ep, w(f"steps[{n}]"), attempts) for n, s in
                      enumerate(F.need_list(d.get("steps") or [], ep, w("steps"))))
        acts = F.obj_or_none(d, "actions", ep, w(""))
        actions = self._parse_actions(acts, ep) if acts is not None else Actions()
        extras = F.obj_or_none(d, "extras", ep, w("")) or {}
        parent = F.s(d, "parent_run_id", ep, w(""))
        if parent is None and isinstance(extras.get("prior_run_id"), str):
            parent = extras["prior_run_id"]
        extra: dict[str, Any] = dict(extra_fields or {})
        if extras:  # ematix keeps a run's DAG in extras["steps"]: parsed above, not repeated
            extra["extras"] = {k: v for k, v in extras.items() if k != "steps"}
        for key in ("from_step", "error_summary"):
            if d.get(key) is not None:
                extra[key] = F.s(d, key, ep, w(""))
        if self.stub_mode:
            extra["stub"] = True
        kids = F.need_list(d.get("children") or [], ep, w("children"))
        children = tuple(self.parse_run(c, ep, w(f"children[{n}]"), run.pipeline)
                         for n, c in enumerate(kids))
        return RunDetail(run=run, steps=steps, attempts=attempts, actions=actions,
                         children=children,
                         error=F.s(d, "error", ep, w("")) or F.s(d, "error_summary", ep, w("")),
                         failed_watermark=F.s(d, "failed_watermark", ep, w("")),
                         parent_run_id=parent, extra=extra)

    def _parse_attempt(self, a: Any, ep: str, where: str, n: int) -> Attempt:
        a = F.need_obj(a, ep, where)
        st, raw = F.status(a, "status", STATUS, ep, where)
        number = F.i(a, "attempt", ep, where)
        if number is None:
            number = F.i(a, "number", ep, where)
        extra: dict[str, Any] = {}
        if raw is not None:
            extra["raw_status"] = raw
        for key in ("failed_step", "error_summary"):
            if a.get(key) is not None:
                extra[key] = F.s(a, key, ep, where)
        error = F.s(a, "error_stack", ep, where) or F.s(a, "error", ep, where) \
            or F.s(a, "error_summary", ep, where)
        return Attempt(number=n + 1 if number is None else number, status=st,
                       started_at=F.t(a, "started_at", ep, where),
                       finished_at=F.t(a, "finished_at", ep, where), error=error,
                       log_tail=F.s(a, "log_tail", ep, where), step=F.s(a, "step", ep, where),
                       extra=extra)

    def _parse_step(self, s: Any, ep: str, where: str, attempts: tuple[Attempt, ...]) -> Step:
        s = F.need_obj(s, ep, where)
        name = F.s(s, "name", ep, where, required=True)
        assert name is not None
        st, raw = F.status(s, "status", STATUS, ep, where)
        raw_attempts = s.get("attempts")
        if isinstance(raw_attempts, list):
            own = tuple(self._parse_attempt(a, ep, f"{where}.attempts[{n}]", n)
                        for n, a in enumerate(raw_attempts))
        else:
            if raw_attempts is not None:
                F.i(s, "attempts", ep, where)  # a count: validate it, take the history below
            own = tuple(a for a in attempts if a.step == name)
        extra: dict[str, Any] = {"raw_status": raw} if raw is not None else {}
        if isinstance(raw_attempts, int) and not isinstance(raw_attempts, bool):
            extra["attempt_count"] = raw_attempts
        duration = F.f(s, "duration_ms", ep, where)
        return Step(name=name, status=st, depends_on=F.strs(s, "depends_on", ep, where),
                    started_at=F.t(s, "started_at", ep, where),
                    finished_at=F.t(s, "finished_at", ep, where),
                    duration_ms=None if duration is None else round(duration),
                    error=F.s(s, "error", ep, where), attempts=own,
                    reused_from=F.s(s, "reused_from", ep, where), extra=extra)

    def _parse_actions(self, a: dict[str, Any], ep: str) -> Actions:
        where = "actions"
        reasons_raw = F.obj_or_none(a, "reasons", ep, where) or {}
        reasons = {str(k): str(v) for k, v in reasons_raw.items() if isinstance(v, str)}
        if self.stub_mode:
            return Actions(reasons={"all": "stub mode: the server refuses every action"})
        return Actions(restart_from_step=F.strs(a, "restart_from_step", ep, where),
                       rerun=F.b(a, "rerun_full", ep, where),
                       resume_from_watermark=F.b(a, "resume_from_watermark", ep, where),
                       pause=F.b(a, "pause", ep, where), resume=F.b(a, "resume", ep, where),
                       restart_steps=F.strs(a, "restart_steps", ep, where),
                       can_cancel="cancel" in self.capabilities and F.b(a, "cancel", ep, where),
                       reasons=reasons)

    @staticmethod
    def parse_cancelled(endpoint: str) -> Callable[[Any], str]:
        """A parser for a cancel's ``{"run_id", "status"}`` answer: the status word."""
        def parse(data: Any) -> str:
            d = F.need_obj(data, endpoint, "")
            st, _ = F.status(d, "status", STATUS, endpoint, "")
            return st.value
        return parse

    @staticmethod
    def parse_new_run_id(endpoint: str) -> Callable[[Any], str]:
        """A parser for an action's ``{"new_run_id": ...}`` answer."""
        def parse(data: Any) -> str:
            d = F.need_obj(data, endpoint, "")
            return F.s(d, "new_run_id", endpoint, "", required=True)
        return parse

    # ---- plans -------------------------------------------------------------------------

    def pipelines(self) -> Plan[tuple[Pipeline, ...]]:
        reply = yield Request("GET", "/api/pipelines", "GET /api/pipelines",
                              parse=self.parse_pipelines, cache=True)
        return reply.value

    def runs(self, pipeline: str | None, status: Status | None, limit: int, offset: int,
             cache: bool, cursor: str | None = None) -> Plan[RunPage]:
        params = {"pipeline": pipeline, "status": status.value if status else None,
                  "limit": limit, "offset": offset, "cursor": cursor}
        reply = yield Request("GET", "/api/runs", "GET /api/runs", params=params,
                              parse=self.parse_page, cache=cache)
        return reply.value

    def run(self, run_id: str) -> Plan[RunDetail]:
        reply = yield Request("GET", f"/api/runs/{_seg(run_id)}", "GET /api/runs/{id}",
                              parse=self.parse_detail, cache=True)
        return reply.value

    def step_log(self, run_id: str, step: str, attempt: int | None) -> Plan[str | None]:
        return None
        yield  # pragma: no cover - ematix-flow keeps no step logs

    def health(self) -> Plan[bool]:
        reply = yield Request("GET", "/api/health", "GET /api/health", probe=True)
        return reply.status_code == 200 and isinstance(reply.value, dict) \
            and reply.value.get("status") == "ok"

    def restart(self, run_id: str, from_step: str | None, key: str | None) -> Plan[str]:
        if from_step is not None and not isinstance(from_step, str):
            raise TypeError(f"from_step must be a step name or None, got {from_step!r}")
        return self._post("restart", f"/api/runs/{_seg(run_id)}/restart",
                          "POST /api/runs/{id}/restart", {"from_step": from_step}, key)

    def rerun(self, run_id: str, key: str | None) -> Plan[str]:
        return self._post("rerun", f"/api/runs/{_seg(run_id)}/rerun",
                          "POST /api/runs/{id}/rerun", {}, key)

    def run_now(self, pipeline: str, key: str | None) -> Plan[str]:
        return self._post("run_now", f"/api/jobs/{_seg(pipeline)}/run-now",
                          "POST /api/jobs/{name}/run-now", {}, key)

    def _post(self, action: str, path: str, endpoint: str, body: dict[str, Any],
              key: str | None) -> Plan[str]:
        if self.stub_mode:
            raise errors.ActionNotSupported(action, self._stub_reason())
        try:
            reply: Reply = yield Request("POST", path, endpoint, body=body,
                                         parse=self.parse_new_run_id(endpoint),
                                         idempotency_key=key)
        except errors.APIError as exc:
            raise self._explain(action, exc) from exc
        return reply.value

    def _explain(self, action: str, exc: errors.APIError) -> errors.SourceError:
        return exc

    def _stub_reason(self) -> str:
        return ("the ematix-flow server runs in stub mode (no --run-log-url): it serves "
                "placeholder runs and refuses every action")


class FlowwidgetsFlavour(ApiFlavour):
    """Our runner: the /api contract plus logs, ETags, SSE, cancel and idempotent actions."""

    name = "flowwidgets"
    capabilities = frozenset(ACTIONS)
    idempotency = True
    push_path = "/api/events"
    step_logs = True

    def step_log(self, run_id: str, step: str, attempt: int | None) -> Plan[str | None]:
        ep = "GET /api/runs/{id}/steps/{step}/log"

        def parse(data: Any) -> str | None:
            d = F.need_obj(data, ep, "")
            return F.s(d, "log_tail", ep, "")

        reply = yield Request("GET", f"/api/runs/{_seg(run_id)}/steps/{_seg(step)}/log", ep,
                              params={"attempt": attempt}, parse=parse, cache=True)
        return reply.value

    def step_history(self, pipeline: str, status: Status | None,
                     limit: int) -> Plan[tuple[RunDetail, ...]]:
        """One request: ``GET /api/pipelines/{name}/step_history`` (a runner older than
        the endpoint answers 404 without ``detail`` naming the pipeline: then the
        fallback). ``max_workers`` lands in each detail's ``extra``."""
        ep = "GET /api/pipelines/{name}/step_history"

        def parse(data: Any) -> tuple[RunDetail, ...]:
            d = F.need_obj(data, ep, "")
            rows = F.need_list(F.req(d, "runs", ep, ""), ep, "runs")
            workers = F.i(d, "max_workers", ep, "")
            more = {"max_workers": workers} if workers is not None else None
            out = [self.parse_detail(row, ep, f"runs[{n}]", more)
                   for n, row in enumerate(rows)]
            return tuple(out)

        limit = min(limit, MAX_HISTORY)
        try:
            reply = yield Request("GET", f"/api/pipelines/{_seg(pipeline)}/step_history", ep,
                                  params={"limit": limit,
                                          "status": status.value if status else None},
                                  parse=parse, cache=True)
        except errors.NotFound as exc:
            if "pipeline" in str(exc.detail or ""):
                raise
            return (yield from super().step_history(pipeline, status, limit))
        return reply.value

    def resume(self, run_id: str, key: str | None) -> Plan[str]:
        return self._post("resume", f"/api/runs/{_seg(run_id)}/resume-from-watermark",
                          "POST /api/runs/{id}/resume-from-watermark", {}, key)

    def cancel(self, run_id: str, key: str | None) -> Plan[str]:
        """``POST /api/runs/{id}/cancel``: the run's status afterwards (``cancelled``)."""
        ep = "POST /api/runs/{id}/cancel"
        reply: Reply = yield Request("POST", f"/api/runs/{_seg(run_id)}/cancel", ep,
                                     body={"by": _who()},
                                     parse=self.parse_cancelled(ep), idempotency_key=key)
        return reply.value


class EmatixFlavour(ApiFlavour):
    """ematix-flow 1.0 ``flow web``: no ETags, no logs; resume = restart from null."""

    name = "ematix"

    def __init__(self, *, stub_mode: bool = False):
        self.stub_mode = stub_mode
        if stub_mode:
            self.capabilities = frozenset()

    def resume(self, run_id: str, key: str | None) -> Plan[str]:
        detail = yield from self.run(run_id)
        if not detail.actions.resume_from_watermark:
            raise errors.ActionNotSupported(
                "resume", f"run {run_id} is a {detail.status.value} {detail.run.kind} run; "
                "the runner offers resume from watermark only on failed streaming runs")
        return (yield from self._post("resume", f"/api/runs/{_seg(run_id)}/restart",
                                      "POST /api/runs/{id}/restart", {"from_step": None}, key))

    def _explain(self, action: str, exc: errors.APIError) -> errors.SourceError:
        detail = exc.detail
        if isinstance(exc, errors.Unprocessable) and "stub mode" in str(detail):
            self.stub_mode = True
            self.capabilities = frozenset()
            return errors.ActionNotSupported(action, self._stub_reason())
        if isinstance(exc, errors.ServerError):
            message = (
                f"{exc} -- the ematix-flow server failed while recording the {action}. "
                "ematix-flow 1.0's SQLite run log (flow web --run-log-url sqlite:///...) "
                "does not implement restart/rerun/run-now and answers 500 to them; only a "
                "store with enqueue_restart/enqueue_rerun (its in-memory history) can. "
                "Nothing was started.")
            return errors.ServerError(message, status_code=exc.status_code, detail=detail,
                                      request=exc.request, response=exc.response)
        if isinstance(exc, errors.NotFound) and action == "run_now":
            message = (f"{exc} -- ematix-flow only knows jobs registered in its own process: "
                       "start flow web with --module PIPELINES_MODULE")
            return errors.NotFound(message, status_code=404, detail=detail,
                                   request=exc.request, response=exc.response)
        return exc


def looks_like_stub(pipelines_payload: Any, runs_payload: Any = None) -> bool:
    """True when ematix-flow answers with its built-in placeholder data."""
    ids: list[str] = []
    for payload, key in ((pipelines_payload, "pipelines"), (runs_payload, "runs")):
        rows = payload.get(key) if isinstance(payload, dict) else None
        for row in rows if isinstance(rows, list) else ():
            if not isinstance(row, dict):
                continue
            if isinstance(row.get("run_id"), str):
                ids.append(row["run_id"])
            latest = row.get("latest_run")
            if isinstance(latest, dict) and isinstance(latest.get("run_id"), str):
                ids.append(latest["run_id"])
    return any(i.startswith(STUB_RUN_PREFIX) for i in ids)


# ---- detection (registered with the other flavours in sources/_flavours.py) ---------------


def _health() -> Plan[Any]:
    """What ``GET /api/health`` answers when it answers JSON 200, else None."""
    reply = yield Request("GET", "/api/health", "GET /api/health", probe=True)
    return reply.value if reply.status_code == 200 else None


def _detect_ours() -> Plan[bool]:
    health = yield from _health()
    return isinstance(health, dict) and health.get("runner") == "flowwidgets"


def _detect_ematix() -> Plan[bool]:
    health = yield from _health()
    return isinstance(health, dict) and health.get("runner") != "flowwidgets"


def _make_ematix(http: HttpCore, found: Any, options: dict[str, Any]) -> Flavour:
    if http.token is None:
        http.token = os.environ.get("EMATIX_FLOW_WEB_TOKEN")
    return EmatixFlavour()


def _start_ematix(flavour: Flavour) -> Plan[None]:
    """Check the pipelines answer is ematix-flow's, and whether it is placeholder data."""
    assert isinstance(flavour, EmatixFlavour)
    reply = yield Request("GET", "/api/pipelines", "GET /api/pipelines")
    data = reply.value
    if not isinstance(data, dict) or not isinstance(data.get("pipelines"), list):
        raise errors.SchemaError("GET /api/pipelines", "pipelines",
                                 "must be an array (is this an ematix-flow `flow web` server?)",
                                 data)
    if looks_like_stub(data):
        flavour.stub_mode = True
        flavour.capabilities = frozenset()


OURS_PROBE = FlavourProbe("flowwidgets", _detect_ours, lambda http, found, o: FlowwidgetsFlavour(),
                          order=0)
"""Our runner: ``GET /api/health`` answers ``{"runner": "flowwidgets", ...}``."""
EMATIX_PROBE = FlavourProbe("ematix", _detect_ematix, _make_ematix, _start_ematix, order=10)
"""ematix-flow ``flow web``: another JSON ``/api/health``; token from
``$EMATIX_FLOW_WEB_TOKEN`` unless one was given."""
