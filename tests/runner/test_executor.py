"""The executor on real SQLite files: parallelism, order, failure, retries, timeouts,
log tails, shell steps, outputs, streaming watermarks."""

from __future__ import annotations

import os
import time

import pytest
from fwtest.procs import alive as _alive
from fwx_support import call, execute, executions, pipelines, shell

from flowwidgets.models import Status
from flowwidgets.runner.executor import Executor
from flowwidgets.runner.spec import PipelineSpec
from flowwidgets.runner.sqlite import SqliteRunLog


@pytest.fixture
def store(tmp_path):
    with SqliteRunLog(tmp_path / "runs.sqlite") as log:
        yield log


@pytest.fixture
def run_pipeline(store, tmp_path):
    """run_pipeline(spec, **create_run kwargs) → terminal RunRecord."""
    made: list[Executor] = []

    def run(spec: PipelineSpec, *, max_workers: int = 4, **create):
        ex = Executor(store, pipelines(spec), max_workers=max_workers, data_dir=tmp_path)
        made.append(ex)
        return execute(store, ex, spec, **create)

    yield run
    for ex in made:
        ex.stop(timeout=5)


def _steps(store, run_id):
    return {s.name: s for s in store.get_steps(run_id)}


def test_independent_steps_run_in_parallel(run_pipeline, store):
    spec = PipelineSpec("par", steps=(call("left", "nap"), call("right", "nap"),
                                      call("join", "echo_inputs", ["left", "right"])))
    started = time.monotonic()
    run = run_pipeline(spec)
    elapsed = time.monotonic() - started
    assert run.status is Status.SUCCEEDED
    assert elapsed >= 0.3, f"two 0.3 s steps took {elapsed:.2f} s together"
    # in parallel: their sleeps overlap (what a wall-time bound under 0.6 s meant to show,
    # without failing on a loaded machine)
    left, right = store.load_output(run.run_id, "left"), store.load_output(run.run_id, "right")
    assert left["started"] < right["ended"] and right["started"] < left["ended"]  # overlap
    joined = store.load_output(run.run_id, "join")
    assert joined["inputs"] == {"left": left, "right": right} == joined["ctx_inputs"]


def test_one_worker_runs_steps_one_at_a_time(run_pipeline, store):
    spec = PipelineSpec("serial", steps=(call("left", "nap"), call("right", "nap")))
    run = run_pipeline(spec, max_workers=1)
    left, right = store.load_output(run.run_id, "left"), store.load_output(run.run_id, "right")
    assert left["ended"] <= right["started"]


def test_dependencies_order_and_inputs(run_pipeline, store, tmp_path):
    spec = PipelineSpec("diamond", steps=(
        call("d", "plus_one", ["b", "c"]), call("b", "plus_one", ["a"]),
        call("a", "one"), call("c", "plus_one", ["a"]),
        call("named", "named_input", ["fetch"]), call("fetch", "one")))
    run = run_pipeline(spec)
    assert run.status is Status.SUCCEEDED and run.error is None
    assert store.load_output(run.run_id, "d") == 1 + 2 + 2
    assert store.load_output(run.run_id, "named") == {"got": 1}
    order = executions(tmp_path)
    assert sorted(order) == ["a", "b", "c", "d", "fetch", "named"]
    assert order.index("a") < order.index("b") < order.index("d")
    assert order.index("c") < order.index("d") and order.index("fetch") < order.index("named")
    steps = _steps(store, run.run_id)
    assert all(s.status is Status.SUCCEEDED and s.attempts == 1 for s in steps.values())
    assert steps["d"].started_at >= steps["b"].finished_at


def test_failure_leaves_downstream_pending_and_lets_running_steps_finish(
        run_pipeline, store, tmp_path):
    spec = PipelineSpec("fails", steps=(
        call("boom", "boom"), call("slow", "nap"),
        call("after_boom", "one", ["boom"]), call("after_slow", "one", ["slow"])))
    run = run_pipeline(spec)
    assert run.status is Status.FAILED and run.failed_step == "boom"
    assert run.error.splitlines()[-1] == "ValueError: amount column missing in batch 47"
    assert run.error.startswith("Traceback") and "fwx_jobs.py" in run.error
    assert "_call.py" not in run.error  # the runner's own frame is cut
    steps = _steps(store, run.run_id)
    assert steps["boom"].status is Status.FAILED and steps["boom"].error == run.error
    assert steps["slow"].status is Status.SUCCEEDED  # already running: it finished
    assert steps["after_boom"].status is Status.PENDING
    assert steps["after_slow"].status is Status.PENDING  # nothing new starts after a failure
    assert sorted(executions(tmp_path)) == ["boom", "slow"]
    with pytest.raises(KeyError):
        store.load_output(run.run_id, "boom")


