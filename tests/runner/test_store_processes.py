"""SqliteRunLog across processes: exactly-once claims of runs and schedule fires, several
processes creating one new file at once, and recovery of runs whose worker died."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from flowwidgets.models import Status
from flowwidgets.runner.sqlite import INTERRUPTED, SqliteRunLog

ROOT = Path(__file__).resolve().parents[2]
STEPS = [("fetch", []), ("load", ["fetch"])]

# Each child opens the log, says it is ready, waits for the "go" file so the children
# really overlap,
# does its part and prints a JSON list.
_PRELUDE = """
import json, os, sys, time
from datetime import UTC, datetime, timedelta
from flowwidgets.runner.sqlite import SqliteRunLog
db, go, name = sys.argv[1], sys.argv[2], sys.argv[3]
log = SqliteRunLog(db)
open(go + "." + name, "w").close()  # ready
while not os.path.exists(go):
    time.sleep(0.001)
"""

CLAIM_RUNS = _PRELUDE + """
got = []
while (run := log.claim_requested(name)) is not None:
    got.append(run.run_id)
    time.sleep(0.002)  # a worker runs what it claimed; leave the other one a window
log.close()
print(json.dumps(got))
"""

CLAIM_FIRES = _PRELUDE + """
base = datetime(2026, 11, 22, tzinfo=UTC)
import random
order = list(range(int(sys.argv[4])))
random.Random(name).shuffle(order)  # different orders: the two meet on contested fires
won = []
for i in order:
    if log.claim_schedule_fire("orders", base + timedelta(minutes=i)):
        won.append(i)
    time.sleep(0.001)
log.close()
print(json.dumps(won))
"""

CREATE_RUNS = _PRELUDE + """
ids, shared = [], []
for i in range(20):
    ids.append(log.create_run(pipeline=name, kind="batch", trigger="manual",
                              steps=[("a", [])])[0])
    shared.append(log.create_run(pipeline="once", kind="batch", trigger="schedule",
                                 steps=[("a", [])], idempotency_key=f"fire-{i}"))
