"""JobsTable: every run, flat, as a pandas DataFrame view.

The whole history lives in the kernel as the frame of :func:`flowwidgets.runs_frame`;
filtering, sorting and paging happen there with pandas and only the visible page is sent to
the browser, so 100,000 runs stay quick. Live updates re-read only the newest page of runs
(a 304 when nothing changed) plus any run still active, and merge them into the frame.

Twin of ``js/src/widgets/jobs-table.ts``.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pandas as pd
import traitlets

from flowwidgets.frames import runs_frame
from flowwidgets.live import LiveEvent
from flowwidgets.models import Run, Status, parse_time
from flowwidgets.widgets._base import FlowWidget, SelectsRuns
from flowwidgets.widgets._below import OpensBelow
from flowwidgets.widgets._fallback import counted, table_html, table_text
from flowwidgets.widgets._jobs_checks import WINDOWS, ChecksFilters
from flowwidgets.widgets._jobs_rows import Kid, merge_runs, newest_children, rows_payload, run_rows
from flowwidgets.widgets._run_timing import EtaTexts

if TYPE_CHECKING:
    from flowwidgets.sources import Source

# the row helpers are re-exported: they were defined here and tests import them from here
__all__ = ["JobsTable", "merge_runs", "newest_children", "rows_payload", "run_rows"]


INCREMENT = 200
"""Newest runs re-read on each live change."""
MAX_ACTIVE_REFETCH = 20
"""Active runs older than the newest page re-read one by one; beyond this, reload all."""
_ACTIVE = [Status.REQUESTED.value, Status.RUNNING.value, Status.PAUSED.value]
_SEARCHED = ("run_id", "pipeline", "status", "failed_step", "trigger", "error")
_FILTERS = ("pipeline", "status", "last", "since", "until", "search", "sort_by", "ascending",
            "page_size", "run_ids")

SelectCallback = Callable[[str], Any]


class JobsTable(ChecksFilters, OpensBelow, SelectsRuns, FlowWidget):
    """Every run, flat: status pill, pipeline, started, finished, attempts, duration, failed
    step. Sort by any column; filter by pipeline, status, time and free text; one page at a
    time. ``.df`` is the filtered, sorted DataFrame.

    ``JobsTable(src, pipeline=None, status=None, *, live=True, background=True,
    on_select=None, open_below=True, page_size=25, sort_by="started_at", ascending=False, search="",
    last=None, since=None, until=None)``

    With ``background=True`` the first page is read with one request and shown at once while
    the whole history loads in a thread (``loading`` is True meanwhile; ``.df`` waits for it).

    What a click does: a row (mouse, or Enter on a focused row) selects its run
    (``selected_run_id``) and calls each ``on_select(run_id)``. Displayed on its own (a
    cell's value), the table also opens the run below itself in a :class:`RunView` (see
    :attr:`below`; ``open_below=False`` turns this off). Inside the Dashboard the callback
    opens the run there instead.
    """

    _bundle = "jobs-table"
    _extra_kwargs = ("on_select", "background", "open_below")

    # -- filters -----------------------------------------------------------------------
    pipeline = traitlets.Unicode(None, allow_none=True).tag(sync=True)
    """Only this pipeline's runs (None: every pipeline)."""
    status = traitlets.Unicode(None, allow_none=True).tag(sync=True)
    """Only runs with this status word (None: any status)."""
    last = traitlets.Unicode(None, allow_none=True).tag(sync=True)
    """Only runs started in the last ``"1h"``, ``"24h"``, ``"7d"`` or ``"30d"`` (None: any)."""
    since = traitlets.Unicode(None, allow_none=True).tag(sync=True)
    """Only runs started at or after this ISO-8601 time (None: no lower bound)."""
    until = traitlets.Unicode(None, allow_none=True).tag(sync=True)
    """Only runs started before this ISO-8601 time (None: no upper bound)."""
    search = traitlets.Unicode("").tag(sync=True)
    """Free text, matched case-insensitively against run id, pipeline, status, failed step
    and trigger."""
    run_ids: traitlets.TraitType[list[str] | None, list[str] | None] = traitlets.List(  # type: ignore[assignment]
        traitlets.Unicode(), default_value=None, allow_none=True)
    """Only these runs (None: any run), e.g. a failure group's (kernel side only)."""
    run_set = traitlets.Unicode("").tag(sync=True)
    """What the ``run_ids`` filter is called in the filter bar ("failures: <signature>"),
    shown as a removable chip while ``run_ids`` is set ("N selected runs" unless named;
    "" when ``run_ids`` is None). Its × sets ``run_ids`` back to None."""

    # -- order and paging --------------------------------------------------------------
    sort_by = traitlets.Unicode("started_at").tag(sync=True)
    """The column sorted by (one of ``SORTABLE``)."""
    ascending = traitlets.Bool(False).tag(sync=True)
    """Sort ascending (default: newest / largest first)."""
    page = traitlets.Int(0).tag(sync=True)
    """Zero-based page shown (clamped to the last page)."""
    page_size = traitlets.Int(25).tag(sync=True)
    """Rows per page (1–500)."""

    # -- output ------------------------------------------------------------------------
    total = traitlets.Int(0).tag(sync=True)
    """How many runs match the filters (read-only)."""
    selected_run_id = traitlets.Unicode(None, allow_none=True).tag(sync=True)
    """The run of the row picked last (None before any)."""
    loading = traitlets.Bool(False).tag(sync=True)
    """True while the whole history is still being read (the first page already shows)."""
    _rows = traitlets.List(traitlets.Dict()).tag(sync=True)
    _options = traitlets.Dict().tag(sync=True)

    def __init__(self, source: Source, pipeline: str | None = None,
                 status: Status | str | None = None, *, live: bool = True,
                 background: bool = True, on_select: SelectCallback | None = None,
                 open_below: bool = True, **kwargs: Any) -> None:
        self._open_below = open_below
        self._background = background
        self._loader: threading.Thread | None = None
        self._loaded = threading.Event()
        self._have_frame = False
        self._missed_change = False
        self._hay: tuple[int, pd.Series] | None = None
        self._kids: tuple[int, dict[str, Kid]] | None = None
        self._frame = pd.DataFrame()
        self._cache_key: tuple[Any, ...] | None = None
        self._cache: pd.DataFrame | None = None
        self._version = 0
        self._last_page: dict[str, Run] = {}
        self._updating = False
        self._select_callbacks: list[SelectCallback] = []
        st = None if status is None else str(Status.parse(status).value if isinstance(
            status, Status) else status)
        self._etas = EtaTexts(source)
        super().__init__(source, live=live, pipeline=pipeline, status=st, **kwargs)
        if on_select is not None:
            self.on_select(on_select)
        self.observe(self._on_filter, names=list(_FILTERS))
        self.observe(self._on_page, names=["page"])
        self._start()

    @property
    def df(self) -> pd.DataFrame:
        """The runs that match the filters, in the table's order (all pages); waits for
        the history to finish loading."""
        self.wait_loaded()
        with self._lock:
            return self._filtered()

    def wait_loaded(self, timeout: float | None = None) -> bool:
        """Wait until the whole history is in the kernel; False on timeout."""
        return self._loaded.wait(timeout)

    @property
    def frame(self) -> pd.DataFrame:
        """Every run known to the table, unfiltered."""
        return self._frame

    # -- data ----------------------------------------------------------------------------

    def _initial_load(self) -> None:
        if not self._background:
            self._guarded(self._reload, "loading")
            self._loaded.set()
            return
        self.loading = True
        self._guarded(self._quick_page, "reading the first page")
        self._loader = threading.Thread(target=self._load_in_background, daemon=True,
                                        name=f"flowwidgets-jobs-{id(self):x}")
        self._loader.start()

    def _with_eta(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The rows with an ``eta`` line for the running ones (at most MAX_ETAS)."""
        active = [r["run_id"] for r in rows if Status.parse(r["status"]).is_active]
        texts = self._etas.texts(active) if active else {}
        for r in rows:
            r["eta"] = texts.get(r["run_id"], "")
        return rows

    def _quick_page(self) -> None:
        """While the history loads: the page straight from the Source when the runner can
        serve it (it filters by pipeline and status and pages newest first, as we do by
        default); otherwise nothing until the history is in."""
        if (self.search.strip() or self.last or self.since or self.until or self.ascending
                or self.run_ids is not None
                or self.sort_by != "started_at"):
            with self.hold_sync():
                self._set(total=0, _rows=[])
            return
        page = self.source.runs(pipeline=self.pipeline, status=self.status,
                                limit=self.page_size, offset=self.page * self.page_size)
        rows = self._with_eta(run_rows(list(page.runs)))
        with self.hold_sync():
            self._set(total=page.total, _rows=rows)

    def _load_in_background(self) -> None:
        try:
            self._guarded(self._reload, "loading the run history")
        finally:
            if not self._closed:
                self._set(loading=False)
            self._loaded.set()
        if self._live and not self._closed and (self._have_frame or self._missed_change):
            # catch up with what changed while the history was being read (or read it
            # again if the runner came back while a failing first read was under way)
            self._missed_change = False
            self._guarded(self._on_changed, "updating", LiveEvent("changed"))

    def _reload(self) -> None:
        frame = runs_frame(self.source, eta=False)
        if self._closed:
            return
        with self.hold_sync():
            self._frame = frame
            self._last_page = {}
            self._version += 1
            self._have_frame = True
            self._update_view()

    def _on_changed(self, event: LiveEvent) -> None:
        if not self._have_frame:
            if self._loaded.is_set():
                self._reload()  # the first load failed (runner away): read it all now
            else:
                self._missed_change = True  # the loader looks again when it is done
            return
        page = self.source.runs(limit=INCREMENT, offset=0)
        known = set(self._frame["run_id"].tolist()) if len(self._frame) else set()
        unseen = [r for r in page.runs if r.run_id not in known]
        if page.total != len(known) + len(unseen):
            # more new runs than one page, or runs went away: read everything again
            self._reload()
            return
        changed = [r for r in page.runs if self._last_page.get(r.run_id) != r]
        in_page = {r.run_id for r in page.runs}
        active = self._frame.loc[self._frame["status"].isin(_ACTIVE), "run_id"] if len(
            self._frame) else pd.Series([], dtype="string")
        older_active = [rid for rid in active.tolist() if rid not in in_page]
        if len(older_active) > MAX_ACTIVE_REFETCH:
            self._reload()
            return
        for rid in older_active:
            changed.append(self.source.run(rid).run)
        self._last_page = {r.run_id: r for r in page.runs}
        if not changed:
            return
        with self.hold_sync():
            self._frame = merge_runs(self._frame, changed)
            self._version += 1
            self._update_view()

    def _bounds(self) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
        lower = parse_time(self.since) if self.since else None
        if self.last:
            window = datetime.now(UTC) - WINDOWS[self.last]
            window = window.replace(second=0, microsecond=0)
            lower = window if lower is None else max(lower, window)
        upper = parse_time(self.until) if self.until else None
        return (pd.Timestamp(lower) if lower else None, pd.Timestamp(upper) if upper else None)

    def _filtered(self) -> pd.DataFrame:
        lower, upper = self._bounds()
        ids = None if self.run_ids is None else tuple(self.run_ids)
        key = (self._version, self.pipeline, self.status, lower, upper, self.search.strip(),
               self.sort_by, self.ascending, ids)
        if key == self._cache_key and self._cache is not None:
            return self._cache
        df = self._frame
        if len(df):
            mask = pd.Series(True, index=df.index)
            if self.pipeline:
                mask &= df["pipeline"] == self.pipeline
            if self.status:
                mask &= df["status"] == self.status
            if ids is not None:
                mask &= df["run_id"].isin(ids)
            if lower is not None:
                mask &= df["started_at"] >= lower
            if upper is not None:
                mask &= df["started_at"] < upper
            text = self.search.strip().lower()
            if text:
                mask &= self._haystack().str.contains(text, regex=False).fillna(False).astype(
                    bool)
            df = df[mask.to_numpy()]
            df = df.sort_values(self.sort_by, ascending=self.ascending, na_position="last",
                                kind="stable")
        self._cache_key, self._cache = key, df
        return df

    def _haystack(self) -> pd.Series:
        """The searched columns of every run, lowercased and joined (once per frame)."""
        if self._hay is None or self._hay[0] != self._version:
            df = self._frame
            joined = df[_SEARCHED[0]].astype("string").fillna("")
            for col in _SEARCHED[1:]:
                joined = joined + "\x1f" + df[col].astype("string").fillna("")
            self._hay = (self._version, joined.str.lower())
        return self._hay[1]

    def _update_view(self) -> None:
        if self._updating:
            return
        if not self._have_frame:
            self._quick_page()
            return
        self._updating = True
        try:
            df = self._filtered()
            total = len(df)
            pages = max(1, math.ceil(total / self.page_size))
            page = min(self.page, pages - 1)
            start = page * self.page_size
            if self._kids is None or self._kids[0] != self._version:
                self._kids = (self._version, newest_children(self._frame))
            rows = self._with_eta(rows_payload(df.iloc[start:start + self.page_size],
                                               self._kids[1]))
            pipelines = (sorted(str(p) for p in self._frame["pipeline"].dropna().unique())
                         if len(self._frame) else [])
            statuses = (sorted(str(s) for s in self._frame["status"].dropna().unique())
                        if len(self._frame) else [])
            with self.hold_sync():
                self._set(page=page, total=total, _rows=rows,
                          _options={"pipelines": pipelines, "statuses": statuses})
        finally:
            self._updating = False

    def _on_filter(self, change: dict[str, Any]) -> None:
        if self._updating:
            return
        with self._lock:
            self._updating = True
            try:
                self.page = 0
            finally:
                self._updating = False
            self._guarded(self._update_view, "filtering")

    def _on_page(self, change: dict[str, Any]) -> None:
        if not self._updating:
            with self._lock:
                self._guarded(self._update_view, "paging")

    # -- messages ------------------------------------------------------------------------

    def _handlers(self) -> dict[str, Callable[[dict[str, Any]], Any]]:
        return {"select": self._msg_select, "export_csv": self._msg_export_csv,
                "clear_run_set": self._msg_clear_run_set}

    @traitlets.observe("run_ids")
    def _run_ids_changed(self, change: dict[str, Any]) -> None:
        ids = change["new"]
        if ids is None:
            self.run_set = ""
        elif not self.run_set:
            self.run_set = counted(len(ids), "selected run")

    def _msg_clear_run_set(self, msg: dict[str, Any]) -> None:
        """The chip's ×: every run again (the other filters stay)."""
        with self.hold_trait_notifications():
            self.run_ids = None
            self.page = 0

    def to_csv(self, path: str | None = None) -> str:
        """The rows the table shows (every page, its filters and order) as CSV; written to
        ``path`` too when given. The Export button downloads the same text."""
        from flowwidgets.widgets._jobs_export import frame_csv

        text = frame_csv(self.df)
        if path is not None:
            with open(path, "w", encoding="utf-8", newline="") as f:
                f.write(text)
        return text

    def _msg_export_csv(self, msg: dict[str, Any]) -> dict[str, Any]:
        from flowwidgets.widgets._jobs_export import export_name

        text = self.to_csv()
        return {"filename": export_name(self.pipeline, self.status), "csv": text,
                "rows": int(self.total)}

    def _static_html(self) -> str:
        return table_html(self._rows, total=self.total, page=self.page,
                          page_size=self.page_size, error=self.error,
                          zone=self.time_zone)

    def _static_text(self) -> str:
        return table_text(self._rows, total=self.total, zone=self.time_zone)

