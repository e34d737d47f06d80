"""Records → API JSON: the ematix-flow shapes, our added fields, and flowtoy's shapes.

Pure functions over the run log's records; no I/O except the ``store`` reads passed in.
Times are ISO-8601 UTC with milliseconds and a ``Z`` (flowtoy's: epoch float seconds).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import orjson

from flowwidgets.models import Status, format_time
from flowwidgets.runner.api._wire import RUN_SUMMARY, STEP
from flowwidgets.runner.spec import PipelineSpec
from flowwidgets.runner.store import (
    AttemptRecord,
    PipelineStats,
    RunRecord,
    StepRecord,
    StepState,
)

__all__ = [
    "attempt_payload",
    "error_summary",
    "flowtoy_run",
    "flowtoy_status",
    "pipeline_payload",
    "run_detail",
    "run_summary",
    "step_payload",
]


def error_summary(error: str | None) -> str | None:
    """The last non-empty line of an error (a traceback's ``Type: message`` line)."""
    if not error:
        return None
    for line in reversed(error.strip().splitlines()):
        if line.strip():
            return line.strip()
    return None


def run_summary(run: RunRecord) -> dict[str, Any]:
    """ematix-flow's ``to_summary_dict`` plus created_at, trigger and parent_run_id (and
    ``"imported": true`` for a run that came in through the run log's import path)."""
    return {
        **RUN_SUMMARY.dump(run),  # the fields: RUN_SUMMARY_FIELDS (store.py), via _wire
        "error_summary": error_summary(run.error),
        **({"imported": True} if run.extras.get("imported") else {}),
    }


_SUMMARIES: dict[int, tuple[RunRecord, Any]] = {}
_SUMMARIES_MAX = 1024
_SUMMARY_MAX_BYTES = 16_384


def _summary_json(run: RunRecord) -> Any:
    """:func:`run_summary` of ``run`` encoded (an ``orjson.Fragment``), once per record
    object: the run log hands out the same record while its row is unchanged. The cache
    holds the record, so its ``id`` is not reused while kept."""
    hit = _SUMMARIES.get(id(run))
    if hit is not None and hit[0] is run:
        return hit[1]
    text = orjson.dumps(run_summary(run))
    encoded = orjson.Fragment(text)
    if len(text) <= _SUMMARY_MAX_BYTES:
        if len(_SUMMARIES) >= _SUMMARIES_MAX:
            _SUMMARIES.clear()
        _SUMMARIES[id(run)] = (run, encoded)
    return encoded


def attempt_payload(a: AttemptRecord) -> dict[str, Any]:
    """One attempt of one step, in ematix's attempt shape (plus step, duration, failed_step)."""
    failed = a.status == Status.FAILED
    return {
        "attempt": a.number,
        "step": a.step,
        "status": str(a.status),
        "started_at": format_time(a.started_at),
        "finished_at": format_time(a.finished_at),
        "duration_ms": _duration_ms(a.started_at, a.finished_at),
        "failed_step": a.step if failed else None,
        "error_summary": error_summary(a.error),
        "error_stack": a.error,
    }


def step_payload(s: StepRecord) -> dict[str, Any]:
    """A step of a run's DAG with its state in that run (the fields: ``_wire.STEP``)."""
    return STEP.dump(s)


def run_detail(run: RunRecord, steps: list[StepRecord], attempts: list[AttemptRecord],
               actions: dict[str, Any], children: list[RunRecord] | None = None
               ) -> dict[str, Any]:
    """``GET /api/runs/{id}``: the summary, the error, the DAG, every attempt, the actions
    and (when given) ``children``: the runs started from this one, oldest first, each a
    summary plus its ``from_step``."""
    out: dict[str, Any] = {
        **run_summary(run),
        "failed_watermark": run.failed_watermark,
        "error_summary": error_summary(run.error),
        "error": run.error,
        "extras": dict(run.extras),
        "from_step": run.from_step,
        "resume_watermark": run.resume_watermark,
        "scheduled_for": format_time(run.scheduled_for),
        "worker": run.worker,
        "attempts": [attempt_payload(a) for a in attempts],
        "steps": [step_payload(s) for s in steps],
        "actions": actions,
    }
    if children is not None:
        out["children"] = [{**run_summary(c), "from_step": c.from_step} for c in children]
    return out


def pipeline_payload(name: str, spec: PipelineSpec | None, stats: PipelineStats | None, *,
                     next_run_at: datetime | None,
                     streaming: dict[str, Any] | None) -> dict[str, Any]:
    """One card of ``GET /api/pipelines``: spec fields plus whole-history statistics."""
    latest = stats.latest_run if stats else None
    kind = spec.kind if spec is not None else (latest.kind if latest else "batch")
    return {
        "name": name,
        "kind": kind,
        "latest_run": _summary_json(latest) if latest else None,
        "recent_runs": [_summary_json(r) for r in stats.recent_runs] if stats else [],
        "median_duration_ms": stats.median_duration_ms if stats else None,
        "failure_rate_7d": stats.failure_rate_7d if stats else None,
        "next_run_at": None if kind == "streaming" else format_time(next_run_at),
        "timezone": spec.timezone if spec is not None else None,
        "schedule": spec.schedule if spec is not None else None,
        "streaming_stats": streaming if kind == "streaming" else None,
        "total_runs": stats.total_runs if stats else 0,
        "description": spec.description if spec is not None else None,
        "steps": list(spec.step_names) if spec is not None else [],
        "configured": spec is not None,
    }


def _epoch(dt: datetime | None) -> float | None:
    return dt.timestamp() if dt is not None else None


def _duration_ms(start: datetime | None, end: datetime | None) -> int | None:
    if start is None or end is None:
        return None
    return int((end - start) / timedelta(milliseconds=1))


_FLOWTOY_DONE = (Status.SUCCEEDED, Status.FAILED, Status.SKIPPED)


def flowtoy_status(run: RunRecord, steps: list[StepState]) -> dict[str, Any]:
    """flowtoy's ``GET /status`` for one run: epoch-float times, steps keyed by name.

    ``outputs`` lists the keys of a step's stored output when it is an object (flowtoy
    keeps named outputs per step); notes carry the step's error. ``steps`` come from
    :meth:`RunLog.step_states` (one query).
    """
    info: dict[str, Any] = {}
    running: list[str] = []
    done = 0
    for name, status, started, finished, error, keys in steps:
        info[name] = {
            "state": status,
            "started_at": None if started is None else started / 1000,
            "ended_at": None if finished is None else finished / 1000,
            "notes": [error] if error else [],
            "outputs": keys,
        }
        if status == "running":
            running.append(name)
        elif status in _FLOWTOY_DONE:
            done += 1
    return flowtoy_run(run, info, len(steps), done, running)


def flowtoy_run(run: RunRecord, steps: Any, total: int, completed: int, running: list[str]
                ) -> dict[str, Any]:
    """flowtoy's ``GET /status`` of ``run`` around its ``steps`` object and counts."""
    return {
        "run_id": run.run_id,
        "started_at": _epoch(run.started_at),
        "ended_at": _epoch(run.finished_at),
        "total_steps": total,
        "completed_steps": completed,
        "current_step": running[0] if running else None,
        "running_steps": running,
        "running_count": len(running),
        "steps": steps,
        "pipeline": run.pipeline,
        "run_status": str(run.status),
    }