log.close()
print(json.dumps([ids, shared]))
"""

DIE_MID_RUN = """
import sys
from flowwidgets.runner.sqlite import SqliteRunLog
log = SqliteRunLog(sys.argv[1])
log.heartbeat("doomed")
run = log.claim_requested("doomed", pipelines=["dies"])
log.start_attempt(run.run_id, "fetch")
log.close()
print(run.run_id)
"""


def _children(script: str, db: Path, tmp_path: Path, names: list[str], *extra: str
              ) -> list[Any]:
    go = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-c", script, str(db), str(go), name, *extra],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
             for name in names]
    deadline = time.monotonic() + 60
    while not all(Path(f"{go}.{name}").exists() for name in names):
        if time.monotonic() >= deadline or any(p.poll() is not None for p in procs):
            for p in procs:  # the others wait for the go file: stop them, then report
                if p.poll() is None:
                    p.kill()
            raise AssertionError("a child failed to start: " + "".join(
                p.communicate(timeout=30)[1] for p in procs))
        time.sleep(0.005)
    go.touch()
    results = []
    for p in procs:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
        results.append(json.loads(out))
    return results


def test_two_processes_claim_every_run_exactly_once(tmp_path):
    db = tmp_path / "runs.db"
    with SqliteRunLog(db) as log:
        ids = {log.create_run(pipeline=f"p{i % 3}", kind="batch", trigger="manual",
                              steps=STEPS)[0] for i in range(200)}
    a, b = _children(CLAIM_RUNS, db, tmp_path, ["wa", "wb"])
    print(f"claims split {len(a)} / {len(b)}")
    assert not set(a) & set(b)
    assert sorted(a + b) == sorted(ids)
    assert a and b, "the two processes did not overlap; the race was not exercised"
    with SqliteRunLog(db) as log:
        runs, total = log.list_runs(limit=1000)
        assert total == 200 and all(r.status is Status.RUNNING for r in runs)
        owner = {r.run_id: r.worker for r in runs}
        assert all(owner[i] == "wa" for i in a) and all(owner[i] == "wb" for i in b)
        assert len([e for e in log.events_since(0, limit=10_000)
                    if e.status == "running"]) == 200


def test_two_processes_claim_each_schedule_fire_once(tmp_path):
    db = tmp_path / "runs.db"
    SqliteRunLog(db).close()
    a, b = _children(CLAIM_FIRES, db, tmp_path, ["sa", "sb"], "200")
    print(f"fires split {len(a)} / {len(b)}")
    assert not set(a) & set(b)
    assert sorted(a + b) == list(range(200))
    assert a and b, "the two processes did not overlap; the race was not exercised"


def test_processes_create_one_new_file_together(tmp_path):
    """Three processes open a file that does not exist yet and create runs at once; the
    same idempotency keys from all three make one run each."""
    db = tmp_path / "fresh.db"
    results = _children(CREATE_RUNS, db, tmp_path, ["x", "y", "z"])
    with SqliteRunLog(db) as log:
        runs, total = log.list_runs(limit=100)
        once, n_once = log.list_runs(pipeline="once", limit=100)
    assert total == 80 and n_once == 20
    assert {r.run_id for r in runs} - {r.run_id for r in once} == {
        i for ids, _ in results for i in ids}
    for i in range(20):
        answers = [shared[i] for _, shared in results]
        assert len({run_id for run_id, _ in answers}) == 1
        assert sorted(created for _, created in answers) == [False, False, True]
    assert {r.run_id for r in once} == {shared[i][0] for i in range(20)
                                        for shared in [results[0][1]]}


def test_recover_run_of_dead_worker_process(tmp_path):
    db = tmp_path / "runs.db"
    with SqliteRunLog(db) as log:
        dead_run, _ = log.create_run(pipeline="dies", kind="batch", trigger="manual",
                                     steps=STEPS)
        live_run, _ = log.create_run(pipeline="lives", kind="batch", trigger="manual",
                                     steps=STEPS)
        queued, _ = log.create_run(pipeline="lives", kind="batch", trigger="manual",
                                   steps=STEPS)
        done = subprocess.run([sys.executable, "-c", DIE_MID_RUN, str(db)], text=True,
                              capture_output=True, timeout=60,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == dead_run  # its process has exited: pid is dead
        log.heartbeat("alive")
        assert log.claim_requested("alive", pipelines=["lives"]).run_id == live_run
        log.start_attempt(live_run, "fetch")
        before = {r: (log.get_run(r), log.get_steps(r)) for r in (live_run, queued)}

        assert log.recover_interrupted(stale_after_s=3600) == [dead_run]

        run = log.get_run(dead_run)
        assert run.status is Status.FAILED and run.error == INTERRUPTED
        assert run.failed_step == "fetch" and run.finished_at is not None
        fetch, load = log.get_steps(dead_run)
        assert (fetch.status, fetch.error) == (Status.FAILED, INTERRUPTED)
        assert load.status is Status.PENDING and load.error is None
        (attempt,) = log.get_attempts(dead_run)
        assert attempt.status is Status.FAILED and attempt.error == INTERRUPTED
        assert attempt.finished_at is not None
        # the live worker's run and the queued run are untouched
        assert {r: (log.get_run(r), log.get_steps(r)) for r in (live_run, queued)} == before
        assert log.recover_interrupted(stale_after_s=3600) == []


def test_recover_stale_heartbeat_only(tmp_path):
    with SqliteRunLog(tmp_path / "runs.db") as log:
        stale, _ = log.create_run(pipeline="a", kind="batch", trigger="manual", steps=STEPS)
        fresh, _ = log.create_run(pipeline="b", kind="batch", trigger="manual", steps=STEPS)
        log.heartbeat("sleepy")
        log.claim_requested("sleepy", pipelines=["a"])
        n = log.start_attempt(stale, "fetch")
        log.finish_attempt(stale, "fetch", n, status=Status.SUCCEEDED)
        log.start_attempt(stale, "load")
        time.sleep(0.25)
        log.heartbeat("busy")
        log.claim_requested("busy", pipelines=["b"])
        log.start_attempt(fresh, "fetch")
        # both workers are this (live) process: only the heartbeat's age tells them apart
        assert log.recover_interrupted(stale_after_s=0.2) == [stale]
        run = log.get_run(stale)
        assert run.status is Status.FAILED and run.failed_step == "load"
        fetch, load = log.get_steps(stale)
        assert fetch.status is Status.SUCCEEDED and fetch.error is None
        assert load.status is Status.FAILED and load.error == INTERRUPTED
        assert [a.status for a in log.get_attempts(stale)] == [Status.SUCCEEDED,
                                                               Status.FAILED]
        assert log.get_run(fresh).status is Status.RUNNING
        assert log.get_steps(fresh)[0].status is Status.RUNNING


def test_recover_run_whose_worker_never_beat(tmp_path):
    with SqliteRunLog(tmp_path / "runs.db") as log:
        run_id, _ = log.create_run(pipeline="a", kind="batch", trigger="manual", steps=STEPS)
        log.claim_requested("ghost")
        assert log.recover_interrupted(stale_after_s=3600) == []
        started = log.get_run(run_id).started_at
        assert started > datetime.now(UTC) - timedelta(minutes=1)
        time.sleep(0.05)
        assert log.recover_interrupted(stale_after_s=0.01) == [run_id]
        assert log.get_run(run_id).failed_step is None  # no step was running
