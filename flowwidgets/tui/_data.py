"""What the monitor shows, fetched in one go from a Source (called from a worker thread)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flowwidgets.errors import NotFound
from flowwidgets.models import Pipeline, Run, RunDetail

__all__ = ["RUNS_LIMIT", "Snapshot", "fetch_snapshot"]

RUNS_LIMIT = 50
"""How many of the selected pipeline's runs the runs table lists (newest first)."""


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything the three tables show, as of ``at``."""

    pipelines: tuple[Pipeline, ...]
    pipeline: str | None
    """The pipeline whose runs are listed (the requested one, or the first if it is gone)."""
    runs: tuple[Run, ...]
    total_runs: int
    run_id: str | None
    """The run whose steps are shown (the requested one, or the newest when following)."""
    detail: RunDetail | None
    at: datetime = field(default_factory=lambda: datetime.now(UTC))
    eta: str = ""
    """The detailed run's ETA line while it runs ("" otherwise or when unknown)."""


def fetch_snapshot(source: Any, pipeline: str | None, run_id: str | None, *,
                   follow_latest: bool, limit: int = RUNS_LIMIT,
                   history: Any = None, zone: str = "UTC") -> Snapshot:
    """Read pipelines, the pipeline's newest runs and one run's detail (blocking HTTP).

    With ``follow_latest`` (or no ``run_id``) the newest run is the one detailed. A run
    that vanished (404) leaves ``detail`` empty rather than failing the whole refresh.
    Other Source errors propagate. ``history`` (a
    :class:`~flowwidgets.widgets._run_timing.HistoryCache`) gives a running run its ETA,
    its clock in ``zone``.
    """
    pipelines = tuple(source.pipelines())
    names = [p.name for p in pipelines]
    if pipeline not in names:
        pipeline = names[0] if names else None
        run_id, follow_latest = None, True
    runs: tuple[Run, ...] = ()
    total = 0
    if pipeline is not None:
        page = source.runs(pipeline=pipeline, limit=limit)
        runs, total = tuple(page.runs), page.total
    if follow_latest or run_id is None:
        run_id = runs[0].run_id if runs else None
    detail = None
    if run_id is not None:
        try:
            detail = source.run(run_id)
        except NotFound:
            detail = None
    eta = ""
    if detail is not None and history is not None and detail.run.status.is_active:
        from flowwidgets.eta import format_eta
        from flowwidgets.widgets._run_timing import run_eta

        try:
            found = run_eta(detail, history)
        except Exception:  # an ETA is a nicety: never a failed refresh
            found = None
        eta = format_eta(found.to_dict(), zone) if found is not None else ""
    return Snapshot(pipelines=pipelines, pipeline=pipeline, runs=runs, total_runs=total,
                    run_id=run_id, detail=detail, eta=eta)
