"""Every pipeline on one time axis: the marks of :class:`~flowwidgets.Timeline`, computed
in the kernel so the browser never receives more than a bounded number of them.

:func:`fleet_marks` is pure (arrays of runs, the pipelines, a window, a width in pixels).
A run at least :data:`MIN_BAR_PX` wide is its own bar; narrower runs are merged per
:data:`BUCKET_PX`-pixel bucket into one mark carrying their count, their worst status and
one run to open (the failed one, else the latest). A row with more than
:data:`MAX_ROW_MARKS` bars is bucketed whole. The future of each cron pipeline inside the
window is drawn as *ghost* bars: the next fires, each as long as the pipeline's median.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from flowwidgets.models import Pipeline, Run, Status

__all__ = ["BUCKET_PX", "MAX_GHOSTS", "MAX_ROW_MARKS", "MIN_BAR_PX", "WINDOWS", "RunArrays",
           "fleet_marks", "parse_window", "run_arrays"]

MIN_BAR_PX = 2.0
"""A run narrower than this is merged into its bucket."""
BUCKET_PX = 4.0
"""Width of one bucket of merged runs."""
MAX_ROW_MARKS = 400
"""Most individual bars in one row before the whole row is bucketed."""
MAX_GHOSTS = 200
"""Most future (ghost) bars per pipeline."""
WINDOWS = {"1h": 3600, "6h": 6 * 3600, "24h": 86400, "7d": 7 * 86400, "30d": 30 * 86400}
"""The window presets; any ``<n>h`` / ``<n>d`` / ``<n>m`` between 1 h and 30 d is valid."""
MIN_WINDOW_S, MAX_WINDOW_S = 3600, 30 * 86400

_RANK = {Status.FAILED.value: 5, Status.RUNNING.value: 4, Status.REQUESTED.value: 4,
         Status.PAUSED.value: 3, Status.CANCELLED.value: 2, Status.SUCCEEDED.value: 1}
_BY_RANK = {5: "failed", 4: "running", 3: "paused", 2: "cancelled", 1: "succeeded", 0: "unknown"}


def parse_window(text: str) -> int:
    """``"24h"`` → seconds; ``ValueError`` naming the valid forms and the 1 h–30 d range."""
    t = str(text).strip().lower()
    units = {"m": 60, "h": 3600, "d": 86400}
    try:
        n = float(t[:-1])
        secs = int(n * units[t[-1]])
    except (ValueError, KeyError, IndexError):
        raise ValueError(f"window must look like '1h', '24h', '7d' or '30d', got {text!r}") \
            from None
    if not MIN_WINDOW_S <= secs <= MAX_WINDOW_S:
        raise ValueError(f"window must be between 1h and 30d, got {text!r}")
    return secs


class RunArrays:
    """Runs as parallel arrays (epoch ms; ``end`` NaN while running)."""

    def __init__(self, run_id: Sequence[str] | np.ndarray, pipeline: Sequence[str] | np.ndarray,
                 status: Sequence[str] | np.ndarray, start: np.ndarray, end: np.ndarray):
        self.run_id = np.asarray(run_id, dtype=object)
        self.pipeline = np.asarray(pipeline, dtype=object)
        self.status = np.asarray(status, dtype=object)
        self.start = np.asarray(start, dtype=float)
        self.end = np.asarray(end, dtype=float)

    def __len__(self) -> int:
        return len(self.run_id)


def run_arrays(runs: Iterable[Run]) -> RunArrays:
    """:class:`RunArrays` of run models (runs without a start are left out)."""
    rows = [(r.run_id, r.pipeline, r.status.value, r.started_at.timestamp() * 1000,
             r.finished_at.timestamp() * 1000 if r.finished_at else np.nan)
            for r in runs if r.started_at is not None]
    if not rows:
        return RunArrays([], [], [], np.array([]), np.array([]))
    ids, pipes, sts, starts, ends = zip(*rows, strict=True)
    return RunArrays(ids, pipes, sts, np.array(starts), np.array(ends))


def _ghosts(p: Pipeline, now: datetime, t1: datetime) -> list[list[int]]:
    if not p.schedule or p.paused or p.is_streaming or not p.median_duration_ms:
        return []
    from flowwidgets.runner.scheduler import next_fire

    out: list[list[int]] = []
    at = now
    try:
        while len(out) < MAX_GHOSTS:
            at = next_fire(p.schedule, p.timezone or "UTC", at)
            if at >= t1:
                break
            start = int(at.timestamp() * 1000)
            out.append([start, start + int(p.median_duration_ms)])
    except (ValueError, KeyError):  # a cron or zone we cannot read: no ghosts, no guess
        return []
    return out


def _bucket(idx: np.ndarray, arrs: RunArrays, end: np.ndarray, t0: float,
            bucket_ms: float) -> list[list[Any]]:
    """Merge the runs ``idx`` into buckets: [start, end, status, run_id, count]."""
    if len(idx) == 0:
        return []
    b = np.floor((np.maximum(arrs.start[idx], t0) - t0) / bucket_ms).astype(np.int64)
    rank = np.array([_RANK.get(s, 0) for s in arrs.status[idx]], dtype=np.int64)
    order = np.lexsort((arrs.start[idx], rank, b))  # by bucket, then rank, then start
    b, rank, sel = b[order], rank[order], idx[order]
    uniq, first, counts = np.unique(b, return_index=True, return_counts=True)
    last = first + counts - 1
    out = []
    for k, f, la, n in zip(uniq, first, last, counts, strict=True):
        members = sel[f:la + 1]
        out.append([int(t0 + k * bucket_ms), int(max(t0 + (k + 1) * bucket_ms,
                                                      float(np.nanmax(end[members])))),
                    _BY_RANK[int(rank[la])], str(arrs.run_id[sel[la]]), int(n)])
    return out


def fleet_marks(arrs: RunArrays, pipelines: Sequence[Pipeline], t0: datetime, t1: datetime,
                now: datetime, width_px: int = 1000) -> dict[str, Any]:
    """The marks of one window: per pipeline row, bars ``[start, end, status, run_id,
    count]`` (count > 1: merged runs) and ghosts ``[start, end]``; epoch ms throughout."""
    a, z, n_ms = t0.timestamp() * 1000, t1.timestamp() * 1000, now.timestamp() * 1000
    px_ms = max(1.0, (z - a) / max(1, width_px))
    bucket_ms = BUCKET_PX * px_ms
    end = np.where(np.isnan(arrs.end), n_ms, arrs.end) if len(arrs) else arrs.end
    visible = (arrs.start < z) & (end >= a) if len(arrs) else np.zeros(0, dtype=bool)
    names = [p.name for p in pipelines]
    extra = sorted({str(x) for x in arrs.pipeline[visible]} - set(names)) if len(arrs) else []
    rows, merged, total = [], 0, 0
    ghosts_from = max(now, t0)
    for name in [*names, *extra]:
        idx = np.nonzero(visible & (arrs.pipeline == name))[0] if len(arrs) else np.array([], int)
        total += len(idx)
        wide = idx[(end[idx] - arrs.start[idx]) >= MIN_BAR_PX * px_ms]
        narrow = idx[(end[idx] - arrs.start[idx]) < MIN_BAR_PX * px_ms]
        if len(wide) > MAX_ROW_MARKS:
            wide, narrow = wide[:0], idx
        marks = [[int(arrs.start[i]), int(end[i]), str(arrs.status[i]), str(arrs.run_id[i]), 1]
                 for i in wide[np.argsort(arrs.start[wide])]]
        buckets = _bucket(narrow, arrs, end, a, bucket_ms)
        merged += sum(b[4] for b in buckets if b[4] > 1)
        marks += [b for b in buckets]
        pipe = next((p for p in pipelines if p.name == name), None)
        ghosts = _ghosts(pipe, ghosts_from, t1) if pipe is not None and t1 > now else []
        rows.append({"pipeline": name, "marks": marks, "ghosts": ghosts})
    return {"t0": int(a), "t1": int(z), "now": int(n_ms), "width": width_px,
            "bucket_ms": int(bucket_ms), "runs": total, "merged": merged,
            "marks": sum(len(r["marks"]) + len(r["ghosts"]) for r in rows), "rows": rows}


def window_bounds(window: str, end: datetime | None, now: datetime | None = None
                  ) -> tuple[datetime, datetime]:
    """The window's start and end: ``end`` (None: now plus a sixth of the window, so the
    next scheduled runs show as ghosts) minus the window's length."""
    now = now or datetime.now(UTC)
    secs = parse_window(window)
    stop = end if end is not None else now + timedelta(seconds=secs / 6)
    return stop - timedelta(seconds=secs), stop
