"""The flowtoy flavour: ``GET /status`` and ``GET /outputs`` of ``flowtoy run --status-port``.

flowtoy runs one flow once per process, so there is one pipeline (named after the flow
file, or ``flowtoy``) with at most one run. Its status has epoch-float times and steps
keyed by name (``pending | running | succeeded | failed | skipped``, errors in ``notes``),
``{"status": "no-runner"}`` before a runner is attached and ``500 {"error": ...}`` when it
fails. It reports no dependencies: pass the flow file (``connect(url, flow="flow.yaml")``)
and they are read from it as flowtoy's runner infers them (``depends_on`` plus
``flows.<step>.`` references in a step's ``input`` template). It has no actions.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from flowwidgets import errors
from flowwidgets.models import Actions, Attempt, Pipeline, Run, RunDetail, RunPage, Status, Step
from flowwidgets.sources import _fields as F
from flowwidgets.sources._http import Request
from flowwidgets.sources._plan import ACTIONS, Flavour, Plan, Snapshot
from flowwidgets.sources._registry import FlavourProbe

__all__ = ["PROBE", "STATUS", "FlowtoyFlavour", "read_flow_dependencies"]

STATUS: dict[str, Status] = {
    "pending": Status.PENDING,
    "running": Status.RUNNING,
    "succeeded": Status.SUCCEEDED,
    "failed": Status.FAILED,
    "skipped": Status.SKIPPED,
}
"""flowtoy's step states → Status."""

_EP = "GET /status"
_LATEST = datetime.max.replace(tzinfo=UTC)
_DEP_RE = re.compile(r"flows\.([A-Za-z0-9_]+)\.")
_NO_ACTIONS = {
    a: "flowtoy runs its flow once per process and has no API to start, restart or cancel runs"
    for a in ACTIONS
}


@dataclass(frozen=True, slots=True)
class _State:
    """One parsed ``/status``: the pipeline and its (only) run."""

    pipeline: Pipeline
    detail: RunDetail | None


def read_flow_dependencies(paths: str | Path | Sequence[str | Path]
                           ) -> dict[str, tuple[str, ...]]:
    """Each step's dependencies in a flowtoy flow file (several files merge as flowtoy
    merges them), in file order: explicit ``depends_on`` and ``flows.<step>.`` references
    in the step's ``input`` template, keeping only steps that exist."""
    files = [paths] if isinstance(paths, str | Path) else list(paths)
    merged: dict[str, Any] = {}
    for p in files:
        with open(p, encoding="utf-8") as fh:
            data = yaml.safe_load(fh) or {}
        if not isinstance(data, dict):
            raise errors.SpecError("a flowtoy flow file must be a mapping", path=str(p))
        merged = _merge(merged, data)
    steps = merged.get("flow") or []
    if not isinstance(steps, list):
        raise errors.SpecError("'flow' must be a list of steps", path=str(files[-1]))
    names = [s["name"] for s in steps if isinstance(s, dict) and isinstance(s.get("name"), str)]
    known = set(names)
    deps: dict[str, tuple[str, ...]] = {}
    for step in steps:
        if not isinstance(step, dict) or not isinstance(step.get("name"), str):
            continue
        found: list[str] = []
        explicit = step.get("depends_on") or []
        if isinstance(explicit, list):
            found += [d for d in explicit if isinstance(d, str)]
        if isinstance(step.get("input"), str):
            found += [m.group(1) for m in _DEP_RE.finditer(step["input"])]
        deps[step["name"]] = tuple(dict.fromkeys(d for d in found if d in known))
    return deps


def _merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out = dict(a)
    for k, v in b.items():
        out[k] = _merge(out[k], v) if isinstance(out.get(k), dict) and isinstance(v, dict) else v
    return out


