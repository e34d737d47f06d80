"""The local runner served for real (serve_in_thread, uvicorn, a free port on 127.0.0.1)
and driven with httpx: restart over HTTP, the SSE push channel, a prompt shutdown with a
stream open, and flowtoy's own TUI reading our /status and /outputs."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from flowwidgets.runner._local import LocalRunner
from flowwidgets.runner.serve import ServerHandle, serve_in_thread
from flowwidgets.runner.spec import Pipelines, PipelineSpec, StepSpec

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
JOBS_DIR = ROOT / "tests" / "runner"  # _api_jobs.py lives there


def _spec() -> Pipelines:
    def step(name: str, *deps: str) -> StepSpec:
        return StepSpec(name, depends_on=deps, call="_api_jobs:work")

    orders = PipelineSpec("orders", (
        step("extract"), step("clean", "extract"), step("enrich", "extract"),
        step("merge", "clean", "enrich"), step("load", "merge")))
    return Pipelines((orders,), base_dir=JOBS_DIR)


@pytest.fixture(autouse=True)
def _no_token_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FLOWWIDGETS_TOKEN", raising=False)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[ServerHandle, httpx.Client]]:
    runner = LocalRunner(_spec(), db=tmp_path / "runs.sqlite", data_dir=tmp_path, tick_s=0.05)
    with serve_in_thread(runner, port=0) as server, \
            httpx.Client(base_url=server.url, timeout=10) as client:
        yield server, client


def _wait(client: httpx.Client, run_id: str, timeout: float = 20) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = client.get(f"/api/runs/{run_id}").json()
        if run["status"] in ("succeeded", "failed", "cancelled"):
            return run
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} did not finish: {run}")


def _calls(tmp: Path, run_id: str) -> list[str]:
    lines = (tmp / "calls.txt").read_text().splitlines()
    return sorted(line.split()[1] for line in lines if line.split()[0] == run_id)


def test_restart_from_the_failed_step_over_http(served, tmp_path: Path) -> None:
    _, client = served
    (tmp_path / "fail-merge").touch()
    first = client.post("/api/jobs/orders/run-now").json()["new_run_id"]
    failed = _wait(client, first)
    assert failed["status"] == "failed" and failed["failed_step"] == "merge"
    assert failed["actions"]["restart_from_step"] == ["merge"]
    assert _calls(tmp_path, first) == ["clean", "enrich", "extract", "merge"]

    (tmp_path / "fail-merge").unlink()
    r = client.post(f"/api/runs/{first}/restart", json={"from_step": "merge"},
                    headers={"Idempotency-Key": "restart-once"})
    assert r.status_code == 200
    second = r.json()["new_run_id"]
    again = client.post(f"/api/runs/{first}/restart", json={"from_step": "merge"},
                        headers={"Idempotency-Key": "restart-once"})
    assert again.json()["new_run_id"] == second  # a retried POST made no second run
    done = _wait(client, second)
    assert done["status"] == "succeeded" and done["parent_run_id"] == first
    # only the failed step and its downstream ran again; upstream outputs were reused
    assert _calls(tmp_path, second) == ["load", "merge"]
    steps = {s["name"]: s for s in done["steps"]}
    assert {n for n, s in steps.items() if s["reused_from"] == first} == {
        "extract", "clean", "enrich"}
    assert all(s["status"] == "succeeded" for s in steps.values())
    assert client.get("/api/runs", params={"pipeline": "orders"}).json()["total"] == 2


def _read_events(server: ServerHandle, found: list[dict], ready: threading.Event,
                 until: str) -> None:
    with httpx.Client(timeout=httpx.Timeout(10, read=20)) as c, \
            c.stream("GET", f"{server.url}/api/events") as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        event = None
        for line in r.iter_lines():
            if line.startswith("retry:"):
                ready.set()
            elif line.startswith("event: "):
                event = line[len("event: "):]
            elif line.startswith("data: "):
                data = json.loads(line[len("data: "):])
                found.append({"event": event, **data})
                if event == "run" and data["status"] == until:
                    return


def test_sse_pushes_run_and_step_events_as_they_happen(served) -> None:
    server, client = served
    found: list[dict] = []
    ready = threading.Event()
    reader = threading.Thread(target=_read_events, args=(server, found, ready, "succeeded"))
    reader.start()
    assert ready.wait(10)
    run_id = client.post("/api/jobs/orders/run-now").json()["new_run_id"]
    reader.join(20)
    assert not reader.is_alive()
    mine = [e for e in found if e["run_id"] == run_id]
    runs = [e["status"] for e in mine if e["event"] == "run"]
    assert runs[0] == "requested" and "running" in runs and runs[-1] == "succeeded"
    steps = {(e["step"], e["status"]) for e in mine if e["event"] == "step"}
    assert {("extract", "running"), ("extract", "succeeded"), ("load", "succeeded")} <= steps
    assert all(e["kind"] == e["event"] for e in mine)


def test_sse_sees_writes_made_by_another_process(served, tmp_path: Path) -> None:
    """The stream polls the run log, so a run created by another process shows up."""
    server, _ = served
    found: list[dict] = []
    ready = threading.Event()

    def listen() -> None:
        with httpx.Client(timeout=httpx.Timeout(10, read=20)) as c, \
                c.stream("GET", f"{server.url}/api/events") as r:
            for line in r.iter_lines():
                ready.set()
                if line.startswith("data: "):
                    found.append(json.loads(line[len("data: "):]))
                    if found[-1]["pipeline"] == "elsewhere":
                        return

    reader = threading.Thread(target=listen)
    reader.start()
    assert ready.wait(10)
    code = ("import sys; from flowwidgets.runner.sqlite import SqliteRunLog\n"
            "with SqliteRunLog(sys.argv[1]) as log:\n"
            "    print(log.create_run(pipeline='elsewhere', kind='batch', trigger='manual',"
            " steps=[('only', [])])[0])\n")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "runs.sqlite")],
                         cwd=ROOT, capture_output=True, text=True, timeout=60, check=True)
    reader.join(20)
    assert not reader.is_alive()
    assert found[-1] == {**found[-1], "kind": "run", "status": "requested",
                         "run_id": out.stdout.strip()}


def test_stop_ends_an_open_event_stream_promptly(tmp_path: Path) -> None:
    runner = LocalRunner(_spec(), db=tmp_path / "runs.sqlite", data_dir=tmp_path)
    server = serve_in_thread(runner, port=0)
    lines: list[str] = []
    ready = threading.Event()

    def listen() -> None:
        with httpx.Client(timeout=httpx.Timeout(5, read=30)) as c, \
                c.stream("GET", f"{server.url}/api/events") as r:
            for line in r.iter_lines():
                lines.append(line)
                ready.set()

    reader = threading.Thread(target=listen)
    reader.start()
    try:
        assert ready.wait(10)
        t0 = time.monotonic()
        server.stop()
        took = time.monotonic() - t0
    finally:
        server.stop()
        reader.join(10)
    assert not reader.is_alive()  # the stream ended: the server closed it
    assert took < 2.5, f"stop took {took:.2f} s with a stream open"


def test_a_client_that_goes_away_does_not_hold_the_server(served) -> None:
    server, client = served
    for _ in range(3):
        with httpx.Client(timeout=5) as c, c.stream("GET", f"{server.url}/api/events") as r:
            next(r.iter_lines())  # the retry preamble, then hang up
    assert client.get("/api/health").status_code == 200
    t0 = time.monotonic()
    server.stop()
    assert time.monotonic() - t0 < 2.5


@pytest.mark.peers
def test_flowtoys_own_tui_reads_our_status_and_outputs(served, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """flowtoy's Textual monitor (its /status and /outputs client) against our server."""
    from flowtoy.tui import FlowToyTUI, OutputsPanel, StatusTable
    from textual.widgets import Static

    server, client = served
    (tmp_path / "fail-merge").touch()
    run_id = client.post("/api/jobs/orders/run-now").json()["new_run_id"]
    _wait(client, run_id)

    async def look() -> tuple[str, str, dict]:
        app = FlowToyTUI(status_url=server.url, poll_interval=30)
        async with app.run_test(size=(140, 40)) as pilot:
            await pilot.pause(0.3)
            status = app.fetch_status()
            table = app.query_one(StatusTable).query(Static).first()
            panel = app.query_one(OutputsPanel).query(Static).first()
            return str(table.render()), str(panel.render()), status

    table, outputs, status = asyncio.run(look())
    assert "_error" not in status and status["run_id"] == run_id
    assert f"run {run_id}" in table and "4/5 completed" in table
    assert "✗" in table and "✓" in table and "◷" in table  # failed, succeeded, pending icons
    assert "amount column missing in batch 47" in table
    assert '"extract"' in outputs and '"rows": 3' in outputs

    from flowtoy import webui

    with warnings.catch_warnings():  # starlette prefers httpx2; this project uses httpx
        warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
        from starlette.testclient import TestClient

    monkeypatch.setenv("RUNNER_STATUS_URL", server.url)
    with TestClient(webui.app) as web:
        assert web.get("/status").json()["run_id"] == run_id
        assert set(web.get("/outputs").json()) == {"extract", "clean", "enrich"}
