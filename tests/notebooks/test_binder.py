"""binder/start for real: the demo runner in the background, RUNNER_STATUS_URL exported
to the command it execs, and the fallback when the runner cannot start."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
START = ROOT / "binder" / "start"
PROBE = """\
import json, os
import flowwidgets as fw
url = os.environ.get("RUNNER_STATUS_URL")
names = []
if url:
    with fw.connect() as src:  # the default: $RUNNER_STATUS_URL
        names = [p.name for p in src.pipelines()]
print(json.dumps({"url": url, "data": os.environ["FLOWWIDGETS_DEMO_DATA"], "names": names}))
"""

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(tmp_path: Path, port: int) -> tuple[subprocess.CompletedProcess[str], Path]:
    data = tmp_path / "demo-data"
    env = {**os.environ, "FLOWWIDGETS_DEMO_PORT": str(port), "FLOWWIDGETS_DEMO_DATA": str(data),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("RUNNER_STATUS_URL", None)
    done = subprocess.run([str(START), sys.executable, "-c", PROBE], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=90)
    return done, data


def _stop(data: Path) -> None:
    """Stop the runner binder/start left running (by its pid file) and wait for it."""
    pid = int((data / "runner.pid").read_text())
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)
    pytest.fail(f"the demo runner (pid {pid}) ignored SIGTERM for 20 s")


def test_start_runs_the_demo_runner_and_exports_its_url(tmp_path: Path) -> None:
    port = _free_port()
    done, data = _start(tmp_path, port)
    try:
        assert done.returncode == 0, done.stderr
        seen = json.loads(done.stdout)
        assert seen["url"] == f"http://127.0.0.1:{port}"
        assert seen["data"] == str(data)
        assert "warehouse_etl" in seen["names"] and "events_stream" in seen["names"]
        assert f"demo runner at http://127.0.0.1:{port}" in done.stderr
        assert (data / "source" / "orders.csv").exists()  # the demo's own data folder
    finally:
        _stop(data)
    with socket.socket() as s:  # stopped for good
        assert s.connect_ex(("127.0.0.1", port)) != 0


def test_start_falls_back_when_the_runner_cannot_listen(tmp_path: Path) -> None:
    with socket.socket() as taken:  # bound, not listening: binds fail, connects are refused
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        started = time.monotonic()
        done, data = _start(tmp_path, port)
        took = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["url"] is None  # notebooks start their own runner
    assert "did not answer" in done.stderr and "cannot listen" in done.stderr
    assert took < 20, f"binder/start waited {took:.1f} s for a runner that had exited"


def test_environment_has_node_and_what_the_notebooks_import() -> None:
    env = yaml.safe_load((ROOT / "binder" / "environment.yml").read_text())
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert any(d.startswith("nodejs") for d in conda)  # postBuild builds the JS bundle
    assert "python=3.11" in conda
    names = {p.split(">")[0].split("=")[0].strip() for p in pip}
    assert {"voila", "matplotlib", "ipykernel", "jupyterlab"} <= names
    for script in ("start", "postBuild"):
        assert os.access(ROOT / "binder" / script, os.X_OK), f"binder/{script} not executable"
