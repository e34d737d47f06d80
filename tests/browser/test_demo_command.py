"""`flowwidgets demo` as a user runs it: a subprocess that prints the runner and dashboard
URLs; the dashboard renders the demo's cards in chromium; Ctrl-C (SIGINT) stops the runner
and Voilà, and nothing is left listening."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fwtest.browser import assert_no_tracebacks, free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.3)
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_demo_prints_both_urls_renders_and_stops_on_ctrl_c(page, tmp_path: Path):
    api_port, ui_port = free_port(), free_port()
    out_path = tmp_path / "out.txt"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "FLOWWIDGETS_DEMO_PACE": "0.2",
           "JUPYTER_PLATFORM_DIRS": "1"}
    env.pop("FLOWWIDGETS_TOKEN", None)
    with open(out_path, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "flowwidgets.cli", "demo", "--port", str(api_port),
             "--ui-port", str(ui_port), "--data", str(tmp_path / "demo")],
            cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while "Ctrl-C stops the demo" not in out_path.read_text():
            assert proc.poll() is None, out_path.read_text()
            assert time.monotonic() < deadline, out_path.read_text()
            time.sleep(0.2)
        text = out_path.read_text()
        assert f"runner API  http://127.0.0.1:{api_port}" in text
        (dashboard,) = re.findall(rf"dashboard\s+(http://127\.0\.0\.1:{ui_port}/\S*)", text)

        page.goto(dashboard, timeout=90_000)
        cards = page.locator('.fw-root.fw-cards[data-ready="1"] article.fw-card')
        cards.first.wait_for(timeout=90_000)
        assert_no_tracebacks(page)
        names = cards.evaluate_all("els => els.map(e => e.dataset.pipeline)")
        assert {"warehouse_etl", "events_stream"} <= set(names)
        page.goto("about:blank")  # leave before the servers go away

        proc.send_signal(signal.SIGINT)
        assert proc.wait(60) == 0, out_path.read_text()
        assert "Traceback" not in out_path.read_text()
        assert not _listening(api_port) and not _listening(ui_port)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