def test_failed_step_is_the_first_in_dag_order_not_in_time(run_pipeline, store):
    spec = PipelineSpec("order", steps=(call("slowfail", "slow_boom"), call("quick", "boom"),
                                        call("after", "one", ["quick"])))
    run = run_pipeline(spec)
    steps = _steps(store, run.run_id)
    assert steps["quick"].finished_at < steps["slowfail"].finished_at  # quick failed first
    assert run.failed_step == "slowfail"  # ... but slowfail comes first in the DAG
    assert run.error.endswith("RuntimeError: slow failure")
    assert steps["after"].status is Status.PENDING


def test_retry_after_failure_then_success_is_succeeded(run_pipeline, store):
    spec = PipelineSpec("retry", steps=(call("flaky", "flaky", retries=2, retry_delay_s=0.2),
                                        call("after", "one", ["flaky"])))
    run = run_pipeline(spec)
    assert run.status is Status.SUCCEEDED and run.attempt == 2
    step = _steps(store, run.run_id)["flaky"]
    assert step.status is Status.SUCCEEDED and step.attempts == 2 and step.error is None
    first, second = store.get_attempts(run.run_id, "flaky")
    assert (first.number, first.status, second.number, second.status) == (
        1, Status.FAILED, 2, Status.SUCCEEDED)
    assert first.error.endswith("RuntimeError: transient: first attempt fails")
    assert (second.started_at - first.finished_at).total_seconds() >= 0.19
    assert store.load_output(run.run_id, "flaky") == {"attempt": 2}


def test_retries_exhausted_fail_the_step_with_every_attempt_recorded(run_pipeline, store):
    spec = PipelineSpec("exhaust", steps=(call("boom", "boom", retries=2),))
    run = run_pipeline(spec)
    assert run.status is Status.FAILED and run.attempt == 3
    attempts = store.get_attempts(run.run_id, "boom")
    assert [a.status for a in attempts] == [Status.FAILED] * 3
    assert _steps(store, run.run_id)["boom"].attempts == 3


def test_call_timeout_fails_the_attempt_and_asks_the_thread_to_stop(run_pipeline, store,
                                                                    tmp_path):
    spec = PipelineSpec("slowcall", steps=(call("sleepy", "sleepy", timeout_s=0.3),))
    started = time.monotonic()
    run = run_pipeline(spec)
    assert time.monotonic() - started < 10  # the call never returns by itself
    assert run.status is Status.FAILED and run.error == "timed out after 0.3 s"
    deadline = time.monotonic() + 10  # a poll: done in ms unless the machine stalls
    while not (tmp_path / "sleepy.stopped").exists():  # should_stop() turned true
        assert time.monotonic() < deadline, "the abandoned call never saw should_stop()"
        time.sleep(0.01)


def test_shell_timeout_kills_the_process_group(run_pipeline, store, tmp_path):
    cmd = "sleep 30 & echo $! > bg.pid; echo begin; wait"
    spec = PipelineSpec("slowsh", steps=(shell("sleeper", cmd, timeout_s=0.3),))
    started = time.monotonic()
    run = run_pipeline(spec)
    assert time.monotonic() - started < 15  # not the 30 s sleep
    assert run.status is Status.FAILED and run.error == "timed out after 0.3 s"
    (attempt,) = store.get_attempts(run.run_id, "sleeper")
    assert attempt.log_tail.strip() == "begin"
    pid = int((tmp_path / "bg.pid").read_text())
    deadline = time.monotonic() + 10  # a poll, as above
    while _alive(pid):
        assert time.monotonic() < deadline, "the background child survived the timeout"
        time.sleep(0.02)


def test_call_log_tail_has_print_stderr_and_ctx_log_lines(run_pipeline, store, capsys):
    print("main thread line")
    spec = PipelineSpec("talk", steps=(call("chatty", "chatty"),
                                       call("sad", "chatty_then_boom")))
    run = run_pipeline(spec)
    chatty, sad = store.get_attempts(run.run_id, "chatty")[0], store.get_attempts(
        run.run_id, "sad")[0]
    assert chatty.log_tail == "hello from print\na ctx.log line\nto stderr\n"
    assert sad.log_tail == "about to fail\n" and sad.error.endswith("KeyError: 'missing'")
    captured = capsys.readouterr()
    assert "main thread line" in captured.out
    assert "hello from print" not in captured.out and "to stderr" not in captured.err


