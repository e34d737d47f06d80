"""HistoryView: run history at a glance — durations over time with a p50/p90 band, the
runs × steps grid of one pipeline, failures grouped by cause and a summary row per
pipeline. Everything is aggregated in the kernel (:mod:`flowwidgets.history`); the browser
receives a bounded number of marks however long the history.

Twin of ``js/src/widgets/history.ts``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pandas as pd
import traitlets

from flowwidgets.frames import pipeline_summary
from flowwidgets.history import (
    duration_marks,
    failure_groups,
    grid_payload,
    window_frame,
    window_start,
)
from flowwidgets.models import format_time
from flowwidgets.widgets._base import FlowWidget, SelectsRuns
from flowwidgets.widgets._fallback_history import history_html, history_text

if TYPE_CHECKING:
    from flowwidgets.live import LiveEvent
    from flowwidgets.sources import Source

__all__ = ["HistoryView"]

SelectCallback = Callable[[str], Any]
StepCallback = Callable[[str, str], Any]
GroupCallback = Callable[[dict[str, Any]], Any]
GRID_RUNS = 60
"""Runs (columns) of the grid."""
MIN_RELOAD_S = 10.0
"""Live changes re-aggregate at most this often."""
MAX_GROUP_RUNS = 50
"""Run ids sent per failure group (the count says how many there are)."""


def _ms(value: Any) -> int | None:
    if value is None or value is pd.NaT or pd.isna(value):
        return None
    return int(value / pd.Timedelta(milliseconds=1))


def summary_rows(summary: pd.DataFrame) -> list[dict[str, Any]]:
    """The JSON rows of :func:`~flowwidgets.frames.pipeline_summary`."""
    rows = []
    records: dict[Any, dict[str, Any]] = summary.to_dict("index")  # type: ignore[assignment]
    for name, r in records.items():
        rate, trend = r["success_rate"], r["trend"]
        rows.append({
            "pipeline": str(name), "runs": int(r["runs"]), "failed": int(r["failed"]),
            "success_rate": None if pd.isna(rate) else float(rate),
            "p50_ms": _ms(r["p50"]), "p90_ms": _ms(r["p90"]),
            "p50_last_7d_ms": _ms(r["p50_last_7d"]), "p50_prev_7d_ms": _ms(r["p50_prev_7d"]),
            "trend": None if pd.isna(trend) else round(float(trend), 4),
        })
    return rows


def failure_rows(groups: pd.DataFrame) -> list[dict[str, Any]]:
    """The JSON rows of :func:`~flowwidgets.history.failure_groups`."""
    records: list[dict[str, Any]] = groups.to_dict("records")  # type: ignore[assignment]
    return [{"pipeline": str(g["pipeline"]), "step": _text(g["step"]),
             "signature": str(g["signature"]), "count": int(g["count"]),
             "first_seen": _when(g["first_seen"]), "last_seen": _when(g["last_seen"]),
             "example": _text(g["example"]), "run_ids": list(g["run_ids"])[:MAX_GROUP_RUNS]}
            for g in records]


def _text(value: Any) -> str | None:
    return None if value is None or pd.isna(value) else str(value)


def _when(value: Any) -> str | None:
    return None if value is None or pd.isna(value) else format_time(value.to_pydatetime())


class HistoryView(SelectsRuns, FlowWidget):
    """Run history at a glance: every run a mark (duration over time, coloured by status,
    restarts drawn apart and left out of the p50/p90 band), the runs × steps grid of one
    pipeline, failures grouped by cause, and a summary row per pipeline with its trend.

    ``HistoryView(src, pipeline=None, window="14d", *, live=True, on_select=None,
    on_open_step=None, theme="auto")``. Brushing the chart sets :attr:`brush`; clicking a
    mark selects its run (``on_select``); clicking a grid cell calls
    ``on_open_step(run_id, step)``; with ``on_show_runs``, a brushed range offers "Show
    in Runs"; clicking a failure group sets :attr:`focus` and calls ``on_group(group)``
    with all its run ids (:attr:`focused` is their DataFrame). The same figures for code:
    :attr:`summary`, :attr:`frame`, ``fw.failure_groups(src)``, ``fw.step_grid(src, pipeline)``.
    """

    _bundle = "history"
    _extra_kwargs = ("on_select", "on_open_step", "on_show_runs", "on_group")

    # -- what is shown -------------------------------------------------------------------
    pipeline = traitlets.Unicode(None, allow_none=True).tag(sync=True)
    """One pipeline (its band and grid), or None for every pipeline."""
    window = traitlets.Unicode("14d").tag(sync=True)
    """How far back: ``"7d"``, ``"14d"``, ``"36h"``… (runs that started since then)."""

    # -- selection -----------------------------------------------------------------------
    brush = traitlets.List(traitlets.Unicode(), maxlen=2).tag(sync=True)
    """The brushed time range as two ISO-8601 times ``[since, until]`` ([] when none)."""
    focus = traitlets.Dict().tag(sync=True)
    """The failure group clicked last: ``{"signature", "pipeline", "step", "run_ids"}``
    ({} when none); its runs are highlighted."""
    selected_run_id = traitlets.Unicode(None, allow_none=True).tag(sync=True)
    """The run whose mark was clicked last."""

    # -- data (read-only: the kernel fills them) -----------------------------------------
    pipelines = traitlets.List(traitlets.Unicode()).tag(sync=True)
    """Every pipeline's name (for the picker)."""
    chart = traitlets.Dict().tag(sync=True)
    """The duration chart: see :func:`flowwidgets.history.duration_marks`, plus
    ``imported`` (how many of its runs were imported)."""
    grid = traitlets.Dict().tag(sync=True)
    """The runs × steps grid of :attr:`pipeline` ({} for every pipeline)."""
    failures = traitlets.List(traitlets.Dict()).tag(sync=True)
    """Failure groups in the window, most runs first."""
    summary_rows = traitlets.List(traitlets.Dict()).tag(sync=True)
    """One row per pipeline: runs, success rate, p50/p90 and the weekly trend."""
    loading = traitlets.Bool(False).tag(sync=True)
    """True while the history is being read."""
    _can_show_runs = traitlets.Bool(False).tag(sync=True)

    def __init__(self, source: Source, pipeline: str | None = None, window: str = "14d", *,
                 live: bool = True, on_select: SelectCallback | None = None,
                 on_open_step: StepCallback | None = None,
                 on_show_runs: Callable[[], Any] | None = None,
                 on_group: GroupCallback | None = None, **kwargs: Any) -> None:
        window_start(window, datetime.now(UTC))  # a bad window fails here, clearly
        super().__init__(source, live=live, pipeline=pipeline or None, window=window,
                         **kwargs)
        self._select_callbacks: list[SelectCallback] = []
        self._step_callbacks: list[StepCallback] = []
        self._group_callbacks: list[GroupCallback] = []
        if on_group is not None:
            self._group_callbacks.append(on_group)
        self._groups = pd.DataFrame()
        if on_select is not None:
            self.on_select(on_select)
        if on_open_step is not None:
            self._step_callbacks.append(on_open_step)
        self._show_runs = on_show_runs
        self._can_show_runs = on_show_runs is not None
        self.frame = pd.DataFrame()
        """The runs of the window (a :func:`~flowwidgets.frames.runs_frame`)."""
        self.summary = pd.DataFrame()
        """:func:`~flowwidgets.frames.pipeline_summary` of the window."""
        self.timings: dict[str, float] = {}
        """Seconds the last build took: ``read`` (runner), ``aggregate`` (pandas)."""
        self._last_reload = 0.0
        self._timer: threading.Timer | None = None
        self.observe(self._on_choice, names=["pipeline", "window"])
        self.observe(self._on_focus, names=["focus"])
        self._start()

    @traitlets.validate("window")
    def _valid_window(self, proposal: dict[str, Any]) -> str:
        try:
            window_start(proposal["value"], datetime.now(UTC))
        except ValueError as exc:
            raise traitlets.TraitError(str(exc)) from None
        return proposal["value"]

    @property
    def brushed(self) -> pd.DataFrame:
        """The runs inside :attr:`brush` (every run of the window when nothing is brushed)."""
        if len(self.brush) != 2 or self.frame.empty:
            return self.frame
        lo, hi = (pd.Timestamp(x) for x in self.brush)
        started = self.frame["started_at"]
        return self.frame[(started >= lo) & (started <= hi)]

    @property
    def focused(self) -> pd.DataFrame:
        """The runs of the failure group in :attr:`focus` (every one of them, not only the
        run ids sent to the browser); empty when no group is focused."""
        ids = set(self.focus_run_ids())
        return self.frame[self.frame["run_id"].isin(ids)] if ids else self.frame.iloc[0:0]

    def focus_run_ids(self) -> list[str]:
        """Every run id of the focused failure group ([] when none)."""
        f = self.focus
        if not f or self._groups.empty:
            return []
        g = self._groups
        hit = g[(g["signature"] == f.get("signature")) & (g["pipeline"] == f.get("pipeline"))
                & (g["step"].fillna("") == (f.get("step") or ""))]
        return [str(r) for ids in hit["run_ids"] for r in ids]

    def on_group(self, callback: GroupCallback) -> None:
        """Call ``callback(group)`` when a failure group is clicked: ``group`` is
        ``{"signature", "pipeline", "step", "run_ids"}`` with every run id ({} when the
        group is clicked again, i.e. unfocused)."""
        self._group_callbacks.append(callback)

    def _on_focus(self, change: dict[str, Any]) -> None:
        f = change["new"] or {}
        group = {**f, "run_ids": self.focus_run_ids()} if f else {}
        self._call_user(self._group_callbacks, group)

    def on_open_step(self, callback: StepCallback) -> None:
        """Call ``callback(run_id, step)`` when a grid cell is clicked."""
        self._step_callbacks.append(callback)

    # -- FlowWidget ----------------------------------------------------------------------

    def _on_choice(self, change: dict[str, Any]) -> None:
        self._set(brush=[], focus={})
        self._guarded(self._reload, "loading")

    def _reload(self) -> None:
        self._set(loading=True)
        try:
            self._build()
        finally:
            self._set(loading=False)
            self._last_reload = time.monotonic()

    def _live_reload(self) -> None:
        """A live re-aggregation: no "loading" flash; unchanged payloads are not sent."""
        self._build()
        self._last_reload = time.monotonic()

    def _build(self) -> None:
        # to the minute: a live rebuild with no new run sends nothing
        now = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
        start = window_start(self.window, now)
        t0 = time.perf_counter()
        names = [p.name for p in self.source.pipelines()]
        frame, imported = window_frame(self.source, self.pipeline, start)
        history = (self.source.step_history(self.pipeline, limit=GRID_RUNS)
                   if self.pipeline else [])
        groups = failure_groups(self.source, pipeline=self.pipeline)
        t1 = time.perf_counter()
        chart = duration_marks(frame, start=start, end=now)
        chart["imported"] = len(imported)
        summary = pipeline_summary(frame, now=now)
        if not groups.empty:
            groups = groups[groups["last_seen"] >= pd.Timestamp(start)]
        grid = grid_payload(history, max_runs=GRID_RUNS) if self.pipeline else {}
        if grid:
            for r in grid["runs"]:
                r["imported"] = r["run_id"] in imported
        self.frame, self.summary, self._groups = frame, summary, groups
        rows = summary_rows(summary)
        fails = failure_rows(groups)
        self.timings = {"read": t1 - t0, "aggregate": time.perf_counter() - t1}
        with self.hold_sync():
            self._set(pipelines=names, chart=chart, grid=grid, failures=fails,
                      summary_rows=rows)

    def _on_changed(self, event: LiveEvent) -> None:
        wait = MIN_RELOAD_S - (time.monotonic() - self._last_reload)
        if wait <= 0:
            self._live_reload()
        elif self._timer is None or not self._timer.is_alive():
            self._timer = threading.Timer(wait, lambda: self._guarded(self._live_reload,
                                                                      "updating"))
            self._timer.daemon = True
            self._timer.start()

    def close(self) -> None:
        """Stop following the poller (and any pending re-aggregation) and close."""
        timer = getattr(self, "_timer", None)
        if timer is not None:
            timer.cancel()
        super().close()

    # -- messages ------------------------------------------------------------------------

    def _handlers(self) -> dict[str, Callable[[dict[str, Any]], Any]]:
        return {"select": self._msg_select, "open_step": self._msg_open_step,
                "pick": self._msg_pick, "show_runs": self._msg_show_runs}

    def _msg_show_runs(self, msg: dict[str, Any]) -> None:
        if self._show_runs is not None:
            self._call_user([self._show_runs])

    def _msg_open_step(self, msg: dict[str, Any]) -> None:
        run_id, step = str(msg.get("run_id") or ""), str(msg.get("step") or "")
        if not run_id or not step:
            raise ValueError("open_step needs a run_id and a step")
        self.selected_run_id = run_id
        self._call_user(self._step_callbacks, run_id, step)

    def _msg_pick(self, msg: dict[str, Any]) -> None:
        pipeline = msg.get("pipeline") or None
        if pipeline is not None and pipeline not in self.pipelines:
            raise ValueError(f"unknown pipeline {pipeline!r}")
        self.pipeline = pipeline

    def _static_html(self) -> str:
        return history_html(self.pipeline, self.window, self.chart, self.summary_rows,
                            self.failures, self.grid, error=self.error,
                            zone=self.time_zone)

    def _static_text(self) -> str:
        return history_text(self.pipeline, self.window, self.summary_rows, self.failures)
