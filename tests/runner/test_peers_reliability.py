"""Runners sharing one run log survive what production does to them: a peer killed with
``kill -9`` (its runs recovered by a live runner within a bounded time, its shell steps
dead with it), a peer on another host that stops heartbeating, and a paused peer that a
live one recovered (fenced: it writes nothing more and its step is not run twice at once).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fixtures.fwx_peer_proc import PIPELINES  # what the other process runs
from fwtest.procs import alive as _alive
from fwtest.procs import until as _until
from fwx_support import FIXTURES

from flowwidgets.models import Status
from flowwidgets.runner._local import LocalRunner
from flowwidgets.runner.sqlite import SqliteRunLog

pytestmark = pytest.mark.integration


@pytest.fixture
def peer(tmp_path: Path) -> Iterator:
    started: list[subprocess.Popen] = []

    def start(pipeline: str, stale_s: float = 5.0) -> tuple[subprocess.Popen, str]:
        proc = subprocess.Popen([sys.executable, str(FIXTURES / "fwx_peer_proc.py"),
                                 str(tmp_path / "runs.sqlite"), str(tmp_path), pipeline,
                                 str(stale_s)], cwd=FIXTURES, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True)
        started.append(proc)
        run_id = proc.stdout.readline().strip()
        assert run_id, "the peer did not start"
        return proc, run_id

    yield start
    for proc in started:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGCONT)
            proc.kill()
        proc.wait(10)
        proc.stdout.close()


def test_kill9_of_a_runner_kills_its_steps_and_a_live_peer_recovers_its_run(
        tmp_path: Path, peer) -> None:
    proc, run_id = peer("orphan")
    sh = _until(lambda: (tmp_path / "bg.pid").exists() and tmp_path / "sh.pid", 20,
                "the step never started")
    pids = [int(sh.read_text()), int((tmp_path / "bg.pid").read_text())]
    with LocalRunner(PIPELINES, db=tmp_path / "runs.sqlite", data_dir=tmp_path,
                     tick_s=0.2) as live:
        assert live.store.get_run(run_id).status is Status.RUNNING
        os.kill(proc.pid, signal.SIGKILL)
        killed = time.monotonic()
        proc.wait(5)  # reaped, as its shell would (a zombie's pid still answers)
        _until(lambda: not any(_alive(p) for p in pids), 5, "the step outlived its runner")
        run = _until(lambda: (r := live.store.get_run(run_id)).status.is_terminal and r, 5,
                     "the live runner did not recover the dead peer's run")
        took = time.monotonic() - killed
        assert (run.status, run.error, run.failed_step) == (Status.FAILED,
                                                            "runner interrupted", "a")
        # one tick expected; the bound leaves room for a loaded machine
        assert took < 4.0, f"recovered {took:.1f} s after the kill (one tick expected)"
        assert not (tmp_path / "done.txt").exists()
        live.restart(run_id)  # answered 409 "still running" before


def test_a_peer_on_another_host_that_stops_beating_is_recovered_after_stale_after_s(
        tmp_path: Path) -> None:
    db = tmp_path / "runs.sqlite"
    with SqliteRunLog(db) as other:  # the same file, written as another host would
        run_id, _ = other.create_run(pipeline="orphan", kind="batch", trigger="manual",
                                     steps=[("a", ())])
        assert other.claim_requested("elsewhere:1:abc").run_id == run_id
        with other._pool.write() as tx:
            tx.execute("INSERT INTO workers (id, pid, host, heartbeat_at) VALUES (?, 1, ?, ?)",
                       ("elsewhere:1:abc", f"not-{socket.gethostname()}", tx.now_text))
        beat = time.monotonic()
    with LocalRunner(PIPELINES, db=db, data_dir=tmp_path, tick_s=0.2,
                     stale_after_s=1.0) as live:
        run = _until(lambda: (r := live.store.get_run(run_id)).status.is_terminal and r, 5,
                     "never recovered")
        took = time.monotonic() - beat
    assert run.error == "runner interrupted"
    assert 1.0 <= took < 1.0 + 0.2 + 3.0, took  # stale_after_s + one tick (+ load slack)


def test_a_paused_runner_is_fenced_and_its_step_never_runs_beside_the_second_copy(
        tmp_path: Path, peer) -> None:
    proc, run_id = peer("once", stale_s=2.0)
    _until(lambda: (tmp_path / "copies.txt").exists(), 20, "the step never started")
    os.kill(proc.pid, signal.SIGSTOP)
    with LocalRunner(PIPELINES, db=tmp_path / "runs.sqlite", data_dir=tmp_path, tick_s=0.2,
                     stale_after_s=2.0) as live:
        run = _until(lambda: (r := live.store.get_run(run_id)).status.is_terminal and r, 10,
                     "the paused peer's run was never recovered")
        # (not timed from the pause: on a loaded machine the peer's last beat may predate it)
        assert run.error == "runner interrupted"
        # the first copy was killed while its runner was stopped (after 1 s), before the
        # peer could take over
        assert not (tmp_path / "running.lock").exists()
        new = live.restart(run_id)
        _until(lambda: (tmp_path / "copies.txt").read_text().count("start") == 2, 10,
               "the restart did not run the step")
        before = (live.store.get_run(run_id), live.store.get_steps(run_id),
                  live.store.get_attempts(run_id), live.store.version())
        os.kill(proc.pid, signal.SIGCONT)  # the paused runner wakes up: it must not write
        final = live.wait(new, timeout=20)
        time.sleep(1.0)  # several of its ticks
        after = (live.store.get_run(run_id), live.store.get_steps(run_id),
                 live.store.get_attempts(run_id))
        assert after == before[:3]
    assert final.status is Status.SUCCEEDED
    copies = (tmp_path / "copies.txt").read_text().split()
    assert copies == ["start", "start", "end"], copies  # killed once, ran once, no OVERLAP
    assert proc.poll() is None  # it is still alive, just fenced