class FlowtoyFlavour(Flavour):
    """Reads flowtoy's status; every action is :class:`ActionNotSupported`."""

    name = "flowtoy"
    capabilities = frozenset()
    step_logs = False

    def __init__(self, *, flow: str | Path | Sequence[str | Path] | None = None):
        self.flow = flow
        self.dependencies: dict[str, tuple[str, ...]] = {}
        self.pipeline_name = "flowtoy"
        if flow is not None:
            self.dependencies = read_flow_dependencies(flow)
            first = flow if isinstance(flow, str | Path) else flow[0]
            self.pipeline_name = Path(first).stem

    def _why_not(self, action: str) -> str:
        return _NO_ACTIONS[action]

    # ---- parsing -----------------------------------------------------------------------

    def parse_status(self, data: Any) -> _State:
        """``GET /status`` → the pipeline and its run (None before the run exists)."""
        d = F.need_obj(data, _EP, "")
        if d.get("status") == "no-runner" or "run_id" not in d:
            if "steps" in d or "started_at" in d:
                F.req(d, "run_id", _EP, "")
            return _State(Pipeline(name=self.pipeline_name, extra={"runner": "absent"}), None)
        run_id = F.s(d, "run_id", _EP, "", required=True)
        assert run_id is not None
        started = F.t(d, "started_at", _EP, "")
        ended = F.t(d, "ended_at", _EP, "")
        steps_obj = F.need_obj(d.get("steps") or {}, _EP, "steps")
        steps: list[Step] = []
        attempts: list[Attempt] = []
        names = list(steps_obj)
        order = {n: k for k, n in enumerate(self.dependencies)}
        names.sort(key=lambda n: order.get(n, len(order)))
        for name in names:
            where = F.path("steps", name)
            info = F.need_obj(steps_obj[name], _EP, where)
            st, raw = F.status(info, "state", STATUS, _EP, where)
            s_start = F.t(info, "started_at", _EP, where)
            s_end = F.t(info, "ended_at", _EP, where)
            notes = F.strs(info, "notes", _EP, where)
            error = "; ".join(notes) if notes else None
            outputs = F.strs(info, "outputs", _EP, where)
            extra: dict[str, Any] = {"outputs": list(outputs)}
            if raw is not None:
                extra["raw_status"] = raw
            own: tuple[Attempt, ...] = ()
            if s_start is not None:
                a_status = st if st is not Status.PENDING else Status.RUNNING
                own = (Attempt(number=1, status=a_status, started_at=s_start,
                               finished_at=s_end, error=error, step=name),)
                attempts += own
            steps.append(Step(
                name=name, status=st, depends_on=self.dependencies.get(name, ()),
                started_at=s_start, finished_at=s_end,
                duration_ms=_ms(s_start, s_end), error=error, attempts=own, extra=extra))
        failed = [s for s in steps if s.status is Status.FAILED]
        failed.sort(key=lambda s: s.finished_at or s.started_at or _LATEST)
        if started is None:
            status = Status.REQUESTED
        elif ended is None:
            status = Status.RUNNING
        else:
            status = Status.FAILED if failed else Status.SUCCEEDED
        current = d.get("current_step") or d.get("running_steps")
        run = Run(run_id=run_id, pipeline=self.pipeline_name, status=status,
                  started_at=started, finished_at=ended, duration_ms=_ms(started, ended),
                  attempts=1, failed_step=failed[0].name if failed else None, kind="batch",
                  extra={"current_step": current} if current else {})
        detail = RunDetail(run=run, steps=tuple(steps), attempts=tuple(attempts),
                           actions=Actions(reasons=dict(_NO_ACTIONS)),
                           error=failed[0].error if failed else None)
        durations = [run.duration_ms] if run.duration_ms is not None else []
        pipeline = Pipeline(name=self.pipeline_name, kind="batch", latest_run=run,
                            recent_runs=(run,), total_runs=1,
                            median_duration_ms=durations[0] if durations else None,
                            extra={"steps": tuple(s.name for s in steps)})
        return _State(pipeline, detail)

    # ---- plans -------------------------------------------------------------------------

    def _state(self) -> Plan[_State]:
        reply = yield Request("GET", "/status", _EP, parse=self.parse_status, cache=True)
        return reply.value

    def pipelines(self) -> Plan[tuple[Pipeline, ...]]:
        state = yield from self._state()
        return (state.pipeline,)

    def runs(self, pipeline: str | None, status: Status | None, limit: int, offset: int,
             cache: bool) -> Plan[RunPage]:
        state = yield from self._state()
        rows: list[Run] = []
        if state.detail is not None:
            run = state.detail.run
            if (pipeline in (None, run.pipeline)) and (status in (None, run.status)):
                rows.append(run)
        page = tuple(rows[offset:offset + limit])
        nxt = offset + limit if offset + limit < len(rows) else None
        return RunPage(runs=page, total=len(rows), next_offset=nxt)

    def run(self, run_id: str) -> Plan[RunDetail]:
        state = yield from self._state()
        if state.detail is None or state.detail.run_id != str(run_id):
            known = state.detail.run_id if state.detail is not None else "none yet"
            raise errors.NotFound(
                f"GET /status: flowtoy knows only its current run ({known}), not {run_id!r}",
                status_code=404, detail=f"run {run_id} not found")
        try:
            reply = yield Request("GET", "/outputs", "GET /outputs")
        except errors.APIError:
            return state.detail
        outputs = reply.value if isinstance(reply.value, dict) else {}
        extra = dict(state.detail.extra)
        extra["outputs"] = outputs
        return RunDetail(run=state.detail.run, steps=state.detail.steps,
                         attempts=state.detail.attempts, actions=state.detail.actions,
                         error=state.detail.error, extra=extra)

    def step_log(self, run_id: str, step: str, attempt: int | None) -> Plan[str | None]:
        detail = yield from self.run(run_id)
        if step not in {s.name for s in detail.steps}:
            raise errors.NotFound(f"GET /status: run {run_id} has no step {step!r}",
                                  status_code=404, detail=f"step {step} not found")
        return None

    def health(self) -> Plan[bool]:
        reply = yield Request("GET", "/status", _EP, probe=True)
        return reply.status_code == 200 and isinstance(reply.value, dict)

    def snapshot(self) -> Plan[Snapshot]:
        state = yield from self._state()
        runs: dict[str, Any] = {}
        if state.detail is not None:
            runs[state.detail.run_id] = state.detail
        return Snapshot({state.pipeline.name: state.pipeline}, runs)


def _ms(start: Any, end: Any) -> int | None:
    if start is None or end is None:
        return None
    return int((end - start).total_seconds() * 1000)


# ---- detection (registered with the other flavours in sources/_flavours.py) ---------------


def _detect_flowtoy() -> Plan[bool]:
    reply = yield Request("GET", "/status", "GET /status", probe=True)
    d = reply.value
    return isinstance(d, dict) and (
        (reply.status_code == 200 and ("steps" in d or "run_id" in d
                                       or d.get("status") == "no-runner"))
        or (reply.status_code == 500 and "error" in d))


PROBE = FlavourProbe("flowtoy", _detect_flowtoy,
                     lambda http, found, options: FlowtoyFlavour(flow=options.get("flow")),
                     options=frozenset({"flow"}), order=100)
"""flowtoy's ``GET /status`` (tried last: a bare ``/status`` is the least specific)."""
