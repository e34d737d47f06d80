"""Parsing of the ``/api`` payloads (runs, pages, pipelines, run details with steps,
attempts and actions, action replies), mixed into
:class:`~flowwidgets.sources.api.ApiFlavour`."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from flowwidgets.errors import SchemaError
from flowwidgets.models import Actions, Attempt, Pipeline, Run, RunDetail, RunPage, Status, Step
from flowwidgets.sources import _fields as F

if TYPE_CHECKING:
    from flowwidgets.sources._run_columns import ColumnsPage, RunColumns

__all__ = ["STATUS", "ApiParsing"]

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


class ApiParsing:
    """Payload parsing of the /api flavours (a bad payload raises naming the endpoint
    and the field); ``capabilities`` and ``stub_mode`` come from the flavour."""

    capabilities: frozenset[str]
    stub_mode: bool

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
        total, next_offset, cursor = _paging(d, len(runs), ep)
        return RunPage(runs=runs, total=total, next_offset=next_offset, next_cursor=cursor)

    def parse_columns_page(self, data: Any) -> ColumnsPage:
        """``GET /api/runs`` with its paging fields read and its rows parsed into columns
        later (:meth:`parse_columns`, on :meth:`ColumnsPage.columns`): a bulk reader
        asks for the next page first. A page whose paging fields are wrong is parsed at
        once, so it raises what :meth:`parse_page` raises first."""
        from functools import partial

        from flowwidgets.sources._run_columns import ColumnsPage

        ep = "GET /api/runs"
        d = F.need_obj(data, ep, "")
        rows = F.need_list(F.req(d, "runs", ep, ""), ep, "runs")
        try:
            total, next_offset, cursor = _paging(d, len(rows), ep)
        except SchemaError:
            return ColumnsPage.ready(self.parse_columns(data))  # raises: rows first
        return ColumnsPage(len(rows), total, next_offset, cursor,
                           partial(self.parse_columns, data))

    def parse_columns(self, data: Any) -> RunColumns:
        """``GET /api/runs`` as columns (:func:`flowwidgets.runs_frame`): straight from
        the JSON when the rows have the common shape, else through :meth:`parse_page`
        (the same values and errors either way)."""
        from flowwidgets.sources._run_columns import RunColumns, parse_api_columns

        ep = "GET /api/runs"
        d = F.need_obj(data, ep, "")
        rows = F.need_list(F.req(d, "runs", ep, ""), ep, "runs")
        cols = parse_api_columns(rows, STATUS)
        if cols is None:
            return RunColumns.from_page(self.parse_page(data))
        cols.total, cols.next_offset, cols.next_cursor = _paging(d, len(rows), ep)
        return cols

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


def _paging(d: dict[str, Any], n: int, ep: str) -> tuple[int, int | None, str | None]:
    """A runs page's ``total`` (``n`` when null), ``next_offset`` and ``next_cursor``."""
    total = F.i(d, "total", ep, "")
    if total is None:
        F.req(d, "total", ep, "")
        total = n
    cursor = d.get("next_cursor")
    return (total, F.i(d, "next_offset", ep, ""),
            cursor if isinstance(cursor, str) and cursor else None)
