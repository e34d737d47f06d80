"""pandas views of run history: every run as typed columns, a run's steps, summaries.

``runs_frame`` pages through the whole history (500 runs per request) and builds the
frame column-wise, so 100,000 runs take a few seconds at most; a tqdm bar appears when
fetching takes more than about a second.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from flowwidgets._run_pages import AHEAD, Kept, cursor_pages
from flowwidgets.models import Run, RunDetail, Status, parse_time
from flowwidgets.sources._run_columns import NAT, ColumnsPage, RunColumns, ns

if TYPE_CHECKING:
    from flowwidgets.sources import Source

__all__ = ["RUN_COLUMNS", "pipeline_summary", "runs_frame", "runs_to_frame", "step_failures",
           "steps_frame"]

PAGE_SIZE = 500
STATUS_CATEGORIES = [s.value for s in Status]
RUN_COLUMNS = ("run_id", "pipeline", "status", "started_at", "finished_at", "duration",
               "duration_ms", "attempts", "failed_step", "kind", "trigger", "parent_run_id",
               "eta", "error", "imported")
"""The columns of :func:`runs_frame`, in order."""
ETA_RUNS = 20
"""Most active runs :func:`runs_frame` estimates an end for (the newest)."""
_PROGRESS_AFTER_S = 1.0


def runs_frame(src: Source, pipeline: str | None = None, status: Status | str | None = None,
               since: datetime | str | None = None, *, progress: bool | None = None,
               eta: bool = True) -> pd.DataFrame:
    """Every run (newest first) as a DataFrame with typed columns.

    Columns: run_id (string), pipeline (category), status (category over the whole Status
    vocabulary), started_at / finished_at (datetime64[ns, UTC]), duration (timedelta64),
    duration_ms and attempts (Int64, nullable), failed_step (string), kind (category),
    trigger (string), parent_run_id (string: the run a restart, rerun or resume came from),
    error (string: the error's summary line where the runner lists it), imported (bool:
    the runner says the run came in through an import). ``since`` stops paging at the
    first run that started before it.
    ``progress``: None shows a bar once fetching takes more than a second; True/False force.
    ``eta`` (datetime64[ns, UTC]): the estimated end of each running run (the newest
    :data:`ETA_RUNS`; see :meth:`Source.eta`), NaT elsewhere and where it is partial;
    ``eta=False`` skips those requests.
    """
    cutoff = parse_time(since) if since is not None else None
    if cutoff is not None and not isinstance(cutoff, datetime):  # pragma: no cover
        raise TypeError(f"since must be a datetime or ISO-8601 text, got {since!r}")
    kept = Kept(None if cutoff is None else ns(cutoff))
    fetched, bar = 0, None
    start = time.monotonic()
    try:
        for page in _pages(src, pipeline, status):
            done = kept.add(page.columns())
            fetched += page.size
            if bar is None and progress is not False and (
                    progress or time.monotonic() - start > _PROGRESS_AFTER_S):
                bar = _progress_bar(page.total, src)
            if bar is not None:
                bar.total = max(page.total, fetched)
                bar.update(fetched - bar.n)
            if done:
                break
    finally:
        if bar is not None:
            bar.close()
    cols = kept.columns()
    frame = _frame(cols)
    if eta:
        frame["eta"] = _utc(_etas(src, cols))
    frame.attrs["source"] = src.url
    return frame


def _etas(src: Source, cols: RunColumns) -> list[datetime | None]:
    """The median ETA of the newest active runs: one history read per pipeline."""
    from flowwidgets import errors
    from flowwidgets.eta import HISTORY_RUNS, estimate

    out: list[datetime | None] = [None] * len(cols)
    active = [i for i, s in enumerate(cols.status) if s in _ACTIVE][:ETA_RUNS]
    history: dict[str, list[RunDetail]] = {}
    for i in active:
        pipeline, run_id = cols.pipeline[i], cols.run_id[i]
        try:
            if pipeline not in history:
                history[pipeline] = src.step_history(pipeline, HISTORY_RUNS + 1, "succeeded")
            hist = history[pipeline]
            workers = next((w for h in hist if isinstance(w := h.extra.get("max_workers"),
                                                          int)), None)
            out[i] = estimate(src.run(run_id), hist, workers=workers).finish_at
        except errors.SourceError:
            continue
    return out


_ACTIVE = frozenset(s.value for s in Status if s.is_active)


def runs_to_frame(runs: Iterable[Run]) -> pd.DataFrame:
    """Run summaries as a DataFrame with the typed columns of :func:`runs_frame`
    (:data:`RUN_COLUMNS`, in that order), one row per run in the order given."""
    return _frame(RunColumns.from_runs(list(runs)))


def _frame(cols: RunColumns) -> pd.DataFrame:
    """The typed frame of run columns (one builder for both paths)."""
    duration_ms = pd.array(cols.duration_ms, dtype="Int64")
    return pd.DataFrame({
        "run_id": pd.array(cols.run_id, dtype="string"),
        "pipeline": _categorical(cols.pipeline),
        "status": _categorical(cols.status, STATUS_CATEGORIES),
        "started_at": _utc_ns(cols.started_ns),
        "finished_at": _utc_ns(cols.finished_ns),
        "duration": _timedelta(duration_ms),
        "duration_ms": duration_ms,
        "attempts": pd.array(cols.attempts, dtype="Int64"),
        "failed_step": pd.array(cols.failed_step, dtype="string"),
        "kind": _categorical(cols.kind),
        "trigger": pd.array(cols.trigger, dtype="string"),
        "parent_run_id": pd.array(cols.parent_run_id, dtype="string"),
        "eta": _utc_ns(np.full(len(cols), NAT, dtype=np.int64)),
        "error": pd.array(cols.error, dtype="string"),
        "imported": pd.array(cols.imported, dtype="bool"),
    })


def _categorical(values: list[str], categories: list[str] | None = None
                 ) -> pd.Categorical[Any]:
    """``pd.Categorical(values[, categories])`` of a few distinct strings (no None), by
    one dict pass instead of pandas' hashing of every object: half the time for a
    million runs. Categories sorted as pandas sorts them; a value outside the given
    ones is missing, as there."""
    seen: dict[str, int] = {}
    codes = np.fromiter((seen.setdefault(v, len(seen)) for v in values), dtype=np.int64,
                        count=len(values))
    order = sorted(seen) if categories is None else categories
    if not seen:
        return pd.Categorical([], categories=order)
    at = {c: k for k, c in enumerate(order)}
    remap = np.array([at.get(v, -1) for v in seen], dtype=np.int64)
    return pd.Categorical.from_codes(remap[codes], dtype=pd.CategoricalDtype(order))


def _pages(src: Source, pipeline: str | None, status: Status | str | None
           ) -> Iterator[ColumnsPage]:
    """Every page, in order. After the first, the next pages are requested ahead (two in
    flight) so the runner prepares one while the kernel parses another."""
    first = src.runs_columns_page(pipeline, status, PAGE_SIZE, 0)
    yield first
    if first.next_cursor is not None and first.size:
        yield from cursor_pages(src, pipeline, status, first.next_cursor, PAGE_SIZE)
        return
    if first.next_offset is None or not first.size:
        return
    step, offset, limit = first.next_offset, first.next_offset, first.total
    with ThreadPoolExecutor(max_workers=AHEAD, thread_name_prefix="flowwidgets-pages") as pool:
        pending: deque[Future[ColumnsPage]] = deque()
        try:
            while True:
                while len(pending) < AHEAD and offset < limit:
                    pending.append(pool.submit(src.runs_columns_page, pipeline, status,
                                               PAGE_SIZE, offset))
                    offset += step
                if not pending:
                    return
                page = pending.popleft().result()
                yield page
                if page.next_offset is None or not page.size:
                    return
                limit = max(limit, page.total, page.next_offset + 1)
        finally:
            for fut in pending:
                fut.cancel()


def _progress_bar(total: int, src: Source) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="run", desc=f"runs from {src.url}", leave=False)


def _utc(values: list[datetime | None]) -> pd.Series:
    """Aware datetimes (or None) as datetime64[ns, UTC], via integer nanoseconds."""
    return _utc_ns(np.fromiter((NAT if v is None else ns(v) for v in values),
                               dtype=np.int64, count=len(values)))


def _utc_ns(values: np.ndarray) -> pd.Series:
    """int64 nanoseconds (NaT: the int64 minimum) as datetime64[ns, UTC]."""
    return pd.Series(values.view("datetime64[ns]")).dt.tz_localize("UTC")


def _timedelta(ms: Any) -> pd.Series:
    return pd.Series(pd.to_timedelta(ms, unit="ms")).astype("timedelta64[ns]")


def steps_frame(src: Source | RunDetail, run_id: str | None = None) -> pd.DataFrame:
    """One row per step of a run: name, status, depends_on, started/finished, duration,
    attempts, error, reused_from. Pass a Source and a run id, or a RunDetail."""
    detail = src if isinstance(src, RunDetail) else src.run(run_id)  # type: ignore[arg-type]
    steps = detail.steps
    ms = pd.array([s.duration_ms for s in steps], dtype="Int64")
    frame = pd.DataFrame({
        "name": pd.array([s.name for s in steps], dtype="string"),
        "status": pd.Categorical([s.status.value for s in steps], categories=STATUS_CATEGORIES),
        "depends_on": pd.Series([list(s.depends_on) for s in steps], dtype=object),
        "started_at": _utc([s.started_at for s in steps]),
        "finished_at": _utc([s.finished_at for s in steps]),
        "duration": _timedelta(ms),
        "duration_ms": ms,
        "attempts": pd.array([len(s.attempts) or s.extra.get("attempt_count")
                              for s in steps], dtype="Int64"),
        "error": pd.array([s.error for s in steps], dtype="string"),
        "reused_from": pd.array([s.reused_from for s in steps], dtype="string"),
    })
    frame.attrs["run_id"] = detail.run_id
    return frame


def pipeline_summary(df: pd.DataFrame, *, now: datetime | None = None) -> pd.DataFrame:
    """Per pipeline: runs, succeeded, failed, success_rate (of finished runs), p50/p90/p99
    duration, last_run (newest start) and last_status. Takes a :func:`runs_frame`.

    The trend: ``p50_last_7d`` and ``p50_prev_7d`` are the median durations of the
    succeeded full runs (restarts, which ran part of the DAG, left out) that started in
    the 7 days before ``now`` (default: the newest start in the frame) and in the 7 days
    before those; ``trend`` is their ratio minus one (+0.25: 25 % slower), <NA> when
    either week has no such run."""
    d = df.assign(
        _ok=(df["status"] == Status.SUCCEEDED.value).astype("int64"),
        _bad=(df["status"] == Status.FAILED.value).astype("int64"),
        _ms=df["duration_ms"].astype("float64"),
    )
    g = d.groupby("pipeline", observed=True, sort=True)
    out = pd.DataFrame({
        "runs": g.size(),
        "succeeded": g["_ok"].sum(),
        "failed": g["_bad"].sum(),
    })
    finished = out["succeeded"] + out["failed"]
    out["success_rate"] = (out["succeeded"] / finished.where(finished > 0)).astype("float64")
    for q, name in ((0.5, "p50"), (0.9, "p90"), (0.99, "p99")):
        out[name] = pd.to_timedelta(g["_ms"].quantile(q), unit="ms").astype("timedelta64[ns]")
    out["last_run"] = g["started_at"].max()
    newest = d.sort_values("started_at", na_position="first").groupby(
        "pipeline", observed=True)["status"].last()
    out["last_status"] = newest.astype(d["status"].dtype)
    _add_trend(out, d, now)
    return out


_WEEK = pd.Timedelta(days=7)


def _add_trend(out: pd.DataFrame, d: pd.DataFrame, now: datetime | None) -> None:
    end = pd.Timestamp(now) if now is not None else d["started_at"].max()
    full = d[(d["_ok"] == 1) & ~d["trigger"].isin(["restart"]).fillna(False)
             & d["_ms"].notna()]
    for name, lo, hi in (("p50_last_7d", end - _WEEK, end),
                         ("p50_prev_7d", end - 2 * _WEEK, end - _WEEK)):
        if pd.isna(end):
            week = full.iloc[0:0]
        else:
            week = full[(full["started_at"] > lo) & (full["started_at"] <= hi)]
        p50 = week.groupby("pipeline", observed=True)["_ms"].median()
        out[name] = pd.to_timedelta(p50.reindex(out.index), unit="ms").astype("timedelta64[ns]")
    ratio = out["p50_last_7d"] / out["p50_prev_7d"]
    out["trend"] = (ratio - 1).astype("Float64")


def step_failures(src_or_details: Source | Iterable[RunDetail], *,
                  pipeline: str | None = None, limit: int = 200) -> pd.DataFrame:
    """Per (pipeline, step): in how many failed runs the step failed, its failed attempts
    (retries included), when it last failed and its last error.

    Pass a Source (the newest ``limit`` failed runs are read) or RunDetail objects.
    """
    if hasattr(src_or_details, "run") and hasattr(src_or_details, "runs"):
        src: Any = src_or_details
        details: Iterable[RunDetail] = _failed_details(src, pipeline, limit)
    else:
        details = src_or_details
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for detail in details:
        if detail.status is not Status.FAILED:
            continue
        if pipeline is not None and detail.run.pipeline != pipeline:
            continue
        failed = [s for s in detail.steps if s.status is Status.FAILED]
        own = detail.run.failed_step
        entries = [(s.name, s.error or (detail.error if s.name == own else None),
                    s.finished_at, s.attempts or (detail.attempts if s.name == own else ()))
                   for s in failed]
        if not entries and detail.run.failed_step:
            entries = [(detail.run.failed_step, detail.error, detail.run.finished_at,
                        detail.attempts)]
        for name, error, at, attempts in entries:
            row = rows.setdefault((detail.run.pipeline, name), {
                "failed_runs": 0, "failed_attempts": 0, "last_failed_at": None,
                "last_error": None, "last_run_id": None})
            row["failed_runs"] += 1
            row["failed_attempts"] += sum(1 for a in attempts if a.status is Status.FAILED) or 1
            at = at or detail.run.finished_at or detail.run.started_at
            if row["last_failed_at"] is None or (at is not None and at > row["last_failed_at"]):
                row["last_failed_at"], row["last_error"] = at, error
                row["last_run_id"] = detail.run_id
    keys = sorted(rows, key=lambda k: (-rows[k]["failed_runs"], k))
    frame = pd.DataFrame({
        "pipeline": pd.array([k[0] for k in keys], dtype="string"),
        "step": pd.array([k[1] for k in keys], dtype="string"),
        "failed_runs": pd.array([rows[k]["failed_runs"] for k in keys], dtype="Int64"),
        "failed_attempts": pd.array([rows[k]["failed_attempts"] for k in keys], dtype="Int64"),
        "last_failed_at": _utc([rows[k]["last_failed_at"] for k in keys]),
        "last_error": pd.array([rows[k]["last_error"] for k in keys], dtype="string"),
        "last_run_id": pd.array([rows[k]["last_run_id"] for k in keys], dtype="string"),
    })
    return frame


def _failed_details(src: Any, pipeline: str | None, limit: int) -> Iterable[RunDetail]:
    offset, seen = 0, 0
    while seen < limit:
        page = src.runs(pipeline=pipeline, status=Status.FAILED,
                        limit=min(PAGE_SIZE, limit - seen), offset=offset)
        for run in page.runs:
            yield src.run(run.run_id)
        seen += len(page.runs)
        if page.next_offset is None or not page.runs:
            return
        offset = page.next_offset
