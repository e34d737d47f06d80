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
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from flowwidgets import errors
from flowwidgets.models import Pipeline, RunDetail, RunPage, Status
from flowwidgets.sources import _fields as F
from flowwidgets.sources._api_parse import STATUS, ApiParsing
from flowwidgets.sources._http import HttpCore, Reply, Request
from flowwidgets.sources._plan import ACTIONS, Flavour, Plan
from flowwidgets.sources._registry import FlavourProbe

if TYPE_CHECKING:
    from flowwidgets.sources._run_columns import ColumnsPage

# STATUS lives in _api_parse and is re-exported here
__all__ = ["EMATIX_PROBE", "OURS_PROBE", "STATUS", "ApiFlavour", "EmatixFlavour",
           "FlowwidgetsFlavour"]

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


class ApiFlavour(ApiParsing, Flavour):
    """Shared /api logic; the two servers differ in what they add."""

    capabilities = frozenset(ACTIONS) - {"cancel"}  # ematix-flow's /api cannot cancel
    step_logs = False  # ematix-flow's /api has no step logs; ours adds them

    # ---- plans -------------------------------------------------------------------------

    def pipelines(self) -> Plan[tuple[Pipeline, ...]]:
        reply = yield Request("GET", "/api/pipelines", "GET /api/pipelines",
                              parse=self.parse_pipelines, cache=True)
        return reply.value

    def runs(self, pipeline: str | None, status: Status | None, limit: int, offset: int,
             cache: bool, cursor: str | None = None) -> Plan[RunPage]:
        params = _runs_params(pipeline, status, limit, offset, cursor)
        reply = yield Request("GET", "/api/runs", "GET /api/runs", params=params,
                              parse=self.parse_page, cache=cache)
        return reply.value

    def runs_columns(self, pipeline: str | None, status: Status | None, limit: int,
                     offset: int, cursor: str | None = None) -> Plan[ColumnsPage]:
        params = _runs_params(pipeline, status, limit, offset, cursor)
        reply = yield Request("GET", "/api/runs", "GET /api/runs", params=params,
                              parse=self.parse_columns_page, cache=False)
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


def _runs_params(pipeline: str | None, status: Status | None, limit: int, offset: int,
                 cursor: str | None) -> dict[str, Any]:
    """The query of ``GET /api/runs`` (None values are left out when sent)."""
    return {"pipeline": pipeline, "status": status.value if status else None,
            "limit": limit, "offset": offset, "cursor": cursor}
