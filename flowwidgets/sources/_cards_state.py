"""What the incremental card readers of the engine Sources share (Airflow, Prefect).

Each keeps its pipelines' cards in the Source and brings them up to date with a constant
number of requests per poll; this module holds the part that does not depend on the
engine: the server's clock from a reply and the refresh protocol (one refresh at a time;
a caller arriving meanwhile gets the cards as they are).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

from flowwidgets import errors
from flowwidgets.models import Pipeline, Run, RunDetail, Status
from flowwidgets.sources._base import Plan
from flowwidgets.sources._http import Reply

__all__ = ["IncrementalCards", "read_details", "server_time"]


def server_time(reply: Reply) -> datetime | None:
    """The ``Date`` header of a reply as an aware datetime, or None."""
    raw = reply.headers.get("date") if reply.headers is not None else None
    if not raw:
        return None
    try:
        return parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None


class IncrementalCards:
    """Cards kept current by ``_first_contact`` (once) and ``_refresh`` (every later
    read); ``_build`` makes the cards from the kept state. Subclasses implement those
    three, called with the state they share here."""

    def __init__(self, clock: Callable[[], datetime]):
        self._clock = clock
        self._lock = threading.Lock()
        self._busy = False
        self._since: datetime | None = None
        """Where the next change window starts (None before first contact)."""
        self._dirty: set[str] = set()
        self._pruned = 0.0
        self.generation = 0
        """Bumped whenever a poll saw a run change (the snapshot re-reads its runs page)."""

    def mark_changed(self, pipeline: str) -> None:
        """Read ``pipeline`` again at the next refresh (an action just changed its runs)."""
        with self._lock:
            self._dirty.add(pipeline)

    def pipelines(self) -> Plan[tuple[Pipeline, ...]]:
        """Every pipeline as a card, brought up to date first."""
        with self._lock:
            loaded = self._since is not None
            if self._busy and loaded:
                return self._build()
            self._busy = True
        try:
            if not loaded:
                yield from self._first_contact()
            else:
                yield from self._refresh()
        finally:
            with self._lock:
                self._busy = False
        with self._lock:
            return self._build()

    def _first_contact(self) -> Plan[None]:
        raise NotImplementedError

    def _refresh(self) -> Plan[None]:
        raise NotImplementedError

    def _build(self) -> tuple[Pipeline, ...]:
        raise NotImplementedError


def read_details(watch: Iterable[Run], runs: dict[str, Any], kept: dict[str, RunDetail],
                 fresh: bool, read: Callable[[str], Plan[RunDetail]]
                 ) -> Plan[dict[str, RunDetail]]:
    """Replace the watched runs' summaries in ``runs`` by their details (a run gone
    meanwhile is dropped); a still-queued run's detail is reused from ``kept`` unless the
    page is ``fresh`` (nothing runs before it starts). Returns the queued runs' details."""
    queued: dict[str, RunDetail] = {}
    for r in watch:
        if not fresh and r.status is Status.REQUESTED and r.run_id in kept:
            runs[r.run_id] = queued[r.run_id] = kept[r.run_id]
            continue
        try:
            runs[r.run_id] = detail = yield from read(r.run_id)
        except errors.NotFound:
            runs.pop(r.run_id, None)
            continue
        if detail.status is Status.REQUESTED:
            queued[r.run_id] = detail
    return queued
