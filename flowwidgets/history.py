"""Run history aggregated in the kernel (pandas): failures grouped by cause, the runs ×
steps grid of one pipeline, and the duration marks of the History view.

Everything here is a pure function of models or frames, plus thin readers that fetch them
from a Source, so the same figures serve code (DataFrames) and the views (JSON payloads):

- :func:`failure_signature` / :func:`failure_groups`: failed runs grouped by the error's
  last line with numbers, ids, paths and quoted values normalised.
- :func:`step_grid`: steps (DAG order) × runs (oldest left, newest right).
- :func:`duration_marks`: a mark per run, or per (time bucket, status) once runs are
  narrower than a pixel, so the browser receives a bounded number of marks.

Restarts (``trigger == "restart"``) ran only part of the DAG: they are kept apart from
the duration band and the trend (see :func:`flowwidgets.frames.pipeline_summary`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from flowwidgets.models import RunDetail, Status, format_time

if TYPE_CHECKING:
    from flowwidgets.sources import Source

__all__ = [
    "MAX_MARKS",
    "PARTIAL_TRIGGERS",
    "dag_order",
    "duration_marks",
    "failure_groups",
    "failure_signature",
    "grid_payload",
    "step_grid",
    "window_frame",
    "window_start",
]

PARTIAL_TRIGGERS = frozenset({"restart"})
"""Triggers of runs that ran only part of the DAG (left out of bands and trends)."""
MAX_MARKS = 1500
"""Above this many runs in the window, marks are bucketed by time and status."""

_LINE = re.compile(r"\S")
_NEVER = datetime.min.replace(tzinfo=UTC)
_SUBS: tuple[tuple[re.Pattern[str], str], ...] = (
    # a UUID, a long hex id, an ISO time or date
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I),
     "<id>"),
    (re.compile(r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?"
                r"(?:Z|[+-]\d{2}:?\d{2})?)?"), "<time>"),
    (re.compile(r"\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{8,}\b", re.I), "<id>"),
    # paths (/a/b, C:\a\b, ./a) and URLs
    (re.compile(r"\b[a-z][a-z0-9+.-]*://\S+", re.I), "<url>"),
    (re.compile(r"(?:[A-Za-z]:\\|\.{0,2}/)(?:[^\s/\\:'\"]+[/\\])*[^\s/\\:'\",)]*"), "<path>"),
    # ids mixing letters and digits (run-0042, batch_17a), then bare numbers
    (re.compile(r"\b(?=[A-Za-z_-]*\d)[A-Za-z]+[-_][A-Za-z0-9_-]*\d[A-Za-z0-9_-]*"), "<id>"),
    (re.compile(r"[-+]?\b\d+(?:[.,]\d+)*(?:e[-+]?\d+)?\b", re.I), "<n>"),
    # quoted values are data, not the cause
    (re.compile(r"'[^']*'|\"[^\"]*\""), "'…'"),
)


def failure_signature(error: str | None) -> str:
    """The cause of an error as a grouping key: its last non-empty line (a traceback's
    ``Type: message``) with ids, times, paths, URLs, numbers and quoted values replaced by
    placeholders. ``"amount column missing in batch 47"`` and ``"… batch 48"`` give the
    same signature; ``""`` when there is no error text."""
    if not error:
        return ""
    last = ""
    for line in reversed(str(error).splitlines()):
        if _LINE.search(line):
            last = line.strip()
            break
    for pattern, repl in _SUBS:
        last = pattern.sub(repl, last)
    return " ".join(last.split())[:300]


def _failed_step(detail: RunDetail) -> tuple[str | None, str | None]:
    """The step that failed and the error text of a failed run (the run's own error when
    the step carries none)."""
    step = detail.run.failed_step
    error = None
    for s in detail.steps:
        if s.status is Status.FAILED and (step is None or s.name == step):
            step = step or s.name
            error = s.error or (s.attempts[-1].error if s.attempts else None)
            break
    return step, error or detail.error or detail.extra.get("error_summary")


def failure_groups(src_or_details: Source | Iterable[RunDetail], *,
                   pipeline: str | None = None, limit: int = 200) -> pd.DataFrame:
    """Failed runs grouped by cause: one row per (pipeline, step, signature), most runs
    first, with count, first_seen, last_seen, the newest error line (``example``) and the
    run ids (newest first).

    Pass a Source (each pipeline's newest ``limit`` failed runs are read, one request per
    pipeline on our runner) or RunDetail objects."""
    if hasattr(src_or_details, "step_history"):
        src: Any = src_or_details
        names = [pipeline] if pipeline else [p.name for p in src.pipelines()]
        details: list[RunDetail] = []
        for name in names:
            details.extend(src.step_history(name, limit=limit, status=Status.FAILED))
    else:
        details = list(src_or_details)
    groups: dict[tuple[str, str, str], dict[str, Any]] = {}
    for d in details:
        if d.status is not Status.FAILED or (pipeline and d.run.pipeline != pipeline):
            continue
        step, error = _failed_step(d)
        sig = failure_signature(error) or "(no error text)"
        at = d.run.started_at or d.run.finished_at
        g = groups.setdefault((d.run.pipeline, step or "", sig), {
            "runs": [], "first": None, "last": None, "example": None})
        g["runs"].append((at, d.run_id))
        if at is not None and (g["first"] is None or at < g["first"]):
            g["first"] = at
        if g["last"] is None or (at is not None and at >= g["last"]):
            g["last"] = at
            lines = [x.strip() for x in str(error or "").splitlines() if x.strip()]
            g["example"] = lines[-1] if lines else None
    keys = sorted(groups, key=lambda k: (-len(groups[k]["runs"]),
                                         -(groups[k]["last"].timestamp()
                                           if groups[k]["last"] else 0), k))
    from flowwidgets.frames import _utc

    def newest_first(g: dict[str, Any]) -> list[str]:
        return [rid for _, rid in sorted(g["runs"], key=lambda x: (x[0] is None, x[0]),
                                         reverse=True)]

    return pd.DataFrame({
        "pipeline": pd.array([k[0] for k in keys], dtype="string"),
        "step": pd.array([k[1] or None for k in keys], dtype="string"),
        "signature": pd.array([k[2] for k in keys], dtype="string"),
        "count": pd.array([len(groups[k]["runs"]) for k in keys], dtype="Int64"),
        "first_seen": _utc([groups[k]["first"] for k in keys]),
        "last_seen": _utc([groups[k]["last"] for k in keys]),
        "example": pd.array([groups[k]["example"] for k in keys], dtype="string"),
        "run_ids": pd.Series([newest_first(groups[k]) for k in keys], dtype=object),
    })


def dag_order(details: Sequence[RunDetail]) -> list[str]:
    """Step names in DAG order: by longest-path rank from the roots, then by first
    appearance (the newest run's DAG wins where runs disagree)."""
    deps: dict[str, tuple[str, ...]] = {}
    seen: list[str] = []
    for d in details:  # newest first: the first definition of a step wins
        for s in d.steps:
            if s.name not in deps:
                deps[s.name] = tuple(x for x in s.depends_on)
                seen.append(s.name)
    rank: dict[str, int] = {}

    def rank_of(name: str, stack: frozenset[str] = frozenset()) -> int:
        if name in rank:
            return rank[name]
        if name in stack:  # a cycle in foreign data: cut it
            return 0
        r = 1 + max((rank_of(p, stack | {name}) for p in deps.get(name, ()) if p in deps),
                    default=-1)
        rank[name] = r
        return r

    for name in seen:
        rank_of(name)
    pos = {n: i for i, n in enumerate(seen)}
    return sorted(seen, key=lambda n: (rank[n], pos[n]))


def _history(src_or_details: Source | Iterable[RunDetail], pipeline: str | None,
             limit: int) -> list[RunDetail]:
    if hasattr(src_or_details, "step_history"):
        if not pipeline:
            raise ValueError("step_grid needs a pipeline name with a Source")
        src: Any = src_or_details
        return list(src.step_history(pipeline, limit=limit))
    return [d for d in src_or_details if not pipeline or d.run.pipeline == pipeline]


def step_grid(src_or_details: Source | Iterable[RunDetail], pipeline: str | None = None, *,
              limit: int = 60, values: str = "status") -> pd.DataFrame:
    """The runs × steps grid of one pipeline: rows are steps in DAG order, columns are
    run ids (oldest left, newest right), each cell the step's ``status`` in that run (or
    its ``duration_ms`` / ``attempts`` with ``values=``); missing steps are <NA>.

    Pass a Source and a pipeline (its newest ``limit`` runs, one request on our runner)
    or RunDetail objects of one pipeline."""
    if values not in ("status", "duration_ms", "attempts"):
        raise ValueError(f"values must be 'status', 'duration_ms' or 'attempts', not {values!r}")
    details = _history(src_or_details, pipeline, limit)
    runs = sorted(details, key=_when)
    steps = dag_order(runs[::-1])
    cells: dict[str, list[Any]] = {}
    for d in runs:
        by = {s.name: s for s in d.steps}
        col: list[Any] = []
        for name in steps:
            s = by.get(name)
            if s is None:
                col.append(None)
            elif values == "status":
                col.append(s.status.value)
            elif values == "duration_ms":
                col.append(s.duration_ms)
            else:
                col.append(len(s.attempts) or s.extra.get("attempt_count"))
        cells[d.run_id] = col
    dtype = "string" if values == "status" else "Int64"
    frame = pd.DataFrame({k: pd.Series(v, dtype=dtype, index=steps) for k, v in cells.items()},
                         index=pd.Index(steps, name="step", dtype="string"))
    frame.columns.name = "run_id"
    return frame


def _when(d: RunDetail) -> datetime:
    t = d.run.started_at or d.run.extra.get("created_at") or d.run.finished_at
    return t if isinstance(t, datetime) else _NEVER


def grid_payload(details: Sequence[RunDetail], *, max_runs: int = 60) -> dict[str, Any]:
    """The grid as the History view draws it: ``steps`` in DAG order, ``runs`` oldest
    first (id, status, start, duration, trigger) and ``cells[run][step]`` as
    ``[status, duration_ms, attempts, reused_from]`` (None where the run has no such step;
    ``reused_from`` names the run whose output a restart reused: the step did not run)."""
    runs = sorted(details, key=_when)[-max_runs:]
    steps = dag_order(sorted(details, key=_when, reverse=True))
    out_runs, cells = [], []
    for d in runs:
        out_runs.append({"run_id": d.run_id, "status": d.status.value,
                         "started_at": format_time(d.run.started_at),
                         "duration_ms": d.run.duration_ms, "trigger": d.run.trigger,
                         "failed_step": d.run.failed_step})
        by = {s.name: s for s in d.steps}
        cells.append([None if by.get(n) is None else
                      [by[n].status.value, by[n].duration_ms,
                       len(by[n].attempts) or by[n].extra.get("attempt_count") or None,
                       by[n].reused_from]
                      for n in steps])
    return {"steps": steps, "runs": out_runs, "cells": cells}


def duration_marks(df: pd.DataFrame, *, start: datetime | None = None,
                   end: datetime | None = None, width: int = 720,
                   max_marks: int = MAX_MARKS, band_bins: int = 48) -> dict[str, Any]:
    """The duration chart of the History view from a :func:`~flowwidgets.frames.runs_frame`.

    Returns ``{"start", "end", "bucketed", "marks", "band", "runs", "pipelines"}``:
    ``marks`` are ``[t_ms, duration_ms, status, run_id, partial, pipeline index]`` per run
    while the window holds at
    most ``max_marks`` runs; above that, one ``[t_ms, p50_ms, status, count, partial,
    min_ms, max_ms]`` per (pixel column of ``width``, status, partial), so the payload is
    bounded by ``width × statuses × 2`` whatever the history. ``band`` holds
    ``[t_ms, p50_ms, p90_ms]`` per time bin over finished full runs (restarts left out).
    Streaming runs are not drawn (their duration is uptime): ``streaming_left_out``
    counts them."""
    d = df[df["started_at"].notna()]
    streaming = (d["kind"] == "streaming").fillna(False).to_numpy(dtype=bool)
    d = d[~streaming]  # a streaming run's duration is its uptime, not a comparable figure
    if start is not None:
        d = d[d["started_at"] >= pd.Timestamp(start)]
    if end is not None:
        d = d[d["started_at"] <= pd.Timestamp(end)]
    t = d["started_at"].astype("int64").to_numpy() // 1_000_000
    t0 = int(pd.Timestamp(start).value // 1_000_000) if start is not None else (
        int(t.min()) if len(t) else 0)
    t1 = int(pd.Timestamp(end).value // 1_000_000) if end is not None else (
        int(t.max()) if len(t) else 0)
    span = max(t1 - t0, 1)
    ms = d["duration_ms"].astype("float64").to_numpy()
    status = d["status"].astype("string").fillna("unknown").to_numpy()
    trig = d["trigger"].astype("string").fillna("").to_numpy()
    partial = np.isin(trig, list(PARTIAL_TRIGGERS))
    ids = d["run_id"].astype("string").to_numpy()
    out: dict[str, Any] = {"start": t0, "end": t1, "runs": int(len(d)),
                           "bucketed": bool(len(d) > max_marks),
                           "streaming_left_out": int(streaming.sum())}
    has = ~np.isnan(ms)
    names = [str(x) for x in pd.unique(d["pipeline"].astype("string").fillna(""))]
    pidx = pd.Categorical(d["pipeline"].astype("string").fillna(""),
                          categories=names).codes
    out["pipelines"] = names
    if not out["bucketed"]:
        out["marks"] = [[int(a), int(b), str(c), str(e), bool(f), int(g)]
                        for a, b, c, e, f, g in zip(t[has], ms[has], status[has], ids[has],
                                                    partial[has], pidx[has], strict=True)]
    else:
        col = np.minimum(((t - t0) * width // span), width - 1).astype(np.int64)
        b = pd.DataFrame({"col": col[has], "st": status[has], "p": partial[has],
                          "ms": ms[has], "t": t[has]})
        g = b.groupby(["col", "st", "p"], sort=True)
        agg = g.agg(t=("t", "median"), p50=("ms", "median"), n=("ms", "size"),
                    lo=("ms", "min"), hi=("ms", "max")).reset_index()
        rec: list[dict[str, Any]] = agg.to_dict("records")  # type: ignore[assignment]
        out["marks"] = [[int(r["t"]), int(r["p50"]), str(r["st"]), int(r["n"]), bool(r["p"]),
                         int(r["lo"]), int(r["hi"])] for r in rec]
    full = has & ~partial & (status == Status.SUCCEEDED.value)
    out["band"] = _band(t[full], ms[full], t0, span, band_bins)
    return out


def _band(t: np.ndarray, ms: np.ndarray, t0: int, span: int, bins: int) -> list[list[int]]:
    """Rolling p50/p90 of durations: per bin, over that bin and its two neighbours each
    side (so a sparse bin still has a value), at the bin's centre."""
    if not len(t):
        return []
    b = np.minimum((t - t0) * bins // span, bins - 1)
    out = []
    for i in range(bins):
        sel = ms[(b >= i - 2) & (b <= i + 2)]
        if len(sel) < 3:
            continue
        p50, p90 = np.percentile(sel, [50, 90])
        out.append([int(t0 + (i + 0.5) * span / bins), int(p50), int(p90)])
    return out


def window_start(window: str | timedelta, now: datetime) -> datetime:
    """``now`` minus a window like ``"14d"``, ``"36h"``, ``"90m"`` or a timedelta."""
    if isinstance(window, timedelta):
        delta = window
    else:
        m = re.fullmatch(r"\s*(\d+)\s*([dhm])\s*", str(window))
        if not m:
            raise ValueError(f"window must look like '14d', '36h' or '90m', not {window!r}")
        n, unit = int(m.group(1)), m.group(2)
        delta = {"d": timedelta(days=n), "h": timedelta(hours=n), "m": timedelta(minutes=n)}[unit]
    if delta <= timedelta(0):
        raise ValueError(f"window must be positive, not {window!r}")
    return now - delta


def window_frame(src: Source, pipeline: str | None, since: datetime
                 ) -> tuple[pd.DataFrame, set[str]]:
    """The runs (of ``pipeline``, or all) that started since ``since`` as a
    :func:`~flowwidgets.frames.runs_frame`, and the ids of those the runner marks as
    imported (``Run.extra["imported"]``)."""
    from flowwidgets._run_pages import Kept
    from flowwidgets.frames import _frame, _pages
    from flowwidgets.sources._run_columns import ns

    kept = Kept(ns(since))
    for page in _pages(src, pipeline, None):
        if kept.add(page.columns()):
            break
    cols = kept.columns()
    imported = {run_id for run_id, yes in zip(cols.run_id, cols.imported, strict=True) if yes}
    frame = _frame(cols)
    frame.attrs["source"] = src.url
    return frame, imported