def test_log_tail_keeps_the_last_4kb(run_pipeline, store):
    cmd = "i=0; while [ $i -lt 2000 ]; do echo line-$i; i=$((i+1)); done"
    run = run_pipeline(PipelineSpec("loud", steps=(shell("loud", cmd),)))
    (attempt,) = store.get_attempts(run.run_id, "loud")
    assert len(attempt.log_tail) <= 4096 and attempt.log_tail.endswith("line-1999\n")
    assert "line-0\n" not in attempt.log_tail
    assert store.load_output(run.run_id, "loud")["stdout_tail"] == attempt.log_tail


def test_shell_step_env_cwd_and_output(run_pipeline, store, tmp_path, monkeypatch):
    monkeypatch.setenv("FWX_FROM_RUNNER", "inherited")
    cmd = 'pwd; echo "$FLOWWIDGETS_RUN_ID $FLOWWIDGETS_STEP $FLOWWIDGETS_ATTEMPT $FWX_FROM_RUNNER"'
    spec = PipelineSpec("env", steps=(shell("show", cmd),
                                      call("after", "echo_inputs", ["show"])))
    run = run_pipeline(spec)
    assert run.status is Status.SUCCEEDED
    out = store.load_output(run.run_id, "show")
    assert out == {"returncode": 0, "stdout_tail": f"{tmp_path}\n{run.run_id} show 1 inherited\n"}
    assert store.load_output(run.run_id, "after")["inputs"] == {"show": out}


def test_shell_failure_reports_stderr_tail_and_exit_status(run_pipeline, store):
    cmd = 'echo to-out; echo "bad thing happened" >&2; exit 3'
    run = run_pipeline(PipelineSpec("shfail", steps=(shell("bad", cmd),)))
    assert run.status is Status.FAILED and run.error == "bad thing happened"
    (attempt,) = store.get_attempts(run.run_id, "bad")
    assert "to-out" in attempt.log_tail and "bad thing happened" in attempt.log_tail
    assert attempt.log_tail.rstrip().endswith("[exit status 3]")
    silent = run_pipeline(PipelineSpec("silent", steps=(shell("quiet", "exit 4"),)))
    assert silent.error == "command exited with status 4"


def test_output_that_is_not_json_fails_the_attempt(run_pipeline):
    run = run_pipeline(PipelineSpec("nojson", steps=(call("bad", "not_json"),)))
    assert run.status is Status.FAILED
    assert run.error.startswith("TypeError: the output of step 'bad' is not JSON-serialisable")


def test_unimportable_target_fails_with_a_clear_error(run_pipeline):
    spec = PipelineSpec("missing", steps=(call("gone", "no_such_function"),))
    run = run_pipeline(spec)
    assert run.status is Status.FAILED
    assert run.error.startswith("cannot import 'fwx_jobs:no_such_function'")
    assert "AttributeError" in run.error


def test_streaming_failure_records_the_last_committed_watermark(run_pipeline, store,
                                                                tmp_path):
    (tmp_path / "fail.flag").write_text("")
    spec = PipelineSpec("events", kind="streaming", steps=(call("consume", "stream"),))
    run = run_pipeline(spec)
    assert run.status is Status.FAILED and run.failed_step == "consume"
    assert run.failed_watermark == "3"
    assert run.error.endswith("ConnectionError: broker went away after batch 3")
    mark = store.last_watermark("events")
    assert (mark.value, mark.run_id, mark.rows_total, mark.batches_total) == (
        "3", run.run_id, 30, 3)
    (tmp_path / "fail.flag").unlink()
    resumed = run_pipeline(spec, resume_watermark="3")
    assert resumed.status is Status.SUCCEEDED and resumed.failed_watermark is None
    assert (tmp_path / "batches.log").read_text().split("\n") == [
        "start None", "1", "2", "3", "start 3", "4", "5", ""]
    assert store.last_watermark("events").value == "5"


def test_an_output_over_the_limit_fails_its_step_and_is_not_stored(store, tmp_path):
    spec = PipelineSpec("big", steps=(call("huge", "big_output"), call("after", "noop",
                                                                        ["huge"])))
    ex = Executor(store, pipelines(spec), data_dir=tmp_path, max_output_bytes=1_000_000)
    try:
        run = execute(store, ex, spec)
    finally:
        ex.stop(timeout=5)
    assert run.status is Status.FAILED and run.failed_step == "huge"
    assert "larger than the 1,000,000-byte limit" in run.error
    with pytest.raises(KeyError):
        store.load_output(run.run_id, "huge")
    assert os.path.getsize(tmp_path / "runs.sqlite") < 1_000_000
    assert _steps(store, run.run_id)["after"].status is Status.PENDING


def test_the_default_output_limit_stores_a_3mb_output(run_pipeline, store):
    run = run_pipeline(PipelineSpec("ok", steps=(call("huge", "big_output"),)))
    assert run.status is Status.SUCCEEDED
    assert len(store.load_output(run.run_id, "huge")["rows"]) == 3000
