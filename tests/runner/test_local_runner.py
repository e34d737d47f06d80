"""LocalRunner on real SQLite files: run now, restart with reuse, rerun, resume from a
watermark, the refusal rules (404/409/422, nothing written), idempotency, actions."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from fwtest.clock import no_cron_fires
from fwx_support import call, executions, pipelines

from flowwidgets.errors import InvalidAction, PipelineNotFound, RunConflict, RunNotFound
from flowwidgets.models import Status
from flowwidgets.runner._local import LocalRunner
from flowwidgets.runner.spec import PipelineSpec, StepSpec
from flowwidgets.runner.sqlite import SqliteRunLog

# a → b (fails while fail.flag exists) → c ; a → s → c
BRANCHY = PipelineSpec("branchy", steps=(
    call("a", "one"), call("b", "fail_if_flag", ["a"]), call("s", "plus_one", ["a"]),
    call("c", "plus_one", ["b", "s"])))
# two roots: a (fails while fail.flag exists) and b; c needs both
ROOTS = PipelineSpec("roots", steps=(
    call("a", "fail_if_flag"), call("b", "one"), call("c", "plus_one", ["a", "b"])))
EVENTS = PipelineSpec("events", kind="streaming", steps=(call("consume", "stream"),))
NIGHTLY = PipelineSpec("nightly", schedule="0 9 * * *", timezone="America/New_York",
                       steps=(call("x", "one"),))
ALL = (BRANCHY, ROOTS, EVENTS, NIGHTLY)


@pytest.fixture
def runner(tmp_path):
    """Started, with cron fires off: NIGHTLY's 09:00 New York fire (14:00 UTC) passing
    during a test would execute its step and break the counts of executed steps."""
    r = no_cron_fires(LocalRunner(pipelines(*ALL), db=tmp_path / "runs.sqlite",
                                  data_dir=tmp_path, tick_s=0.2))
    with r:
        yield r


def _steps(runner, run_id):
    return {s.name: s for s in runner.store.get_steps(run_id)}


def _failed_branchy(runner, tmp_path):
    executions(tmp_path)  # forget earlier runs
    (tmp_path / "fail.flag").write_text("")
    run = runner.wait(runner.run_now("branchy"))
    assert run.status is Status.FAILED and run.failed_step == "b"
    assert sorted(executions(tmp_path)) == ["a", "b", "s"]
    (tmp_path / "fail.flag").unlink()
    return run


def test_run_now_is_picked_up_by_the_scheduler_thread(tmp_path):
    # a 60 s tick: done well within it means woken at once, not at the next tick, however
    # loaded the machine (a 1 s bound on a 0.2 s tick proved neither)
    with no_cron_fires(LocalRunner(pipelines(*ALL), db=tmp_path / "runs.sqlite",
                                   data_dir=tmp_path, tick_s=60)) as runner:
        started = time.monotonic()
        run_id = runner.run_now("branchy")
        run = runner.wait(run_id, timeout=30)
        assert time.monotonic() - started < 30
        assert (run.status, run.trigger, run.worker) == (Status.SUCCEEDED, "run_now",
                                                        runner.worker_id)
        assert runner.store.load_output(run_id, "c") == 1 + 2 + 2


def test_restart_reexecutes_exactly_the_failed_step_and_downstream(runner, tmp_path):
    old = _failed_branchy(runner, tmp_path)
    assert _steps(runner, old.run_id)["c"].status is Status.PENDING
    new_id = runner.restart(old.run_id)
    new = runner.wait(new_id)
    assert new.status is Status.SUCCEEDED
    assert (new.trigger, new.parent_run_id, new.from_step) == ("restart", old.run_id, "b")
    assert sorted(executions(tmp_path)) == ["b", "c"]
    steps = _steps(runner, new_id)
    assert steps["a"].reused_from == old.run_id and steps["s"].reused_from == old.run_id
    assert steps["b"].reused_from is None and steps["c"].reused_from is None
    assert runner.store.load_output(new_id, "b") == 2  # 1 + a's output from the old run
    assert runner.store.load_output(new_id, "c") == 1 + 2 + 2
    assert runner.store.get_attempts(new_id, "a") == []  # reused, not executed

    again = runner.wait(runner.restart(new_id, "c"))
    assert again.status is Status.SUCCEEDED and executions(tmp_path) == ["c"]
    steps = _steps(runner, again.run_id)
    assert steps["a"].reused_from == old.run_id  # the original source, not the restart
    assert steps["b"].reused_from == new_id


def test_restart_reexecutes_upstream_steps_that_have_no_output(runner, tmp_path):
    (tmp_path / "fail.flag").write_text("")
    old = runner.wait(runner.run_now("roots"))
    assert old.failed_step == "a" and _steps(runner, old.run_id)["b"].status is Status.SUCCEEDED
    executions(tmp_path)
    (tmp_path / "fail.flag").unlink()
    new = runner.wait(runner.restart(old.run_id, "b"))
    assert new.status is Status.SUCCEEDED
    assert sorted(executions(tmp_path)) == ["a", "b", "c"]  # a failed before: no output
    assert all(s.reused_from is None for s in runner.store.get_steps(new.run_id))


def test_rerun_executes_every_step(runner, tmp_path):
    old = _failed_branchy(runner, tmp_path)
    new = runner.wait(runner.rerun(old.run_id))
    assert (new.status, new.trigger, new.parent_run_id) == (Status.SUCCEEDED, "rerun",
                                                           old.run_id)
    assert sorted(executions(tmp_path)) == ["a", "b", "c", "s"]


def test_resume_continues_from_the_committed_watermark(runner, tmp_path):
    (tmp_path / "fail.flag").write_text("")
    failed = runner.wait(runner.run_now("events"))
    assert failed.status is Status.FAILED and failed.failed_watermark == "3"
    (tmp_path / "fail.flag").unlink()
    resumed = runner.wait(runner.resume(failed.run_id))
    assert (resumed.status, resumed.trigger, resumed.resume_watermark) == (
        Status.SUCCEEDED, "resume", "3")
    batches = (tmp_path / "batches.log").read_text().split()
    assert batches == ["start", "None", "1", "2", "3", "start", "3", "4", "5"]
    # restart without a step on a failed streaming run is a resume too (as ematix-flow)
    (tmp_path / "fail.flag").write_text("")
    (tmp_path / "last_batch").write_text("8")
    failed = runner.wait(runner.rerun(failed.run_id))
    assert failed.failed_watermark == "3"  # a rerun starts from scratch
    (tmp_path / "fail.flag").unlink()
    again = runner.wait(runner.restart(failed.run_id))
    assert (again.trigger, again.resume_watermark, again.status) == (
        "resume", "3", Status.SUCCEEDED)
    assert runner.store.last_watermark("events").value == "8"


def test_refusals_raise_and_write_nothing(runner, tmp_path):
    done = runner.wait(runner.run_now("branchy"))
    batch_failed = _failed_branchy(runner, tmp_path)
    stream_ok = runner.wait(runner.run_now("events"))
    runner.stop()
    store = SqliteRunLog(tmp_path / "runs.sqlite")
    r = LocalRunner(pipelines(*ALL), db=store, data_dir=tmp_path)  # not started: claims nothing
    try:
        active, _ = store.create_run(pipeline="nightly", kind="batch", trigger="manual",
                                     steps=[("x", [])])
        before = (store.version(), store.list_runs()[1])
        cases = [
            (RunNotFound, 404, lambda: r.restart("nope")),
            (RunNotFound, 404, lambda: r.rerun("nope")),
            (RunNotFound, 404, lambda: r.resume("nope")),
            (PipelineNotFound, 404, lambda: r.run_now("no_such_pipeline")),
            (PipelineNotFound, 404, lambda: r.next_run_at("no_such_pipeline")),
            (RunConflict, 409, lambda: r.restart(active, "x")),
            (RunConflict, 409, lambda: r.rerun(active)),
            (InvalidAction, 422, lambda: r.restart(done.run_id)),
            (InvalidAction, 422, lambda: r.restart(batch_failed.run_id, "zz")),
            (InvalidAction, 422, lambda: r.resume(done.run_id)),
        ]
        for exc, code, action in cases:
            with pytest.raises(exc) as info:
                action()
            assert info.value.status_code == code
        messages = {}
        for name, action in (("no_failed", lambda: r.restart(done.run_id)),
                             ("bad_step", lambda: r.restart(batch_failed.run_id, "zz")),
                             ("batch_resume", lambda: r.resume(done.run_id))):
            with pytest.raises(InvalidAction) as info:
                action()
            messages[name] = str(info.value)
        assert messages["no_failed"] == (f"run {done.run_id} has no failed step; name "
                                         "from_step (one of: a, b, s, c)")
        assert messages["bad_step"].endswith("has no step 'zz'; its steps are: a, b, s, c")
        assert "only streaming runs resume" in messages["batch_resume"]
        # streaming: active run of the pipeline → 409; nothing committed yet → 422
        store.create_run(pipeline="events", kind="streaming", trigger="manual",
                         steps=[("consume", [])])
        before = (store.version(), store.list_runs()[1])
        with pytest.raises(RunConflict, match="already has an active run"):
            r.run_now("events")
        with pytest.raises(RunConflict, match="already has an active run"):
            r.resume(stream_ok.run_id)
        assert (store.version(), store.list_runs()[1]) == before
    finally:
        r.stop()
        store.close()


def test_resume_needs_a_committed_watermark(tmp_path):
    quiet = PipelineSpec("quiet", kind="streaming", steps=(call("noop", "one"),))
    with LocalRunner(pipelines(quiet), db=tmp_path / "r.sqlite", data_dir=tmp_path) as r:
        run = r.wait(r.run_now("quiet"))
        version = r.store.version()
        with pytest.raises(InvalidAction, match="committed no watermark"):
            r.resume(run.run_id)
        assert r.store.version() == version


def test_idempotency_key_makes_one_run(runner, tmp_path):
    first = runner.run_now("branchy", idempotency_key="k-1")
    assert runner.run_now("branchy", idempotency_key="k-1") == first
    runner.wait(first)
    rerun = runner.rerun(first, idempotency_key="k-2")
    assert runner.rerun(first, idempotency_key="k-2") == rerun
    runner.wait(rerun)
    old = _failed_branchy(runner, tmp_path)
    assert runner.restart(old.run_id, idempotency_key="k-3") == runner.restart(
        old.run_id, idempotency_key="k-3")
    assert runner.store.list_runs(pipeline="branchy")[1] == 4
    (tmp_path / "last_batch").write_text("0")
    (tmp_path / "forever.flag").write_text("")
    stream = runner.run_now("events", idempotency_key="k-4")
    assert runner.run_now("events", idempotency_key="k-4") == stream  # not a 409
    (tmp_path / "forever.flag").unlink()
    runner.wait(stream)


def test_actions_for(runner, tmp_path):
    failed = _failed_branchy(runner, tmp_path)
    assert runner.actions_for(failed) == {
        "pause": False, "resume": False, "restart_from_step": ["b"], "rerun_full": True,
        "resume_from_watermark": False, "restart_steps": ["a", "b", "s", "c"],
        "cancel": False}
    ok = runner.wait(runner.rerun(failed.run_id))
    assert runner.actions_for(ok)["restart_from_step"] == []
    assert runner.actions_for(ok)["rerun_full"] is True
    (tmp_path / "fail.flag").write_text("")
    stream = runner.wait(runner.run_now("events"))
    assert runner.actions_for(stream) == {
        "pause": False, "resume": False, "restart_from_step": [], "rerun_full": True,
        "resume_from_watermark": True, "restart_steps": ["consume"], "cancel": False}
    requested, _ = runner.store.create_run(pipeline="gone", kind="batch", trigger="manual",
                                           steps=[("x", [])])
    gone = runner.actions_for(runner.store.get_run(requested))
    assert gone.pop("cancel") is True  # the one thing a stranded requested run allows
    assert not any(gone.values())


def test_next_run_at_is_utc_in_the_pipeline_timezone(runner):
    before_dst_end = datetime(2026, 10, 30, 12, 0, tzinfo=UTC)
    after_dst_end = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)
    assert runner.next_run_at("nightly", before_dst_end) == datetime(2026, 10, 30, 13, 0,
                                                                     tzinfo=UTC)
    assert runner.next_run_at("nightly", after_dst_end) == datetime(2026, 11, 3, 14, 0,
                                                                    tzinfo=UTC)
    assert runner.next_run_at("nightly").tzinfo is not None
    assert runner.next_run_at("events") is None and runner.next_run_at("branchy") is None


def test_run_once_executes_in_the_foreground(tmp_path):
    r = LocalRunner(pipelines(*ALL), db=tmp_path / "once.sqlite", data_dir=tmp_path)
    try:
        run = r.run_once("branchy")
        assert (run.status, run.trigger) == (Status.SUCCEEDED, "manual")
        assert r.store.load_output(run.run_id, "c") == 5
    finally:
        r.stop()


def test_stop_cancels_a_streaming_run_which_resumes_later(tmp_path):
    (tmp_path / "last_batch").write_text("2")
    (tmp_path / "forever.flag").write_text("")
    db = tmp_path / "stream.sqlite"
    with LocalRunner(pipelines(EVENTS), db=db, data_dir=tmp_path, tick_s=0.2) as r:
        run_id = r.run_now("events")
        deadline = time.monotonic() + 10
        while getattr(r.store.last_watermark("events"), "value", None) != "2":
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert r.store.get_run(run_id).status is Status.RUNNING
    with LocalRunner(pipelines(EVENTS), db=db, data_dir=tmp_path, tick_s=0.2) as r:
        stopped = r.store.get_run(run_id)
        assert stopped.status is Status.CANCELLED and stopped.error is None
        assert r.actions_for(stopped)["resume_from_watermark"] is True
        (tmp_path / "forever.flag").unlink()
        (tmp_path / "last_batch").write_text("4")
        resumed = r.wait(r.resume(run_id))
        assert resumed.status is Status.SUCCEEDED
    assert (tmp_path / "batches.log").read_text().split() == [
        "start", "None", "1", "2", "start", "2", "3", "4"]


def test_default_db_lives_beside_the_pipelines(tmp_path):
    specs = pipelines(NIGHTLY)
    from flowwidgets.runner.spec import Pipelines

    here = Pipelines(pipelines=specs.pipelines, base_dir=tmp_path)
    r = LocalRunner(here)
    try:
        assert (tmp_path / ".flowwidgets" / "runs.sqlite").exists()
        assert r.data_dir == tmp_path
    finally:
        r.stop()


def test_wait_times_out_on_a_run_nobody_executes(tmp_path):
    r = LocalRunner(pipelines(*ALL), db=tmp_path / "w.sqlite", data_dir=tmp_path)
    try:
        run_id = r.run_now("branchy")  # never started: nothing claims it
        with pytest.raises(TimeoutError, match="still requested"):
            r.wait(run_id, timeout=0.2)
        with pytest.raises(RunNotFound):
            r.wait("nope", timeout=0.2)
    finally:
        r.stop()


def _wait_until(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition never became true"
        time.sleep(0.01)


def test_stop_lets_running_steps_finish_and_cancels_the_rest(tmp_path):
    spec = PipelineSpec("two", steps=(call("first", "nap"), call("second", "one", ["first"])))
    r = LocalRunner(pipelines(spec), db=tmp_path / "s.sqlite", data_dir=tmp_path, tick_s=0.2)
    r.start()
    try:
        run_id = r.run_now("two")
        _wait_until(lambda: (tmp_path / "executions.log").exists())
    finally:
        r.stop(timeout=5)
    with SqliteRunLog(tmp_path / "s.sqlite") as store:
        run = store.get_run(run_id)
        steps = {s.name: s.status for s in store.get_steps(run_id)}
    assert (run.status, run.error) == (Status.CANCELLED, "runner stopped before second ran")
    assert steps == {"first": Status.SUCCEEDED, "second": Status.PENDING}


def test_stop_gives_up_on_a_call_that_ignores_it(tmp_path):
    spec = PipelineSpec("stuck", steps=(call("stubborn", "stubborn"),))
    r = LocalRunner(pipelines(spec), db=tmp_path / "s.sqlite", data_dir=tmp_path, tick_s=0.2)
    r.start()
    run_id = r.run_now("stuck")
    _wait_until(lambda: (tmp_path / "executions.log").exists())
    started = time.monotonic()
    r.stop(timeout=0.2)
    # did not wait for the 3 s sleep (a bound far from both 0.2 s and 3 s: a loaded
    # machine stays under it, a stop that waited for the step does not)
    assert time.monotonic() - started < 2.0
    with SqliteRunLog(tmp_path / "s.sqlite") as store:
        run = store.get_run(run_id)
        (step,) = store.get_steps(run_id)
        assert (run.status, run.error) == (Status.CANCELLED,
                                           "runner stopped while stubborn still ran")
        assert (step.status, step.error) == (Status.CANCELLED,
                                             "runner stopped while the step was running")
        _wait_until(lambda: (tmp_path / "stubborn.done").exists())
        time.sleep(0.05)
        assert store.get_run(run_id).status is Status.CANCELLED  # the late return wrote nothing
        (attempt,) = store.get_attempts(run_id)
        assert (attempt.status, attempt.error) == (Status.CANCELLED,
                                                   "runner stopped while the step was running")


def test_stop_asks_a_streaming_shell_step_to_stop(tmp_path):
    cmd = "trap 'echo bye; exit 0' TERM; echo up; while true; do sleep 0.05; done"
    spec = PipelineSpec("tail", kind="streaming", steps=(StepSpec("follow", run=cmd),))
    r = LocalRunner(pipelines(spec), db=tmp_path / "s.sqlite", data_dir=tmp_path, tick_s=0.2)
    r.start()
    run_id = r.run_now("tail")
    _wait_until(lambda: r.store.get_steps(run_id)[0].status is Status.RUNNING)
    time.sleep(0.2)
    started = time.monotonic()
    r.stop(timeout=5)
    assert time.monotonic() - started < 3.0  # asked to stop, not waited 5 s for, nor killed
    with SqliteRunLog(tmp_path / "s.sqlite") as store:
        run = store.get_run(run_id)
        assert run.status is Status.CANCELLED
        assert store.get_steps(run_id)[0].status is Status.SUCCEEDED
        out = store.load_output(run_id, "follow")
        assert out["stopped"] is True and out["stdout_tail"] == "up\nbye\n"


def test_restart_planning_of_a_long_chain_is_linear(tmp_path):
    """Restarting a 3,000-step chain from its middle took ~8 s (a downstream walk per
    step); the plan now visits each step once (bench/bench_restart.py has the figures)."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
    from bench_restart import chain, failed_run

    spec = chain(3000)
    runner = LocalRunner(pipelines(spec), db=tmp_path / "runs.sqlite", data_dir=tmp_path)
    try:
        old = failed_run(runner.store, spec)
        started = time.perf_counter()
        new = runner.restart(old, from_step="s1500")
        took = time.perf_counter() - started
        steps = runner.store.get_steps(new)
        assert [s.name for s in steps if s.reused_from == old] == [f"s{i}" for i in range(1500)]
        assert all(s.status is Status.PENDING for s in steps[1500:])
        assert took < 4, f"restart planning took {took:.1f} s"
    finally:
        runner.stop()


