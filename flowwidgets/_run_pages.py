"""The pages behind :func:`flowwidgets.runs_frame`: the cursor walk (one thread fetching
ahead while the caller parses) and the columns kept from each page (each run once, up to
a start-time cutoff)."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from itertools import chain
from typing import TYPE_CHECKING, Any

import numpy as np

from flowwidgets.models import Status
from flowwidgets.sources._run_columns import NAT, ColumnsPage, RunColumns

if TYPE_CHECKING:
    from flowwidgets.sources import Source

__all__ = ["AHEAD", "FIELDS", "Kept", "cursor_pages"]

AHEAD = 2
"""Pages requested ahead of the one being parsed."""


class Kept:
    """The pages' columns, each run once (rows shift when new runs arrive while paging),
    up to the first run that started before the cutoff (ns)."""

    def __init__(self, cutoff: int | None):
        self.cutoff = cutoff
        self.seen: set[str] = set()
        self.pages: list[RunColumns] = []

    def add(self, page: RunColumns) -> bool:
        """Keep ``page``'s new runs; True when the cutoff was reached."""
        ids = page.run_id
        when_ns = np.where(page.started_ns != NAT, page.started_ns, page.created_ns)
        if (self.cutoff is None or bool(((when_ns == NAT) | (when_ns >= self.cutoff)).all())) \
                and len(fresh := set(ids)) == len(ids) and self.seen.isdisjoint(fresh):
            self.seen |= fresh  # no run seen before and none before the cutoff: all kept
            self.pages.append(page)
            return False
        keep: list[int] = []
        done = False
        when = when_ns.tolist()
        for k, run_id in enumerate(ids):
            if run_id in self.seen:
                continue
            if self.cutoff is not None and when[k] != NAT and when[k] < self.cutoff:
                done = True
                break
            self.seen.add(run_id)
            keep.append(k)
        self.pages.append(_take(page, keep))
        return done

    def columns(self) -> RunColumns:
        """Every kept run's columns, in order."""
        if len(self.pages) <= 1:
            return self.pages[0] if self.pages else RunColumns.from_runs([])
        return _concat(self.pages)


def _take(page: RunColumns, keep: list[int]) -> RunColumns:
    if len(keep) == len(page):
        return page
    idx = np.array(keep, dtype=np.intp)
    kw: dict[str, Any] = {}
    for name in FIELDS:
        col = getattr(page, name)
        kw[name] = col[idx] if isinstance(col, np.ndarray) else [col[k] for k in keep]
    return RunColumns(**kw)


def _concat(pages: list[RunColumns]) -> RunColumns:
    kw: dict[str, Any] = {}
    for name in FIELDS:
        cols = [getattr(p, name) for p in pages]
        if isinstance(cols[0], np.ndarray):
            kw[name] = np.concatenate(cols)
        else:
            kw[name] = list(chain.from_iterable(cols))
    return RunColumns(**kw)


FIELDS = ("run_id", "pipeline", "status", "started_ns", "finished_ns", "created_ns",
           "duration_ms", "attempts", "failed_step", "kind", "trigger", "parent_run_id",
           "error", "imported")


def cursor_pages(src: Source, pipeline: str | None, status: Status | str | None,
                 cursor: str, size: int) -> Iterator[ColumnsPage]:
    """The pages after ``cursor`` (keyset: each one index seek on the runner, however
    deep). Each page names the next, so one thread fetches them in turn, up to
    ``AHEAD`` ahead, while the caller turns the previous ones into columns."""
    ahead: queue.Queue[ColumnsPage | BaseException | None] = queue.Queue(maxsize=AHEAD)
    stop = threading.Event()

    def fetch() -> None:
        nxt: str | None = cursor
        try:
            while nxt is not None and not stop.is_set():
                page = src.runs_columns_page(pipeline, status, size, 0, nxt)
                _put(page)
                nxt = page.next_cursor if page.size else None
            _put(None)
        except BaseException as exc:  # handed to the caller, raised there
            _put(exc)

    def _put(item: ColumnsPage | BaseException | None) -> None:
        while not stop.is_set():
            try:
                ahead.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    worker = threading.Thread(target=fetch, name="flowwidgets-pages", daemon=True)
    worker.start()
    try:
        while True:
            item = ahead.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join(5)


