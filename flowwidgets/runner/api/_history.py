"""``GET /api/pipelines/{name}/step_history``: a pipeline's recent runs with their steps.

One request instead of a runs page plus one detail per run: what the timeline, the ETA
and the history views need (each step's start, end, status and attempts per run). Run
details here carry no ``actions`` (ask ``GET /api/runs/{id}`` for those).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, HTTPException, Query, Request

from flowwidgets.runner.api import _payloads as P
from flowwidgets.runner.api._json import FastJSON
from flowwidgets.runner.api._read import VALID_RUN_STATUSES
from flowwidgets.runner.api._schemas import Detail, StepHistoryOut

if TYPE_CHECKING:
    from flowwidgets.runner._local import LocalRunner

__all__ = ["MAX_HISTORY", "router"]

router = APIRouter(prefix="/api")

MAX_HISTORY = 200
"""Most runs one step-history answer holds (``limit`` is clamped to 1..MAX_HISTORY)."""

_ERR: dict[int | str, dict[str, Any]] = {
    404: {"model": Detail, "description": "No such pipeline"},
    422: {"model": Detail, "description": "A parameter is invalid"},
}


@router.get("/pipelines/{name}/step_history", response_model=StepHistoryOut,
            response_class=FastJSON, responses=_ERR, tags=["pipelines"])
def step_history(
    request: Request,
    name: str,
    limit: int = Query(20, description=f"Runs to return, clamped to 1..{MAX_HISTORY}"),
    status: str | None = Query(None, description=f"One of {', '.join(VALID_RUN_STATUSES)}"),
) -> FastJSON:
    """The pipeline's most recent runs (newest first, of one status if given), each with
    its steps and every attempt, in the shape of ``GET /api/runs/{id}`` without
    ``actions``; ``max_workers`` is how many steps the runner runs at once."""
    runner: LocalRunner = request.app.state.runner
    if status and status not in VALID_RUN_STATUSES:
        raise HTTPException(
            status_code=422,
            detail=f"unknown status {status!r}; valid: {', '.join(VALID_RUN_STATUSES)}")
    store = runner.store
    limit = max(1, min(limit, MAX_HISTORY))
    runs, total = store.list_runs(pipeline=name, status=status or None, limit=limit)
    if total == 0 and name not in {p.name for p in runner.pipelines} \
            and not store.list_runs(pipeline=name, limit=1)[1]:
        known = ", ".join(p.name for p in runner.pipelines) or "none"
        raise HTTPException(status_code=404,
                            detail=f"pipeline {name!r} not found; pipelines: {known}")
    out = []
    for run in runs:
        detail = P.run_detail(run, store.get_steps(run.run_id),
                              store.get_attempts(run.run_id), {})
        del detail["actions"]
        out.append(detail)
    return FastJSON({"pipeline": name, "runs": out, "total": total,
                     "max_workers": runner.max_workers})
