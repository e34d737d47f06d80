"""Dashboard: the three views with navigation — cards → a run's DAG; "all jobs →" → the
filtered table → a run; back.

An ipywidgets ``VBox`` holding a nav bar (a small anywidget, ``js/src/widgets/dashboard.ts``)
and one view at a time (the others are hidden with ``layout.display``), so it works in
JupyterLab, Notebook and Voilà alike. The jobs table and the run view are made on first
use, so opening the dashboard reads only the pipelines.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

import ipywidgets
import traitlets

from flowwidgets.widgets._base import FlowWidget, check_kwargs
from flowwidgets.widgets._cards import PipelineCards
from flowwidgets.widgets._jobs_table import JobsTable
from flowwidgets.widgets._run_view import RunView

if TYPE_CHECKING:
    from flowwidgets.sources import Source

__all__ = ["Dashboard", "NavBar"]

View = Literal["cards", "jobs", "run"]


class NavBar(FlowWidget):
    """The dashboard's bar: back, breadcrumbs, live indicator. Sends ``nav`` / ``back``."""

    _bundle = "dashboard"
    _extra_kwargs = ("on_nav", "on_back")

    view = traitlets.Unicode("cards").tag(sync=True)
    """The view shown: ``"cards"``, ``"jobs"`` or ``"run"``."""
    crumbs = traitlets.List(traitlets.Dict()).tag(sync=True)
    """The path to the current view: ``[{"label", "target"}]``, first to last."""
    can_back = traitlets.Bool(False).tag(sync=True)
    """True when there is a previous view."""

    def __init__(self, source: Source, *, live: bool = True,
                 on_nav: Callable[[str], Any] | None = None,
                 on_back: Callable[[], Any] | None = None, **kwargs: Any) -> None:
        super().__init__(source, live=live, **kwargs)
        self._nav = on_nav
        self._back = on_back
        self._start()

    def _reload(self) -> None:
        """The bar shows no data of its own; the poller only drives its live indicator."""

    def _handlers(self) -> dict[str, Callable[[dict[str, Any]], Any]]:
        return {"nav": self._msg_nav, "back": self._msg_back}

    def _msg_nav(self, msg: dict[str, Any]) -> None:
        target = str(msg.get("target") or "")
        if target not in ("cards", "jobs", "run"):
            raise ValueError(f"unknown view {target!r}")
        if self._nav is not None:
            self._nav(target)

    def _msg_back(self, msg: dict[str, Any]) -> None:
        if self._back is not None:
            self._back()

    def _static_html(self) -> str:
        return ""

    def _static_text(self) -> str:
        return " › ".join(c.get("label", "") for c in self.crumbs)


