"""The scheduler: cron fires in a timezone across DST changes, first-tick behaviour,
exactly-once fires and claims with two schedulers (two real processes)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from fwx_support import FIXTURES, call, pipelines

from flowwidgets.models import Status
from flowwidgets.runner.scheduler import Scheduler, cron_fires, next_fire
from flowwidgets.runner.spec import PipelineSpec
from flowwidgets.runner.sqlite import SqliteRunLog
from flowwidgets.runner.store import RunRecord


def utc(*args):
    return datetime(*args).replace(tzinfo=UTC)


def test_daily_fire_follows_the_wall_clock_across_dst_end():
    fires = cron_fires("0 9 * * *", "America/New_York", utc(2026, 10, 30), utc(2026, 11, 3))
    assert fires == [utc(2026, 10, 30, 13), utc(2026, 10, 31, 13),  # EDT, UTC-4
                     utc(2026, 11, 1, 14), utc(2026, 11, 2, 14)]  # EST, UTC-5


def test_fixed_time_in_the_spring_gap_fires_once_when_the_gap_ends():
    fires = cron_fires("30 2 * * *", "Europe/Berlin", utc(2026, 3, 27), utc(2026, 3, 31))
    # 2026-03-29 02:30 does not exist in Berlin: that day fires at 03:00 CEST (01:00Z)
    assert fires == [utc(2026, 3, 27, 1, 30), utc(2026, 3, 28, 1, 30), utc(2026, 3, 29, 1),
                     utc(2026, 3, 30, 0, 30)]


def test_fixed_time_in_the_fall_overlap_fires_once():
    fires = cron_fires("30 2 * * *", "Europe/Berlin", utc(2026, 10, 23), utc(2026, 10, 27))
    # 2026-10-25 02:30 happens twice in Berlin: only the first (CEST, 00:30Z) fires
    assert fires == [utc(2026, 10, 23, 0, 30), utc(2026, 10, 24, 0, 30),
                     utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)]
    # started inside the overlap, after the first 02:30: no second fire that day
    inside = cron_fires("30 2 * * *", "Europe/Berlin", utc(2026, 10, 25, 0, 45),
                        utc(2026, 10, 26, 12))
    assert inside == [utc(2026, 10, 26, 1, 30)]


def test_hourly_fires_every_real_hour_across_both_changes():
    fall = cron_fires("0 * * * *", "Europe/Berlin", utc(2026, 10, 24, 22), utc(2026, 10, 25, 22))
    assert len(fall) == 24 and len(set(fall)) == 24  # the 25-hour local day, every UTC hour
    assert fall == [utc(2026, 10, 24, 23) + timedelta(hours=i) for i in range(24)]
    spring = cron_fires("0 * * * *", "Europe/Berlin", utc(2026, 3, 28, 23), utc(2026, 3, 29, 22))
    assert spring == [utc(2026, 3, 29, 0) + timedelta(hours=i) for i in range(23)]


def test_next_fire_and_window_bounds():
    assert next_fire("0 9 * * *", "America/New_York", utc(2026, 11, 1, 14)) == utc(2026, 11, 2,
                                                                                  14)
    assert cron_fires("0 9 * * *", "UTC", utc(2026, 1, 1, 9), utc(2026, 1, 1, 9)) == []
    assert cron_fires("0 9 * * *", "UTC", utc(2026, 1, 1, 8), utc(2026, 1, 1, 9)) == [
        utc(2026, 1, 1, 9)]  # (after, until]


NY = PipelineSpec("ny", schedule="0 9 * * *", timezone="America/New_York",
                  steps=(call("x", "one"),))
STREAM = PipelineSpec("st", kind="streaming", schedule="* * * * *", steps=(call("x", "one"),))


@pytest.fixture
def store(tmp_path):
    with SqliteRunLog(tmp_path / "runs.sqlite") as log:
        yield log


def _scheduler(store, *specs, worker="w1", tick_s=60.0, dispatched=None):
    return Scheduler(pipelines(*specs), store, worker_id=worker, tick_s=tick_s,
                     dispatch=(dispatched.append if dispatched is not None else None),
                     has_capacity=lambda: dispatched is not None)


def test_first_tick_fires_only_a_fire_within_one_tick(store):
    late = _scheduler(store, NY)
    assert late.tick(utc(2026, 11, 2, 14, 1, 1)) == []  # 61 s after 09:00 EST: not replayed
    on_time = _scheduler(store, NY, worker="w2")
    (run_id,) = on_time.tick(utc(2026, 11, 2, 14, 0, 30))
    run = store.get_run(run_id)
    assert (run.trigger, run.scheduled_for, run.status) == (
        "schedule", utc(2026, 11, 2, 14), Status.REQUESTED)


def test_ticks_create_one_run_per_fire_across_dst(store):
    s = _scheduler(store, NY, STREAM)
    t = utc(2026, 10, 30, 12)
    created = []
    while t < utc(2026, 11, 3, 12):
        created += s.tick(t)
        t += timedelta(minutes=47)
    fires = sorted(store.get_run(r).scheduled_for for r in created)
    assert fires == [utc(2026, 10, 30, 13), utc(2026, 10, 31, 13), utc(2026, 11, 1, 14),
                     utc(2026, 11, 2, 14)]
    assert {store.get_run(r).pipeline for r in created} == {"ny"}  # streaming: never
    other = _scheduler(store, NY, worker="w2")  # a second scheduler over the same window
    other.tick(utc(2026, 10, 31, 12, 59, 30))
    assert other.tick(utc(2026, 11, 3, 12)) == []  # every fire was already claimed
    assert store.list_runs()[1] == 4


def test_tick_heartbeats_and_claims_while_there_is_capacity(store, tmp_path):
    for _ in range(3):
        store.create_run(pipeline="ny", kind="batch", trigger="run_now", steps=[("x", [])])
    store.create_run(pipeline="unknown", kind="batch", trigger="run_now", steps=[("x", [])])
    dispatched: list[RunRecord] = []
    s = _scheduler(store, NY, dispatched=dispatched)
    s._has_capacity = lambda: len(dispatched) < 2
    s.tick(utc(2026, 11, 2, 12))
    assert [r.status for r in dispatched] == [Status.RUNNING] * 2
    assert all(r.worker == "w1" and r.pipeline == "ny" for r in dispatched)
    with sqlite3.connect(tmp_path / "runs.sqlite") as db:
        assert db.execute("SELECT id FROM workers").fetchall() == [("w1",)]
    db.close()
    s._has_capacity = lambda: True
    assert s.claim() == 1  # the unknown pipeline's run is left for another runner
    assert store.list_runs(status="requested")[0][0].pipeline == "unknown"


def test_streaming_and_unscheduled_pipelines_have_no_next_run(store):
    s = _scheduler(store, NY, STREAM)
    assert s.next_run_at(STREAM, utc(2026, 1, 1)) is None
    assert s.next_run_at(PipelineSpec("p", steps=(call("x", "one"),)), utc(2026, 1, 1)) is None
    assert s.next_run_at(NY, utc(2026, 7, 1)) == utc(2026, 7, 1, 13)


def test_two_scheduler_processes_fire_once_and_execute_each_run_once(tmp_path):
    db = tmp_path / "shared.sqlite"
    with SqliteRunLog(db) as store:
        queued = [store.create_run(pipeline="queued", kind="batch", trigger="run_now",
                                   steps=[("work", [])])[0] for _ in range(30)]
    script = FIXTURES / "fwx_runner_proc.py"
    procs = [subprocess.Popen([sys.executable, str(script), "sched", str(db), str(tmp_path),
                               "3.0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, cwd=FIXTURES)
             for _ in range(2)]
    outs = [p.communicate(timeout=60) for p in procs]
    for p, (out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err
        assert out.startswith("worker ")
    with SqliteRunLog(db) as store:
        runs, _ = store.list_runs(limit=1000)
        ticks = [r for r in runs if r.pipeline == "ticker"]
        by_id = {r.run_id: r for r in runs}
        assert all(by_id[q].status is Status.SUCCEEDED for q in queued)
        workers = {by_id[q].worker for q in queued}
    names = (tmp_path / "executions.log").read_text().split()
    assert names.count("work") == 30  # each requested run executed exactly once
    fires = [r.scheduled_for for r in ticks]
    assert len(ticks) >= 2 and len(set(fires)) == len(fires)  # one run per fire
    assert all(f.microsecond == 0 for f in fires)
    assert names.count("tick") == sum(r.status is Status.SUCCEEDED for r in ticks)
    with sqlite3.connect(db) as conn:
        (claimed,) = conn.execute(
            "SELECT COUNT(*) FROM schedule_fires WHERE pipeline = 'ticker'").fetchone()
    conn.close()
    assert claimed == len(ticks)
    assert len(workers) == 2, "both processes should have claimed some of the 30 runs"
    fires.sort()
    assert fires == [fires[0] + timedelta(seconds=i) for i in range(len(fires))]  # no gap
