"""What a standalone view opens below itself when a run (or a pipeline's jobs) is clicked.

A :class:`~flowwidgets.widgets.PipelineCards` or :class:`~flowwidgets.widgets.JobsTable`
displayed on its own (the value of a notebook cell, ``display(view)``) is shown inside a
small ``VBox``: the view, then an area that stays empty until a click. Clicking a square
or a row opens that run there in a :class:`~flowwidgets.widgets.RunView` (the same one,
switched to each new run); a card's "all jobs →" opens that pipeline's runs there in a
:class:`~flowwidgets.widgets.JobsTable` whose rows open their run the same way.

A view placed inside another container (the Dashboard, an ``HBox`` of your own) is not
displayed on its own: there a click only calls its ``on_select`` callbacks, which is how the
Dashboard opens runs. ``open_below=False`` turns the area off.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import ipywidgets

if TYPE_CHECKING:
    from flowwidgets.sources import Source
    from flowwidgets.widgets._jobs_table import JobsTable
    from flowwidgets.widgets._run_view import RunView

__all__ = ["OpensBelow"]

_VIEW_MIME = "application/vnd.jupyter.widget-view+json"


class OpensBelow:
    """Mixin for a FlowWidget: display it with an area below that shows what is clicked."""

    source: Source
    theme: str
    _live: bool
    _open_below: bool = True
    _display_frame: ipywidgets.VBox | None = None
    _below: ipywidgets.VBox | None = None
    _below_run: RunView | None = None
    _below_jobs: JobsTable | None = None

    @property
    def below(self) -> ipywidgets.VBox | None:
        """The area under the standalone view (None until the view is displayed on its
        own, or with ``open_below=False``): the opened jobs table and run view."""
        return self._below

    def _display_bundle(self, data: dict[str, Any]) -> dict[str, Any]:
        """Point a display at the frame (view + area) instead of the bare view."""
        if not self._open_below or _VIEW_MIME not in data:
            return data
        if self._display_frame is None:
            self._below = ipywidgets.VBox([])
            children: list[Any] = [self, self._below]
            self._display_frame = ipywidgets.VBox(children)
        data[_VIEW_MIME] = {**data[_VIEW_MIME], "model_id": self._display_frame.model_id}
        return data

    def _run_picked(self, run_id: str) -> None:
        self._show_run_below(run_id)

    def _show_run_below(self, run_id: str) -> None:
        """Open ``run_id`` in the RunView under the view (when it is displayed alone)."""
        if self._below is None:
            return
        from flowwidgets.widgets._run_view import RunView

        if self._below_run is None:
            self._below_run = RunView(self.source, run_id, live=self._live, theme=self.theme)
        elif self._below_run.run_id != run_id:
            self._below_run.run_id = run_id
        self._arrange()

    def _show_jobs_below(self, pipeline: str) -> None:
        """Open ``pipeline``'s runs in a JobsTable under the view (when displayed alone)."""
        if self._below is None:
            return
        from flowwidgets.widgets._jobs_table import JobsTable

        if self._below_jobs is None:
            self._below_jobs = JobsTable(self.source, pipeline or None, live=self._live,
                                         theme=self.theme, open_below=False,
                                         on_select=self._show_run_below)
        else:
            self._below_jobs.pipeline = pipeline or None
        self._arrange()

    def _arrange(self) -> None:
        assert self._below is not None
        shown = [w for w in (self._below_jobs, self._below_run) if w is not None]
        if list(self._below.children) != shown:
            self._below.children = tuple(shown)

    def close(self) -> None:
        """Close the view and what it opened below itself."""
        for w in (self._below_jobs, self._below_run, self._below, self._display_frame):
            if w is not None:
                w.close()
        super().close()  # type: ignore[misc]
