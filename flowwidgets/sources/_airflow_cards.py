"""Airflow cards kept current with a constant number of requests per poll.

First contact reads every DAG (``GET /dags``, 100 per page), each DAG's last 10 runs (one
request per DAG, once) and the finished dag runs of the last 7 days across all DAGs in
one aggregated, keyset-paged read (``GET /dags/~/dagRuns?run_after_gte=…``, 100 per page).

After that a poll is **one request**: the dag runs of every DAG updated since the
previous poll (``GET /dags/~/dagRuns?updated_at_gte=…&order_by=updated_at``, paged with
Airflow's ``cursor`` only when more than 100 changed). A row that differs from what the
Source last saw marks its DAG changed; only a changed DAG is read again (its last 10 runs
and ``GET /dags/{id}`` for the next run: two requests). The 7-day counts are updated from
the changed rows themselves, so they cost nothing per poll. The DAG list (pause flags,
DAGs added or removed) is re-read every :data:`DAG_LIST_TTL` seconds.

Never missing a change: each window starts :data:`OVERLAP` before the server's own time
(its ``Date`` header) when it answered the previous window. Airflow's scheduler, API
server and workers stamp ``updated_at`` with their own clocks and commit a little after
stamping; OVERLAP is the allowance for that skew plus commit delay (rows seen again
inside it are recognised as unchanged and cost nothing). Without a ``Date`` header the
Source's clock is used, and then OVERLAP also covers the skew between the two machines.
The window only moves forward once every changed DAG has been read.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

from flowwidgets.models import Pipeline, Run, Status, format_time
from flowwidgets.sources import _fields as F
from flowwidgets.sources._airflow_parse import (
    DagInfo,
    build_pipeline,
    parse_dags,
    parse_runs_page,
)
from flowwidgets.sources._base import Plan
from flowwidgets.sources._cards_state import IncrementalCards, server_time
from flowwidgets.sources._http import Reply, Request

__all__ = ["DAG_LIST_TTL", "OVERLAP", "DagCards"]

PAGE = 100
"""Airflow's default ``maximum_page_limit``."""
OVERLAP = timedelta(seconds=30)
"""How far each changed-runs window reaches back before the previous one ended: the
clock-skew allowance (see the module docstring)."""
DAG_LIST_TTL = 30.0
"""Seconds between two reads of the whole DAG list (pause flags, new and removed DAGs)."""
SEEN_TTL = 600.0
"""Seconds a run seen only in a changed-runs window is remembered (longer than OVERLAP)."""
_V2 = "/api/v2"
_EP_RUNS = "GET /api/v2/dags/{dag_id}/dagRuns"
_FINISHED = ("success", "failed")

Call = Callable[[Request], Plan[Reply]]


def _q(path: str, params: dict[str, Any]) -> str:
    items = [(k, v) for k, v in params.items() if v is not None and v != []]
    return f"{path}?{urlencode(items, doseq=True)}" if items else path


def _seg(value: str) -> str:
    return quote(str(value), safe="")


def parse_keyset(ep: str) -> Callable[[Any], tuple[tuple[Run, ...], str | None]]:
    """A parser for a cursor-paged ``GET .../dagRuns``: ``(runs, next_cursor)``."""
    runs_of = parse_runs_page(ep)

    def parse(data: Any) -> tuple[tuple[Run, ...], str | None]:
        runs, _ = runs_of(data)
        return runs, F.s(F.need_obj(data, ep, ""), "next_cursor", ep, "")
    return parse


