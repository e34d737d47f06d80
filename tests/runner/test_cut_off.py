"""A runner cut off from its run log stops its steps before a peer may declare it dead.

The cut is real: another connection holds the SQLite file's write lock (``BEGIN
IMMEDIATE``, a real transaction of a second ``SqliteRunLog``) for longer than the
runner's heartbeat may wait, so its heartbeat writes fail. A heartbeat that is only
late (the scheduler held up, nothing failing) must not kill anything.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest
from fwtest.procs import alive as _alive
from fwtest.procs import until as _until

from flowwidgets.models import Status
from flowwidgets.runner import _sqlite_ops as q
from flowwidgets.runner._lease import Lease
from flowwidgets.runner._local import LocalRunner
from flowwidgets.runner._sqlite_pool import now_ms, ts
from flowwidgets.runner.spec import Pipelines, PipelineSpec, StepSpec
from flowwidgets.runner.sqlite import SqliteRunLog

pytestmark = pytest.mark.integration

# the step's shell writes its pid and becomes `sleep 30`; `gated` waits for a file instead
SLEEPY = PipelineSpec("sleepy", steps=(StepSpec("a", run="echo $$ > sh.pid; exec sleep 30"),))
GATED = PipelineSpec("gated", steps=(StepSpec(
    "a", run="echo $$ > sh.pid; while [ ! -e go ]; do sleep 0.05; done; echo ok"),))
QUICK = PipelineSpec("quick", steps=(StepSpec("a", run="echo ok"),))


def _runner(tmp_path: Path, stale_after_s: float) -> LocalRunner:
    pipelines = Pipelines(pipelines=(SLEEPY, GATED, QUICK), base_dir=tmp_path)
    return LocalRunner(pipelines, db=tmp_path / "runs.sqlite", data_dir=tmp_path,
                       tick_s=0.2, stale_after_s=stale_after_s)


def _started(runner: LocalRunner, tmp_path: Path, pipeline: str) -> tuple[str, int]:
    run_id = runner.run_now(pipeline)
    pid_file = tmp_path / "sh.pid"
    _until(lambda: pid_file.exists() and pid_file.read_text().strip(), 20,
           "the step never started")
    return run_id, int(pid_file.read_text())


def test_a_cut_off_runner_kills_its_step_before_a_peer_may_declare_it_dead(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    stale = 6.0  # the runner cuts itself off after 3 s of failing heartbeats
    with _runner(tmp_path, stale) as runner, SqliteRunLog(tmp_path / "runs.sqlite") as peer:
        run_id, pid = _started(runner, tmp_path, "sleepy")
        with caplog.at_level(logging.WARNING), peer._pool.write() as tx:
            locked_at = time.monotonic()  # the runner's last heartbeat is older than this
            _until(lambda: not _alive(pid), 20, "the step still runs")
            gone_after = time.monotonic() - locked_at
            # the guarantee: dead before its heartbeat is stale_after_s old
            assert gone_after < stale, gone_after
            assert runner._lease.cut_off
            # the peer now declares the runner dead (its heartbeat is over 3 s old) and
            # recovers the run, in the same transaction that holds the lock (read now)
            tx.now = now_ms()
            tx.now_text = ts(tx.now)
            assert q.recover(tx, stale_after_s=1.0) == [run_id]
        # the run log is back: the runner writes nothing to the run it lost
        _until(lambda: runner._executor.cut_off_since is None, 20, "still cut off")
        run = runner.store.get_run(run_id)
        assert run is not None and run.status is Status.FAILED
        assert run.error == q.INTERRUPTED, run.error
        (step,) = runner.store.get_steps(run_id)
        assert step.status is Status.FAILED and step.error == q.INTERRUPTED
        assert [a.error for a in runner.store.get_attempts(run_id)] == [q.INTERRUPTED]
        text = caplog.text
        assert "RUN LOG UNREACHABLE" in text and "could not be written" in text
        assert f"run {run_id} was recovered by a peer while this runner was cut off" in text
        # and it runs new work again
        assert runner.wait(runner.run_now("quick"), 20).status is Status.SUCCEEDED


def test_a_cut_off_runner_records_its_run_failed_and_restartable_once_back(
        tmp_path: Path) -> None:
    with _runner(tmp_path, 4.0) as runner, SqliteRunLog(tmp_path / "runs.sqlite") as peer:
        run_id, pid = _started(runner, tmp_path, "sleepy")
        with peer._pool.write():
            _until(lambda: not _alive(pid), 20, "the step still runs")
        run = runner.wait(run_id, 20)
        assert run.status is Status.FAILED and run.failed_step == "a"
        assert run.error and "cut off from its run log" in run.error
        assert "heartbeat could not be written" in run.error
        (step,) = runner.store.get_steps(run_id)
        assert step.status is Status.FAILED
        assert runner.actions_for(run)["restart_from_step"] == ["a"]
        (tmp_path / "sh.pid").unlink()
        again = runner.restart(run_id)
        pid2 = int(_until(lambda: (tmp_path / "sh.pid").exists()
                          and (tmp_path / "sh.pid").read_text().strip(), 20, "no restart"))
        assert _alive(pid2) and runner.store.get_run(again).status is Status.RUNNING
        runner.cancel(again)


def test_a_runner_whose_run_log_directory_is_gone_kills_its_step(tmp_path: Path) -> None:
    log_dir = tmp_path / "log"
    pipelines = Pipelines(pipelines=(SLEEPY,), base_dir=tmp_path)
    with LocalRunner(pipelines, db=log_dir / "runs.sqlite", data_dir=tmp_path, tick_s=0.2,
                     stale_after_s=4.0) as runner:
        run_id, pid = _started(runner, tmp_path, "sleepy")
        # open connections would go on writing to the moved file, which peers cannot see
        log_dir.rename(tmp_path / "moved")
        _until(lambda: not _alive(pid), 20, "the step still runs")
        assert runner._lease.cut_off
        (tmp_path / "moved").rename(log_dir)
        run = runner.wait(run_id, 20)
        assert run.status is Status.FAILED and run.error
        assert "No such file" in run.error and "cut off from its run log" in run.error


STEPS_PY = """
import pathlib, time

