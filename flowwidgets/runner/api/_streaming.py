"""Throughput of streaming pipelines for ``GET /api/pipelines`` (ematix's ``streaming_stats``).

Computed from the run log alone, so the figures are exact right after the API starts and
when another process commits: totals (rows, batches, the last watermark and when it was
committed) come from the newest commit; ``stats_1m`` and ``stats_5m`` measure between it
and :meth:`~flowwidgets.runner.store.RunLog.watermark_at` the window's start (the newest
commit at or before it, with the running totals as they were then)::

    rows_consumed_per_sec = (rows_total now - rows_total at the window's start) / span

``span_seconds`` is the window (60 or 300) once the pipeline has history older than the
window; a pipeline whose first commit falls inside the window is measured from that first
commit to now (a shorter span), and has ``None`` rates until a second commit. A stream
that stopped decays to ``0.0`` as its last commits leave the window.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from flowwidgets.models import format_time

if TYPE_CHECKING:
    from flowwidgets.runner.store import RunLog, Watermark

__all__ = ["WINDOWS", "streaming_stats", "window_rates"]

WINDOWS = (("stats_1m", 60.0), ("stats_5m", 300.0))
"""The ``streaming_stats`` keys and their windows in seconds."""

_NO_RATE: dict[str, float | None] = {"rows_consumed_per_sec": None, "batches_per_sec": None,
                                     "span_seconds": None}


def streaming_stats(store: RunLog, pipeline: str, now: datetime) -> dict[str, Any] | None:
    """ematix-shaped ``streaming_stats`` of ``pipeline`` at ``now`` (None when it never
    committed a watermark): at most four indexed reads of the run log."""
    last = store.last_watermark(pipeline)
    if last is None:
        return None
    out: dict[str, Any] = {
        "snapshot_at": format_time(last.committed_at),
        "watermark": last.value,
        "run_id": last.run_id,
        "rows_consumed_total": last.rows_total,
        "batches_total": last.batches_total,
    }
    first: Watermark | None = None
    for key, window_s in WINDOWS:
        base = store.watermark_at(pipeline, now - timedelta(seconds=window_s))
        if base is None and first is None:
            first = store.first_watermark(pipeline)
        out[key] = window_rates(last, base, first, now, window_s)
    return out


def window_rates(last: Watermark, base: Watermark | None, first: Watermark | None,
                 now: datetime, window_s: float) -> dict[str, float | None]:
    """Rates over the ``window_s`` seconds before ``now``: from ``base`` (the newest commit
    at or before the window's start) over the whole window, or, when there is none, from
    ``first`` (the pipeline's first commit, inside the window) to ``now``."""
    if base is not None:
        span = window_s
    elif first is None or first.batches_total >= last.batches_total:
        return dict(_NO_RATE)  # one commit so far, inside the window: nothing to measure
    else:
        base = first
        span = max((now - first.committed_at).total_seconds(), 1e-3)
    return {
        "rows_consumed_per_sec": round(max(0, last.rows_total - base.rows_total) / span, 3),
        "batches_per_sec": round(max(0, last.batches_total - base.batches_total) / span, 3),
        "span_seconds": round(span, 3),
    }
