"""Widget payloads that only copy fields of a model, declared once.

Each :class:`Shape` names a model and the fields a widget's JSON copies from it. The kernel
builds the JSON with :meth:`Shape.pick`; ``scripts/gen_types.py`` writes the matching
TypeScript type (``Pick<Model, ...>``) into ``js/src/lib/generated/models.ts``, where the
views import it. A field added to a model reaches a shape that copies every field without
any edit here; a field a widget should newly show is one name added below (then regenerate).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from flowwidgets.models import Actions, Attempt, Pipeline, Run, Step

__all__ = ["CARD_PIPELINE", "JOB_ROW", "RUN_LINK", "RUN_VIEW_ACTIONS", "RUN_VIEW_ATTEMPT",
           "RUN_VIEW_RUN", "RUN_VIEW_STEP", "SHAPES", "STRIP_RUN", "Shape"]


@dataclass(frozen=True, slots=True)
class Shape:
    """The fields of ``model`` a widget payload copies (a TS ``Pick`` named ``name``)."""

    name: str
    model: type[Any]
    fields: tuple[str, ...]
    doc: str

    def __post_init__(self) -> None:
        known = {f.name for f in fields(self.model)}
        unknown = [f for f in self.fields if f not in known]
        if unknown:
            raise ValueError(f"shape {self.name}: {self.model.__name__} has no field {unknown}")

    def pick(self, data: dict[str, Any]) -> dict[str, Any]:
        """The shape's fields of ``data`` (a model's ``to_dict()``), in the shape's order."""
        return {k: data[k] for k in self.fields}


def _all_but(model: type[Any], *left_out: str) -> tuple[str, ...]:
    return tuple(f.name for f in fields(model) if f.name not in left_out)


RUN_VIEW_RUN = Shape("RunViewRun", Run, _all_but(Run, "extra"),
                     "The run view's ``run.run``: every field of a Run but its free-form extra.")
RUN_VIEW_STEP = Shape(
    "RunViewStepFields", Step,
    ("name", "status", "depends_on", "duration_ms", "started_at", "finished_at", "error",
     "reused_from"),
    "What the run view copies of a Step (its ``attempts`` is a count, added by the kernel).")
RUN_VIEW_ATTEMPT = Shape(
    "RunViewAttempt", Attempt,
    ("number", "step", "status", "started_at", "finished_at", "error"),
    "One attempt in the run view's history.")
RUN_VIEW_ACTIONS = Shape(
    "RunViewActions", Actions,
    ("restart_from_step", "rerun", "resume_from_watermark", "can_cancel", "reasons"),
    "The actions the run view offers.")
CARD_PIPELINE = Shape(
    "CardPipelineFields", Pipeline,
    ("name", "kind", "schedule", "timezone", "next_run_at", "median_duration_ms",
     "failure_rate_7d", "total_runs", "paused"),
    "What a pipeline card copies of a Pipeline (the strip, stats and ETA are built).")
JOB_ROW = Shape(
    "JobRowFields", Run,
    ("run_id", "pipeline", "status", "started_at", "finished_at", "attempts", "duration_ms",
     "failed_step", "trigger"),
    "What a jobs-table row copies of a Run (lineage, error and ETA are added).")

STRIP_RUN = Shape(
    "StripRunFields", Run, ("run_id", "status", "started_at", "finished_at", "duration_ms"),
    "One square of a card's last-10 strip.")
RUN_LINK = Shape(
    "RunLink", Run, ("run_id", "status", "trigger"),
    "A run named beside another (a run started from it), as the run view's lineage and a "
    "jobs-table row's ``child`` show it.")

SHAPES = (RUN_VIEW_RUN, RUN_VIEW_STEP, RUN_VIEW_ATTEMPT, RUN_VIEW_ACTIONS, CARD_PIPELINE,
          JOB_ROW, STRIP_RUN, RUN_LINK)
"""Every shape, in the order the generated TypeScript lists them."""
