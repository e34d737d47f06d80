"""Prefect cards kept current with a constant number of requests per poll.

First contact reads the flows and deployments (``POST /flows/filter``,
``/deployments/filter``, 200 per page), each pipeline's card (last 10 runs, total and,
for a deployment, its next scheduled run: three requests per pipeline, once) and the
finished flow runs of the last 7 days across all pipelines in one aggregated read
(``POST /flow_runs/filter``, keyset-paged on ``expected_start_time``).

After that an idle poll is **two requests**, whatever the number of deployments.
Prefect's flow-run filter has no "updated since", so: (1) Prefect's flow-run state
events since the previous poll (``POST /events/filter`` with ``event.prefix =
"prefect.flow-run."``, across every deployment; its ``next_page`` links followed only
when more than 50 arrived): every state change of a flow run is an event, so they are
the complete list of what changed, but Prefect stores them in batches (below); and (2)
the flow runs that started, ended or came due since then (``POST /flow_runs/filter``
with an ``or_`` of ``start_time``, ``end_time`` and ``expected_start_time``), which
shows the common changes at once. Runs named only by events are read in one more
``POST /flow_runs/filter`` by id; a row that differs from what the Source last saw
marks its pipeline changed, and only a changed pipeline's card is read again. The
7-day counts follow from the changed rows themselves. A pipeline whose next
scheduled run has come is read again too (its run joins the history); the flow and
deployment lists (pause flags, schedules, pipelines added or removed) are re-read every
:data:`LIST_TTL` seconds.

Never missing a change: each window starts :data:`OVERLAP` before the server's own time
(its ``Date`` header) when it answered the previous window. Events are stamped when the
state changed but stored by Prefect's event persister in batches (every 5 s by default,
``PREFECT_SERVER_SERVICES_EVENT_PERSISTER_FLUSH_INTERVAL``), so a change without a new
start, end or due time (pending, late, paused, awaiting retry) can take that long to
show; OVERLAP covers that delay plus clock skew between Prefect's processes. Without a
``Date`` header the Source's clock is used instead.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from flowwidgets.models import Pipeline, Run, Status, format_time
from flowwidgets.sources import _fields as F
from flowwidgets.sources._base import Plan
from flowwidgets.sources._cards_state import IncrementalCards, server_time
from flowwidgets.sources._http import Reply, Request
from flowwidgets.sources._prefect_parse import (
    FlowRunInfo,
    build_pipeline,
    parse_flow_runs,
    parse_int,
    parse_names,
    schedule_summary,
)

__all__ = ["LIST_TTL", "OVERLAP", "PrefectCards"]

PAGE = 200
OVERLAP = timedelta(seconds=30)
"""How far each events window reaches back before the previous one ended (see above)."""
LIST_TTL = 30.0
"""Seconds between two reads of the flow and deployment lists."""
SEEN_TTL = 600.0
SCHEDULE_SLACK = timedelta(seconds=5)
"""Runs expected to start later than now + this are future schedule, not history."""
_FAILED = ("FAILED", "CRASHED")
_FINISHED = ("COMPLETED", "FAILED", "CRASHED")
_EP_RUNS = "POST /api/flow_runs/filter"
_EP_EVENTS = "POST /api/events/filter"

Send = Callable[[Request], Plan[Reply]]
Named = dict[str, tuple[str, str | None, dict[str, Any]]]
"""``{id: (name, flow id or None, row)}`` of flows or deployments."""


def parse_events(data: Any) -> tuple[dict[str, str], str | None]:
    """``POST /events/filter`` (or its next page) → ({event id: flow-run id}, the next
    page's URL)."""
    d = F.need_obj(data, _EP_EVENTS, "")
    ids = {}
    for n, ev in enumerate(F.need_list(F.req(d, "events", _EP_EVENTS, ""), _EP_EVENTS,
                                       "events")):
        where = F.path("events", n)
        ev = F.need_obj(ev, _EP_EVENTS, where)
        res = F.need_obj(F.req(ev, "resource", _EP_EVENTS, where), _EP_EVENTS,
                         f"{where}.resource")
        rid = F.s(res, "prefect.resource.id", _EP_EVENTS, f"{where}.resource") or ""
        if rid.startswith("prefect.flow-run."):
            ids[F.s(ev, "id", _EP_EVENTS, where, required=True) or ""] = \
                rid[len("prefect.flow-run."):]
    return ids, F.s(d, "next_page", _EP_EVENTS, "")


@dataclass
class _Card:
    """One pipeline: how to select its runs, what its card shows."""

    base: dict[str, Any]
    kw: dict[str, Any]
    deployment: bool
    recent: tuple[Run, ...] = ()
    total: int = 0
    next_run: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    infos: tuple[FlowRunInfo, ...] = ()


class PrefectCards(IncrementalCards):
    """Per-pipeline state of one Prefect Source and the plans that keep it current.

    ``send`` sends a request; ``clock`` gives the Source's "now". Thread-safe: one
    refresh runs at a time; a caller arriving meanwhile gets the cards as they are.
    """

    def __init__(self, send: Send, clock: Callable[[], datetime]):
        super().__init__(clock)
        self._send = send
        self._flows: dict[str, str] = {}
        self._deps: Named = {}
        self._lists_read = 0.0
        self._cards: dict[str, _Card] = {}
        self._week: dict[str, dict[str, tuple[datetime, Status]]] = {}
        self._seen: dict[str, tuple[FlowRunInfo, float]] = {}
        self._events_seen: dict[str, float] = {}

    # ---- plans -------------------------------------------------------------------------

    def _post(self, path: str, ep: str, body: dict[str, Any],
              parse: Callable[[Any], Any]) -> Plan[Reply]:
        return (yield from self._send(Request("POST", path, ep, body=body, parse=parse)))

    def _all(self, path: str, ep: str) -> Plan[tuple[Named, datetime | None]]:
        out: Named = {}
        stamp = None
        while True:
            reply = yield from self._post(path, ep, {"sort": "NAME_ASC", "limit": PAGE,
                                                     "offset": len(out)}, parse_names(ep))
            stamp = stamp or server_time(reply)
            out.update(reply.value)
            if len(reply.value) < PAGE:
                return out, stamp

    def _lists(self) -> Plan[tuple[dict[str, _Card], dict[str, str], Named, datetime | None]]:
        """The flows, deployments and the pipelines they make (cards not read yet)."""
        flows, stamp = yield from self._all("/api/flows/filter", "POST /api/flows/filter")
        deps, _ = yield from self._all("/api/deployments/filter",
                                       "POST /api/deployments/filter")
        cards: dict[str, _Card] = {}
        ep = "POST /api/deployments/filter"
        for fid, (fname, _, _) in sorted(flows.items(), key=lambda kv: kv[1][0]):
            for did, (dname, dflow, row) in sorted(deps.items(), key=lambda kv: kv[1][0]):
                if dflow != fid:
                    continue
                schedule, tz = schedule_summary(row, ep, "deployment")
                cards[f"{fname}/{dname}"] = _Card(
                    {"deployments": {"id": {"any_": [did]}}},
                    {"schedule": schedule, "timezone": tz,
                     "paused": F.b(row, "paused", ep, "deployment")},
                    True, extra={"deployment_id": did, "flow_id": fid})
            cards[fname] = _Card({"flows": {"id": {"any_": [fid]}},
                                  "flow_runs": {"deployment_id": {"is_null_": True}}},
                                 {}, False, extra={"flow_id": fid})
        return cards, {k: v[0] for k, v in flows.items()}, deps, stamp

    def _history(self, base: dict[str, Any]) -> dict[str, Any]:
        body = {k: dict(v) for k, v in base.items()}
        body.setdefault("flow_runs", {})["expected_start_time"] = {
            "before_": format_time(self._clock() + SCHEDULE_SLACK)}
        return body

    def _read_card(self, name: str, card: _Card) -> Plan[_Card]:
        """The card's runs, total and next run (three requests; two without a deployment)."""
        reply = yield from self._post("/api/flow_runs/filter", _EP_RUNS, {
            **self._history(card.base), "sort": "EXPECTED_START_TIME_DESC", "limit": 10,
            "offset": 0}, parse_flow_runs(_EP_RUNS))
        infos = reply.value
        reply = yield from self._post("/api/flow_runs/count", "POST /api/flow_runs/count",
                                      self._history(card.base),
                                      parse_int("POST /api/flow_runs/count"))
        total = reply.value
        nxt = None
        if card.deployment:
            body = {k: dict(v) for k, v in card.base.items()}
            body["flow_runs"] = {"state": {"type": {"any_": ["SCHEDULED"]}},
                                 "expected_start_time": {"after_": format_time(self._clock())}}
            reply = yield from self._post("/api/flow_runs/filter", _EP_RUNS, {
                **body, "sort": "EXPECTED_START_TIME_ASC", "limit": 1},
                parse_flow_runs(_EP_RUNS))
            nxt = reply.value[0].expected_start if reply.value else None
        recent = tuple(i.to_run(name) for i in infos)
        return _Card(card.base, card.kw, card.deployment, recent, total, nxt, card.extra,
                     infos)

    def _week_rows(self) -> Plan[list[FlowRunInfo]]:
        """Finished flow runs of the last 7 days, every pipeline: keyset-paged."""
        after = self._clock() - timedelta(days=7)
        rows: dict[str, FlowRunInfo] = {}
        while True:
            reply = yield from self._post("/api/flow_runs/filter", _EP_RUNS, {
                "flow_runs": {"expected_start_time": {"after_": format_time(after)},
                              "state": {"type": {"any_": list(_FINISHED)}}},
                "sort": "EXPECTED_START_TIME_ASC", "limit": PAGE}, parse_flow_runs(_EP_RUNS))
            page = reply.value
            new = [r for r in page if r.id not in rows]
            rows.update((r.id, r) for r in page)
            if len(page) < PAGE or not new or page[-1].expected_start is None:
                return list(rows.values())
            after = page[-1].expected_start  # ``after_`` is inclusive: ties read again

    def _events(self, since: datetime) -> Plan[tuple[dict[str, str], datetime | None]]:
        ids: dict[str, str] = {}
        reply = yield from self._post("/api/events/filter", _EP_EVENTS, {
            "filter": {"occurred": {"since": format_time(since)},
                       "event": {"prefix": ["prefect.flow-run."]}, "order": "ASC"},
            "limit": 50}, parse_events)
        stamp = server_time(reply)
        found, nxt = reply.value
        ids.update(found)
        while nxt:
            parts = urlsplit(nxt)
            reply = yield from self._send(Request(
                "GET", f"{parts.path}?{parts.query}", "GET /api/events/filter/next",
                parse=parse_events))
            found, nxt = reply.value
            ids.update(found)
        return ids, stamp

    def _moved(self, since: datetime) -> Plan[list[FlowRunInfo]]:
        """Flow runs that started, ended or came due since ``since``, read directly: they
        show at once, before Prefect has stored their events."""
        out: list[FlowRunInfo] = []
        w = format_time(since)
        while True:
            reply = yield from self._post("/api/flow_runs/filter", _EP_RUNS, {
                "flow_runs": {"operator": "or_", "start_time": {"after_": w},
                              "end_time": {"after_": w},
                              "expected_start_time": {
                                  "after_": w,
                                  "before_": format_time(self._clock() + SCHEDULE_SLACK)}},
                "sort": "ID_DESC", "limit": PAGE, "offset": len(out)},
                parse_flow_runs(_EP_RUNS))
            out.extend(reply.value)
            if len(reply.value) < PAGE:
                return out

    def _rows(self, ids: set[str]) -> Plan[list[FlowRunInfo]]:
        out: list[FlowRunInfo] = []
        wanted = sorted(ids)
        for k in range(0, len(wanted), PAGE):
            reply = yield from self._post("/api/flow_runs/filter", _EP_RUNS, {
                "flow_runs": {"id": {"any_": wanted[k:k + PAGE]}}, "limit": PAGE},
                parse_flow_runs(_EP_RUNS))
            out.extend(reply.value)
        return out

    def _first_contact(self) -> Plan[None]:
        cards, flows, deps, stamp = yield from self._lists()
        start = (stamp or self._clock()) - OVERLAP
        read: dict[str, _Card] = {}
        with_deployments = {flow_id for _, flow_id, _ in deps.values()}
        for name, card in cards.items():
            if not card.deployment and card.extra["flow_id"] in with_deployments:
                reply = yield from self._post("/api/flow_runs/count",
                                              "POST /api/flow_runs/count", card.base,
                                              parse_int("POST /api/flow_runs/count"))
                if not reply.value:
                    continue  # only deployment runs: the flow shows as its deployments
            read[name] = yield from self._read_card(name, card)
        week = yield from self._week_rows()
        now = time.monotonic()
        with self._lock:
            self._flows, self._deps, self._lists_read = flows, deps, now
            self._cards = read
            self._week = {}
            self._seen = {}
            for r in week:
                self._note(r, now)
            for card in read.values():
                for info in card.infos:
                    self._seen[info.id] = (info, now)
            self._since = start
            self.generation += 1

    def _refresh(self) -> Plan[None]:
        with self._lock:
            since = self._since
            lists_due = time.monotonic() - self._lists_read >= LIST_TTL
            dirty = set(self._dirty)
            now_t = self._clock()
            dirty |= {n for n, c in self._cards.items()
                      if c.next_run is not None and c.next_run <= now_t}
        assert since is not None
        listed = None
        if lists_due:
            listed = yield from self._lists()
        events, stamp = yield from self._events(since)
        moved = yield from self._moved(since)
        with self._lock:  # events seen in an earlier window (the overlap) cost nothing
            ids = {run for ev, run in events.items() if ev not in self._events_seen}
        ids -= {r.id for r in moved}
        rows = moved + ((yield from self._rows(ids)) if ids else [])
        now = time.monotonic()
        with self._lock:
            flows = listed[1] if listed else self._flows
            deps = listed[2] if listed else self._deps
            known = dict(self._cards)
            if listed:
                with_deployments = {flow_id for _, flow_id, _ in deps.values()}
                for name, card in listed[0].items():
                    old = known.get(name)
                    if old is not None:
                        known[name] = _Card(card.base, card.kw, card.deployment, old.recent,
                                            old.total, old.next_run, card.extra, old.infos)
                    elif card.deployment or card.extra["flow_id"] not in with_deployments:
                        dirty.add(name)  # a new pipeline: read its card
                        known[name] = card
                known = {n: c for n, c in known.items() if n in listed[0]}
            changed = []
            for r in rows:
                prev = self._seen.get(r.id)
                if prev is None or prev[0] != r:
                    changed.append(r)
            missing = False
            for r in changed:
                pname = _pipeline(r, flows, deps)
                if pname is None:
                    missing = True
                    continue
                dirty.add(pname)
                if pname not in known and r.deployment_id is None and r.flow_id in flows:
                    known[pname] = _Card({"flows": {"id": {"any_": [r.flow_id]}},
                                         "flow_runs": {"deployment_id": {"is_null_": True}}},
                                        {}, False, extra={"flow_id": r.flow_id})
            if missing:
                self._lists_read = 0.0  # a flow or deployment we do not know: list again
        read: dict[str, _Card] = {}
        for name in sorted(dirty & set(known)):
            read[name] = yield from self._read_card(name, known[name])
        with self._lock:
            shown_before = {n: (c.kw, c.extra) for n, c in self._cards.items()}
            if listed:
                self._flows, self._deps, self._lists_read = flows, deps, now
            known.update(read)
            self._cards = known
            for r in changed:
                self._note(r, now)
            for r in rows:
                self._seen[r.id] = (r, now)
            self._events_seen.update(dict.fromkeys(events, now))
            self._dirty -= dirty
            self._since = (stamp or self._clock()) - OVERLAP
            listed_other = shown_before != {n: (c.kw, c.extra) for n, c in known.items()}
            if changed or read or listed_other:  # lists read again unchanged: no news
                self.generation += 1
            self._prune(now)

    # ---- state (called with the lock held) ---------------------------------------------

    def _note(self, r: FlowRunInfo, now: float) -> None:
        self._seen[r.id] = (r, now)
        name = _pipeline(r, self._flows, self._deps)
        if name is None or r.expected_start is None:
            return
        per = self._week.setdefault(name, {})
        if r.state_type in _FINISHED:
            per[r.id] = (r.expected_start, r.status)
        else:
            per.pop(r.id, None)

    def _prune(self, now: float) -> None:
        if now - self._pruned < 60.0:
            return
        self._pruned = now
        keep = {r.run_id for c in self._cards.values() for r in c.recent}
        self._seen = {k: v for k, v in self._seen.items()
                      if k in keep or now - v[1] < SEEN_TTL}
        self._events_seen = {k: t for k, t in self._events_seen.items()
                             if now - t < SEEN_TTL}

    def _build(self) -> tuple[Pipeline, ...]:
        cutoff = self._clock() - timedelta(days=7)
        out = []
        for name, c in self._cards.items():
            per = self._week.get(name, {})
            for k in [k for k, (at, _) in per.items() if at < cutoff]:
                del per[k]
            week = (sum(1 for _, st in per.values() if st is Status.FAILED), len(per))
            out.append(build_pipeline(name, c.recent, c.total, week, next_run=c.next_run,
                                      extra=c.extra, **c.kw))
        return tuple(out)


def _pipeline(r: FlowRunInfo, flows: dict[str, str],
              deps: Named) -> str | None:
    flow = flows.get(r.flow_id)
    if flow is None:
        return None
    if r.deployment_id is None:
        return flow
    dep = deps.get(r.deployment_id)
    return None if dep is None else f"{flow}/{dep[0]}"
