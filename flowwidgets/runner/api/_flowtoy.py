"""flowtoy's runner API: ``GET /status`` and ``GET /outputs`` (its TUI and web UI poll these).

flowtoy serves one run at a time; here ``?pipeline=NAME`` picks that pipeline's most
recently started run, and without it the most recently started run of any pipeline.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from flowwidgets.runner.api import _payloads as P
from flowwidgets.runner.api._json import FastJSON
from flowwidgets.runner.api._schemas import FlowtoyStatus

if TYPE_CHECKING:
    from flowwidgets.runner.store import RunLog, RunRecord

__all__ = ["current_run", "router"]

router = APIRouter(tags=["flowtoy"])

_LOOKBACK = 20
"""Newest runs (by creation) searched for the latest start: queued runs have none yet."""

PipelineParam = Query(None, description="Pipeline name; default: any pipeline")


def current_run(store: RunLog, pipeline: str | None) -> RunRecord | None:
    """The most recently started run (of ``pipeline`` if given); a queued run when none
    of the newest ones has started; None when there is no run."""
    runs, _ = store.list_runs(pipeline=pipeline or None, limit=_LOOKBACK)
    started = [r for r in runs if r.started_at is not None]
    if started:
        return max(started, key=lambda r: r.started_at)  # type: ignore[arg-type,return-value]
    return runs[0] if runs else None


INLINE_STEPS = 2000
"""A run whose configured pipeline has at most this many steps is answered on the event
loop (about 2 ms for 1,000 steps); larger ones, and runs of pipelines not configured, in
the thread pool, so a huge DAG never holds the loop long."""


@router.get("/status", response_model=FlowtoyStatus, response_class=FastJSON)
async def status(request: Request, pipeline: str | None = PipelineParam) -> FastJSON:
    """flowtoy's run status: epoch-second times, steps keyed by name;
    ``{"status": "no-runner"}`` when there is no run. One query for the steps and their
    outputs' keys (built straight from the rows when the store can), orjson, no
    response-model validation (the schema test checks it)."""
    runner = request.app.state.runner
    store: RunLog = runner.store
    run = current_run(store, pipeline)  # the newest runs by one index: bounded
    if run is None:
        return FastJSON({"status": "no-runner"})
    spec = runner.pipelines[run.pipeline] if run.pipeline in runner.pipelines else None
    if spec is not None and len(spec.steps) <= INLINE_STEPS:
        return _status(store, run)
    return await run_in_threadpool(_status, store, run)


def _status(store: RunLog, run: RunRecord) -> FastJSON:
    built = store.status_steps(run.run_id)
    if built is None:
        return FastJSON(P.flowtoy_status(run, store.step_states(run.run_id)))
    return FastJSON(P.flowtoy_run(run, built.steps, built.total, built.completed,
                                  built.running))


@router.get("/outputs", response_model=dict[str, Any])
def outputs(request: Request, pipeline: str | None = PipelineParam) -> dict[str, Any]:
    """``{step: output}`` of the current run's steps that stored one (``{}`` for none)."""
    store: RunLog = request.app.state.runner.store
    run = current_run(store, pipeline)
    if run is None:
        return {}
    out: dict[str, Any] = {}
    for s in store.get_steps(run.run_id):
        try:
            out[s.name] = store.load_output(run.run_id, s.name)
        except KeyError:
            continue
    return out