def loop(ctx):
    pathlib.Path(ctx.data_dir, "call.started").touch()
    while not ctx.should_stop():
        time.sleep(0.02)
    pathlib.Path(ctx.data_dir, "call.stopped").touch()
    return "discarded"
"""


def test_a_cut_off_runner_abandons_its_call_step(tmp_path: Path) -> None:
    (tmp_path / "fwx_cut_steps.py").write_text(STEPS_PY)
    calls = PipelineSpec("calls", steps=(StepSpec("c", call="fwx_cut_steps:loop"),))
    pipelines = Pipelines(pipelines=(calls,), base_dir=tmp_path)
    with LocalRunner(pipelines, db=tmp_path / "runs.sqlite", data_dir=tmp_path, tick_s=0.2,
                     stale_after_s=4.0) as runner, \
            SqliteRunLog(tmp_path / "runs.sqlite") as peer:
        run_id = runner.run_now("calls")
        _until(lambda: (tmp_path / "call.started").exists(), 20, "the step never started")
        with peer._pool.write():
            _until(lambda: (tmp_path / "call.stopped").exists(), 20, "should_stop() stayed false")
        run = runner.wait(run_id, 20)
        assert run.status is Status.FAILED and run.failed_step == "c"
        assert run.error and "cut off from its run log" in run.error
        assert runner.store.get_steps(run_id)[0].status is Status.FAILED
        assert runner.store.get_attempts(run_id)[0].status is Status.FAILED
        with pytest.raises(KeyError):  # what it returned afterwards is discarded
            runner.store.load_output(run_id, "c")


def test_a_late_heartbeat_kills_nothing(tmp_path: Path) -> None:
    stale = 3.0  # cut-off limit 1.5 s
    with _runner(tmp_path, stale) as runner:
        run_id, pid = _started(runner, tmp_path, "gated")
        # the scheduler is held up (as by a loaded machine) for 2.5 s: no tick, no failed
        # heartbeat write (the lease's thread keeps the heartbeat going meanwhile)
        with runner._scheduler._tick_lock:
            held_from = time.monotonic()
            while time.monotonic() - held_from < 2.5:
                time.sleep(0.1)
            assert _alive(pid) and not runner._lease.cut_off
        (tmp_path / "go").touch()
        run = runner.wait(run_id, 20)
        assert run.status is Status.SUCCEEDED, run.error


def test_a_cut_off_runner_kills_its_step_even_while_its_scheduler_is_stuck(
        tmp_path: Path) -> None:
    stale = 6.0
    with _runner(tmp_path, stale) as runner, SqliteRunLog(tmp_path / "runs.sqlite") as peer:
        run_id, pid = _started(runner, tmp_path, "sleepy")
        # the scheduler's tick stuck (as in a write waiting out the 10 s busy timeout of the
        # same locked file): the lease's thread heartbeats, fails, and cuts off in time
        with runner._scheduler._tick_lock, peer._pool.write():
            locked_at = time.monotonic()
            _until(lambda: not _alive(pid), 20, "the step still runs")
            assert time.monotonic() - locked_at < stale
        assert runner.wait(run_id, 20).status is Status.FAILED


def test_a_lock_held_for_less_than_the_limit_only_delays_the_heartbeat(
        tmp_path: Path) -> None:
    with _runner(tmp_path, 6.0) as runner, SqliteRunLog(tmp_path / "runs.sqlite") as peer:
        run_id, pid = _started(runner, tmp_path, "gated")
        with peer._pool.write():  # 1 s, well below the 3 s limit: the heartbeat waits
            time.sleep(1.0)
        beat = runner._lease._ok_at
        _until(lambda: runner._lease._ok_at > beat, 20, "no heartbeat after the lock")
        assert _alive(pid) and not runner._lease.cut_off
        (tmp_path / "go").touch()
        assert runner.wait(run_id, 20).status is Status.SUCCEEDED


def test_the_lease_cuts_off_only_after_failures_last_past_the_limit() -> None:
    now = [100.0]  # a clock of the test's own: no timing involved
    fail = [False]
    cuts: list[str] = []
    backs: list[bool] = []

    waits: list[float] = []

    def beat(wait_s: float) -> None:
        waits.append(wait_s)
        if fail[0]:
            raise OSError("disk I/O error")

    lease = Lease(beat, cut_off_after_s=3, on_cut_off=cuts.append,
                  on_back=lambda: backs.append(True), clock=lambda: now[0])
    now[0] += 1
    lease.beat()  # a heartbeat may wait for a lock until the cut-off would be due
    assert waits == [pytest.approx(2.0)]
    now[0] += 10  # late, not failing: nothing
    assert not lease.check() and not cuts
    fail[0] = True
    with pytest.raises(OSError):
        lease.beat()  # the last written beat is 10 s old: cut off at once
    assert waits[-1] == pytest.approx(0.3)  # past due: the shortest wait
    assert len(cuts) == 1 and "disk I/O error" in cuts[0] and lease.cut_off
    with pytest.raises(OSError):
        lease.beat()
    assert len(cuts) == 1 and not lease.check()  # once
    fail[0] = False
    lease.beat()
    assert backs == [True] and not lease.cut_off
    fail[0] = True
    now[0] += 2.9
    with pytest.raises(OSError):
        lease.beat()  # failing, but the last written beat is 2.9 s old
    assert not lease.check() and len(cuts) == 1
    now[0] += 0.2
    assert lease.check() and len(cuts) == 2  # the watchdog's check
    with pytest.raises(ValueError):
        Lease(beat, cut_off_after_s=0, on_cut_off=cuts.append)


def test_the_lease_watchdog_cuts_off_while_a_heartbeat_keeps_failing() -> None:
    cuts: list[str] = []

    def beat(wait_s: float) -> None:
        raise OSError("gone")

    lease = Lease(beat, cut_off_after_s=0.2, on_cut_off=cuts.append)
    with pytest.raises(OSError):
        lease.beat()
    lease.start()
    try:
        _until(lambda: cuts, 10, "the watchdog never cut off")
    finally:
        lease.stop()
    assert len(cuts) == 1
