"""The Textual app behind ``flowwidgets tui``: pipelines, runs and the selected run's steps.

Threading: every Source call (connect, refresh, actions) runs in a Textual thread worker;
the poller calls back from its own thread. Both hand results to the event loop with
``post_message`` (thread-safe and non-blocking, so a poller thread is never stuck behind
a closing app), and only the loop touches widgets or state.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.theme import Theme
from textual.widgets import DataTable, Footer, Header, Static

from flowwidgets._vocab import TIME_ZONES
from flowwidgets.errors import RunnerUnavailable
from flowwidgets.models import RunDetail
from flowwidgets.tui._app_actions import ActionKeys
from flowwidgets.tui._data import fetch_snapshot
from flowwidgets.tui._format import COLORS, clean, describe_error
from flowwidgets.tui._messages import Connected, Failed, Fetched, Live
from flowwidgets.tui._rows import (
    PIPELINE_COLUMNS,
    RUN_COLUMNS,
    STEP_COLUMNS,
    banner_text,
    pipeline_rows,
    run_info,
    run_rows,
    step_info,
    step_key_names,
    step_rows,
    zoned_columns,
)
from flowwidgets.tui._step_detail import StepLog
from flowwidgets.tui._step_panel import StepPanel
from flowwidgets.tui._table import MonitorTable

__all__ = ["FlowTui"]

_THEME = Theme(
    name="flowwidgets",
    primary=COLORS["teal"], secondary=COLORS["muted"], accent=COLORS["teal"],
    warning=COLORS["amber"], error=COLORS["red"], success=COLORS["teal"],
    foreground=COLORS["text"], background=COLORS["ground"], surface=COLORS["panel"],
    panel=COLORS["panel"], dark=True,
)


class FlowTui(StepPanel, ActionKeys, App[None]):
    """Terminal monitor for any runner a Source can read.

    ``url`` defaults to ``$RUNNER_STATUS_URL``; ``interval`` is the poll and fallback
    refresh period in seconds; ``time_zone`` is "UTC" (the default) or "local" (the
    terminal's zone) for every time shown; ``connect`` is the Source factory
    (``flowwidgets.connect`` unless given).
    """

    TITLE = "flowwidgets"
    ENABLE_COMMAND_PALETTE = False
    CSS = """
    Screen { background: $background; }
    #banner { height: 1; padding: 0 1; background: $surface; }
    .label { height: 1; padding: 0 1; color: $secondary; text-style: bold; }
    MonitorTable { height: auto; max-height: 12; background: $surface; }
    MonitorTable#steps { height: 1fr; max-height: 100%; }
    #run-info { height: auto; max-height: 3; padding: 0 1; }
    #step-detail { height: auto; max-height: 12; display: none; padding: 0 1;
                   background: $surface; }
    #step-detail.open { display: block; }
    #outcome { height: auto; max-height: 2; padding: 0 1; background: $surface; }
    """
    BINDINGS = [
        Binding("R", "restart", "Restart failed step"),
        Binding("S", "restart_here", "Restart from highlighted"),
        Binding("r", "rerun", "Rerun"),
        Binding("w", "resume", "Resume"),
        Binding("n", "run_now", "Run now"),
        Binding("c", "cancel_run", "Cancel run"),
        Binding("u,f5", "refresh", "Refresh", key_display="u"),
        Binding("escape", "back", "Back"),
        Binding("left_square_bracket", "attempt(-1)", "Older attempt", key_display="[",
                show=False),
        Binding("right_square_bracket", "attempt(1)", "Newer attempt", key_display="]",
                show=False),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(self, url: str | None = None, *, token: str | None = None,
                 flow: str | None = None, interval: float = 2.0, timeout: float = 5.0,
                 time_zone: str = "UTC", connect: Callable[..., Any] | None = None) -> None:
        super().__init__()
        if interval <= 0:
            raise ValueError(f"interval must be positive, got {interval!r}")
        if time_zone not in TIME_ZONES:
            raise ValueError(f"time_zone must be one of {TIME_ZONES}, got {time_zone!r}")
        self.time_zone = time_zone
        """"UTC" or "local": the zone of every time, cell and header shown."""
        self.url = url
        self.token = token
        self.flow = flow
        self.interval = float(interval)
        self.timeout = float(timeout)
        self._connect_fn = connect
        self._source: Any = None
        self._unsubscribe: Callable[[], None] | None = None
        self._connecting = self._refreshing = self._dirty = self._acting = False
        self._state = "connecting"
        self._note = ""
        self._updated: datetime | None = None
        self.pipeline: str | None = None
        """The selected pipeline."""
        self.run_id: str | None = None
        """The run whose steps are shown."""
        self._follow_latest = True
        self.detail: RunDetail | None = None
        """The shown run's detail, as last fetched."""
        self._step_names: dict[str, str] = {}
        self._info_step: str | None = None
        """The step whose details replace the run's line (Enter on a step; Esc closes)."""
        self._step_log: StepLog | None = None
        self._log_key: tuple[Any, ...] | None = None
        self._attempt: int | None = None  # the attempt the panel shows (None: newest)
        self._attempt_of: tuple[str, str] | None = None
        self._eta = ""
        self._eta_history: tuple[Any, Any] | None = None
        self._lock = threading.Lock()
        self._unclaimed: list[Any] = []  # Sources connected while the app was closing

    @property
    def display_url(self) -> str:
        """The runner URL as shown (the Source's once connected)."""
        url = getattr(self._source, "url", None) or self.url or os.environ.get("RUNNER_STATUS_URL")
        return clean(url or "$RUNNER_STATUS_URL (unset)", 80)

    # -- layout -------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="banner")
        yield Static("PIPELINES", classes="label")
        yield MonitorTable(zoned_columns(PIPELINE_COLUMNS, self.time_zone), id="pipelines")
        yield Static("RUNS", classes="label")
        yield MonitorTable(zoned_columns(RUN_COLUMNS, self.time_zone), id="runs")
        yield Static(id="run-info")
        yield MonitorTable(zoned_columns(STEP_COLUMNS, self.time_zone), id="steps")
        with VerticalScroll(id="step-detail"):
            yield Static(id="step-text")
        yield Static(id="outcome")
        yield Footer()

    def on_mount(self) -> None:
        self.register_theme(_THEME)
        self.theme = "flowwidgets"
        self.sub_title = self.display_url
        self._render_banner()
        self._show_outcome("↑↓ move · tab next table · enter open · esc back · R restarts from "
                           "the failed step · every action asks Yes/No first")
        self._table("pipelines").focus()
        self.set_interval(self.interval, self._tick)
        self._start_connect()

    def on_unmount(self) -> None:
        self._detach()

    def _table(self, name: str) -> MonitorTable:
        return self.query_one(f"#{name}", MonitorTable)

    # -- connection and refresh ---------------------------------------------------------

    def _tick(self) -> None:
        if self._source is None:
            self._start_connect()
        else:
            self._request_refresh()

    def _start_connect(self) -> None:
        if self._connecting:
            return
        self._connecting = True
        self.run_worker(self._connect_work, thread=True, group="connect", exit_on_error=False)

    def _connect_work(self) -> None:
        connect = self._connect_fn
        if connect is None:
            from flowwidgets.sources import connect as default_connect

            connect = default_connect
        try:
            source = connect(self.url, self.token, timeout=self.timeout, flow=self.flow)
        except Exception as exc:  # shown in the banner, retried
            self.post_message(Failed("connect", exc))
            return
        with self._lock:
            self._unclaimed.append(source)
        self.post_message(Connected(source))

    def on_connected(self, message: Connected) -> None:
        if not self.is_running:
            return  # a late result while the app shuts down: its widgets are gone
        self._connecting = False
        with self._lock:
            self._unclaimed.remove(message.source)
        self._source = message.source
        self.sub_title = self.display_url
        try:
            poller = self._source.poller(interval=self.interval)
            self._unsubscribe = poller.subscribe(self._on_live_event)
        except Exception as exc:  # the periodic refresh still works
            self._show_outcome(f"live updates unavailable ({describe_error(exc)}); "
                               f"refreshing every {self.interval:g} s", error=True)
        self._set_state("connected")
        self._request_refresh()

    def _on_live_event(self, event: Any) -> None:
        """Poller callback (poller thread): hand the event to the event loop."""
        try:
            self.post_message(Live(event))
        except Exception:  # never raise into the poller; the tick refreshes
            pass

    def on_live(self, message: Live) -> None:
        if not self.is_running:
            return
        kind = getattr(message.event, "kind", "changed")
        if kind == "disconnected":
            self._set_state("away", getattr(message.event, "error", None) or "")
        elif kind == "changed":  # also right after every "connected"
            self._request_refresh()

    def action_refresh(self) -> None:
        """Refresh now (or try to connect again)."""
        self._tick()

    def _request_refresh(self) -> None:
        if self._source is None:
            return
        if self._refreshing:
            self._dirty = True
            return
        self._refreshing = True
        request = (self.pipeline, self.run_id, self._follow_latest)
        work = partial(self._refresh_work, self._source, request)
        self.run_worker(work, thread=True, group="refresh", exit_on_error=False)

    def _refresh_work(self, source: Any, request: tuple[Any, ...]) -> None:
        pipeline, run_id, follow = request
        try:
            snapshot = fetch_snapshot(source, pipeline, run_id, follow_latest=follow,
                                      history=self._history(source), zone=self.time_zone)
        except Exception as exc:  # shown in the banner, retried
            self.post_message(Failed("refresh", exc))
            return
        self.post_message(Fetched(snapshot, request))

    def on_failed(self, message: Failed) -> None:
        if not self.is_running:
            return
        if message.what == "connect":
            self._connecting = False
        else:
            self._refreshing = False
            self._dirty = False
        if isinstance(message.error, RunnerUnavailable):
            self._set_state("away", message.error.reason)
        else:
            self._set_state("error", describe_error(message.error))

    def on_fetched(self, message: Fetched) -> None:
        if not self.is_running:
            return
        self._refreshing = False
        snap = message.snapshot
        self._updated = snap.at
        self._set_state("connected")
        current = message.request == (self.pipeline, self.run_id, self._follow_latest)
        if current:
            self.pipeline, self.run_id = snap.pipeline, snap.run_id
        self._table("pipelines").sync(pipeline_rows(snap.pipelines, self.time_zone),
                                          self.pipeline)
        if current:
            self.detail = snap.detail
            self._eta = snap.eta
            steps = snap.detail.steps if snap.detail else ()
            self._step_names = step_key_names(steps)
            self._table("runs").sync(run_rows(snap.runs, snap.at, self.time_zone),
                                     snap.run_id)
            self._table("steps").sync(step_rows(steps, snap.at, self.time_zone), None)
            self._render_info(snap.at)
        if self._dirty:
            self._dirty = False
            self._request_refresh()

    def _set_state(self, state: str, note: str = "") -> None:
        self._state, self._note = state, note
        self._render_banner()

    def _render_banner(self) -> None:
        source = self._source
        text = banner_text(self._state, self.display_url, note=self._note,
                           flavour=getattr(source, "flavour", None), updated=self._updated,
                           stub_mode=bool(getattr(source, "stub_mode", False)),
                           interval=self.interval, zone=self.time_zone)
        self.query_one("#banner", Static).update(text)

    def _detach(self) -> None:
        unsubscribe, self._unsubscribe = self._unsubscribe, None
        source, self._source = self._source, None
        with self._lock:
            sources, self._unclaimed = [source, *self._unclaimed], []
        if unsubscribe is not None:
            unsubscribe()
        for each in sources:
            if each is not None:
                each.close()

    # -- tables and selection -----------------------------------------------------------

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        table = event.data_table
        key = event.row_key.value
        if not isinstance(table, MonitorTable) or key is None or key != table.cursor_key:
            return  # a stale event from a rebuild; the cursor has moved on
        if table.id == "pipelines" and key != self.pipeline:
            self.pipeline, self.run_id, self._follow_latest = key, None, True
            self.detail, self._info_step = None, None
            for name in ("runs", "steps"):
                self._table(name).sync([])
            self.query_one("#run-info", Static).update(Text("Loading…", style=COLORS["muted"]))
            self._request_refresh()
        elif table.id == "runs":
            self._follow_latest = event.cursor_row == 0
            if key != self.run_id:
                self.run_id, self.detail, self._info_step = key, None, None
                self._request_refresh()
        elif table.id == "steps" and self._info_step is not None:
            self._info_step = self._step_names.get(key)  # the info follows the cursor
            self._render_info()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        name = event.data_table.id
        if name == "pipelines":
            self._table("runs").focus()
        elif name == "runs":
            self._table("steps").focus()
        elif name == "steps":
            self._info_step = self._step_names.get(str(event.row_key.value))
            self._render_info()

    def _history(self, source: Any) -> Any:
        """The step-history cache the ETA reads (one per source)."""
        from flowwidgets.widgets._run_timing import HistoryCache

        cache = self._eta_history
        if cache is None or cache[0] is not source:
            cache = (source, HistoryCache(
                lambda p: source.step_history(p, limit=21, status="succeeded")))
            self._eta_history = cache
        return cache[1]

    def _render_info(self, now: datetime | None = None) -> None:
        """The line above the steps: the step opened with Enter, else the run. An opened
        step also gets the panel below the steps: its traceback and log tail."""
        detail = self.detail
        panel = self.query_one("#step-detail", VerticalScroll)
        for step in detail.steps if detail is not None and self._info_step else ():
            if step.name == self._info_step:
                self.query_one("#run-info", Static).update(step_info(step))
                if not panel.has_class("open"):
                    panel.add_class("open")  # the steps table shrinks: keep its cursor seen
                    self.call_after_refresh(self._show_step_cursor)
                self._read_log(step)
                return
        panel.remove_class("open")
        self._log_key = None
        self.query_one("#run-info", Static).update(
            run_info(detail, now or datetime.now(UTC), self._eta, self.time_zone))

    def action_back(self) -> None:  # type: ignore[override]  # App's is async; ours is quick
        """Move the focus one table up (steps → runs → pipelines)."""
        focused = self.focused.id if self.focused is not None else None
        if self._info_step is not None:
            self._info_step = None
            self._render_info()
        if focused == "steps":
            self._table("runs").focus()
        else:
            self._table("pipelines").focus()
