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
    """The pipeline's next cron fires before ``t1``, each as long as its median."""
    if not p.schedule or p.paused or p.is_streaming or not p.median_duration_ms:
        return []
    from zoneinfo import ZoneInfo

    from croniter import croniter

    out: list[list[int]] = []
    try:
        it = croniter(p.schedule, now.astimezone(ZoneInfo(p.timezone or "UTC")))
        while len(out) < MAX_GHOSTS:
            at = it.get_next(datetime)
            if at >= t1:
                break
            start = int(at.timestamp() * 1000)
            out.append([start, start + int(p.median_duration_ms)])
    except (ValueError, KeyError, LookupError):  # a cron or zone we cannot read: no ghosts
        return []
    return out


def _ranks(status: np.ndarray) -> np.ndarray:
    """Each run's status rank (worst first wins), one dict lookup per distinct status."""
    uniq, inv = np.unique(status.astype(str), return_inverse=True)
    table = np.array([_RANK.get(str(u), 0) for u in uniq], dtype=np.int64)
    return table[inv] if len(uniq) else np.zeros(0, dtype=np.int64)


def _bucket(idx: np.ndarray, arrs: RunArrays, end: np.ndarray, rank: np.ndarray, t0: float,
            bucket_ms: float) -> list[list[Any]]:
    """Merge the runs ``idx`` into buckets: [start, end, status, run_id, count]."""
    if len(idx) == 0:
        return []
    b = np.floor((np.maximum(arrs.start[idx], t0) - t0) / bucket_ms).astype(np.int64)
    r = rank[idx]
    order = np.lexsort((arrs.start[idx], r, b))  # by bucket, then rank, then start
    b, r, sel = b[order], r[order], idx[order]
    uniq, first, counts = np.unique(b, return_index=True, return_counts=True)
    last = first + counts - 1
    ends = np.maximum.reduceat(end[sel], first)
    reps = sel[last]
    return [[int(t0 + k * bucket_ms), int(max(t0 + (k + 1) * bucket_ms, e)), _BY_RANK[int(rk)],
             str(arrs.run_id[i]), int(n)]
            for k, e, rk, i, n in zip(uniq, ends, r[last], reps, counts, strict=True)]


def fleet_marks(arrs: RunArrays, pipelines: Sequence[Pipeline], t0: datetime, t1: datetime,
                now: datetime, width_px: int = 1000) -> dict[str, Any]:
    """The marks of one window: per pipeline row, bars ``[start, end, status, run_id,
    count]`` (count > 1: merged runs) and ghosts ``[start, end]``; epoch ms throughout."""
    a, z, n_ms = t0.timestamp() * 1000, t1.timestamp() * 1000, now.timestamp() * 1000
    px_ms = max(1.0, (z - a) / max(1, width_px))
    bucket_ms = BUCKET_PX * px_ms
    end = np.where(np.isnan(arrs.end), n_ms, arrs.end) if len(arrs) else arrs.end
    vis = np.nonzero((arrs.start < z) & (end >= a))[0] if len(arrs) else np.zeros(0, int)
    groups: dict[str, np.ndarray] = {}
    if len(vis):
        names_v, inv = np.unique(arrs.pipeline[vis].astype(str), return_inverse=True)
        order = np.argsort(inv, kind="stable")
        cuts = np.searchsorted(inv[order], np.arange(len(names_v) + 1))
        groups = {str(nm): vis[order[cuts[k]:cuts[k + 1]]] for k, nm in enumerate(names_v)}
    rank = np.zeros(len(arrs), dtype=np.int64)
    if len(vis):
        rank[vis] = _ranks(arrs.status[vis])
    names = [p.name for p in pipelines]
    extra = sorted(set(groups) - set(names))
    by_name = {p.name: p for p in pipelines}
    rows, merged, total = [], 0, 0
    ghosts_from = max(now, t0)
    empty = np.zeros(0, dtype=np.int64)
    for name in [*names, *extra]:
        idx = groups.get(name, empty)
        total += len(idx)
        span = end[idx] - arrs.start[idx]
        wide, narrow = idx[span >= MIN_BAR_PX * px_ms], idx[span < MIN_BAR_PX * px_ms]
        if len(wide) > MAX_ROW_MARKS:
            wide, narrow = wide[:0], idx
        wide = wide[np.argsort(arrs.start[wide])]
        marks: list[list[Any]] = [
            [int(s), int(e), str(st), str(rid), 1]
            for s, e, st, rid in zip(arrs.start[wide], end[wide], arrs.status[wide],
                                     arrs.run_id[wide], strict=True)]
        buckets = _bucket(narrow, arrs, end, rank, a, bucket_ms)
        merged += sum(bk[4] for bk in buckets if bk[4] > 1)
        marks += buckets
        pipe = by_name.get(name)
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
