"""Dashboard: one top-level navigation over the views — Pipelines (cards), Runs (every run,
filterable) and whatever :data:`SECTIONS` lists — plus a run's DAG opened from any of them.

An ipywidgets ``VBox`` holding a nav bar (a small anywidget, ``js/src/widgets/dashboard.ts``:
tabs, back, breadcrumb, live indicator) and one view at a time (the others are hidden with
``layout.display``), so it works in JupyterLab, Notebook and Voilà alike. Views are made on
first use, so opening the dashboard reads only the pipelines.

Adding a view is one entry in :data:`SECTIONS`::

    Section("timeline", "Timeline",
            lambda d: Timeline(d.source, live=d.live, theme=d.theme, on_select=d.show_run))

The nav bar draws its tabs from the ``tabs`` trait built from that list; the breadcrumb
names the section shown (and the Runs filter, or the run opened from it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import ipywidgets
import traitlets

from flowwidgets._vocab import TIME_ZONES
from flowwidgets.widgets._base import FlowWidget, check_kwargs
from flowwidgets.widgets._cards import PipelineCards
from flowwidgets.widgets._history_view import HistoryView
from flowwidgets.widgets._jobs_table import JobsTable
from flowwidgets.widgets._run_view import RunView
from flowwidgets.widgets._static import time_range

if TYPE_CHECKING:
    from flowwidgets.sources import Source

__all__ = ["SECTIONS", "Dashboard", "NavBar", "Section"]

State = tuple[str, str | None]
"""(view key, argument): a section key with its argument (the Runs pipeline filter), or
``("run", run_id)``."""


@dataclass(frozen=True)
class Section:
    """A top-level view of the Dashboard: its key, its tab label and how to make it."""

    key: str
    """Its name in ``Dashboard.view``, ``show(key)`` and the nav messages."""
    label: str
    """What its tab and breadcrumb say."""
    make: Callable[[Dashboard], ipywidgets.DOMWidget]
    """Builds the view (called once, on first use); ``on_select=d.show_run`` opens a run."""


def _make_cards(d: Dashboard) -> PipelineCards:
    return PipelineCards(d.source, live=d.live, theme=d.theme, on_select=d.show_run,
                         on_show_jobs=d.show_jobs, on_show_history=d.show_history,
                         open_below=False)


def _make_jobs(d: Dashboard) -> JobsTable:
    table = JobsTable(d.source, live=d.live, theme=d.theme, page_size=d.page_size,
                      on_select=d.show_run, open_below=False)
    # the breadcrumb follows the table's own filter controls
    table.observe(d._filter_changed, names=["pipeline", "status", "run_ids"])
    return table


def _make_timeline(d: Dashboard) -> ipywidgets.DOMWidget:
    from flowwidgets.widgets._timeline import Timeline

    return Timeline(d.source, live=d.live, theme=d.theme, on_select=d.show_run)


def _make_history(d: Dashboard) -> HistoryView:
    view = HistoryView(d.source, live=d.live, theme=d.theme, on_select=d.show_run,
                       on_open_step=d.show_step, on_show_runs=d._show_filtered_runs,
                       on_group=d._show_group)
    # brushing a time range filters the Runs table to it
    view.observe(d._brushed, names=["brush"])
    # the breadcrumb names the pipeline shown (a card's "history →" or the view's picker)
    view.observe(lambda _change: d._render(), names=["pipeline"])
    return view


SECTIONS: tuple[Section, ...] = (
    Section("cards", "Pipelines", _make_cards),
    Section("jobs", "Runs", _make_jobs),
    Section("timeline", "Timeline", _make_timeline),
    Section("history", "History", _make_history),
)
"""The Dashboard's top-level views, in tab order. The first one is shown on opening."""


