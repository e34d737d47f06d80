"""The models every view draws from, whatever runner produced them.

A Source turns each runner's JSON into these; widgets, frames and the TUI never see raw
API payloads. Times are timezone-aware UTC datetimes, durations are milliseconds.

There is one status vocabulary, :class:`Status`. Runs use a subset (``RUN_STATUSES``,
ematix-flow's run statuses) and steps another (``STEP_STATUSES``); foreign vocabularies
(flowtoy, Airflow, Prefect) are mapped into it by their Source, one mapping each.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

__all__ = [
    "RUN_STATUSES",
    "STEP_STATUSES",
    "Actions",
    "Attempt",
    "Pipeline",
    "Run",
    "RunDetail",
    "RunPage",
    "Status",
    "Step",
    "format_time",
    "parse_time",
]


class Status(StrEnum):
    """The one status vocabulary for runs, steps and attempts."""

    PENDING = "pending"
    """A step that has not started (its dependencies are not done, or they failed)."""
    REQUESTED = "requested"
    """A run that was asked for (schedule, run-now, restart, rerun) and not yet picked up."""
    RUNNING = "running"
    PAUSED = "paused"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"
    """A step that was deliberately not executed."""
    UNKNOWN = "unknown"
    """A state a runner reported that has no meaning here; shown, never guessed."""

    @property
    def is_terminal(self) -> bool:
        """True once nothing more will happen to this run or step."""
        return self in _TERMINAL

    @property
    def is_active(self) -> bool:
        """True while work is queued or under way."""
        return self in (Status.REQUESTED, Status.RUNNING, Status.PAUSED)

    @classmethod
    def parse(cls, value: Any) -> Status:
        """Read a status word; anything unrecognised becomes ``UNKNOWN``."""
        if isinstance(value, Status):
            return value
        try:
            return cls(str(value).strip().lower())
        except ValueError:
            return cls.UNKNOWN


_TERMINAL = frozenset({Status.SUCCEEDED, Status.FAILED, Status.CANCELLED, Status.SKIPPED})

RUN_STATUSES = frozenset(
    {
        Status.REQUESTED,
        Status.RUNNING,
        Status.PAUSED,
        Status.SUCCEEDED,
        Status.FAILED,
        Status.CANCELLED,
    }
)
"""The statuses a run may have (ematix-flow's run vocabulary)."""

STEP_STATUSES = frozenset(
    {Status.PENDING, Status.RUNNING, Status.SUCCEEDED, Status.FAILED, Status.SKIPPED,
     Status.CANCELLED}
)
"""The statuses a step may have (``cancelled``: it was running when its run was cancelled)."""


def parse_time(value: Any) -> datetime | None:
    """An ISO-8601 string, epoch seconds or datetime as an aware UTC datetime (or None)."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(float(value), tz=UTC)
    elif isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        dt = datetime.fromisoformat(text)
    else:
        raise TypeError(f"cannot read a time from {type(value).__name__} {value!r}")
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def format_time(value: datetime | None) -> str | None:
    """An aware datetime as ISO-8601 UTC with milliseconds and a ``Z`` (or None)."""
    if value is None:
        return None
    if value.tzinfo is UTC and value.year >= 1000:  # the common case: half the time
        return value.isoformat(timespec="milliseconds")[:-6] + "Z"
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_time(value)
    if isinstance(value, Status):
        return value.value
    if isinstance(value, _Model):
        return value.to_dict()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


class _Model:
    """Shared behaviour: a JSON-ready dict for widget traits and the static fallback."""

    def to_dict(self) -> dict[str, Any]:
        """This model as plain JSON types (times as ISO-8601 ``Z`` strings)."""
        return {f.name: _jsonable(getattr(self, f.name)) for f in fields(self)}  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Attempt(_Model):
    """One try of a step (or of a whole run, for runners that only know runs)."""

    number: int
    status: Status
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: str | None = None
    log_tail: str | None = None
    step: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def duration_ms(self) -> int | None:
        """Wall time of this attempt, or None while it runs."""
        return _duration(self.started_at, self.finished_at)


@dataclass(frozen=True, slots=True)
class Step(_Model):
    """A node of a run's DAG with its state in that run."""

    name: str
    status: Status
    depends_on: tuple[str, ...] = ()
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_ms: int | None = None
    error: str | None = None
    attempts: tuple[Attempt, ...] = ()
    reused_from: str | None = None
    """For a restarted run: the run whose stored output this step reused instead of running."""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Actions(_Model):
    """Which buttons apply to a run, as the runner says; ``reasons`` explains the absent ones."""

    restart_from_step: tuple[str, ...] = ()
    rerun: bool = False
    resume_from_watermark: bool = False
    pause: bool = False
    resume: bool = False
    reasons: dict[str, str] = field(default_factory=dict)
    restart_steps: tuple[str, ...] = ()
    """Every step a restart may start from, when the runner says (our runner does);
    ``restart_from_step`` holds the one it suggests (the failed step)."""
    can_cancel: bool = False
    """True while the run can be cancelled (requested or running, on a runner that can)."""

    @property
    def any(self) -> bool:
        """True when at least one action applies."""
        return bool(self.restart_from_step or self.rerun or self.resume_from_watermark
                    or self.can_cancel)


@dataclass(frozen=True, slots=True)
class Run(_Model):
    """One execution of a pipeline, as listed in the jobs table."""

    run_id: str
    pipeline: str
    status: Status
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_ms: int | None = None
    attempts: int | None = None
    failed_step: str | None = None
    kind: str = "batch"
    trigger: str | None = None
    """schedule | manual | run_now | restart | rerun | resume (None: the runner does not say)."""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RunDetail(_Model):
    """A run with its DAG, attempt history and the actions it allows."""

    run: Run
    steps: tuple[Step, ...] = ()
    attempts: tuple[Attempt, ...] = ()
    actions: Actions = field(default_factory=Actions)
    error: str | None = None
    failed_watermark: str | None = None
    parent_run_id: str | None = None
    children: tuple[Run, ...] = ()
    """Runs started from this one (restarts, reruns, resumes), oldest first, where the
    runner says (our runner; ``extra["from_step"]`` of each is where a restart began)."""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def run_id(self) -> str:
        """The run's id."""
        return self.run.run_id

    @property
    def status(self) -> Status:
        """The run's status."""
        return self.run.status

    def step(self, name: str) -> Step:
        """The step called ``name``; ``KeyError`` naming the known steps otherwise."""
        for s in self.steps:
            if s.name == name:
                return s
        raise KeyError(f"run {self.run.run_id} has no step {name!r}; steps: "
                       f"{[s.name for s in self.steps]}")


@dataclass(frozen=True, slots=True)
class Pipeline(_Model):
    """A pipeline as the cards view shows it."""

    name: str
    kind: str = "batch"
    schedule: str | None = None
    timezone: str | None = None
    next_run_at: datetime | None = None
    latest_run: Run | None = None
    recent_runs: tuple[Run, ...] = ()
    """The last (up to) 10 runs, oldest first."""
    median_duration_ms: int | None = None
    failure_rate_7d: float | None = None
    total_runs: int | None = None
    paused: bool = False
    streaming_stats: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def is_streaming(self) -> bool:
        """True for a streaming pipeline (shown LIVE rather than with a next fire)."""
        return self.kind == "streaming"


@dataclass(frozen=True, slots=True)
class RunPage(_Model):
    """One page of ``runs()``: the rows, the total that match, and where the next page starts."""

    runs: tuple[Run, ...]
    total: int
    next_offset: int | None = None
    next_cursor: str | None = None
    """Where a runner that pages by keyset (ours) says the next page starts: one index
    seek however deep. None on the last page and on runners without cursors."""


def _duration(start: datetime | None, end: datetime | None) -> int | None:
    if start is None or end is None:
        return None
    return int((end - start).total_seconds() * 1000)


def as_dict(model: Any) -> dict[str, Any]:
    """A dataclass model as a plain dict (helper for tests and debugging)."""
    return _jsonable(asdict(model))
