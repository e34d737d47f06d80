"""The read side of /api: health, pipelines, runs, one run, one step's log.

The hot GETs (pipelines, runs, one run) return :class:`~._json.FastJSON`: their
``response_model`` documents the body without validating each answer.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson
from fastapi import APIRouter, HTTPException, Query, Request
from starlette.concurrency import run_in_threadpool

from flowwidgets.models import RUN_STATUSES
from flowwidgets.runner.api import _payloads as P
from flowwidgets.runner.api._json import FastJSON
from flowwidgets.runner.api._schedule import NextFires
from flowwidgets.runner.api._schemas import (
    Detail,
    Health,
    PipelineList,
    RunDetailOut,
    RunPageOut,
    StepLogOut,
)
from flowwidgets.runner.api._streaming import streaming_stats

if TYPE_CHECKING:
    from flowwidgets.runner._local import LocalRunner
    from flowwidgets.runner.store import RunLog, RunRecord

__all__ = ["router"]

router = APIRouter(prefix="/api")

VALID_RUN_STATUSES = tuple(sorted(str(s) for s in RUN_STATUSES))
MAX_LIMIT = 500
MAX_OFFSET = 2**53
"""Offsets are clamped here: SQLite integers are 64-bit."""

_Responses = dict[int | str, dict[str, Any]]
_404: _Responses = {404: {"model": Detail, "description": "No such run, step or attempt"}}
_422: _Responses = {422: {"model": Detail, "description": "A parameter is invalid"}}


def _runner(request: Request) -> LocalRunner:
    return request.app.state.runner


def _store(request: Request) -> RunLog:
    return request.app.state.runner.store


@router.get("/health", response_model=Health, tags=["meta"])
async def health() -> dict[str, str]:
    """Liveness: answers without a token (on the event loop: it reads nothing)."""
    from flowwidgets import __version__

    return {"status": "ok", "runner": "flowwidgets", "version": __version__}


@router.get("/pipelines", response_model=PipelineList, response_class=FastJSON,
            tags=["pipelines"])
def list_pipelines(request: Request) -> FastJSON:
    """Every pipeline of the runner (also those never run) plus pipelines that only have
    history; statistics are computed over the whole history."""
    runner = _runner(request)
    store = runner.store
    fires: NextFires = request.app.state.next_fires
    now = datetime.now(UTC)
    specs = {p.name: p for p in runner.pipelines}
    stats = store.pipeline_stats(list(specs), now=now)
    # history-only pipelines after the configured ones, most recently active first
    extra = sorted((n for n in stats if n not in specs),
                   key=lambda n: _latest_created(stats[n]), reverse=True)
    out = []
    for name in [*specs, *extra]:
        spec = specs.get(name)
        st = stats.get(name)
        kind = spec.kind if spec else (st.latest_run.kind if st and st.latest_run else "batch")
        next_at = fires.next_run_at(name, now) if spec and kind != "streaming" else None
        streaming = streaming_stats(store, name, now) if kind == "streaming" else None
        out.append(P.pipeline_payload(name, spec, st, next_run_at=next_at,
                                      streaming=streaming))
    return FastJSON({"pipelines": out})


def _latest_created(stats: Any) -> str:
    latest = stats.latest_run
    return latest.created_at.isoformat() if latest is not None else ""


@router.get("/runs", response_model=RunPageOut, response_class=FastJSON, responses=_422,
            tags=["runs"])
async def list_runs(
    request: Request,
    pipeline: str | None = None,
    status: str | None = Query(None, description=f"One of {', '.join(VALID_RUN_STATUSES)}"),
    limit: int = Query(50, description="Page size, clamped to 1..500"),
    offset: int = Query(0, description="Rows to skip (negative counts as 0); with a "
                                       "cursor, rows to skip after it"),
    cursor: str | None = Query(None, description="next_cursor of the previous page: the "
                                                 "page starts right after its last run"),
) -> FastJSON:
    """A page of runs, newest first, with the total that match, the next page's offset
    and a cursor for it (keyset paging: as fast at the end of the history as at the
    start)."""
    if status and status not in VALID_RUN_STATUSES:
        raise HTTPException(
            status_code=422,
            detail=f"unknown status {status!r}; valid: {', '.join(VALID_RUN_STATUSES)}")
    limit = max(1, min(limit, MAX_LIMIT))
    offset = max(0, min(offset, MAX_OFFSET))
    after = None if cursor is None else decode_cursor(cursor)
    args = (_store(request), pipeline or None, status or None, limit, offset, after)
    # a first or cursor page without a status filter is one index seek, a bounded read,
    # and its count is the kept totals: on the event loop; the others in the thread pool
    if offset == 0 and not status:
        return _runs_page(*args)
    return await run_in_threadpool(_runs_page, *args)  # skipping rows, or counting them


def _runs_page(store: RunLog, pipeline: str | None, status: str | None, limit: int,
               offset: int, after: tuple[str, str] | None) -> FastJSON:
    encoded = store.encoded_run_summaries(pipeline=pipeline, status=status,
                                          limit=limit + 1, offset=offset, after=after)
    if encoded is not None:  # the summaries' JSON written by the store
        texts, total = encoded
        more = len(texts) > limit
        texts = texts[:limit]
        return FastJSON({
            "runs": orjson.Fragment("[" + ",".join(texts) + "]"),
            "total": total,
            "next_offset": (offset + limit if after is None and offset + limit < total
                            else None),
            "next_cursor": encode_cursor(orjson.loads(texts[-1])) if more else None,
        })
    runs, total = store.list_run_summaries(pipeline=pipeline, status=status,
                                           limit=limit + 1, offset=offset, after=after)
    more = len(runs) > limit
    runs = runs[:limit]
    return FastJSON({
        "runs": runs,
        "total": total,
        "next_offset": offset + limit if after is None and offset + limit < total else None,
        "next_cursor": encode_cursor(runs[-1]) if more else None,
    })


def encode_cursor(summary: dict[str, Any]) -> str:
    """The keyset cursor just after a run summary (opaque to clients)."""
    raw = json.dumps([summary["created_at"], summary["run_id"]], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode("utf-8")).decode("ascii").rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, str]:
    """``(created_at, run_id)`` of a cursor; HTTP 422 naming it when it is not one."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created, run_id = json.loads(raw.decode("utf-8"))
        if isinstance(created, str) and isinstance(run_id, str):
            return created, run_id
    except (ValueError, TypeError, UnicodeDecodeError):
        pass
    raise HTTPException(status_code=422, detail=f"cursor {cursor[:80]!r} is not a "
                                                "next_cursor from GET /api/runs")


