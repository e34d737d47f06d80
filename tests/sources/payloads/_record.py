"""Re-record the payload files of this folder from the real peer servers.

Run: ``.venv/bin/python tests/sources/payloads/_record.py``. ematix-flow 1.0 answers
through its own FastAPI app (stub mode and an in-memory history); flowtoy 0.4.0 runs
``flowtoy_flow.yaml`` for real (``flowtoy run --status-port``) and is read while running
and after it finished.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

HERE = Path(__file__).parent


def save(name: str, data: object) -> None:
    (HERE / name).write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    print("wrote", name)


def ematix() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient
    from ematix_flow.run_log.history import InMemoryRunHistory, RunRecord
    from ematix_flow.web.server import create_app

    with TestClient(create_app()) as c:
        save("ematix_stub_pipelines.json", c.get("/api/pipelines").json())
        save("ematix_stub_runs.json", c.get("/api/runs").json())
        save("ematix_stub_run.json", c.get("/api/runs/01HQSTUB000000000000000002").json())
        r = c.post("/api/runs/01HQSTUB000000000000000002/restart", json={"from_step": None})
        save("ematix_stub_restart_400.json", {"status": r.status_code, "body": r.json()})
    h = InMemoryRunHistory()
    t0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
    h.record_run_record(RunRecord(
        run_id="run-etl-1", pipeline="warehouse_etl", status="succeeded", started_at=t0,
        finished_at=t0 + timedelta(seconds=41), attempt=1))
    h.record_run_record(RunRecord(
        run_id="run-etl-2", pipeline="warehouse_etl", status="failed",
        started_at=t0 + timedelta(hours=1), finished_at=t0 + timedelta(hours=1, seconds=35),
        attempt=2, failed_step="merge_payments", error_summary="KeyError: 'amount'",
        extras={"steps": [
            {"name": "extract", "status": "succeeded", "duration_ms": 12000},
            {"name": "merge_payments", "status": "failed", "depends_on": ["extract"],
             "duration_ms": 23000},
            {"name": "publish", "status": "pending", "depends_on": ["merge_payments"]}]}))
    h.record_run_record(RunRecord(
        run_id="run-ev-1", pipeline="events_stream", status="failed", kind="streaming",
        started_at=t0 + timedelta(hours=2), finished_at=t0 + timedelta(hours=3),
        failed_watermark="offset=1042", error_summary="broker went away"))
    with TestClient(create_app(history=h)) as c:
        save("ematix_pipelines.json", c.get("/api/pipelines").json())
        save("ematix_runs.json", c.get("/api/runs").json())
        save("ematix_run_failed.json", c.get("/api/runs/run-etl-2").json())
        save("ematix_run_streaming.json", c.get("/api/runs/run-ev-1").json())


def flowtoy() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    exe = Path(sys.executable).with_name("flowtoy")
    env = dict(os.environ, FT_SLEEP="1.5")
    proc = subprocess.Popen([str(exe), "run", str(HERE / "flowtoy_flow.yaml"), "--status-port",
                             str(port), "-q"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        running = None
        while time.monotonic() < deadline:
            try:
                data = httpx.get(url + "/status").json()
            except httpx.TransportError:
                time.sleep(0.1)
                continue
            states = {s["state"] for s in data.get("steps", {}).values()}
            if running is None and "running" in states:
                running = data
                save("flowtoy_status_running.json", data)
            if data.get("ended_at") and running is not None:
                save("flowtoy_status_failed.json", data)
                save("flowtoy_outputs.json", httpx.get(url + "/outputs").json())
                break
            time.sleep(0.2)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)


if __name__ == "__main__":
    ematix()
    flowtoy()
