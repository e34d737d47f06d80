"""The scheduler: cron fires become runs, requested runs go to the executor.

Every tick (``tick_s``, default 1 s) it

1. heartbeats (so other processes can tell this runner is alive), recovers the runs of
   dead peers (``stale_after_s``, see :class:`~flowwidgets.runner._local.LocalRunner`) and
   gives up runs a peer recovered from this runner (``after_beat``),
2. for each pipeline with a ``schedule``, computes the cron fires due since its last tick
   (in the pipeline's ``timezone``; on its first tick only the latest fire, and only if it
   is less than one tick old: history is never replayed), claims each with
   ``store.claim_schedule_fire`` and creates a run for the fires it won,
3. claims ``requested`` runs of the pipelines it knows while the executor has capacity.

Claims are transactions in the run log, so two schedulers (two processes) on one SQLite
file create one run per fire and execute each requested run once. A process that dies
between winning a fire and creating its run loses that fire (documented, not retried).

Cron and daylight saving time: fires are computed on the pipeline's wall clock. A fire
whose wall time falls in a spring-forward gap happens once, at the end of the gap; in a
fall-back overlap a fixed-hour expression (``30 1 * * *``) fires once, at the first
occurrence, while an every-hour expression (``0 * * * *``) fires in both hours.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from croniter import croniter

from flowwidgets.runner.spec import Pipelines, PipelineSpec
from flowwidgets.runner.store import RunLog, RunRecord

__all__ = ["Scheduler", "cron_fires", "next_fire"]

log = logging.getLogger(__name__)

MAX_CATCH_UP = 10
"""Most fires of one pipeline created by a single tick (after the process was suspended,
say): the latest ones; older missed fires are skipped."""


@lru_cache(maxsize=256)
def _every_hour(expr: str) -> bool:
    return croniter(expr).expanded[1] == ["*"]


def _is_repeat(fire: datetime, tz: ZoneInfo) -> bool:
    """True for the second occurrence of an ambiguous wall time (fall-back overlap)."""
    wall = fire.replace(tzinfo=None)
    first = wall.replace(tzinfo=tz, fold=0)
    second = wall.replace(tzinfo=tz, fold=1)
    if first.utcoffset() == second.utcoffset():
        return False
    if first.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != wall:
        return False  # a gap, not an overlap
    return fire.astimezone(UTC) == second.astimezone(UTC)


def _fires(expr: str, timezone: str, after: datetime) -> Iterator[datetime]:
    """Fires strictly after ``after``, as aware UTC datetimes, forever."""
    tz = ZoneInfo(timezone)
    keep_repeats = _every_hour(expr)
    it = croniter(expr, after.astimezone(tz))
    last: datetime | None = None
    while True:
        fire = it.get_next(datetime)
        if not keep_repeats and _is_repeat(fire, tz):
            continue
        utc = fire.astimezone(UTC)
        if last is not None and utc <= last:
            continue
        last = utc
        yield utc


def cron_fires(expr: str, timezone: str, after: datetime, until: datetime) -> list[datetime]:
    """Fires of ``expr`` (on ``timezone``'s wall clock) in ``(after, until]``, as aware
    UTC datetimes, oldest first."""
    out: list[datetime] = []
    if until <= after:
        return out
    for fire in _fires(expr, timezone, after):
        if fire > until:
            break
        out.append(fire)
    return out


def next_fire(expr: str, timezone: str, after: datetime) -> datetime:
    """The first fire of ``expr`` strictly after ``after``, as an aware UTC datetime."""
    return next(_fires(expr, timezone, after))


class Scheduler:
    """Turns cron fires into runs and feeds requested runs to ``dispatch``.

    ``dispatch(run)`` receives each claimed run; ``has_capacity()`` says whether to claim
    another; ``heartbeat()`` writes this runner's heartbeat (default
    ``store.heartbeat(worker_id)``). :meth:`start` runs ticks on a thread; :meth:`tick`
    runs one in the caller's.
    """

    def __init__(self, pipelines: Pipelines, store: RunLog, *, worker_id: str,
                 dispatch: Callable[[RunRecord], object], has_capacity: Callable[[], bool],
                 tick_s: float = 1.0, stale_after_s: float | None = None,
                 after_beat: Callable[[], object] | None = None,
                 housekeeping: Callable[[], object] | None = None,
                 heartbeat: Callable[[], object] | None = None):
        if tick_s <= 0:
            raise ValueError(f"tick_s must be positive, got {tick_s}")
        self.pipelines = pipelines
        self.store = store
        self.worker_id = worker_id
        self.tick_s = tick_s
        self.stale_after_s = stale_after_s
        """Recover peers' runs whose heartbeat is this old every tick (None: never)."""
        self._after_beat = after_beat
        self._dispatch = dispatch
        self._has_capacity = has_capacity
        self._housekeeping = housekeeping
        self._heartbeat = heartbeat or (lambda: store.heartbeat(worker_id))
        self._last_tick: datetime | None = None
        self._tick_lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    # ---- cron --------------------------------------------------------------------------

    def next_run_at(self, pipeline: PipelineSpec, now: datetime | None = None
                    ) -> datetime | None:
        """The pipeline's next fire after ``now`` as aware UTC (None: no schedule, or
        streaming)."""
        if pipeline.schedule is None or pipeline.kind == "streaming":
            return None
        now = _aware(now or datetime.now(UTC))
        return next_fire(pipeline.schedule, pipeline.timezone, now)

    def due_fires(self, pipeline: PipelineSpec, now: datetime) -> list[datetime]:
        """Fires of ``pipeline`` due at ``now`` given the last tick (see the module)."""
        if pipeline.schedule is None or pipeline.kind == "streaming":
            return []
        if self._last_tick is None:
            recent = cron_fires(pipeline.schedule, pipeline.timezone,
                                now - timedelta(seconds=self.tick_s), now)
            return recent[-1:]
        fires = cron_fires(pipeline.schedule, pipeline.timezone, self._last_tick, now)
        return fires[-MAX_CATCH_UP:]

    def fire_due(self, now: datetime) -> list[str]:
        """Create runs for the fires due at ``now`` that this scheduler wins; their ids."""
        created: list[str] = []
        for pipeline in self.pipelines:
            for fire in self.due_fires(pipeline, now):
                if not self.store.claim_schedule_fire(pipeline.name, fire):
                    continue
                run_id, _ = self.store.create_run(
                    pipeline=pipeline.name, kind=pipeline.kind,
                    steps=[(s.name, s.depends_on) for s in pipeline.steps],
                    trigger="schedule", scheduled_for=fire,
                    idempotency_key=f"schedule:{pipeline.name}:{fire.isoformat()}")
                created.append(run_id)
        return created

    # ---- ticks ---------------------------------------------------------------------------

    def tick(self, now: datetime | None = None) -> list[str]:
        """One tick: heartbeat, cron fires due since the last tick, housekeeping, claim
        requested runs.
        Returns the ids of the runs it created from cron fires."""
        with self._tick_lock:
            now = _aware(now or datetime.now(UTC))
            self._heartbeat()
            if self.stale_after_s is not None:  # our own beat is fresh: only peers' runs
                recovered = self.store.recover_interrupted(stale_after_s=self.stale_after_s)
                if recovered:
                    log.warning("recovered %d run(s) of dead runners: %s", len(recovered),
                                ", ".join(recovered))
            if self._after_beat is not None:
                self._after_beat()
            if self._last_tick is not None and now < self._last_tick:
                self._last_tick = now  # the clock went back: do not replay
            created = self.fire_due(now)
            self._last_tick = now
        if self._housekeeping is not None:  # e.g. runs cancelled by another process
            self._housekeeping()
        self.claim()
        return created

    def claim(self) -> int:
        """Claim requested runs of our pipelines while there is capacity; how many."""
        names = list(self.pipelines.names)
        claimed = 0
        while names and self._has_capacity():
            run = self.store.claim_requested(self.worker_id, pipelines=names)
            if run is None:
                break
            claimed += 1
            self._dispatch(run)
        return claimed

    def wake(self) -> None:
        """Claim soon (a run was requested, or capacity freed up), without waiting for the
        next tick."""
        self._wake.set()

    # ---- thread --------------------------------------------------------------------------

    def start(self) -> None:
        """Tick on a background thread until :meth:`stop`."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._loop, name="flowwidgets-scheduler",
                                        daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10) -> None:
        """Stop ticking and join the thread."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _loop(self) -> None:
        next_tick = 0.0
        while not self._stop.is_set():
            self._wake.clear()
            started = time.monotonic()
            try:
                if started >= next_tick:
                    next_tick = started + self.tick_s
                    self.tick()
                else:
                    self.claim()
            except Exception:  # a locked file, a full disk: log and try again next tick
                log.exception("scheduler tick failed (worker %s)", self.worker_id)
            self._wake.wait(max(0.0, next_tick - time.monotonic()))


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError(f"expected an aware datetime, got naive {value.isoformat()}")
    return value.astimezone(UTC)
