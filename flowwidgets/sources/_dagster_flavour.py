"""The Dagster flavour's plans (see :mod:`flowwidgets.sources.dagster` for what they do)."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from flowwidgets import errors
from flowwidgets.models import Pipeline, RunDetail, RunPage, Status
from flowwidgets.sources import _fields as F
from flowwidgets.sources._base import Flavour, Plan, Snapshot
from flowwidgets.sources._dagster_detail import (
    NO_RESUME,
    Event,
    RunExtras,
    build_detail,
    downstream,
    format_step_log,
    parse_events,
    parse_run_extras,
)
from flowwidgets.sources._dagster_gql import ERROR_FIELDS as ERR
from flowwidgets.sources._dagster_gql import gql, union
from flowwidgets.sources._dagster_parse import (
    DAGSTER_RUN_STATES,
    RUN_FIELDS,
    JobInfo,
    RunInfo,
    build_pipeline,
    parse_jobs,
    parse_run,
    parse_runs,
)
from flowwidgets.sources._dagster_poll import POLL_LIMIT, POLL_OVERLAP, PollState
from flowwidgets.sources._dagster_poll import snapshot as poll_snapshot
from flowwidgets.sources._dagster_queries import (
    CAPTURED,
    EVENTS,
    JOB_PLAN,
    JOBS,
    LAUNCH,
    REEXECUTE,
    RUN,
    RUNS,
    STEP_STATS,
    TERMINATE,
    TOUCHED,
)
from flowwidgets.sources._http import Request

__all__ = ["DagsterFlavour"]

MAX_RUNS = 1000
"""Most runs one listing asks Dagster for (offset + limit)."""
EVENT_PAGE = 1000
MAX_EVENT_PAGES = 20
CARDS_TTL = 300.0
"""Seconds the cards of jobs whose runs did not change are reused by :meth:`pipelines`
(after that all are read again: the 7-day window moves)."""
WEEK_LIMIT = 5000
"""Most finished runs of the last 7 days the cards read for the failure rates (beyond it
the rates are left out rather than guessed)."""

class DagsterFlavour(Flavour):
    """Plans for the Dagster webserver's ``/graphql`` (see :mod:`flowwidgets.sources.dagster`).
    ``clock`` gives "now" for the 7-day window (tests pin it)."""

    name = "dagster"
    capabilities = frozenset({"restart", "rerun", "run_now", "cancel"})

    def __init__(self, *, version: str | None = None,
                 clock: Callable[[], datetime] | None = None):
        self.version = version
        self._clock = clock or (lambda: datetime.now(UTC))
        self._lock = threading.Lock()
        self._jobs: dict[str, JobInfo] | None = None
        self._done: OrderedDict[str, str] = OrderedDict()
        self._poll: PollState | None = None
        self._plans: OrderedDict[str, dict[str, tuple[str, ...]]] = OrderedDict()
        self._card_cache: tuple[dict[str, JobInfo], dict[str, Pipeline]] | None = None
        self._cards_since: float | None = None
        self._cards_seen: dict[str, float] = {}
        self._cards_at = 0.0

    # ---- jobs and names ----------------------------------------------------------------

    def _read_jobs(self) -> Plan[dict[str, JobInfo]]:
        data = yield from gql("FwJobs", JOBS)
        ep = "POST /graphql FwJobs"
        jobs = parse_jobs(union(data, "repositoriesOrError", "RepositoryConnection", ep), ep)
        with self._lock:
            self._jobs = jobs
        return jobs

    def _known_jobs(self) -> Plan[dict[str, JobInfo]]:
        with self._lock:
            jobs = self._jobs
        if jobs is None:
            jobs = yield from self._read_jobs()
        return jobs

    def _name_of(self, info: RunInfo) -> str:
        with self._lock:
            jobs = self._jobs or {}
        if info.job not in jobs and f"{info.job}@{info.location}" in jobs:
            return f"{info.job}@{info.location}"
        return info.job

    def _job(self, pipeline: str) -> Plan[JobInfo]:
        jobs = yield from self._known_jobs()
        if pipeline not in jobs:
            jobs = yield from self._read_jobs()  # deployed since?
        if pipeline not in jobs:
            raise errors.PipelineNotFound(f"Dagster has no job {pipeline!r}; its jobs: "
                                          f"{sorted(jobs)[:20]}")
        return jobs[pipeline]

    @staticmethod
    def _filter(name: str, job: JobInfo | None) -> dict[str, Any]:
        base: dict[str, Any] = {"pipelineName": job.name if job else name.partition("@")[0]}
        if job is not None and "@" in name:
            base["tags"] = [{"key": "dagster/code_location", "value": job.location}]
        return base

    # ---- reading -----------------------------------------------------------------------

    def _week_start(self) -> float:
        return float(int((self._clock() - timedelta(days=7)).timestamp()))

    def _cards(self, jobs: dict[str, JobInfo]) -> Plan[dict[str, Pipeline]]:
        """The cards of ``jobs`` in one request: each job's last 10 runs and total (GraphQL
        aliases, names as variables), and one list of the runs finished in the last 7 days
        (job and status only) for every job's failure rate."""
        if not jobs:
            return {}
        names = sorted(jobs)
        week: dict[str, Any] = {"statuses": ["SUCCESS", "FAILURE", "CANCELED"],
                                "createdAfter": self._week_start()}
        if len(names) == 1:
            week.update(self._filter(names[0], jobs[names[0]]))
        params, fields = ["$w: RunsFilter"], [
            f"w: runsOrError(filter: $w, limit: {WEEK_LIMIT}) {{ {ERR} ... on Runs {{ "
            "results { jobName status repositoryOrigin { repositoryLocationName } } } }"]
        variables: dict[str, Any] = {"w": week}
        for n, name in enumerate(names):
            variables[f"r{n}"] = self._filter(name, jobs[name])
            params.append(f"$r{n}: RunsFilter")
            fields.append(f"r{n}: runsOrError(filter: $r{n}, limit: 10) {{ {ERR} ... on Runs "
                          f"{{ count results {{ {RUN_FIELDS} }} }} }}")
        doc = f"query FwCards({', '.join(params)}) {{ {' '.join(fields)} }}"
        data = yield from gql("FwCards", doc, variables)
        ep = "POST /graphql FwCards"
        finished = F.need_list(F.req(union(data, "w", "Runs", ep), "results", ep, "data.w"),
                               ep, "data.w.results")
        counts: dict[str, list[int]] = {}
        by_job = {(j.name, j.location): name for name, j in jobs.items()}
        for k, row in enumerate(finished):
            w = f"data.w.results[{k}]"
            row = F.need_obj(row, ep, w)
            origin = F.obj_or_none(row, "repositoryOrigin", ep, w) or {}
            owner = by_job.get((F.s(row, "jobName", ep, w) or "",
                                F.s(origin, "repositoryLocationName", ep, w) or ""))
            if owner is not None:
                c = counts.setdefault(owner, [0, 0])
                c[0] += F.s(row, "status", ep, w) == "FAILURE"
                c[1] += 1
        complete = len(finished) < WEEK_LIMIT  # else the rates would be guesses
        out: dict[str, Pipeline] = {}
        for n, name in enumerate(names):
            infos, total = parse_runs(union(data, f"r{n}", "Runs", ep), ep, f"data.r{n}")
            self._saw(infos)
            recent = tuple(i.to_run(name) for i in infos)
            c = counts.get(name, [0, 0])
            out[name] = build_pipeline(name, jobs[name], recent, total,
                                       (c[0], c[1]) if complete else None)
        with self._lock:  # the runs just seen (_saw) and the cards kept stay in step
            if self._card_cache is not None:
                self._card_cache[1].update(out)
        return out

    def _saw(self, infos: tuple[RunInfo, ...]) -> None:
        """Remember the runs the cards have read (id → update time) and the newest update;
        entries older than the look-back are dropped."""
        with self._lock:
            for i in infos:
                if i.updated is not None:
                    self._cards_seen[i.run_id] = i.updated
            if self._cards_seen:
                self._cards_since = max(self._cards_seen.values())
                cut = self._cards_since - 2 * POLL_OVERLAP
                self._cards_seen = {k: v for k, v in self._cards_seen.items() if v >= cut}

    def pipelines(self) -> Plan[tuple[Pipeline, ...]]:
        """The job list, then the cards: all of them on the first call and every
        CARDS_TTL seconds; in between only those of jobs that are new, changed (schedule,
        next tick) or whose runs were updated since the last read (one cheap request says
        which), the others reused."""
        jobs = yield from self._read_jobs()
        with self._lock:
            cached, since, at = self._card_cache, self._cards_since, self._cards_at
        if cached is None or time.monotonic() - at > CARDS_TTL or since is None:
            with self._lock:
                self._cards_at = time.monotonic()
            cards = yield from self._cards(jobs)
        else:
            data = yield from gql("FwTouched", TOUCHED, {
                "filter": {"updatedAfter": since - POLL_OVERLAP}, "limit": POLL_LIMIT})
            ep = "POST /graphql FwTouched"
            rows, _ = parse_runs(union(data, "runsOrError", "Runs", ep), ep,
                                 "data.runsOrError")
            with self._lock:
                seen = dict(self._cards_seen)
            fresh = [r for r in rows if seen.get(r.run_id) != r.updated]
            touched = {self._name_of(r) for r in fresh} if len(rows) < POLL_LIMIT \
                else set(jobs)
            touched |= {n for n, j in jobs.items() if cached[0].get(n) != j}
            cards = {n: cached[1][n] for n in jobs if n in cached[1] and n not in touched}
            cards.update((yield from self._cards({n: jobs[n] for n in touched if n in jobs})))
            self._saw(rows)
        with self._lock:
            self._card_cache = (dict(jobs), dict(cards))
        return tuple(cards[n] for n in sorted(cards))

    def _list(self, flt: dict[str, Any], limit: int) -> Plan[tuple[tuple[RunInfo, ...], int]]:
        data = yield from gql("FwRuns", RUNS, {"filter": flt, "limit": limit})
        ep = "POST /graphql FwRuns"
        infos, total = parse_runs(union(data, "runsOrError", "Runs", ep), ep, "data.runsOrError")
        return infos, total if total is not None else len(infos)

    def _failed_steps(self, run_ids: list[str]) -> Plan[dict[str, str]]:
        """The first failed step of each failed run (one request for all of them)."""
        if not run_ids:
            return {}
        data = yield from gql("FwFailedSteps", STEP_STATS, {"filter": {"runIds": run_ids}})
        ep = "POST /graphql FwFailedSteps"
        runs = union(data, "runsOrError", "Runs", ep)
        out: dict[str, str] = {}
        for n, row in enumerate(F.need_list(F.req(runs, "results", ep, "data.runsOrError"),
                                            ep, "data.runsOrError.results")):
            w = f"data.runsOrError.results[{n}]"
            row = F.need_obj(row, ep, w)
            for k, st in enumerate(F.need_list(row.get("stepStats") or [], ep, f"{w}.stepStats")):
                st = F.need_obj(st, ep, f"{w}.stepStats[{k}]")
                if st.get("status") == "FAILURE":
                    rid = F.s(row, "runId", ep, w, required=True) or ""
                    out.setdefault(rid, F.s(st, "stepKey", ep, f"{w}.stepStats[{k}]") or "")
        return out

    def runs(self, pipeline: str | None, status: Status | None, limit: int, offset: int,
             cache: bool) -> Plan[RunPage]:
        flt: dict[str, Any] = {}
        if pipeline:
            jobs = yield from self._known_jobs()
            flt = self._filter(pipeline, jobs.get(pipeline))
        if status is not None:
            words = [k.upper() for k, v in DAGSTER_RUN_STATES.items() if v is status]
            if not words:
                return RunPage(runs=(), total=0, next_offset=None)
            flt["statuses"] = words
        if offset >= MAX_RUNS:
            return RunPage(runs=(), total=0, next_offset=None)
        yield from self._known_jobs()
        infos, total = yield from self._list(flt, min(offset + limit, MAX_RUNS))
        infos = infos[offset:offset + limit]
        failed = yield from self._failed_steps([i.run_id for i in infos
                                                if i.status is Status.FAILED])
        runs = tuple(i.to_run(self._name_of(i), failed.get(i.run_id)) for i in infos)
        end = offset + len(runs)
        return RunPage(runs=runs, total=total, next_offset=end if end < total else None)

    def _read_run(self, run_id: str) -> Plan[tuple[RunInfo, RunExtras]]:
        data = yield from gql("FwRun", RUN, {"runId": run_id})
        ep = "POST /graphql FwRun"
        run = union(data, "runOrError", "Run", ep)
        info = parse_run(run, ep, "data.runOrError")
        extras = parse_run_extras(run, ep, "data.runOrError")
        if info.parent_run_id is not None:
            # a re-execution's plan holds only the steps it selected: the job's whole graph
            # (the reused steps too) comes from the job's own plan, cached per snapshot
            snapshot = F.s(run, "pipelineSnapshotId", ep, "data.runOrError") or ""
            plan = yield from self._job_plan(info, extras, snapshot)
            if plan:
                extras = replace(extras, plan=plan)
        return info, extras

    def _job_plan(self, info: RunInfo, extras: RunExtras,
                  snapshot: str) -> Plan[dict[str, tuple[str, ...]]]:
        with self._lock:
            hit = self._plans.get(snapshot) if snapshot else None
        if hit is not None:
            return hit
        job = {"pipelineName": info.job, "repositoryName": info.repository,
               "repositoryLocationName": info.location}
        try:
            data = yield from gql("FwJobPlan", JOB_PLAN,
                                  {"job": job, "config": extras.run_config or {}})
            ep = "POST /graphql FwJobPlan"
            plan = parse_run_extras({"executionPlan": union(data, "executionPlanOrError",
                                                            "ExecutionPlan", ep)},
                                    ep, "data").plan
        except (errors.APIError, errors.SchemaError):
            return {}  # the job changed or is gone: keep the run's own (partial) plan
        if not set(extras.plan) <= set(plan):
            return {}  # not the graph this run ran
        with self._lock:
            if snapshot:
                self._plans[snapshot] = plan
                while len(self._plans) > 64:
                    self._plans.popitem(last=False)
        return plan

    def _events(self, run_id: str) -> Plan[tuple[Event, ...]]:
        """Every event of a run's log (up to MAX_EVENT_PAGES pages)."""
        out: list[Event] = []
        after: str | None = None
        ep = "POST /graphql FwRunEvents"
        for _ in range(MAX_EVENT_PAGES):
            data = yield from gql("FwRunEvents", EVENTS,
                                  {"runId": run_id, "after": after, "limit": EVENT_PAGE})
            conn = union(data, "logsForRun", "EventConnection", ep)
            events, after, more = parse_events(conn, ep, "data.logsForRun")
            out.extend(events)
            if not more or not events:
                break
        return tuple(out)

    def run(self, run_id: str) -> Plan[RunDetail]:
        info, extras = yield from self._read_run(run_id)
        yield from self._known_jobs()
        errs: dict[str, str] = {}
        if any(s["status"] is Status.FAILED for s in extras.stats.values()):
            for e in (yield from self._events(run_id)):
                if e.kind == "ExecutionStepFailureEvent" and e.step and e.error:
                    errs[e.step] = e.error
        return build_detail(info, self._name_of(info), extras, errs)

    def step_log(self, run_id: str, step: str, attempt: int | None) -> Plan[str | None]:
        _, extras = yield from self._read_run(run_id)
        keys = set(extras.plan) | set(extras.stats)
        if step not in keys:
            raise errors.InvalidAction(f"Dagster run {run_id} has no step {step!r}; its "
                                       f"steps: {sorted(keys)}")
        if step not in extras.stats:
            return None  # never started here: no log
        events = yield from self._events(run_id)
        captures = [e for e in events if e.kind == "LogsCapturedEvent" and e.file_key
                    and step in e.step_keys]
        captured: str | None = None
        shared: tuple[str, ...] = ()
        if captures:
            cap = captures[-1]
            data = yield from gql("FwCapturedLogs", CAPTURED,
                                  {"logKey": [run_id, "compute_logs", cap.file_key]})
            ep = "POST /graphql FwCapturedLogs"
            logs = F.obj_or_none(data, "capturedLogs", ep, "data") or {}
            parts = [F.s(logs, k, ep, "data.capturedLogs") or "" for k in ("stdout", "stderr")]
            captured = "\n".join(p.rstrip("\n") for p in parts if p.strip()) or None
            shared = cap.step_keys
        return format_step_log(step, events, attempt, captured, shared)

    def health(self) -> Plan[bool]:
        reply = yield Request("GET", "/server_info", "GET /server_info", probe=True)
        return reply.status_code == 200 and isinstance(reply.value, dict) and \
            "dagster_version" in reply.value

    # ---- the idle poll -----------------------------------------------------------------

    def snapshot(self) -> Plan[Snapshot]:
        """One request when nothing changed, whatever the number of jobs (see
        :func:`~._dagster_poll.snapshot`)."""
        return (yield from poll_snapshot(self))

    # ---- actions -----------------------------------------------------------------------

    def _why_not(self, action: str) -> str:
        return NO_RESUME if action == "resume" else super()._why_not(action)

    def _remembered(self, key: str | None) -> str | None:
        with self._lock:
            return self._done.get(key) if key is not None else None

    def _remember(self, key: str | None, run_id: str) -> str:
        with self._lock:
            if key is not None:
                self._done[key] = run_id
                while len(self._done) > 256:
                    self._done.popitem(last=False)
        return run_id

    def _launched(self, op: str, doc: str, variables: dict[str, Any], field: str) -> Plan[str]:
        data = yield from gql(op, doc, variables)
        ep = f"POST /graphql {op}"
        ok = union(data, field, "LaunchRunSuccess", ep)
        run = F.need_obj(F.req(ok, "run", ep, f"data.{field}"), ep, f"data.{field}.run")
        return F.s(run, "runId", ep, f"data.{field}.run", required=True) or ""

    def _finished(self, run_id: str, action: str) -> Plan[tuple[RunInfo, RunExtras, RunDetail]]:
        info, extras = yield from self._read_run(run_id)
        detail = build_detail(info, self._name_of(info), extras, {})
        if not detail.status.is_terminal:
            raise errors.RunConflict(f"cannot {action} Dagster run {run_id}: it is "
                                     f"{info.raw_status}; Dagster re-executes finished runs")
        if not extras.may_reexecute:
            raise errors.Unauthorized(f"cannot {action} Dagster run {run_id}: "
                                      f"{detail.actions.reasons['rerun']}", status_code=403)
        return info, extras, detail

    def restart(self, run_id: str, from_step: str | None, key: str | None) -> Plan[str]:
        """Re-execute into a new run: from failure (``from_step`` None, or the run's one
        failed step) with Dagster's FROM_FAILURE strategy, else ``from_step`` and every step
        downstream of it, selected; upstream outputs are loaded from this run."""
        if (done := self._remembered(key)) is not None:
            return done
        info, extras, detail = yield from self._finished(run_id, "restart")
        failed = detail.actions.restart_from_step
        if from_step is None or (len(failed) == 1 and failed[0] == from_step):
            if not failed:
                raise errors.InvalidAction(f"Dagster run {run_id} has no failed step to "
                                           "re-execute from; name the step to restart from")
            new = yield from self._launched(
                "FwReexecute", REEXECUTE,
                {"re": {"parentRunId": run_id, "strategy": "FROM_FAILURE"}},
                "launchRunReexecution")
            return self._remember(key, new)
        steps = [s.name for s in detail.steps]
        if from_step not in steps:
            raise errors.InvalidAction(f"Dagster run {run_id} has no step {from_step!r}; its "
                                       f"steps: {steps}")
        if from_step not in detail.actions.restart_steps:
            raise errors.InvalidAction(
                f"cannot restart Dagster run {run_id} from {from_step!r}: a step upstream of "
                "it has no stored output in this run (it did not succeed)")
        keys = downstream(extras.plan, [from_step])
        root = info.root_run_id or run_id
        tags = [{"key": k, "value": v} for k, v in info.tags.items()
                if not k.startswith("dagster/")]
        tags += [{"key": "dagster/parent_run_id", "value": run_id},
                 {"key": "dagster/root_run_id", "value": root}]
        params = {
            "selector": {"repositoryLocationName": info.location,
                         "repositoryName": info.repository, "jobName": info.job},
            "runConfigData": extras.run_config or {},
            "stepKeys": keys,
            "executionMetadata": {"parentRunId": run_id, "rootRunId": root, "tags": tags},
        }
        new = yield from self._launched("FwReexecute", REEXECUTE, {"exec": params},
                                        "launchRunReexecution")
        return self._remember(key, new)

    def rerun(self, run_id: str, key: str | None) -> Plan[str]:
        """Re-execute every step into a new run (Dagster's ALL_STEPS)."""
        if (done := self._remembered(key)) is not None:
            return done
        yield from self._finished(run_id, "rerun")
        new = yield from self._launched(
            "FwReexecute", REEXECUTE, {"re": {"parentRunId": run_id, "strategy": "ALL_STEPS"}},
            "launchRunReexecution")
        return self._remember(key, new)

    def run_now(self, pipeline: str, key: str | None) -> Plan[str]:
        """Launch the job (empty run config); the new run id."""
        if (done := self._remembered(key)) is not None:
            return done
        job = yield from self._job(pipeline)
        new = yield from self._launched("FwLaunchRun", LAUNCH,
                                        {"params": {"selector": job.selector(),
                                                    "runConfigData": {}}}, "launchRun")
        return self._remember(key, new)

    def cancel(self, run_id: str, key: str | None) -> Plan[str]:
        """Terminate the run (``terminateRun``, SAFE_TERMINATE): Dagster stops its worker
        and marks it CANCELED (a queued run at once). Returns the status word right after
        the request (``running`` while Dagster is CANCELING). A finished run is a Conflict
        with Dagster's message, an unknown one NotFound."""
        if (done := self._remembered(key)) is not None:
            return done
        data = yield from gql("FwTerminate", TERMINATE, {"runId": run_id})
        ep = "POST /graphql FwTerminate"
        ok = union(data, "terminateRun", "TerminateRunSuccess", ep)
        run = F.need_obj(F.req(ok, "run", ep, "data.terminateRun"), ep, "data.terminateRun.run")
        status, raw = F.status(run, "status", DAGSTER_RUN_STATES, ep, "data.terminateRun.run")
        return self._remember(key, raw.lower() if raw else status.value)
