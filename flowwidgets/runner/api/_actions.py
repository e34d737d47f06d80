"""The write side of /api: restart, rerun, resume from watermark, run now, cancel. POST
only.

Every action accepts an ``Idempotency-Key`` header: the same key with the same request
returns the run the first request created and creates nothing more; the same key with a
different request (another run, step or action) is 422 naming both. Clients should send
one fresh key per user action (a UUID) and reuse it for retries of that action: without
a key, every request that reaches the runner creates a run (50 concurrent restarts of one
run create 50 runs). The widgets and the TUI send keys. The runner's refusals
(:class:`~flowwidgets.errors.APIError`) become ``{"detail": ...}`` with their status
(404 unknown run or pipeline, 422 invalid action, 409 run still active).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Body, Header, HTTPException, Request

from flowwidgets.runner.api._schemas import CancelBody, Cancelled, Detail, NewRun, RestartBody

if TYPE_CHECKING:
    from flowwidgets.runner._local import LocalRunner

__all__ = ["router"]

router = APIRouter(prefix="/api", tags=["actions"])

MAX_KEY_LENGTH = 200

_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": Detail, "description": "No such run (or pipeline)"},
    409: {"model": Detail, "description": "The run is still active"},
    422: {"model": Detail, "description": "Malformed body, or the action does not apply"},
}

IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key",
           description="One fresh key (a UUID) per user action, reused for its retries: the "
                       "same key and request → the same new_run_id and one run created; the "
                       "same key on a different request → 422. Without a key every request "
                       "creates a run."),
]


def _runner(request: Request) -> LocalRunner:
    return request.app.state.runner


def _key(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if len(value) > MAX_KEY_LENGTH:
        raise HTTPException(status_code=422,
                            detail=f"Idempotency-Key is longer than {MAX_KEY_LENGTH} characters")
    return value


@router.post("/runs/{run_id}/restart", response_model=NewRun, responses=_ERRORS)
def restart(request: Request, run_id: str,
            body: Annotated[RestartBody | None, Body()] = None,
            idempotency_key: IdempotencyKey = None) -> dict[str, str]:
    """Restart a finished run from ``from_step``: that step and everything downstream
    re-run, the other steps' outputs are reused. ``from_step`` null: the failed step, or
    for a failed streaming run a resume from its last watermark (as ematix-flow)."""
    from_step = body.from_step if body is not None else None
    new_id = _runner(request).restart(run_id, from_step, idempotency_key=_key(idempotency_key))
    return {"new_run_id": new_id}


@router.post("/runs/{run_id}/rerun", response_model=NewRun, responses=_ERRORS)
def rerun(request: Request, run_id: str, idempotency_key: IdempotencyKey = None
          ) -> dict[str, str]:
    """Run the whole pipeline again from the beginning, as a new run of this one."""
    return {"new_run_id": _runner(request).rerun(run_id, idempotency_key=_key(idempotency_key))}


@router.post("/runs/{run_id}/resume-from-watermark", response_model=NewRun, responses=_ERRORS)
def resume_from_watermark(request: Request, run_id: str,
                          idempotency_key: IdempotencyKey = None) -> dict[str, str]:
    """Streaming runs: a new run that continues from the pipeline's last watermark."""
    return {"new_run_id": _runner(request).resume(run_id,
                                                  idempotency_key=_key(idempotency_key))}


_CANCEL_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": Detail, "description": "No such run"},
    409: {"model": Detail, "description": "The run has already finished"},
    422: {"model": Detail, "description": "Malformed body"},
}


@router.post("/runs/{run_id}/cancel", response_model=Cancelled, responses=_CANCEL_ERRORS)
def cancel(request: Request, run_id: str, body: Annotated[CancelBody | None, Body()] = None,
           idempotency_key: IdempotencyKey = None) -> dict[str, str | None]:
    """Cancel a requested or running run: it becomes ``cancelled`` (``by`` and the time
    are recorded in its ``extras``), its shell steps' processes are killed and its call
    steps' results discarded. 409 once it finished, except for a repeat with the same
    ``Idempotency-Key`` (200, the same answer)."""
    by = body.by if body is not None and body.by else None
    client = request.client.host if request.client is not None else "unknown"
    record = _runner(request).cancel(run_id, by=by or f"api client {client}",
                                     idempotency_key=_key(idempotency_key))
    return {"run_id": record.run_id, "status": str(record.status),
            "cancelled_by": record.extras.get("cancelled_by"),
            "cancelled_at": record.extras.get("cancelled_at")}


def _run_now(request: Request, name: str, idempotency_key: str | None) -> dict[str, str]:
    return {"new_run_id": _runner(request).run_now(name, idempotency_key=_key(idempotency_key))}


@router.post("/jobs/{name}/run-now", response_model=NewRun, responses=_ERRORS)
def job_run_now(request: Request, name: str, idempotency_key: IdempotencyKey = None
                ) -> dict[str, str]:
    """Request a run of pipeline ``name`` now, whatever its schedule (ematix's path)."""
    return _run_now(request, name, idempotency_key)


@router.post("/pipelines/{name}/run-now", response_model=NewRun, responses=_ERRORS)
def pipeline_run_now(request: Request, name: str, idempotency_key: IdempotencyKey = None
                     ) -> dict[str, str]:
    """Alias of ``POST /api/jobs/{name}/run-now``."""
    return _run_now(request, name, idempotency_key)
