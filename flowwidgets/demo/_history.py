"""Two weeks of made-up history for the demo pipelines, imported through the run log's
import path (:meth:`~flowwidgets.runner.sqlite.SqliteRunLog.import_runs`) so every view
has something to show on first open.

It is marked honestly: every imported run's id starts with ``imported-`` and its
``extras`` say ``{"imported": true}``, which the status API reports as ``"imported":
true`` and the views show. The real runs the demo then makes sit on top.

What is in it (deterministic for a given ``now``):

- every scheduled pipeline at its cron times over ``days`` days (warehouse_etl hourly,
  customers_sync every 15 minutes, the daily and weekly ones), durations with a daily
  pattern (busier, slower around midday UTC) and noise;
- a slow drift in one step: warehouse_etl's transform_payments gets about twice as slow
  over the two weeks, so the trend and the grid show it;
- retries: customers_sync's pull_customers times out on its first attempt now and then
  and succeeds on the second;
- failures of three causes (the first two as the real demo steps word them):
  merge_payments "amount column missing in batch N", pull_customers "CRM API timed out"
  on both attempts, summarise_revenue "database is locked";
- a restart chain: a failed warehouse run restarted from merge_payments, failing again,
  restarted again and succeeding (upstream steps reused);
- a streaming run: events_stream ran for days and was cancelled for a deploy, its rows and
  batches in its extras.
"""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from flowwidgets.models import Status
from flowwidgets.runner.store import AttemptRecord, RunRecord, StepRecord, Watermark

if TYPE_CHECKING:
    from flowwidgets.runner._local import LocalRunner
    from flowwidgets.runner.spec import Pipelines, PipelineSpec
    from flowwidgets.runner.store import RunLog

__all__ = ["DAYS", "PREFIX", "import_history", "make_history"]

DAYS = 14
"""Days of history the demo imports."""
PREFIX = "imported-"
"""Every imported run id starts with this."""
SEED = 14

# Typical seconds per step; the DAG and the names come from the pipelines file.
_BASE_S = {
    "extract_orders": 14, "transform_orders": 9, "transform_payments": 16,
    "merge_payments": 7, "load_warehouse": 11, "pull_customers": 6, "upsert_customers": 3,
    "count_stock": 20, "value_stock": 12, "write_snapshot": 4, "select_audience": 25,
    "compress_audience": 5, "summarise_revenue": 18, "publish_report": 2,
}
_DRIFT_STEP = "transform_payments"
_DRIFT = 1.0
_EVERY = {"warehouse_etl": timedelta(hours=1), "customers_sync": timedelta(minutes=15),
          "inventory_snapshot": timedelta(days=1), "revenue_report": timedelta(days=1),
          "marketing_export": timedelta(days=7)}
_ERRORS = {
    "merge_payments": "Traceback (most recent call last):\n  File \"{path}\", line 91, in "
                      "merge_payments\nValueError: amount column missing in batch {n}",
    "pull_customers": "ConnectionError: CRM API timed out (pull #{n}); retrying",
    "summarise_revenue": "sqlite3.OperationalError: database is locked (waited {n} ms)",
}


