"""The run log: the runner's records and the abstract store that keeps them.

Shaped after Dagster's run storage, smaller: one abstract :class:`RunLog` whose docstrings
say what each method raises; :class:`~flowwidgets.runner.sqlite.SqliteRunLog` (WAL) is the
implementation. The status column of each table is authoritative.

Every write bumps :meth:`RunLog.version` and appends an :class:`Event`, so the API can
answer conditional GETs (ETag = version) and stream changes (server-sent events) even
when another process wrote them. Old events are trimmed (retention); a listener whose
position is older than :meth:`RunLog.events_trimmed_through` has missed some.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from flowwidgets.models import Status
from flowwidgets.runner._fast_init import fast_init

__all__ = [
    "AttemptRecord",
    "ClaimLost",
    "Event",
    "NO_OUTPUT",
    "PipelineStats",
    "RUN_SUMMARY_FIELDS",
    "RunLog",
    "RunRecord",
    "StepRecord",
    "StatusSteps",
    "StepState",
    "Watermark",
]


RUN_SUMMARY_FIELDS = (
    "run_id", "pipeline", "status", "started_at", "finished_at", "duration_ms", "attempt",
    "failed_step", "kind", "created_at", "trigger", "parent_run_id",
)
"""Keys of a run summary as :meth:`RunLog.list_run_summaries` returns it (and the API's
``/api/runs`` lists it), in this order."""

_MS = timedelta(milliseconds=1)


class _NoOutput:
    def __repr__(self) -> str:
        return "NO_OUTPUT"


NO_OUTPUT: Any = _NoOutput()
"""``finish_attempt(..., output=NO_OUTPUT)``: the attempt stores no output (the default;
``None`` is an output, JSON ``null``)."""


def _whole_ms(start: datetime | None, end: datetime | None) -> int | None:
    # exact integer division: int(total_seconds() * 1000) is 1 ms short for ~1% of values
    if start is None or end is None:
        return None
    return (end - start) // _MS


@fast_init
@dataclass(frozen=True, slots=True)
class RunRecord:
    """One run of a pipeline."""

    run_id: str
    pipeline: str
    kind: str
    status: Status
    trigger: str
    """schedule | manual | run_now | restart | rerun | resume"""
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    attempt: int = 1
    """Highest attempt number any step of this run reached (ematix-flow's ``attempt``)."""
    failed_step: str | None = None
    error: str | None = None
    failed_watermark: str | None = None
    parent_run_id: str | None = None
    from_step: str | None = None
    resume_watermark: str | None = None
    scheduled_for: datetime | None = None
    worker: str | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def duration_ms(self) -> int | None:
        """Wall time from start to finish in whole milliseconds, None until finished."""
        return _whole_ms(self.started_at, self.finished_at)


@fast_init
@dataclass(frozen=True, slots=True)
class StepRecord:
    """A step's state within one run."""

    run_id: str
    name: str
    status: Status
    depends_on: tuple[str, ...] = ()
    position: int = 0
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: str | None = None
    attempts: int = 0
    reused_from: str | None = None
    """Set when a restart reused this step's stored output from an earlier run."""

    @property
    def duration_ms(self) -> int | None:
        """Wall time from first start to finish in whole milliseconds, None until finished."""
        return _whole_ms(self.started_at, self.finished_at)


@fast_init
@dataclass(frozen=True, slots=True)
class AttemptRecord:
    """One try of one step."""

    run_id: str
    step: str
    number: int
    status: Status
    started_at: datetime
    finished_at: datetime | None = None
    error: str | None = None
    log_tail: str | None = None


class StepState(NamedTuple):
    """One step as flowtoy's ``/status`` shows it: times in epoch milliseconds, the keys
    of its stored output when that is an object and the step succeeded (else empty)."""

    name: str
    status: str
    started_ms: int | None
    finished_ms: int | None
    error: str | None
    output_keys: list[str]


class StatusSteps(NamedTuple):
    """flowtoy's ``steps`` object of one run (keyed by step name, in step order; values
    may hold ``orjson.Fragment`` JSON), with the counts ``/status`` shows beside it."""

    steps: dict[str, Any]
    total: int
    completed: int
    running: list[str]


def _epoch_ms(value: datetime | None) -> int | None:
    if value is None:
        return None
    return (value - _EPOCH) // _MS


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Watermark:
    """The last position a streaming pipeline committed."""

    pipeline: str
    value: str
    run_id: str
    committed_at: datetime
    rows_total: int = 0
    batches_total: int = 0


@dataclass(frozen=True, slots=True)
class PipelineStats:
    """Statistics over a pipeline's whole history (computed in SQL)."""

    pipeline: str
    total_runs: int
    latest_run: RunRecord | None
    recent_runs: tuple[RunRecord, ...]
    """Last 10 runs, oldest first."""
    median_duration_ms: int | None
    failure_rate_7d: float | None
    """Failed / (succeeded + failed) runs created in the last 7 days; None when there were none."""


@dataclass(frozen=True, slots=True)
class Event:
    """A change in the run log, for the push channel."""

    id: int
    kind: str
    """run | step | attempt | watermark"""
    run_id: str
    pipeline: str
    status: str | None
    step: str | None
    at: datetime


class ClaimLost(RuntimeError):
    """A fenced write to a run its worker no longer holds (a peer recovered it while
    this runner was paused or cut off): nothing was written."""


class RunLog(ABC):
    """Abstract run log. Implementations must be safe for several threads and processes."""

    def fenced(self, worker: str) -> RunLog:
        """This log, with every write to a run (steps, attempts, outputs, watermarks, its
        end) checked in the writing transaction against the run's claim: the run must
        still be ``running`` and owned by ``worker``, else :class:`ClaimLost` and nothing
        is written. The default implementation does not fence."""
        return self

    # ---- runs --------------------------------------------------------------------------

    @abstractmethod
    def create_run(
        self,
        *,
        pipeline: str,
        kind: str,
        steps: Sequence[tuple[str, Sequence[str]]],
        trigger: str,
        parent_run_id: str | None = None,
        from_step: str | None = None,
        reused: Mapping[str, str] | None = None,
        resume_watermark: str | None = None,
        idempotency_key: str | None = None,
        scheduled_for: datetime | None = None,
        idempotency_request: str | None = None,
    ) -> tuple[str, bool]:
        """Record a new ``requested`` run with its steps (``pending``, or ``succeeded`` with
        ``reused_from`` for the steps named in ``reused`` → source run id; their outputs are
        copied). Returns ``(run_id, created)``; with an ``idempotency_key`` already used,
        returns the existing run's id and ``False`` and changes nothing. The key is bound
        to ``idempotency_request`` (what was asked, as text): the same key with another
        request raises :class:`~flowwidgets.errors.Unprocessable` naming both."""

    @abstractmethod
    def claim_requested(self, worker: str, pipelines: Sequence[str] | None = None
                        ) -> RunRecord | None:
        """Atomically move the oldest ``requested`` run (of ``pipelines`` if given) to
        ``running`` owned by ``worker``; exactly one caller across processes gets each run.
        Returns None when there is nothing to claim."""

    @abstractmethod
    def finish_run(self, run_id: str, *, status: Status, failed_step: str | None = None,
                   error: str | None = None, failed_watermark: str | None = None) -> None:
        """Mark a run terminal (a cancelled run stays as it is). Raises ``KeyError`` for
        an unknown run."""

    @abstractmethod
    def cancel_run(self, run_id: str, *, by: str | None = None) -> RunRecord:
        """Mark a ``requested``, ``running`` or ``paused`` run ``cancelled`` in one
        transaction: its running steps and open attempts become ``cancelled`` too, and
        ``extras`` records ``cancelled_by``, ``cancelled_at`` and ``cancelled_while`` (the
        status it had). Afterwards :meth:`finish_run`, :meth:`finish_attempt` and
        :meth:`set_step_status` leave the run as it is (a worker still winding down its
        steps cannot overwrite the cancel). Returns the cancelled record. Raises
        ``KeyError`` for an unknown run and ``ValueError`` (naming its status) for a run
        that has already finished."""

    @abstractmethod
    def child_runs(self, run_id: str) -> list[RunRecord]:
        """Runs started from ``run_id`` (its restarts, reruns and resumes: their
        ``parent_run_id``), oldest first; empty for an unknown run."""

    @abstractmethod
    def get_run(self, run_id: str) -> RunRecord | None:
        """The run, or None."""

    @abstractmethod
    def list_runs(self, *, pipeline: str | None = None, status: str | None = None,
                  limit: int = 50, offset: int = 0, since: datetime | None = None
                  ) -> tuple[list[RunRecord], int]:
        """A page of runs, newest first (by created time), and the total that match."""

    @abstractmethod
    def list_run_summaries(self, *, pipeline: str | None = None, status: str | None = None,
                           limit: int = 50, offset: int = 0,
                           after: tuple[str, str] | None = None
                           ) -> tuple[list[dict[str, Any]], int]:
        """The page :meth:`list_runs` would return, as JSON-ready summaries (keys
        :data:`RUN_SUMMARY_FIELDS`; times ISO-8601 UTC with milliseconds and ``Z``, the
        status as its word; ``error_summary``, the error's last line; ``"imported": True``
        added for a run whose extras say so), and
        the total that match. The fast path of ``/api/runs``. ``after`` is a keyset
        cursor: (``created_at``, ``run_id``) of the last summary of the previous page."""

    def encoded_run_summaries(self, *, pipeline: str | None = None,
                              status: str | None = None, limit: int = 50, offset: int = 0,
                              after: tuple[str, str] | None = None
                              ) -> tuple[list[str], int] | None:
        """:meth:`list_run_summaries` with each summary as JSON text (equal to the
        dict's JSON), built by the store itself, or None (this default) when it cannot:
        ``/api/runs`` then encodes the dicts."""
        return None

    # ---- steps and attempts ------------------------------------------------------------

    @abstractmethod
    def get_steps(self, run_id: str) -> list[StepRecord]:
        """The run's steps in declaration order (empty for an unknown run)."""

    @abstractmethod
    def start_attempt(self, run_id: str, step: str) -> int:
        """Mark the step running and open its next attempt; returns the attempt number
        (0 when the run is cancelled: nothing is recorded and the step must not run)."""

    @abstractmethod
    def finish_attempt(self, run_id: str, step: str, number: int, *, status: Status,
                       error: str | None = None, log_tail: str | None = None,
                       output: Any = NO_OUTPUT, start: Sequence[str] = ()) -> list[int]:
        """Close an attempt. The step takes the attempt's status when it is final
        (succeeded, or failed with no retry left: the executor says so by calling
        :meth:`set_step_status`). An ``output`` is saved with it, atomically
        (``TypeError`` and nothing written if it is not JSON-serialisable). The steps
        named in ``start`` are then started as by :meth:`start_attempt`, atomically with
        the rest; returns their attempt numbers (0 each when the run is cancelled)."""

    @abstractmethod
    def set_step_status(self, run_id: str, step: str, status: Status,
                        error: str | None = None) -> None:
        """Set a step's status (and finish time when terminal)."""

    def step_states(self, run_id: str) -> list[StepState]:
        """A :class:`StepState` per step of the run, in declaration order (empty for an
        unknown run): what flowtoy's ``/status`` shows. Implementations should answer
        in one query; this default reads the steps and each succeeded step's output."""
        out: list[StepState] = []
        for s in self.get_steps(run_id):
            keys: list[str] = []
            if s.status == Status.SUCCEEDED:
                try:
                    value = self.load_output(run_id, s.name)
                except KeyError:
                    value = None
                keys = [str(k) for k in value] if isinstance(value, dict) else []
            out.append(StepState(s.name, str(s.status), _epoch_ms(s.started_at),
                                 _epoch_ms(s.finished_at), s.error, keys))
        return out

    def status_steps(self, run_id: str) -> StatusSteps | None:
        """The run's steps as flowtoy's ``/status`` encodes them, built by the store
        itself, or None (this default) when it cannot: the route then builds them from
        :meth:`step_states`. Must equal what that builds."""
        return None

    @abstractmethod
    def get_attempts(self, run_id: str, step: str | None = None) -> list[AttemptRecord]:
        """Attempts of a run (or one step), ordered by step position then number."""

    # ---- outputs and watermarks --------------------------------------------------------

    @abstractmethod
    def save_output(self, run_id: str, step: str, value: Any) -> None:
        """Store a step's JSON-serialisable output (``TypeError`` if it is not)."""

    @abstractmethod
    def load_output(self, run_id: str, step: str) -> Any:
        """A stored output; ``KeyError`` if the step has none."""

    @abstractmethod
    def commit_watermark(self, run_id: str, pipeline: str, value: str, rows: int = 0) -> None:
        """Record a streaming pipeline's new watermark and the rows processed since the
        previous commit."""

    @abstractmethod
    def last_watermark(self, pipeline: str) -> Watermark | None:
        """The pipeline's newest committed watermark, or None."""

    @abstractmethod
    def watermark_at(self, pipeline: str, at: datetime) -> Watermark | None:
        """The pipeline's newest commit made at or before ``at`` (its running totals as
        they were then), or None when it had committed nothing by then."""

    @abstractmethod
    def first_watermark(self, pipeline: str) -> Watermark | None:
        """The pipeline's oldest commit, or None."""

    # ---- scheduling and recovery -------------------------------------------------------

    @abstractmethod
    def claim_schedule_fire(self, pipeline: str, fire_at: datetime) -> bool:
        """True for exactly one caller per (pipeline, fire time), across processes."""

    @abstractmethod
    def heartbeat(self, worker: str, *, wait_s: float | None = None) -> None:
        """Say ``worker`` is alive (called every scheduler tick). ``wait_s``: raise
        rather than wait longer than this for another writer (None: the store's own
        wait)."""

    @abstractmethod
    def recover_interrupted(self, *, stale_after_s: float) -> list[str]:
        """Mark ``running`` runs whose worker is gone (dead pid on this host, or no
        heartbeat for ``stale_after_s``) as failed with "runner interrupted", their running
        step and its open attempt too; returns the run ids."""

    # ---- reading for the API -----------------------------------------------------------

    @abstractmethod
    def pipeline_stats(self, pipelines: Sequence[str], *, now: datetime
                       ) -> dict[str, PipelineStats]:
        """Statistics over the whole history of each named pipeline (plus any other
        pipeline that has runs)."""

    @abstractmethod
    def version(self) -> int:
        """A number that grows with every write (cheap: drives ETags)."""

    @abstractmethod
    def last_event_id(self) -> int:
        """The id of the newest event (0 when there is none): where a new listener starts."""

    @abstractmethod
    def events_since(self, event_id: int, limit: int = 500) -> list[Event]:
        """Events with id greater than ``event_id``, oldest first."""

    def on_commit(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback()`` (from the writing thread, right after the commit) whenever
        a write of this process appends events; returns the function that stops it.
        Listeners use it to wake at once instead of polling; writes of other processes
        are only seen by polling. The default never calls back."""
        return lambda: None

    @abstractmethod
    def events_trimmed_through(self) -> int:
        """The highest event id that retention deleted (0 when none was). A listener
        that last saw an event older than this has missed events and must re-read."""

    @abstractmethod
    def close(self) -> None:
        """Release connections."""
