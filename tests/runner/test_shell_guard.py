"""Shell steps die with their runner through ONE guard process per runner
(flowwidgets.runner._supervise), not a Python interpreter per step: the step is a direct
child of the runner, gated until the guard knows it; the guard kills the step's session
when the runner is killed (-9) or stopped too long, and is started again if it died."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from fwtest.procs import alive as _alive
from fwtest.procs import until as _until

from flowwidgets.runner import _shell
from flowwidgets.runner._capture import LogTail
from flowwidgets.runner._shell import GATE, run_shell

pytestmark = pytest.mark.integration


def _run(command: str, cwd: Path, **kw) -> _shell.ShellResult:
    return run_shell(command, cwd=cwd, env=dict(os.environ), timeout_s=30,
                     cancel=threading.Event(), log=LogTail(), **kw)


def test_steps_are_children_of_the_runner_and_share_one_guard(tmp_path: Path) -> None:
    first = _run("echo $PPID; exit 3", tmp_path)
    guard = _shell._GUARD._proc
    second = _run("echo $PPID; echo oops >&2", tmp_path)
    assert (first.returncode, first.stdout_tail.strip()) == (3, str(os.getpid()))
    assert (second.returncode, second.stdout_tail.strip(), second.stderr_tail.strip()) == (
        0, str(os.getpid()), "oops")
    assert guard is not None and guard is _shell._GUARD._proc and guard.poll() is None


def test_a_step_whose_runner_dies_before_the_go_never_runs(tmp_path: Path) -> None:
    proc = subprocess.Popen(["/bin/sh", "-c", GATE, "/bin/sh", "touch ran"], cwd=tmp_path,
                            stdin=subprocess.PIPE)
    proc.stdin.close()  # what the runner's death does to the pipe
    assert proc.wait(10) == 137
    assert not (tmp_path / "ran").exists()


def test_a_dead_guard_is_replaced(tmp_path: Path) -> None:
    _run("true", tmp_path)
    old = _shell._GUARD._proc
    assert old is not None
    old.kill()
    old.wait(5)
    res = _run("echo fine", tmp_path)
    assert res.stdout_tail.strip() == "fine"
    assert _shell._GUARD._proc is not old and _shell._GUARD._proc.poll() is None


RUNNER = textwrap.dedent("""
    import os, sys, threading
    from pathlib import Path
    from flowwidgets.runner import _shell
    from flowwidgets.runner._capture import LogTail
    limit = float(sys.argv[1])
    def later():
        import time
        while _shell._GUARD._proc is None:
            time.sleep(0.01)
        print(_shell._GUARD._proc.pid, flush=True)
    threading.Thread(target=later, daemon=True).start()
    res = _shell.run_shell(sys.argv[2], cwd=Path.cwd(), env=dict(os.environ), timeout_s=60,
                           cancel=threading.Event(), log=LogTail(), stopped_limit_s=limit)
    print(res.returncode, repr(res.stderr_tail), flush=True)
""")


def _runner(tmp_path: Path, limit: float, command: str) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen([sys.executable, "-c", RUNNER, str(limit), command], cwd=tmp_path,
                            stdout=subprocess.PIPE, text=True)
    guard = int(proc.stdout.readline())
    return proc, guard


def test_kill9_of_the_runner_kills_the_step_session_and_the_guard_exits(
        tmp_path: Path) -> None:
    proc, guard = _runner(tmp_path, 0, "echo $$ > sh.pid; sleep 60 & echo $! > bg.pid; wait")
    try:
        _until(lambda: (tmp_path / "bg.pid").exists() and (tmp_path / "sh.pid").exists()
               and (tmp_path / "bg.pid").read_text().strip() != "", 20, "never started")
        pids = [int((tmp_path / n).read_text()) for n in ("sh.pid", "bg.pid")]
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(5)
        _until(lambda: not any(_alive(p) for p in pids), 5, "the step outlived its runner")
        _until(lambda: not _alive(guard), 5, "the guard outlived its runner")
    finally:
        proc.kill()
        proc.wait(5)
        proc.stdout.close()


def test_a_step_of_a_runner_stopped_too_long_is_killed_and_says_why(tmp_path: Path) -> None:
    proc, _guard = _runner(tmp_path, 0.5, "echo $$ > sh.pid; sleep 60")
    try:
        _until(lambda: (tmp_path / "sh.pid").exists()
               and (tmp_path / "sh.pid").read_text().strip() != "", 20, "never started")
        sh = int((tmp_path / "sh.pid").read_text())
        os.kill(proc.pid, signal.SIGSTOP)
        stopped = time.monotonic()
        _until(lambda: not _alive(sh), 20, "the step of a stopped runner was never killed")
        assert time.monotonic() - stopped >= 0.5  # not before the limit
        os.kill(proc.pid, signal.SIGCONT)
        out, _ = proc.communicate(timeout=20)
    finally:
        os.kill(proc.pid, signal.SIGCONT) if proc.poll() is None else None
        proc.kill()
        proc.wait(5)
    code, stderr = out.strip().split(" ", 1)
    assert int(code) in (-signal.SIGTERM, 128 + signal.SIGTERM)
    assert "step killed: its runner was stopped for more than 0.5 s" in stderr