class DagCards(IncrementalCards):
    """Per-DAG state of one Airflow Source and the plans that keep it current.

    ``call`` sends a request through the flavour (login and retry on 401 included);
    ``clock`` gives the Source's "now" (the 7-day window; the window start when the
    server sends no ``Date``). Thread-safe: one refresh runs at a time, a caller arriving
    meanwhile gets the cards as they are (the running refresh reports what changed).
    """

    def __init__(self, call: Call, clock: Callable[[], datetime]):
        super().__init__(clock)
        self._call = call
        self._dags: dict[str, DagInfo] = {}
        self._dags_read = 0.0
        self._recent: dict[str, tuple[tuple[Run, ...], int]] = {}
        self._week: dict[str, dict[str, tuple[datetime, Status]]] = {}
        self._seen: dict[str, tuple[Run, float]] = {}

    # ---- plans -------------------------------------------------------------------------

    def _get(self, path: str, ep: str, parse: Callable[[Any], Any]) -> Plan[Reply]:
        return (yield from self._call(Request("GET", path, ep, parse=parse)))

    def _dag_list(self) -> Plan[tuple[dict[str, DagInfo], datetime | None]]:
        dags: dict[str, DagInfo] = {}
        stamp = None
        while True:
            reply = yield from self._get(_q(f"{_V2}/dags", {"limit": PAGE, "offset": len(dags)}),
                                         "GET /api/v2/dags", parse_dags)
            stamp = stamp or server_time(reply)
            page, total = reply.value
            dags.update((d.dag_id, d) for d in page)
            if not page or len(dags) >= total:
                return dags, stamp

    def _dag_runs(self, dag_id: str) -> Plan[tuple[tuple[Run, ...], int]]:
        reply = yield from self._get(
            _q(f"{_V2}/dags/{_seg(dag_id)}/dagRuns", {"order_by": "-run_after", "limit": 10}),
            _EP_RUNS, parse_runs_page(_EP_RUNS))
        return reply.value

    def _one_dag(self, dag_id: str) -> Plan[DagInfo]:
        ep = "GET /api/v2/dags/{dag_id}"
        reply = yield from self._get(f"{_V2}/dags/{_seg(dag_id)}", ep,
                                     lambda d: parse_dags({"dags": [d], "total_entries": 1}))
        return reply.value[0][0]

    def _keyset(self, params: dict[str, Any]) -> Plan[tuple[list[Run], datetime | None]]:
        """Every dag run of every DAG matching ``params``, keyset-paged."""
        rows: list[Run] = []
        stamp = None
        cursor = ""
        while True:
            reply = yield from self._get(
                _q(f"{_V2}/dags/~/dagRuns", {**params, "limit": PAGE, "cursor": cursor}),
                _EP_RUNS, parse_keyset(_EP_RUNS))
            stamp = stamp or server_time(reply)
            page, nxt = reply.value
            rows.extend(page)
            if not nxt or not page:
                return rows, stamp
            cursor = nxt

    def _first_contact(self) -> Plan[None]:
        dags, stamp = yield from self._dag_list()
        start = (stamp or self._clock()) - OVERLAP
        recent = {}
        for dag_id in dags:
            recent[dag_id] = yield from self._dag_runs(dag_id)
        since = format_time(self._clock() - timedelta(days=7))
        week_rows, _ = yield from self._keyset({"run_after_gte": since, "state": _FINISHED,
                                                "order_by": ["run_after", "id"]})
        now = time.monotonic()
        with self._lock:
            self._dags, self._dags_read = dags, now
            self._recent = recent
            self._week = {}
            for r in week_rows:
                self._note_week(r)
            self._seen = {}
            for r in week_rows:
                self._seen[r.run_id] = (r, now)
            for runs, _ in recent.values():
                for r in runs:
                    self._seen[r.run_id] = (r, now)
            self._since = start
            self.generation += 1

    def _refresh(self) -> Plan[None]:
        with self._lock:
            since = self._since
            list_due = time.monotonic() - self._dags_read >= DAG_LIST_TTL
            dirty = set(self._dirty)
        assert since is not None
        dags: dict[str, DagInfo] | None = None
        if list_due:
            dags, _ = yield from self._dag_list()
        rows, stamp = yield from self._keyset({"updated_at_gte": format_time(since),
                                               "order_by": ["updated_at", "id"]})
        now = time.monotonic()
        changed: list[Run] = []
        with self._lock:
            for r in rows:
                old = self._seen.get(r.run_id)
                if old is None or old[0] != r:
                    changed.append(r)
                self._seen[r.run_id] = (r, now)
            known = set(dags if dags is not None else self._dags)
            if {r.pipeline for r in changed} - known:
                self._dags_read = 0.0  # a DAG we do not list yet: read the list next poll
        dirty |= {r.pipeline for r in changed}
        if dags is not None:
            dirty |= set(dags) - set(self._recent)  # new DAGs: first read of their runs
        infos: dict[str, DagInfo] = {}
        recent: dict[str, tuple[tuple[Run, ...], int]] = {}
        for dag_id in sorted(dirty & known):
            if dags is None:
                infos[dag_id] = yield from self._one_dag(dag_id)
            recent[dag_id] = yield from self._dag_runs(dag_id)
        with self._lock:
            listed_other = dags is not None and dags != self._dags
            if dags is not None:
                self._dags, self._dags_read = dags, now
                for gone in set(self._recent) - set(dags):
                    self._recent.pop(gone, None)
                    self._week.pop(gone, None)
            self._dags.update(infos)
            self._recent.update(recent)
            for runs, _ in recent.values():
                for r in runs:
                    self._seen[r.run_id] = (r, now)
            for r in changed:
                self._note_week(r)
            self._dirty -= dirty
            self._since = (stamp or self._clock()) - OVERLAP
            if changed or recent or listed_other:  # a list read again unchanged: no news
                self.generation += 1
            self._prune(now)

    # ---- state (called with the lock held) ---------------------------------------------

    def _note_week(self, r: Run) -> None:
        run_after = r.extra.get("run_after")
        if run_after is None:
            return
        per_dag = self._week.setdefault(r.pipeline, {})
        if r.extra.get("state") in _FINISHED:
            per_dag[r.run_id] = (run_after, r.status)
        else:
            per_dag.pop(r.run_id, None)  # cleared or re-queued: not finished any more

    def _week_counts(self, dag_id: str, cutoff: datetime) -> tuple[int, int]:
        per_dag = self._week.get(dag_id, {})
        stale = [k for k, (at, _) in per_dag.items() if at < cutoff]
        for k in stale:
            del per_dag[k]
        failed = sum(1 for _, st in per_dag.values() if st is Status.FAILED)
        return failed, len(per_dag)

    def _prune(self, now: float) -> None:
        if now - self._pruned < 60.0:
            return
        self._pruned = now
        keep = {r.run_id for runs, _ in self._recent.values() for r in runs}
        self._seen = {k: v for k, v in self._seen.items()
                      if k in keep or now - v[1] < SEEN_TTL}

    def _build(self) -> tuple[Pipeline, ...]:
        cutoff = self._clock() - timedelta(days=7)
        out = []
        for dag_id, dag in self._dags.items():
            recent, total = self._recent.get(dag_id, ((), 0))
            out.append(build_pipeline(dag, recent, total, self._week_counts(dag_id, cutoff)))
        return tuple(out)