def test_stop_that_kills_a_shell_step_cancels_the_run_not_fails_it(tmp_path):
    """SIGTERM (serve) and stop() both end here: the run was 'failed' with the killed
    step as failed_step, while stop() documents 'cancelled'."""
    spec = PipelineSpec("sleepy", steps=(StepSpec("a", run="sleep 30"),
                                         StepSpec("b", depends_on=("a",), run="true")))
    r = LocalRunner(pipelines(spec), db=tmp_path / "s.sqlite", data_dir=tmp_path, tick_s=0.1)
    r.start()
    run_id = r.run_now("sleepy")
    _wait_until(lambda: r.store.get_steps(run_id)[0].status is Status.RUNNING)
    r.stop(timeout=0.3)
    with SqliteRunLog(tmp_path / "s.sqlite") as store:
        run = store.get_run(run_id)
        steps = {s.name: (s.status, s.error) for s in store.get_steps(run_id)}
        (attempt,) = store.get_attempts(run_id)
    assert (run.status, run.failed_step) == (Status.CANCELLED, None)
    assert run.error == "runner stopped while a still ran"
    assert steps == {"a": (Status.CANCELLED, "runner stopped while the command was running"),
                     "b": (Status.PENDING, None)}
    assert attempt.status is Status.CANCELLED
