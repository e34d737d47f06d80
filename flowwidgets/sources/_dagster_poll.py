"""The Dagster flavour's idle poll: one GraphQL request when nothing changed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from flowwidgets import errors
from flowwidgets.models import RunDetail, Status
from flowwidgets.sources._base import Plan, Snapshot
from flowwidgets.sources._dagster_gql import gql, union
from flowwidgets.sources._dagster_parse import parse_runs
from flowwidgets.sources._dagster_queries import POLL

if TYPE_CHECKING:
    from flowwidgets.sources._dagster_flavour import DagsterFlavour

__all__ = ["POLL_LIMIT", "POLL_OVERLAP", "PollState", "snapshot"]

POLL_OVERLAP = 5.0
"""Seconds the idle poll looks back before the newest update it has seen (clock steps and
updates committed out of order)."""
POLL_LIMIT = 200


@dataclass(frozen=True, slots=True)
class PollState:
    """What the idle poll compares against: each run's (status, update time), the newest
    update seen, the workspace fingerprint and the snapshot last returned."""

    seen: dict[str, tuple[str, float | None]]
    since: float | None
    fingerprint: Any
    snap: Snapshot
    due: datetime | None
    """When a card's next tick passes: the cards are read again then."""


def snapshot(fl: DagsterFlavour) -> Plan[Snapshot]:
    """One request when nothing changed, whatever the number of jobs: the runs updated
    since the last poll (with an overlap), the code locations' update times and the
    schedules' states. Cards are read again only for jobs whose runs changed (all of
    them when the workspace changed or a next tick passed); the details of active runs
    are read on every poll (their steps move while the run's summary does not)."""
    with fl._lock:
        prev = fl._poll
    flt = {} if prev is None or prev.since is None else {
        "updatedAfter": prev.since - POLL_OVERLAP}
    data = yield from gql("FwPoll", POLL, {"filter": flt,
                                           "limit": 50 if prev is None else POLL_LIMIT})
    ep = "POST /graphql FwPoll"
    infos, _ = parse_runs(union(data, "runsOrError", "Runs", ep), ep, "data.runsOrError")
    fingerprint = (union(data, "workspaceOrError", "Workspace", ep),
                   union(data, "repositoriesOrError", "RepositoryConnection", ep))
    seen = dict(prev.seen) if prev else {}
    changed = [i for i in infos if seen.get(i.run_id) != (i.raw_status, i.updated)]
    full = (prev is None or fingerprint != prev.fingerprint
            or (prev.due is not None and fl._clock() >= prev.due))
    if prev is not None and not full and not changed and not any(
            isinstance(r, RunDetail) for r in prev.snap.runs.values()):
        return prev.snap
    if full:  # the job list, and the cards that changed since pipelines() last read them
        pipes = {p.name: p for p in (yield from fl.pipelines())}
    else:
        assert prev is not None
        jobs = yield from fl._known_jobs()
        touched = {fl._name_of(i) for i in changed} & set(jobs)
        pipes = dict(prev.snap.pipelines)
        pipes.update((yield from fl._cards({n: jobs[n] for n in touched})))
    runs: dict[str, Any] = {k: (v.run if isinstance(v, RunDetail) else v)
                            for k, v in (prev.snap.runs.items() if prev else ())}
    failed = yield from fl._failed_steps([i.run_id for i in changed
                                            if i.status is Status.FAILED])
    for i in changed:
        runs[i.run_id] = i.to_run(fl._name_of(i), failed.get(i.run_id))
        seen[i.run_id] = (i.raw_status, i.updated)
    newest = sorted(runs.values(), key=lambda r: (r.extra.get("created_at") is None,
                                                  r.extra.get("created_at")), reverse=True)
    runs = {r.run_id: r for r in newest[:50]}
    for r in [r for r in runs.values() if r.status.is_active][:10]:
        try:
            runs[r.run_id] = yield from fl.run(r.run_id)
        except errors.NotFound:
            runs.pop(r.run_id, None)
    updates = [i.updated for i in infos if i.updated is not None]
    since = max([*updates, *([prev.since] if prev and prev.since else [])], default=None)
    ticks = [p.next_run_at for p in pipes.values() if p.next_run_at is not None]
    snap = Snapshot(pipes, runs)
    with fl._lock:
        fl._poll = PollState(seen, since, fingerprint, snap, min(ticks, default=None))
    return snap