class NavBar(FlowWidget):
    """The dashboard's bar: tabs, back, breadcrumb, live indicator. Sends ``nav`` / ``back``."""

    _bundle = "dashboard"
    _extra_kwargs = ("on_nav", "on_back")

    tabs = traitlets.List(traitlets.Dict()).tag(sync=True)
    """The top-level views: ``[{"key", "label"}]`` in order (from :data:`SECTIONS`)."""
    view = traitlets.Unicode("cards").tag(sync=True)
    """The active tab: the section shown, or the one the shown run was opened from."""
    crumbs = traitlets.List(traitlets.Dict()).tag(sync=True)
    """What is shown, from the section down: ``[{"label", "target", "arg"?}]``."""
    can_back = traitlets.Bool(False).tag(sync=True)
    """True when there is a previous view."""

    def __init__(self, source: Source, *, live: bool = True,
                 on_nav: Callable[[str, str | None], Any] | None = None,
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
        known = [t["key"] for t in self.tabs] + ["run"]
        if target not in known:
            raise ValueError(f"unknown view {target!r} (known: {', '.join(known)})")
        arg = msg.get("arg")
        if self._nav is not None:
            self._nav(target, None if arg is None else str(arg))

    def _msg_back(self, msg: dict[str, Any]) -> None:
        if self._back is not None:
            self._back()

    def _static_html(self) -> str:
        return ""

    def _static_text(self) -> str:
        return " › ".join(c.get("label", "") for c in self.crumbs)


class Dashboard(ipywidgets.VBox):  # type: ignore[misc]  # ipywidgets ships no types
    """Every view in one place, one at a time, under a navigation bar: the tabs of
    :data:`SECTIONS` (Pipelines, Runs, …) and a run's DAG opened from any of them.

    ``Dashboard(src, *, live=True, theme="auto", page_size=25, time_zone="UTC")``;
    ``time_zone`` (``"UTC"`` or ``"local"``) is passed to every view. Navigate with the mouse
    or from Python: :meth:`show` (a section key), :meth:`show_cards`, :meth:`show_jobs`,
    :meth:`show_run`, :meth:`back`.
    """

    sections: tuple[Section, ...] = SECTIONS
    """The top-level views (a subclass may list others)."""
    children: tuple[Any, ...]

    def __init__(self, source: Source, *, live: bool = True, theme: str = "auto",
                 page_size: int = 25, time_zone: str = "UTC", **kwargs: Any) -> None:
        check_kwargs(type(self), kwargs, {"layout", "live", "theme", "page_size", "time_zone"})
        if time_zone not in TIME_ZONES:
            raise ValueError(f"time_zone must be one of {TIME_ZONES}, got {time_zone!r}")
        self._time_zone = time_zone
        self.source = source
        """The Source every view reads."""
        self.live = live
        """Whether the views follow the runner live."""
        self.theme = theme
        """The views' theme."""
        self.page_size = page_size
        """Rows per page of the Runs table."""
        self._made: dict[str, ipywidgets.DOMWidget] = {}
        self._run_view: RunView | None = None
        self._navigating = False
        self._history: list[State] = []
        self._run_set_label = "selected runs"
        first = self.sections[0].key
        self._state: State = (first, None)
        self.nav = NavBar(source, live=live, theme=theme, time_zone=time_zone,
                          on_nav=self._nav_to,
                          on_back=self.back,
                          tabs=[{"key": s.key, "label": s.label} for s in self.sections])
        """The navigation bar."""
        super().__init__([self.nav], **kwargs)
        self.section(first)
        self._render()

    # -- the views, made on first use ----------------------------------------------------

    def section(self, key: str) -> ipywidgets.DOMWidget:
        """The view of section ``key`` (made on first use)."""
        if key not in self._made:
            spec = next((s for s in self.sections if s.key == key), None)
            if spec is None:
                keys = ", ".join(s.key for s in self.sections)
                raise ValueError(f"unknown Dashboard view {key!r} (known: {keys})")
            widget = spec.make(self)
            self._zone(widget)
            self._made[key] = widget
            self.children = (*self.children, widget)
        return self._made[key]

    @property
    def time_zone(self) -> str:
        """How every view shows absolute times: ``"UTC"`` or ``"local"`` (set it once here;
        the views made so far and later follow)."""
        return self._time_zone

    @time_zone.setter
    def time_zone(self, value: str) -> None:
        if value not in TIME_ZONES:
            raise ValueError(f"time_zone must be one of {TIME_ZONES}, got {value!r}")
        self._time_zone = value
        for widget in (*self._made.values(), self._run_view, self.nav):
            self._zone(widget)
        self.nav.crumbs = self._crumbs()  # a time range's crumb names the zone

    def _zone(self, widget: Any) -> None:
        if widget is not None and widget.has_trait("time_zone"):
            widget.time_zone = self._time_zone

    @property
    def cards(self) -> PipelineCards:
        """The :class:`PipelineCards` view (the Pipelines tab)."""
        widget = self.section("cards")
        assert isinstance(widget, PipelineCards)
        return widget

    @property
    def jobs(self) -> JobsTable:
        """The :class:`JobsTable` view (the Runs tab)."""
        widget = self.section("jobs")
        assert isinstance(widget, JobsTable)
        return widget

    @property
    def _jobs(self) -> JobsTable | None:
        widget = self._made.get("jobs")
        return widget if isinstance(widget, JobsTable) else None

    @property
    def run_view(self) -> RunView:
        """The :class:`RunView` view."""
        if self._run_view is None:
            self._run_view = RunView(self.source, None, live=self.live, theme=self.theme,
                                     on_open=self._opened, time_zone=self._time_zone)
            self.children = (*self.children, self._run_view)
        return self._run_view

    @property
    def view(self) -> str:
        """The view shown: a section key (``"cards"``, ``"jobs"``, …) or ``"run"``."""
        return self._state[0]

    # -- navigation ----------------------------------------------------------------------

    def show(self, key: str) -> None:
        """Show the top-level view ``key`` (a key of :data:`SECTIONS`; Runs: all runs)."""
        if key == "jobs":
            self.show_jobs(None)
            return
        self.section(key)
        self._go((key, None))

    def show_cards(self) -> None:
        """Show the pipeline cards."""
        self.show("cards")

    def show_jobs(self, pipeline: str | None = None) -> None:
        """Show the Runs table, filtered to ``pipeline`` (None or "": every pipeline; the
        status filter is cleared)."""
        pipeline = pipeline or None
        self._set_filter(pipeline)
        self._go(("jobs", pipeline))

    def show_run(self, run_id: str) -> None:
        """Show run ``run_id``'s DAG and actions."""
        self.run_view.run_id = run_id
        self._go(("run", run_id))

    def show_history(self, pipeline: str | None = None) -> None:
        """Show the History tab, for ``pipeline`` (None or "": every pipeline)."""
        view = self.section("history")
        if isinstance(view, HistoryView):
            view.pipeline = pipeline or None
        self.show("history")

    def show_step(self, run_id: str, step: str) -> None:
        """Show run ``run_id``'s DAG with ``step`` selected (a grid cell was clicked)."""
        self.show_run(run_id)
        self.run_view.selected_step = step

    def _show_filtered_runs(self) -> None:
        """Show the Runs table as it is filtered now (the History view's brush)."""
        self._go(("jobs", self.jobs.pipeline))

    def _show_group(self, group: dict[str, Any]) -> None:
        """A failure group was clicked in History: show the Runs table filtered to exactly
        its runs (the breadcrumb says "failures: <signature>"); unfocusing lifts it."""
        jobs = self.jobs
        self._navigating = True
        try:
            with jobs.hold_trait_notifications():
                if group:
                    jobs.last = jobs.since = jobs.until = jobs.status = None
                    jobs.search = ""
                    jobs.pipeline = group.get("pipeline") or None
                    self._run_set_label = f"failures: {group.get('signature', '')}"
                    jobs.run_set = self._run_set_label
                    jobs.run_ids = list(group.get("run_ids") or [])
                else:
                    jobs.run_ids = None
        finally:
            self._navigating = False
        if group:
            self._go(("jobs", jobs.pipeline))
        else:
            self._render()

    def _brushed(self, change: dict[str, Any]) -> None:
        """The History view's brush filters the Runs table to that time range (and its
        pipeline); an empty brush lifts the time filter."""
        brush = change["new"] or []
        jobs = self.jobs
        self._navigating = True
        try:
            with jobs.hold_trait_notifications():
                jobs.last = jobs.run_ids = None
                jobs.since, jobs.until = (brush[0], brush[1]) if len(brush) == 2 else (None,
                                                                                         None)
                history = self._made.get("history")
                jobs.pipeline = getattr(history, "pipeline", None)
        finally:
            self._navigating = False
        self._render()

    def back(self) -> None:
        """Go back to the previous view (nothing happens on the first one)."""
        if not self._history:
            return
        state = self._history.pop()
        self._apply(state)
        self._state = state
        self._render()

    def _go(self, state: State) -> None:
        if state != self._state:
            self._history.append(self._state)
            self._state = state
        self._render()

    def _apply(self, state: State) -> None:
        view, arg = state
        if view == "jobs":
            if self.jobs.pipeline != arg:
                self._set_filter(arg)
        elif view == "run" and arg:
            self.run_view.run_id = arg

    def _set_filter(self, pipeline: str | None) -> None:
        jobs = self.jobs
        self._navigating = True
        try:
            with jobs.hold_trait_notifications():
                jobs.status = jobs.run_ids = None
                jobs.pipeline = pipeline
        finally:
            self._navigating = False

    def _nav_to(self, target: str, arg: str | None = None) -> None:
        """A tab or a breadcrumb was clicked."""
        if target == "jobs":
            self.show_jobs(arg)
        elif target == "run":
            if arg:
                self.show_run(arg)
        else:
            self.show(target)

    def _filter_changed(self, change: dict[str, Any]) -> None:
        # the table's own controls changed its filter: the breadcrumb says so
        if self._navigating:
            return
        if self._state[0] == "jobs" and change["name"] == "pipeline":
            self._state = ("jobs", change["new"])
        self._render()

    def _opened(self, run_id: str) -> None:
        # an action in the run view opened a new run: record it as a step of the path
        if self._state != ("run", run_id):
            self._history.append(self._state)
            self._state = ("run", run_id)
            self._render()

    def _parent(self) -> State:
        """The section a run was opened from (the last non-run view of the path)."""
        for state in reversed([*self._history, self._state]):
            if state[0] != "run":
                return state
        return (self.sections[0].key, None)

    def _section_crumbs(self, state: State) -> list[dict[str, Any]]:
        key = state[0]
        label = next((s.label for s in self.sections if s.key == key), key)
        crumbs: list[dict[str, Any]] = [{"label": label, "target": key, "arg": None}]
        if key == "jobs":
            jobs = self._jobs
            pipeline = jobs.pipeline if jobs is not None else state[1]
            status = jobs.status if jobs is not None else None
            if not pipeline and not status:
                crumbs[0]["label"] = f"{label}: all pipelines"
            if pipeline:
                crumbs.append({"label": pipeline, "target": "jobs", "arg": pipeline})
            if status:
                crumbs.append({"label": f"status {status}", "target": "jobs",
                               "arg": pipeline})
            if jobs is not None and jobs.run_ids is not None:
                crumbs.append({"label": self._run_set_label, "target": "jobs",
                               "arg": pipeline})
            since = jobs.since if jobs is not None else None
            until = jobs.until if jobs is not None else None
            if since or until:
                # the label in the kernel's zone; the nav bar redraws it from since/until
                # in the browser's zone when time_zone is "local"
                crumbs.append({"label": time_range(since, until, self._time_zone),
                               "target": "jobs", "arg": pipeline,
                               "since": since, "until": until})
        elif key == "history":
            history = self._made.get("history")
            if isinstance(history, HistoryView) and history.pipeline:
                crumbs.append({"label": history.pipeline, "target": "history", "arg": None})
        return crumbs

    def _crumbs(self) -> list[dict[str, Any]]:
        if self._state[0] == "run":
            return [*self._section_crumbs(self._parent()),
                    {"label": f"Run {self._state[1]}", "target": "run", "arg": self._state[1]}]
        return self._section_crumbs(self._state)

    def _render(self) -> None:
        view = self._state[0]
        shown: ipywidgets.DOMWidget | None = (self._run_view if view == "run"
                                              else self._made.get(view))
        for widget in [*self._made.values(), self._run_view]:
            if widget is not None:
                widget.layout.display = None if widget is shown else "none"
        with self.nav.hold_sync():
            self.nav.view = self._parent()[0]
            self.nav.crumbs = self._crumbs()
            self.nav.can_back = bool(self._history)

    # -- lifetime and display ------------------------------------------------------------

    def close(self) -> None:
        """Close the nav bar and every view (they stop following the poller)."""
        # getattr: ipywidgets' __del__ also calls close() on a half-built dashboard
        for w in [getattr(self, "nav", None), *getattr(self, "_made", {}).values(),
                  getattr(self, "_run_view", None)]:
            if w is not None:
                w.close()
        super().close()

    def _current(self) -> ipywidgets.DOMWidget:
        view = self._state[0]
        if view == "run" and self._run_view is not None:
            return self._run_view
        return self._made.get(view) or self.cards

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        bundle = super()._repr_mimebundle_(**kwargs)
        current = self._current()._repr_mimebundle_(**kwargs)
        if bundle is None or current is None:
            return bundle
        data, meta = bundle if isinstance(bundle, tuple) else (bundle, {})
        cdata = current[0] if isinstance(current, tuple) else current
        for mime in ("text/html", "text/plain"):
            if mime in cdata:
                data[mime] = cdata[mime]
        return data, meta