class _Builder:
    def __init__(self, now: datetime) -> None:
        self.now = now
        self.rng = random.Random(SEED)
        self.runs: list[RunRecord] = []
        self.steps: list[StepRecord] = []
        self.attempts: list[AttemptRecord] = []
        self.watermarks: list[Watermark] = []

    def seconds(self, step: str, at: datetime, start: datetime) -> float:
        base = _BASE_S.get(step, 5)
        day = 1 + 0.35 * math.sin((at.hour + at.minute / 60 - 6) / 24 * 2 * math.pi)
        drift = 1.0
        if step == _DRIFT_STEP:
            drift += _DRIFT * (at - start) / (self.now - start)
        return base * day * drift * self.rng.uniform(0.85, 1.2)

    def error(self, step: str, n: int) -> str:
        return _ERRORS[step].format(n=n, path="/srv/demo/jobs.py")

    def run(self, spec: PipelineSpec, run_id: str, at: datetime, *, start: datetime,
            trigger: str = "schedule", fail: str | None = None, retry: str | None = None,
            parent: RunRecord | None = None, from_step: str | None = None) -> RunRecord:
        """One batch run along the DAG (steps start when their dependencies finished)."""
        done: dict[str, datetime] = {}
        failed_at: str | None = None
        reused = set()
        if parent is not None and from_step is not None:
            reused = _upstream(spec, from_step)
        max_attempt, error, last = 1, None, at
        for pos, step in enumerate(_topo(spec)):
            deps = tuple(spec.step(step).depends_on)
            if step in reused:
                self.steps.append(StepRecord(run_id, step, Status.SUCCEEDED, deps, pos,
                                             reused_from=parent.run_id if parent else None))
                done[step] = at
                continue
            if failed_at is not None or any(d not in done for d in deps):
                self.steps.append(StepRecord(run_id, step, Status.PENDING, deps, pos))
                continue
            t = max([at, *(done[d] for d in deps)]) + timedelta(milliseconds=40)
            first = t
            tries = 2 if step in (fail, retry) and spec.step(step).retries else 1
            status = Status.SUCCEEDED
            for number in range(1, tries + 1):
                end = t + timedelta(seconds=self.seconds(step, t, start))
                bad = step == fail or (step == retry and number == 1)
                err = self.error(step, self.rng.randint(10, 99)) if bad else None
                self.attempts.append(AttemptRecord(
                    run_id, step, number, Status.FAILED if bad else Status.SUCCEEDED,
                    t, end, err))
                max_attempt = max(max_attempt, number)
                status, error = (Status.FAILED, err) if bad else (Status.SUCCEEDED, error)
                last = max(last, end)
                t = end + timedelta(seconds=spec.step(step).retry_delay_s if bad else 0)
            if status is Status.FAILED:
                failed_at = step
                self.steps.append(StepRecord(run_id, step, status, deps, pos, first, end,
                                             error, tries))
            else:
                self.steps.append(StepRecord(run_id, step, status, deps, pos, first, end,
                                             None, tries))
                done[step] = end
        finish = last + timedelta(milliseconds=60)
        rec = RunRecord(run_id=run_id, pipeline=spec.name, kind=spec.kind,
                        status=Status.FAILED if failed_at else Status.SUCCEEDED,
                        trigger=trigger, created_at=at, started_at=at, finished_at=finish,
                        attempt=max_attempt, failed_step=failed_at,
                        error=error if failed_at else None,
                        parent_run_id=parent.run_id if parent else None, from_step=from_step,
                        scheduled_for=at if trigger == "schedule" else None,
                        extras={"imported": True})
        self.runs.append(rec)
        return rec


def _topo(spec: PipelineSpec) -> list[str]:
    order: list[str] = []
    names = [s.name for s in spec.steps]
    while len(order) < len(names):
        for s in spec.steps:
            if s.name not in order and all(d in order for d in s.depends_on):
                order.append(s.name)
    return order


def _upstream(spec: PipelineSpec, step: str) -> set[str]:
    """Steps that are neither ``step`` nor downstream of it (a restart reuses them)."""
    down = {step}
    for name in _topo(spec):
        if any(d in down for d in spec.step(name).depends_on):
            down.add(name)
    return {s.name for s in spec.steps} - down


def make_history(pipelines: Pipelines, now: datetime, days: int = DAYS
                 ) -> tuple[list[RunRecord], list[StepRecord], list[AttemptRecord]]:
    """The records of ``days`` days of demo history ending an hour before ``now``."""
    b = _build(pipelines, now, days)
    return b.runs, b.steps, b.attempts


def _build(pipelines: Pipelines, now: datetime, days: int) -> _Builder:
    b = _Builder(now)
    start = now - timedelta(days=days)
    end = now - timedelta(hours=1)
    specs = {p.name: p for p in pipelines}
    for name, every in _EVERY.items():
        spec = specs.get(name)
        if spec is None:
            continue
        t = _first_fire(start, every, name)
        n = 0
        while t < end:
            n += 1
            rid = f"{PREFIX}{name}-{t:%Y%m%dT%H%M}"
            fail = retry = None
            if name == "warehouse_etl" and n % 53 == 17:
                fail = "merge_payments"
            elif name == "customers_sync":
                roll = b.rng.random()
                fail = "pull_customers" if roll < 0.006 else None
                retry = "pull_customers" if 0.006 <= roll < 0.07 else None
            elif name == "revenue_report" and n in (4, 11):
                fail = "summarise_revenue"
            rec = b.run(spec, rid, t, start=start, fail=fail, retry=retry)
            if name == "warehouse_etl" and n == 17 * 1 + 53 * 3:  # the restart chain
                _restart_chain(b, spec, rec, start)
            t += every
    events = specs.get("events_stream")
    if events is not None:
        _stream_runs(b, events, start, end)
    return b


