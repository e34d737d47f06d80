"""Pydantic models of the API's bodies: the OpenAPI document and response validation.

Responses are built as plain dicts by :mod:`._payloads`; these models describe them (and
FastAPI checks every response against them), so /api/openapi.json tells a client exactly
what it gets. ``extra="allow"`` keeps room to add fields without breaking old clients.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, StrictStr

from flowwidgets.runner.api._wire import RUN_SUMMARY, STEP

__all__ = [
    "AttemptOut",
    "Detail",
    "FlowtoyStatus",
    "Health",
    "NewRun",
    "PipelineList",
    "PipelineOut",
    "RestartBody",
    "RunDetailOut",
    "RunPageOut",
    "RunSummaryOut",
    "StepLogOut",
    "StepOut",
    "StreamingStats",
]

_OPEN = ConfigDict(extra="allow")


class Detail(BaseModel):
    """Every error: ``{"detail": ...}`` (a string, or FastAPI's list for bad parameters)."""

    detail: Any


class Health(BaseModel):
    """Liveness; open without a token."""

    status: str
    runner: str
    version: str


# Models of bodies that copy run-log records are built from the records (see _wire.py);
# mypy sees them as plain models.
if TYPE_CHECKING:
    RunSummaryOut = BaseModel
    StepOut = BaseModel
else:
    RunSummaryOut = RUN_SUMMARY.schema(
        "RunSummaryOut",
        "A run as listed (ematix-flow's summary plus created_at, trigger, parent_run_id).")
    StepOut = STEP.schema("StepOut", "A node of the run's DAG with its state in this run.")


class RunPageOut(BaseModel):
    """One page of runs, newest first; ``next_offset`` is None on the last page (and
    when the page was asked for by ``cursor``); ``next_cursor`` (None on the last page)
    asks for the next page in one index seek, however deep."""

    runs: list[RunSummaryOut]
    total: int
    next_offset: int | None
    next_cursor: str | None = None


class AttemptOut(BaseModel):
    """One try of one step."""

    model_config = _OPEN
    attempt: int
    step: str
    status: str
    started_at: str | None
    finished_at: str | None
    error_summary: str | None
    error_stack: str | None


class RunDetailOut(RunSummaryOut):
    """A run with its error, DAG, every attempt and the actions that apply."""

    failed_watermark: str | None
    error_summary: str | None
    error: str | None
    extras: dict[str, Any]
    from_step: str | None
    attempts: list[AttemptOut]
    steps: list[StepOut]
    actions: dict[str, Any]
    children: list[dict[str, Any]] = []
    """Runs started from this one (restarts, reruns, resumes), oldest first."""


class HistoryRunOut(RunSummaryOut):
    """A run of a step history: ``GET /api/runs/{id}`` without ``actions``."""

    model_config = _OPEN
    error: str | None
    attempts: list[AttemptOut]
    steps: list[StepOut]


class StepHistoryOut(BaseModel):
    """A pipeline's recent runs with their steps, newest first."""

    pipeline: str
    runs: list[HistoryRunOut]
    total: int
    """Runs of this pipeline (of the status asked for) in the whole history."""
    max_workers: int
    """Steps the runner runs at once."""


class StreamingStats(BaseModel):
    """Throughput of a streaming pipeline, computed from its watermark history in the run
    log: totals at the newest commit, and rates over the last minute and five minutes
    (``rows_consumed_per_sec``, ``batches_per_sec``, ``span_seconds``: the window, or less
    for a pipeline whose first commit falls inside it; all None until a second commit)."""

    model_config = _OPEN
    snapshot_at: str | None = Field(description="When the newest watermark was committed.")
    rows_consumed_total: int
    batches_total: int
    watermark: str | None
    run_id: str | None = Field(None, description="The run that committed the newest watermark.")
    stats_1m: dict[str, float | None]
    stats_5m: dict[str, float | None]


class PipelineOut(BaseModel):
    """One pipeline card: spec fields and statistics over its whole history."""

    model_config = _OPEN
    name: str
    kind: str
    latest_run: RunSummaryOut | None
    recent_runs: list[RunSummaryOut] = Field(description="Last 10 runs, oldest first.")
    median_duration_ms: int | None
    failure_rate_7d: float | None
    next_run_at: str | None
    timezone: str | None
    schedule: str | None
    streaming_stats: StreamingStats | None
    total_runs: int
    description: str | None
    steps: list[str]


class PipelineList(BaseModel):
    """Every pipeline of the runner, plus pipelines that only have history."""

    pipelines: list[PipelineOut]


class StepLogOut(BaseModel):
    """The log tail and error of one attempt of one step."""

    model_config = _OPEN
    run_id: str
    step: str
    attempt: int | None
    status: str
    log_tail: str | None
    error: str | None


class RestartBody(BaseModel):
    """Body of ``POST /api/runs/{id}/restart``; ``from_step`` null means the runner's
    default (the failed step, or the watermark for a streaming run)."""

    from_step: StrictStr | None = None


class NewRun(BaseModel):
    """The run an action created (or, for a repeated Idempotency-Key, created before)."""

    new_run_id: str


class CancelBody(BaseModel):
    """Body of ``POST /api/runs/{id}/cancel``: who asks (recorded with the time)."""

    by: StrictStr | None = Field(default=None, max_length=200)


class Cancelled(BaseModel):
    """A cancelled run: its status and who cancelled it when."""

    run_id: str
    status: str
    cancelled_by: str | None = None
    cancelled_at: str | None = None


class FlowtoyStatus(BaseModel):
    """flowtoy's ``GET /status`` (or ``{"status": "no-runner"}`` when there is no run)."""

    model_config = _OPEN
    run_id: str | None = None
    started_at: float | None = None
    ended_at: float | None = None
    total_steps: int | None = None
    completed_steps: int | None = None
    current_step: str | None = None
    steps: dict[str, dict[str, Any]] | None = None
    status: str | None = None
