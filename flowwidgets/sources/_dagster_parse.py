"""Dagster GraphQL payloads → flowwidgets models: jobs, runs, cards. Pure functions.

Pipelines are Dagster jobs, named by the job name (``"<job>@<location>"`` when two code
locations have a job of the same name). Dagster's hidden asset jobs (``__ASSET_JOB*``) are
left out. Times are epoch seconds (floats).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flowwidgets.models import Pipeline, Run, Status
from flowwidgets.sources import _fields as F

__all__ = [
    "DAGSTER_RUN_STATES",
    "DAGSTER_STEP_STATES",
    "RUN_FIELDS",
    "JobInfo",
    "RunInfo",
    "build_pipeline",
    "parse_jobs",
    "parse_run",
    "parse_runs",
]

DAGSTER_RUN_STATES: dict[str, Status] = {
    "queued": Status.REQUESTED,
    "not_started": Status.REQUESTED,
    "managed": Status.REQUESTED,
    "starting": Status.REQUESTED,
    "started": Status.RUNNING,
    "canceling": Status.RUNNING,
    "suspended": Status.PAUSED,
    "success": Status.SUCCEEDED,
    "failure": Status.FAILED,
    "canceled": Status.CANCELLED,
}
"""Dagster's ``RunStatus`` → Status."""

DAGSTER_STEP_STATES: dict[str, Status] = {
    "in_progress": Status.RUNNING,
    "success": Status.SUCCEEDED,
    "failure": Status.FAILED,
    "skipped": Status.SKIPPED,
}
"""Dagster's ``StepEventStatus`` → Status (a step absent from ``stepStats`` never started:
pending, or reused from the parent run in a re-execution)."""

RUN_FIELDS = ("runId jobName status creationTime startTime endTime updateTime rootRunId "
              "parentRunId tags { key value } "
              "repositoryOrigin { repositoryLocationName repositoryName }")
"""What every run listing selects."""


@dataclass(frozen=True, slots=True)
class JobInfo:
    """A job and where it lives (what a selector needs), with its schedules and sensors."""

    name: str
    location: str
    repository: str
    schedule: str | None = None
    timezone: str | None = None
    next_run: datetime | None = None
    paused: bool = False
    sensors: tuple[str, ...] = ()
    schedules: tuple[str, ...] = ()
    description: str | None = None

    def selector(self) -> dict[str, str]:
        """The ``JobOrPipelineSelector`` of this job."""
        return {"repositoryLocationName": self.location, "repositoryName": self.repository,
                "jobName": self.name}


def parse_jobs(repos: dict[str, Any], ep: str) -> dict[str, JobInfo]:
    """``repositoriesOrError`` (a RepositoryConnection) → pipeline name → job."""
    found: list[JobInfo] = []
    for n, repo in enumerate(F.need_list(F.req(repos, "nodes", ep, "repositoriesOrError"),
                                         ep, "repositoriesOrError.nodes")):
        where = f"repositoriesOrError.nodes[{n}]"
        repo = F.need_obj(repo, ep, where)
        rname = F.s(repo, "name", ep, where, required=True) or ""
        loc = F.need_obj(F.req(repo, "location", ep, where), ep, f"{where}.location")
        lname = F.s(loc, "name", ep, f"{where}.location", required=True) or ""
        for k, job in enumerate(F.need_list(F.req(repo, "jobs", ep, where), ep,
                                            f"{where}.jobs")):
            jw = f"{where}.jobs[{k}]"
            job = F.need_obj(job, ep, jw)
            name = F.s(job, "name", ep, jw, required=True) or ""
            if name.startswith("__ASSET_JOB"):
                continue
            found.append(_job(job, name, lname, rname, ep, jw))
    counts: dict[str, int] = {}
    for j in found:
        counts[j.name] = counts.get(j.name, 0) + 1
    return {(j.name if counts[j.name] == 1 else f"{j.name}@{j.location}"): j for j in found}


def _job(job: dict[str, Any], name: str, location: str, repository: str, ep: str,
         where: str) -> JobInfo:
    crons: list[str] = []
    names: list[str] = []
    tz: str | None = None
    next_run: datetime | None = None
    running = False
    for n, sched in enumerate(F.need_list(job.get("schedules") or [], ep, f"{where}.schedules")):
        sw = f"{where}.schedules[{n}]"
        sched = F.need_obj(sched, ep, sw)
        names.append(F.s(sched, "name", ep, sw) or "")
        crons.append(F.s(sched, "cronSchedule", ep, sw) or "")
        tz = tz or F.s(sched, "executionTimezone", ep, sw)
        state = F.obj_or_none(sched, "scheduleState", ep, sw) or {}
        if F.s(state, "status", ep, f"{sw}.scheduleState") == "RUNNING":
            running = True
            tick = F.obj_or_none(state, "nextTick", ep, f"{sw}.scheduleState") or {}
            at = F.t(tick, "timestamp", ep, f"{sw}.scheduleState.nextTick")
            if at is not None and (next_run is None or at < next_run):
                next_run = at
    sensors = []
    for n, sensor in enumerate(F.need_list(job.get("sensors") or [], ep, f"{where}.sensors")):
        sensors.append(F.s(F.need_obj(sensor, ep, f"{where}.sensors[{n}]"), "name", ep,
                           f"{where}.sensors[{n}]") or "")
    return JobInfo(name=name, location=location, repository=repository,
                   schedule="; ".join(c for c in crons if c) or None, timezone=tz,
                   next_run=next_run, paused=bool(crons) and not running,
                   sensors=tuple(sensors), schedules=tuple(names),
                   description=F.s(job, "description", ep, where))