def _first_fire(start: datetime, every: timedelta, name: str) -> datetime:
    base = start.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    if every >= timedelta(days=1):
        hour = {"inventory_snapshot": 12, "revenue_report": 17, "marketing_export": 9}[name]
        base = base.replace(hour=hour)
        if base < start:
            base += timedelta(days=1)
        if every == timedelta(days=7):
            base += timedelta(days=(7 - base.weekday()) % 7)  # Mondays
    return base


def _restart_chain(b: _Builder, spec: PipelineSpec, failed: RunRecord, start: datetime
                   ) -> None:
    """Restart from merge_payments 20 minutes later (fails again), then 45 (succeeds)."""
    assert failed.started_at is not None
    at = failed.started_at + timedelta(minutes=20)
    again = b.run(spec, f"{failed.run_id}-r1", at, start=start, trigger="restart",
                  fail="merge_payments", parent=failed, from_step="merge_payments")
    b.run(spec, f"{failed.run_id}-r2", at + timedelta(minutes=25), start=start,
          trigger="restart", parent=again, from_step="merge_payments")


def _stream_runs(b: _Builder, spec: PipelineSpec, start: datetime, end: datetime) -> None:
    """events_stream: one long run cancelled for a deploy, rows and batches in extras, and
    its watermark commits (one an hour, a batch of 25 events every 12 s; the watermark is
    the event offset, as the demo's stream commits it)."""
    began = start + timedelta(hours=2)
    stopped = began + timedelta(days=9, hours=5)
    batches = int((stopped - began).total_seconds() // 12)
    rid = f"{PREFIX}events_stream-{began:%Y%m%dT%H%M}"
    step = spec.steps[0].name
    b.steps.append(StepRecord(rid, step, Status.CANCELLED, (), 0, began, stopped, None, 1))
    b.attempts.append(AttemptRecord(rid, step, 1, Status.CANCELLED, began, stopped))
    b.runs.append(RunRecord(
        run_id=rid, pipeline=spec.name, kind="streaming", status=Status.CANCELLED,
        trigger="run_now", created_at=began, started_at=began, finished_at=stopped,
        extras={"imported": True, "rows_total": batches * 25, "batches_total": batches,
                "note": "stopped for a deploy"}))
    at, done = began, 0
    while done < batches:
        at = min(at + timedelta(hours=1), stopped)
        done = batches if at == stopped else int((at - began).total_seconds() // 12)
        b.watermarks.append(Watermark(spec.name, str(done * 25), rid, at,
                                      rows_total=done * 25, batches_total=done))


def import_history(target: LocalRunner | RunLog, pipelines: Pipelines | None = None, *,
                   now: datetime | None = None, days: int = DAYS) -> int:
    """Import ``days`` days of demo history into a runner's run log (its pipelines' names
    and DAGs), or into a run log for ``pipelines``, unless it holds imported runs already;
    returns the number of runs imported (0 when it had them). Call it before serving."""
    store: Any = getattr(target, "store", target)
    pipelines = pipelines if pipelines is not None else getattr(target, "pipelines", None)
    if pipelines is None:
        raise TypeError("import_history needs a LocalRunner, or a run log and its pipelines")
    if _has_imported(store):
        return 0
    importer = getattr(store, "import_runs", None)
    if importer is None:
        raise TypeError(f"{type(store).__name__} has no import_runs(): cannot import history")
    b = _build(pipelines, now or datetime.now(UTC), days)
    return int(importer(b.runs, b.steps, b.attempts, watermarks=b.watermarks))


def _has_imported(store: RunLog) -> bool:
    rows, total = store.list_runs(limit=1)
    if not total:
        return False
    # the weekly pipeline has few runs: its page holds the imported ones if any
    rows, _ = store.list_runs(pipeline="marketing_export", limit=500)
    return any(r.run_id.startswith(PREFIX) for r in rows)