INLINE_STEPS = 200
"""A run whose configured pipeline has at most this many steps is read on the event loop
(a fraction of a millisecond); larger ones, and runs of pipelines not configured (an
imported history), in the thread pool so a big DAG never holds the loop."""


@router.get("/runs/{run_id}", response_model=RunDetailOut, response_class=FastJSON,
            responses=_404, tags=["runs"])
async def get_run(request: Request, run_id: str) -> FastJSON:
    """One run: the summary, its error, the DAG's steps, every attempt of every step, and
    which actions apply."""
    runner = _runner(request)
    run = runner.store.get_run(run_id)  # one primary-key read
    if run is None:
        raise HTTPException(status_code=404, detail=f"run {run_id} not found")
    pipelines = runner.pipelines
    if run.pipeline in pipelines and len(pipelines[run.pipeline].steps) <= INLINE_STEPS:
        return _run_detail(runner, run)
    return await run_in_threadpool(_run_detail, runner, run)


def _run_detail(runner: LocalRunner, run: RunRecord) -> FastJSON:
    store = runner.store
    steps = store.get_steps(run.run_id)
    return FastJSON(P.run_detail(run, steps, store.get_attempts(run.run_id),
                                 runner.actions_for(run, steps), store.child_runs(run.run_id)))


@router.get("/runs/{run_id}/steps/{step}/log", response_model=StepLogOut,
            responses=_404, tags=["runs"])
def step_log(request: Request, run_id: str, step: str,
             attempt: int | None = Query(None, description="Attempt number; default latest")
             ) -> dict[str, Any]:
    """The log tail and error of one attempt of a step (the latest by default). A step
    with no attempt in this run (not started, or reused) answers ``attempt: null``."""
    store = _store(request)
    if store.get_run(run_id) is None:
        raise HTTPException(status_code=404, detail=f"run {run_id} not found")
    steps = {s.name: s for s in store.get_steps(run_id)}
    if step not in steps:
        raise HTTPException(status_code=404,
                            detail=f"run {run_id} has no step {step!r}; steps: {list(steps)}")
    attempts = store.get_attempts(run_id, step)
    chosen = None
    if attempt is not None:
        chosen = next((a for a in attempts if a.number == attempt), None)
        if chosen is None:
            raise HTTPException(
                status_code=404,
                detail=f"step {step!r} of run {run_id} has no attempt {attempt}; "
                       f"attempts: {[a.number for a in attempts]}")
    elif attempts:
        chosen = max(attempts, key=lambda a: a.number)
    s = steps[step]
    return {
        "run_id": run_id,
        "step": step,
        "attempt": chosen.number if chosen else None,
        "status": str(chosen.status if chosen else s.status),
        "log_tail": chosen.log_tail if chosen else None,
        "error": chosen.error if chosen else s.error,
        "attempts": len(attempts),
        "reused_from": s.reused_from,
    }