@dataclass(frozen=True, slots=True)
class RunInfo:
    """A run as listed, before its pipeline name is known."""

    run_id: str
    job: str
    location: str | None
    repository: str | None
    raw_status: str
    created: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    updated: float | None
    root_run_id: str | None
    parent_run_id: str | None
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def status(self) -> Status:
        """The run's status."""
        return DAGSTER_RUN_STATES.get(self.raw_status.lower(), Status.UNKNOWN)

    @property
    def trigger(self) -> str:
        """What started it: schedule, sensor, re-execution, backfill or manual."""
        if "dagster/schedule_name" in self.tags:
            return "schedule"
        if "dagster/sensor_name" in self.tags:
            return "sensor"
        if self.parent_run_id:
            return "re-execution"
        if "dagster/backfill" in self.tags:
            return "backfill"
        return "manual"

    def to_run(self, pipeline: str, failed_step: str | None = None,
               attempts: int | None = None) -> Run:
        """The model, under ``pipeline``."""
        st = self.status
        duration = None
        if st.is_terminal and self.started_at and self.finished_at:
            duration = int((self.finished_at - self.started_at).total_seconds() * 1000)
        extra: dict[str, Any] = {"dagster_status": self.raw_status, "job": self.job,
                                 "location": self.location, "tags": dict(self.tags)}
        if self.root_run_id:
            extra["root_run_id"] = self.root_run_id
        if self.parent_run_id:
            extra["parent_run_id"] = self.parent_run_id
        if self.created is not None:
            extra["created_at"] = self.created
        if st is Status.UNKNOWN:
            extra["raw_status"] = self.raw_status
        return Run(run_id=self.run_id, pipeline=pipeline, status=st,
                   started_at=self.started_at,
                   finished_at=self.finished_at if st.is_terminal else None,
                   duration_ms=duration, attempts=attempts, failed_step=failed_step,
                   trigger=self.trigger, extra=extra)


def parse_run(row: Any, ep: str, where: str) -> RunInfo:
    """One run object (the fields of :data:`RUN_FIELDS`)."""
    row = F.need_obj(row, ep, where)
    tags: dict[str, str] = {}
    for n, tag in enumerate(F.need_list(row.get("tags") or [], ep, f"{where}.tags")):
        tw = f"{where}.tags[{n}]"
        tag = F.need_obj(tag, ep, tw)
        tags[F.s(tag, "key", ep, tw, required=True) or ""] = F.s(tag, "value", ep, tw) or ""
    origin = F.obj_or_none(row, "repositoryOrigin", ep, where) or {}
    return RunInfo(
        run_id=F.s(row, "runId", ep, where, required=True) or "",
        job=F.s(row, "jobName", ep, where, required=True) or "",
        location=F.s(origin, "repositoryLocationName", ep, f"{where}.repositoryOrigin"),
        repository=F.s(origin, "repositoryName", ep, f"{where}.repositoryOrigin"),
        raw_status=F.s(row, "status", ep, where, required=True) or "",
        created=F.t(row, "creationTime", ep, where),
        started_at=F.t(row, "startTime", ep, where),
        finished_at=F.t(row, "endTime", ep, where),
        updated=F.f(row, "updateTime", ep, where),
        root_run_id=F.s(row, "rootRunId", ep, where),
        parent_run_id=F.s(row, "parentRunId", ep, where),
        tags=tags)


def parse_runs(runs: dict[str, Any], ep: str, where: str) -> tuple[tuple[RunInfo, ...], int | None]:
    """A ``Runs`` object: its results (newest first) and ``count`` when selected."""
    rows = F.need_list(F.req(runs, "results", ep, where), ep, f"{where}.results")
    return (tuple(parse_run(r, ep, f"{where}.results[{n}]") for n, r in enumerate(rows)),
            F.i(runs, "count", ep, where))


def median_ms(values: list[int]) -> int | None:
    """Median of durations in ms (integer mean of the two middle ones), or None."""
    if not values:
        return None
    v = sorted(values)
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) // 2


def build_pipeline(name: str, job: JobInfo, recent: tuple[Run, ...], total: int | None,
                   week: tuple[int, int] | None) -> Pipeline:
    """A card: ``recent`` newest first as listed; ``week`` is (failed, finished) in 7 days."""
    durations = [r.duration_ms for r in recent if r.duration_ms is not None]
    extra: dict[str, Any] = {"location": job.location, "repository": job.repository}
    if job.sensors:
        extra["sensors"] = list(job.sensors)
    if job.schedules:
        extra["schedules"] = list(job.schedules)
    if job.description:
        extra["description"] = job.description
    return Pipeline(name=name, kind="batch", schedule=job.schedule, timezone=job.timezone,
                    next_run_at=None if job.paused else job.next_run,
                    latest_run=recent[0] if recent else None,
                    recent_runs=tuple(reversed(recent)), median_duration_ms=median_ms(durations),
                    failure_rate_7d=(week[0] / week[1]) if week and week[1] else None,
                    total_runs=total, paused=job.paused, extra=extra)
