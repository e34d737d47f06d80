"""Timeline: every pipeline on one time axis — a row per pipeline, each run a bar coloured by
status, running runs growing, the cron future as ghost bars of the median duration.

The kernel keeps the window's runs as a frame (:func:`flowwidgets.runs_frame` since the
window's start, then live updates merged in) and sends only the marks of
:func:`flowwidgets.fleet.fleet_marks`, bounded whatever the history's size.

Twin of ``js/src/widgets/timeline.ts``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import traitlets

from flowwidgets.fleet import RunArrays, fleet_marks, parse_window, window_bounds
from flowwidgets.frames import runs_frame
from flowwidgets.models import Pipeline
from flowwidgets.widgets._base import FlowWidget, SelectsRuns
from flowwidgets.widgets._fallback_fleet import fleet_html, fleet_text
from flowwidgets.widgets._jobs_rows import merge_runs

if TYPE_CHECKING:
    from flowwidgets.live import LiveEvent
    from flowwidgets.sources import Source

__all__ = ["Timeline"]

SelectCallback = Callable[[str], Any]


def frame_arrays(df: pd.DataFrame) -> RunArrays:
    """The runs of a :func:`runs_frame` as :class:`RunArrays` (epoch ms)."""
    df = df[df["started_at"].notna()]
    start = df["started_at"].astype("int64").to_numpy() / 1e6
    fin = df["finished_at"]
    end = np.where(fin.isna(), np.nan, fin.astype("int64").to_numpy() / 1e6)
    return RunArrays(df["run_id"].astype(str).to_numpy(), df["pipeline"].astype(str).to_numpy(),
                     df["status"].astype(str).to_numpy(), start, end)


class Timeline(SelectsRuns, FlowWidget):
    """Every pipeline on one time axis: runs as bars by status, running runs growing, the
    scheduled future as ghost bars. Pan and zoom between 1 h and 30 days; a click on a bar
    selects its run (``selected_run_id``, ``on_select``).

    ``Timeline(src, window="24h", *, live=True, on_select=None, theme="auto")``
    """

    _bundle = "timeline"
    _extra_kwargs = ("on_select",)

    # -- the window --------------------------------------------------------------------
    window = traitlets.Unicode("24h").tag(sync=True)
    """How much time is shown: ``"1h"`` … ``"30d"`` (any ``<n>h`` / ``<n>d`` in range)."""
    window_end = traitlets.Float(None, allow_none=True).tag(sync=True)
    """The window's right edge in epoch ms; None follows now (live)."""
    width = traitlets.Int(1000).tag(sync=True)
    """The plot's width in pixels the kernel buckets for (the view sets it)."""

    # -- data and selection --------------------------------------------------------------
    _marks = traitlets.Dict().tag(sync=True)
    selected_run_id = traitlets.Unicode(None, allow_none=True).tag(sync=True)
    """The run whose bar was clicked last (None before any click)."""

    def __init__(self, source: Source, window: str = "24h", *, live: bool = True,
                 on_select: SelectCallback | None = None, **kwargs: Any) -> None:
        parse_window(window)
        self._frame: pd.DataFrame | None = None
        self._since: datetime | None = None
        self._pipes: list[Pipeline] = []
        self._select_callbacks: list[SelectCallback] = []
        super().__init__(source, live=live, window=window, **kwargs)
        if on_select is not None:
            self.on_select(on_select)
        self.observe(self._on_window, names=["window", "window_end", "width"])
        self._start()

    @traitlets.validate("window")
    def _check_window(self, proposal: dict[str, Any]) -> str:
        try:
            parse_window(proposal["value"])
        except ValueError as exc:
            raise traitlets.TraitError(str(exc)) from None
        return str(proposal["value"])

    @traitlets.validate("width")
    def _check_width(self, proposal: dict[str, Any]) -> int:
        return int(min(4000, max(200, proposal["value"])))

    def _bounds(self) -> tuple[datetime, datetime]:
        end = (datetime.fromtimestamp(self.window_end / 1000, UTC)
               if self.window_end is not None else None)
        return window_bounds(self.window, end)

    # -- FlowWidget ----------------------------------------------------------------------

    def _reload(self) -> None:
        t0, _ = self._bounds()
        self._pipes = list(self.source.pipelines())
        self._frame = runs_frame(self.source, since=t0, progress=False, eta=False)
        self._since = t0
        self._draw()

    def _draw(self) -> None:
        if self._frame is None:
            return
        t0, t1 = self._bounds()
        now = datetime.now(UTC)
        marks = fleet_marks(frame_arrays(self._frame), self._pipes, t0, t1, now, self.width)
        marks["window"] = self.window
        marks["live"] = self.window_end is None
        self._set(_marks=marks)

    def _on_changed(self, event: LiveEvent) -> None:
        if self._frame is None:
            self._reload()
            return
        self._pipes = list(self.source.pipelines())
        page = self.source.runs(limit=100)
        self._frame = merge_runs(self._frame, list(page.runs))
        self._draw()

    def _on_window(self, change: dict[str, Any]) -> None:
        t0, _ = self._bounds()
        if self._since is None or t0 < self._since:
            self._guarded(self._reload, f"loading the runs of the last {self.window}")
        else:
            self._guarded(self._draw, "drawing the timeline")

    def _handlers(self) -> dict[str, Callable[[dict[str, Any]], Any]]:
        return {"select": self._msg_select}

    def _static_html(self) -> str:
        return fleet_html(self._marks, error=self.error, zone=self.time_zone)

    def _static_text(self) -> str:
        return fleet_text(self._marks)