class Dashboard(ipywidgets.VBox):
    """Pipeline cards, the jobs table and a run's DAG in one place, one at a time.

    ``Dashboard(src, *, live=True, theme="auto", page_size=25)``. Navigate with the mouse
    or from Python: :meth:`show_cards`, :meth:`show_jobs`, :meth:`show_run`, :meth:`back`.
    """

    def __init__(self, source: Source, *, live: bool = True, theme: str = "auto",
                 page_size: int = 25, **kwargs: Any) -> None:
        check_kwargs(type(self), kwargs, {"layout", "live", "theme", "page_size"})
        self.source = source
        """The Source every view reads."""
        self._live = live
        self._theme = theme
        self._page_size = page_size
        self._jobs: JobsTable | None = None
        self._run_view: RunView | None = None
        self._history: list[tuple[View, str | None]] = []
        self._state: tuple[View, str | None] = ("cards", None)
        self._jobs_pipeline: str | None = None
        self.cards = PipelineCards(source, live=live, theme=theme, on_select=self.show_run,
                                   on_show_jobs=self.show_jobs)
        """The :class:`PipelineCards` view."""
        self.nav = NavBar(source, live=live, theme=theme, on_nav=self._nav_to,
                          on_back=self.back)
        """The navigation bar."""
        super().__init__([self.nav, self.cards], **kwargs)
        self._render()

    # -- the views, made on first use ----------------------------------------------------

    @property
    def jobs(self) -> JobsTable:
        """The :class:`JobsTable` view."""
        if self._jobs is None:
            self._jobs = JobsTable(self.source, live=self._live, theme=self._theme,
                                   page_size=self._page_size, on_select=self.show_run)
            self.children = (*self.children, self._jobs)
        return self._jobs

    @property
    def run_view(self) -> RunView:
        """The :class:`RunView` view."""
        if self._run_view is None:
            self._run_view = RunView(self.source, None, live=self._live, theme=self._theme,
                                     on_open=self._opened)
            self.children = (*self.children, self._run_view)
        return self._run_view

    @property
    def view(self) -> View:
        """The view shown: ``"cards"``, ``"jobs"`` or ``"run"``."""
        return self._state[0]

    # -- navigation ----------------------------------------------------------------------

    def show_cards(self) -> None:
        """Show the pipeline cards."""
        self._go(("cards", None))

    def show_jobs(self, pipeline: str | None = None) -> None:
        """Show the jobs table, filtered to ``pipeline`` (None or "": every pipeline)."""
        pipeline = pipeline or None
        self.jobs.pipeline = pipeline
        self._jobs_pipeline = pipeline
        self._go(("jobs", pipeline))

    def show_run(self, run_id: str) -> None:
        """Show run ``run_id``'s DAG and actions."""
        self.run_view.run_id = run_id
        self._go(("run", run_id))

    def back(self) -> None:
        """Go back to the previous view (nothing happens on the first one)."""
        if not self._history:
            return
        state = self._history.pop()
        self._apply(state)
        self._state = state
        self._render()

    def _go(self, state: tuple[View, str | None]) -> None:
        if state == self._state:
            return
        self._history.append(self._state)
        self._state = state
        self._render()

    def _apply(self, state: tuple[View, str | None]) -> None:
        view, arg = state
        if view == "jobs":
            self.jobs.pipeline = arg
            self._jobs_pipeline = arg
        elif view == "run" and arg:
            self.run_view.run_id = arg

    def _nav_to(self, target: str) -> None:
        # a breadcrumb: go back to the last time that view was shown
        while self._history and self._state[0] != target:
            self._state = self._history.pop()
        if self._state[0] != target:
            self._state = ("cards", None)
        self._apply(self._state)
        self._render()

    def _opened(self, run_id: str) -> None:
        # an action in the run view opened a new run: record it as a step of the path
        if self._state != ("run", run_id):
            self._history.append(self._state)
            self._state = ("run", run_id)
            self._render()

    def _crumbs(self) -> list[dict[str, str]]:
        crumbs = [{"label": "Pipelines", "target": "cards"}]
        path = [*self._history, self._state]
        if any(v == "jobs" for v, _ in path) and self._state[0] != "cards":
            last_jobs = next(a for v, a in reversed(path) if v == "jobs")
            crumbs.append({"label": f"Jobs: {last_jobs or 'all pipelines'}", "target": "jobs"})
        if self._state[0] == "run":
            crumbs.append({"label": f"Run {self._state[1]}", "target": "run"})
        return crumbs

    def _render(self) -> None:
        view = self._state[0]
        for name, widget in (("cards", self.cards), ("jobs", self._jobs),
                             ("run", self._run_view)):
            if widget is not None:
                widget.layout.display = None if name == view else "none"
        with self.nav.hold_sync():
            self.nav.view = view
            self.nav.crumbs = self._crumbs()
            self.nav.can_back = bool(self._history)

    # -- lifetime and display ------------------------------------------------------------

    def close(self) -> None:
        """Close the nav bar and every view (they stop following the poller)."""
        # getattr: ipywidgets' __del__ also calls close() on a half-built dashboard
        for name in ("nav", "cards", "_jobs", "_run_view"):
            w = getattr(self, name, None)
            if w is not None:
                w.close()
        super().close()

    def _current(self) -> FlowWidget:
        view = self._state[0]
        if view == "jobs" and self._jobs is not None:
            return self._jobs
        if view == "run" and self._run_view is not None:
            return self._run_view
        return self.cards

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        bundle = super()._repr_mimebundle_(**kwargs)
        current = self._current()._repr_mimebundle_(**kwargs)
        if bundle is None or current is None:
            return bundle
        data, meta = bundle if isinstance(bundle, tuple) else (bundle, {})
        cdata = current[0]
        for mime in ("text/html", "text/plain"):
            if mime in cdata:
                data[mime] = cdata[mime]
        return data, meta
