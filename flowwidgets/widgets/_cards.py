"""PipelineCards: a card per pipeline with its last-10 execution strip.

Twin of ``js/src/widgets/cards.ts``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import traitlets

from flowwidgets.models import Pipeline, Run
from flowwidgets.widgets._base import FlowWidget, SelectsRuns
from flowwidgets.widgets._below import OpensBelow
from flowwidgets.widgets._fallback import cards_html, cards_text
from flowwidgets.widgets._run_timing import EtaTexts
from flowwidgets.widgets._shapes import CARD_PIPELINE, STRIP_RUN

if TYPE_CHECKING:
    from flowwidgets.live import LiveEvent
    from flowwidgets.sources import Source

__all__ = ["PipelineCards"]

SelectCallback = Callable[[str], Any]


def _strip_run(run: Run) -> dict[str, Any]:
    return STRIP_RUN.pick(run.to_dict())


def card_payload(p: Pipeline) -> dict[str, Any]:
    """What a card shows of a pipeline (the JSON of one ``pipelines`` entry)."""
    d = p.to_dict()
    stats = p.streaming_stats or None
    if stats is not None:
        one_min = stats.get("stats_1m") or {}
        stats = {"rows_consumed_total": stats.get("rows_consumed_total"),
                 "snapshot_at": stats.get("snapshot_at"),
                 "stats_1m": {"rows_consumed_per_sec": one_min.get("rows_consumed_per_sec")}}
    return {
        **CARD_PIPELINE.pick(d),
        "recent_runs": [_strip_run(r) for r in p.recent_runs[-10:]],
        "streaming_stats": stats,
        "eta": "",
    }


class PipelineCards(OpensBelow, SelectsRuns, FlowWidget):
    """A card per pipeline: last-10 strip, next fire or LIVE STREAMING, median duration,
    "Run now" and "all jobs →".

    What a click does: a square (mouse, or Enter on a focused square) selects that run
    (``selected_run_id``) and calls each ``on_select(run_id)``; "all jobs →" calls each
    ``on_show_jobs(pipeline)``. Displayed on its own (a cell's value), the view also opens
    the run below itself in a :class:`RunView`, and "all jobs →" that pipeline's runs in
    a :class:`JobsTable` (see :attr:`below`; ``open_below=False`` turns this off). Inside
    the Dashboard the callbacks open the run there instead.

    ``PipelineCards(src, *, live=True, on_select=None, on_show_jobs=None,
    open_below=True, theme="auto")``
    """

    _bundle = "cards"
    _extra_kwargs = ("on_select", "on_show_jobs", "open_below", "on_show_history")

    # -- data --------------------------------------------------------------------------
    pipelines = traitlets.List(traitlets.Dict()).tag(sync=True)
    """Every pipeline of the runner as cards show them (read-only: the Source fills it)."""

    # -- selection and actions ---------------------------------------------------------
    selected_run_id = traitlets.Unicode(None, allow_none=True).tag(sync=True)
    """The run whose square was clicked last (None before any click)."""
    last_action = traitlets.Dict().tag(sync=True)
    """The outcome of the last "Run now": kind, pipeline, new_run_id or error, at."""
    _can_show_history = traitlets.Bool(False).tag(sync=True)

    def __init__(self, source: Source, *, live: bool = True,
                 on_select: SelectCallback | None = None,
                 on_show_jobs: SelectCallback | None = None, open_below: bool = True,
                 on_show_history: SelectCallback | None = None, **kwargs: Any) -> None:
        self._etas = EtaTexts(source)
        super().__init__(source, live=live, **kwargs)
        self._history_callbacks: list[SelectCallback] = []
        if on_show_history is not None:  # a card then links to the pipeline's history
            self._history_callbacks.append(on_show_history)
            self._can_show_history = True
        self._open_below = open_below
        self._select_callbacks: list[SelectCallback] = []
        self._jobs_callbacks: list[SelectCallback] = []
        if on_select is not None:
            self.on_select(on_select)
        if on_show_jobs is not None:
            self.on_show_jobs(on_show_jobs)
        self._start()

    def on_show_jobs(self, callback: SelectCallback) -> None:
        """Call ``callback(pipeline)`` when a card's "all jobs →" is clicked."""
        self._jobs_callbacks.append(callback)

    def run_now(self, pipeline: str) -> str:
        """Start ``pipeline`` now through the Source (as the card's button does); the new
        run id. Refusals raise and are mirrored in ``last_action``."""
        reply = self._action("run_now", lambda: self.source.run_now(pipeline), pipeline=pipeline)
        self.refresh()
        return reply["new_run_id"]

    # -- FlowWidget ----------------------------------------------------------------------

    def _reload(self) -> None:
        pipes = self.source.pipelines()
        cards = [card_payload(p) for p in pipes]
        running = [p.latest_run.run_id for p in pipes if p.latest_run is not None
                   and p.latest_run.status.is_active and not p.is_streaming]
        texts = self._etas.texts(running) if running else {}
        for p, card in zip(pipes, cards, strict=True):
            if p.latest_run is not None:
                card["eta"] = texts.get(p.latest_run.run_id, "")
        self._set(pipelines=cards)

    def _on_changed(self, event: LiveEvent) -> None:
        self._reload()

    def _handlers(self) -> dict[str, Callable[[dict[str, Any]], Any]]:
        return {"select": self._msg_select, "show_jobs": self._msg_show_jobs,
                "run_now": self._msg_run_now, "show_history": self._msg_show_history}

    def _msg_show_history(self, msg: dict[str, Any]) -> None:
        self._call_user(self._history_callbacks, str(msg.get("pipeline") or ""))

    def _msg_show_jobs(self, msg: dict[str, Any]) -> None:
        pipeline = str(msg.get("pipeline") or "")
        self._call_user(self._jobs_callbacks, pipeline)
        self._show_jobs_below(pipeline)

    def _msg_run_now(self, msg: dict[str, Any]) -> dict[str, Any]:
        pipeline = str(msg.get("pipeline") or "")
        if not pipeline:
            raise ValueError("run_now needs a pipeline")
        return {"new_run_id": self.run_now(pipeline)}

    def _static_html(self) -> str:
        return cards_html(self.pipelines, error=self.error, zone=self.time_zone)

    def _static_text(self) -> str:
        return cards_text(self.pipelines, zone=self.time_zone)
