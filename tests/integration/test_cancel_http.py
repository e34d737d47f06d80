"""Cancel over real HTTP: our runner served on 127.0.0.1, driven through fw.connect.

A long shell step is cancelled and its whole process group is gone; a call step's result
is discarded; a requested run of a pipeline no longer in the file can be cancelled; 404
and 409 come with a detail."""

from __future__ import annotations

import getpass
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fwtest.procs import alive as _alive
from fwtest.procs import until as _until

from flowwidgets import errors
from flowwidgets.models import Status
from flowwidgets.runner._local import LocalRunner
from flowwidgets.runner.executor import pipeline_steps
from flowwidgets.runner.serve import serve_in_thread
from flowwidgets.runner.spec import Pipelines, PipelineSpec, StepSpec
from flowwidgets.sources import connect

pytestmark = pytest.mark.integration

JOBS_DIR = Path(__file__).resolve().parents[1] / "runner"  # _api_jobs.py lives there

# the shell records its own pid (= its process group) and a background child's pid
LONG = "sleep 300 & echo $! > child.pid; echo $$ > shell.pid; echo started; wait"


def _spec() -> Pipelines:
    slow_shell = PipelineSpec("slow_shell", (
        StepSpec("prepare", call="_api_jobs:work"),
        StepSpec("crunch", depends_on=("prepare",), run=LONG),
        StepSpec("publish", depends_on=("crunch",), call="_api_jobs:work")))
    slow_call = PipelineSpec("slow_call", (StepSpec("wait", call="_api_jobs:slow"),))
    return Pipelines((slow_shell, slow_call), base_dir=JOBS_DIR)


@pytest.fixture(autouse=True)
def _no_token_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FLOWWIDGETS_TOKEN", raising=False)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[LocalRunner, str]]:
    runner = LocalRunner(_spec(), db=tmp_path / "runs.sqlite", data_dir=tmp_path, tick_s=0.05)
    with serve_in_thread(runner, port=0) as server:
        yield runner, server.url


def test_a_long_shell_step_is_cancelled_and_its_processes_are_gone(served, tmp_path):
    _, url = served
    with connect(url) as src:
        run_id = src.run_now("slow_shell")
        _until(lambda: (tmp_path / "child.pid").exists() and (tmp_path / "shell.pid").exists()
               and src.run(run_id).step("crunch").status is Status.RUNNING, 15, "crunch")
        shell = int((tmp_path / "shell.pid").read_text())
        child = int((tmp_path / "child.pid").read_text())
        assert _alive(shell) and _alive(child)
        running = src.run(run_id)
        assert running.actions.can_cancel

        started = time.monotonic()
        assert src.cancel(run_id) == "cancelled"
        took = time.monotonic() - started
        assert not _alive(shell) and not _alive(child), "the step's process group survived"
        assert took < 3.0, f"cancel took {took:.2f} s"

        detail = src.run(run_id)
        assert detail.status is Status.CANCELLED
        assert detail.run.finished_at is not None
        extras = detail.extra["extras"]
        assert extras["cancelled_by"] == getpass.getuser()
        assert extras["cancelled_while"] == "running" and extras["cancelled_at"].endswith("Z")
        steps = {s.name: s.status for s in detail.steps}
        assert steps == {"prepare": Status.SUCCEEDED, "crunch": Status.CANCELLED,
                         "publish": Status.PENDING}
        assert detail.step("crunch").attempts[-1].status is Status.CANCELLED
        assert not detail.actions.can_cancel and detail.actions.rerun
        assert detail.error is not None and "cancelled by" in detail.error

        # the run stays cancelled: nothing the executor winds down overwrites it
        time.sleep(0.3)
        assert src.run(run_id).status is Status.CANCELLED
        with pytest.raises(errors.Conflict, match="cancelled; only requested or running"):
            src.cancel(run_id)


def test_a_call_steps_result_is_discarded(served, tmp_path):
    runner, url = served
    with connect(url) as src:
        run_id = src.run_now("slow_call")
        _until(lambda: src.run(run_id).step("wait").status is Status.RUNNING, 15, "wait")
        assert src.cancel(run_id) == "cancelled"
        (tmp_path / "release").touch()  # had it finished, it would have succeeded
        time.sleep(0.3)
        detail = src.run(run_id)
        assert detail.status is Status.CANCELLED
        assert detail.step("wait").status is Status.CANCELLED
        with pytest.raises(KeyError):
            runner.store.load_output(run_id, "wait")
        # the runner takes new work afterwards
        again = src.run_now("slow_call")
        assert runner.wait(again, timeout=15).status is Status.SUCCEEDED


def test_requested_run_of_a_removed_pipeline_can_be_cancelled(served):
    runner, url = served
    gone = PipelineSpec("gone", (StepSpec("a", call="_api_jobs:work"),))
    run_id, _ = runner.store.create_run(pipeline="gone", kind="batch",
                                        steps=pipeline_steps(gone), trigger="schedule")
    with connect(url) as src:
        assert src.run(run_id).actions.can_cancel
        with httpx.Client(base_url=url) as client:
            r = client.post(f"/api/runs/{run_id}/cancel", json={"by": "ops <on call>"})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["status"] == "cancelled" and body["cancelled_by"] == "ops <on call>"
        detail = src.run(run_id)
        assert detail.status is Status.CANCELLED
        assert detail.extra["extras"]["cancelled_while"] == "requested"
        assert detail.step("a").status is Status.PENDING


def test_unknown_run_is_404_and_replays_with_a_key_are_200(served):
    runner, url = served
    with httpx.Client(base_url=url) as client:
        r = client.post("/api/runs/nope/cancel")
        assert r.status_code == 404 and r.json()["detail"] == "run nope not found"
        r = client.post("/api/runs/x/cancel", json={"by": 5})
        assert r.status_code == 422 and "detail" in r.json()
        run_id = client.post("/api/jobs/slow_call/run-now").json()["new_run_id"]
        first = client.post(f"/api/runs/{run_id}/cancel", headers={"Idempotency-Key": "c1"})
        again = client.post(f"/api/runs/{run_id}/cancel", headers={"Idempotency-Key": "c1"})
        assert first.status_code == again.status_code == 200
        assert first.json() == again.json()
        plain = client.post(f"/api/runs/{run_id}/cancel")
        assert plain.status_code == 409 and "cancelled" in plain.json()["detail"]
