"""A runner process killed with SIGKILL mid-step: the next runner on the same file marks
the run failed ("runner interrupted"), keeps what completed, and a restart from the
interrupted step re-executes only it and its downstream."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from fixtures.fwx_runner_proc import CRASH_PIPELINES  # the pipelines the child process runs
from fwx_support import FIXTURES, executions

from flowwidgets.models import Status
from flowwidgets.runner._local import LocalRunner


def _wait_for(path, proc, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, proc.stderr.read()
        assert time.monotonic() < deadline, f"{path.name} never appeared"
        time.sleep(0.02)


def test_sigkill_mid_step_then_recover_and_restart(tmp_path):
    db = tmp_path / "runs.sqlite"
    (tmp_path / "slow.flag").write_text("")  # step b sleeps 60 s
    proc = subprocess.Popen([sys.executable, str(FIXTURES / "fwx_runner_proc.py"), "crash",
                             str(db), str(tmp_path)], cwd=FIXTURES, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(tmp_path / "b.started", proc)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
    assert executions(tmp_path) == ["a", "b"]
    (tmp_path / "slow.flag").unlink()

    with LocalRunner(CRASH_PIPELINES, db=db, data_dir=tmp_path, tick_s=0.2) as runner:
        (run,), _ = runner.store.list_runs(pipeline="slow")
        assert (run.status, run.failed_step, run.error) == (
            Status.FAILED, "b", "runner interrupted")
        steps = {s.name: s for s in runner.store.get_steps(run.run_id)}
        assert steps["a"].status is Status.SUCCEEDED and steps["a"].attempts == 1
        assert runner.store.load_output(run.run_id, "a") == 1
        assert (steps["b"].status, steps["b"].error) == (Status.FAILED, "runner interrupted")
        (attempt,) = runner.store.get_attempts(run.run_id, "b")
        assert (attempt.status, attempt.error) == (Status.FAILED, "runner interrupted")
        assert steps["c"].status is Status.PENDING
        assert runner.actions_for(run)["restart_from_step"] == ["b"]

        new = runner.wait(runner.restart(run.run_id), timeout=20)
        assert new.status is Status.SUCCEEDED and new.from_step == "b"
        assert executions(tmp_path) == ["b", "c"]  # a was reused, not re-executed
        steps = {s.name: s for s in runner.store.get_steps(new.run_id)}
        assert steps["a"].reused_from == run.run_id
        assert runner.store.load_output(new.run_id, "c") == 3
