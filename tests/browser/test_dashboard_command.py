"""`flowwidgets dashboard URL` as a team publishes it: the packaged dashboard in Voilà for a
runner that needs a token; the token reaches the kernels by environment and never the
page; the kernel of a closed page is culled; Ctrl-C stops it; a clear error without a URL."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fwtest.browser import assert_no_tracebacks, free_port

from flowwidgets.runner._local import LocalRunner
from flowwidgets.runner.serve import serve_in_thread
from flowwidgets.runner.spec import Pipelines, PipelineSpec, StepSpec

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TOKEN = "sekret-dashboard-token-9f27"


def _kernels_under(pid: int) -> list[int]:
    """Pids of ipykernel processes descending from ``pid``."""
    children: dict[int, list[int]] = {}
    cmd: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_bytes()
            cmd[int(entry)] = Path(f"/proc/{entry}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        fields = stat[stat.rindex(b")") + 2:].split()
        if fields[0] not in (b"Z", b"X"):
            children.setdefault(int(fields[1]), []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            todo.append(child)
            if "ipykernel" in cmd.get(child, ""):
                out.append(child)
    return out


def test_dashboard_publishes_any_runner_with_the_token_kept_in_the_kernels(page,
                                                                          tmp_path: Path):
    spec = PipelineSpec("nightly_orders", steps=(StepSpec("extract", run="true"),))
    runner = LocalRunner(Pipelines(pipelines=(spec,), base_dir=tmp_path),
                         db=tmp_path / "runs.sqlite")
    runner.run_once("nightly_orders")
    port = free_port()
    out_path = tmp_path / "out.txt"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "JUPYTER_PLATFORM_DIRS": "1"}
    env.pop("FLOWWIDGETS_TOKEN", None)
    with serve_in_thread(runner, port=0, token=TOKEN) as server:
        with open(out_path, "w") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "flowwidgets.cli", "dashboard", server.url,
                 "--port", str(port), "--token", TOKEN, "--cull-idle", "3"],
                cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True)
        try:
            deadline = time.monotonic() + 120
            while "Ctrl-C to stop" not in out_path.read_text():
                assert proc.poll() is None, out_path.read_text()
                assert time.monotonic() < deadline, out_path.read_text()
                time.sleep(0.2)
            (url,) = re.findall(rf"(http://127\.0\.0\.1:{port}/\S*)", out_path.read_text())
            assert TOKEN not in out_path.read_text()

            page.goto(url, timeout=90_000)
            cards = page.locator('.fw-root.fw-cards[data-ready="1"] article.fw-card')
            cards.first.wait_for(timeout=90_000)
            assert_no_tracebacks(page)
            names = cards.evaluate_all("els => els.map(e => e.dataset.pipeline)")
            assert names == ["nightly_orders"]  # read with the token, from the kernel
            assert TOKEN not in page.content()
            assert len(_kernels_under(proc.pid)) == 1
            shots = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
            shots.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(shots / "dashboard_command.png"), full_page=True)
            page.goto("about:blank")  # the page closes: its kernel is culled when idle

            deadline = time.monotonic() + 30
            while _kernels_under(proc.pid):
                assert time.monotonic() < deadline, "the closed page's kernel was not culled"
                time.sleep(0.5)
            proc.send_signal(signal.SIGINT)
            assert proc.wait(60) == 0, out_path.read_text()
            assert "Traceback" not in out_path.read_text()
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
    runner.stop()


def test_dashboard_without_a_url_says_how_to_give_one(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if k != "RUNNER_STATUS_URL"}
    r = subprocess.run([sys.executable, "-m", "flowwidgets.cli", "dashboard"], env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "RUNNER_STATUS_URL" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
