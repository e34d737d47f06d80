"""The monitor against a real flowtoy 0.4.0 runner (``flowtoy run FLOW --status-port P``).

flowtoy runs one flow once and offers no actions: the monitor shows its run in DAG order
(dependencies read from the flow file), explains why each action key does nothing, and
reports "No runner attached" once the process is gone.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tui_helpers import column, free_port, text_of, wait_until

from flowwidgets.models import Status
from flowwidgets.tui import FlowTui
from flowwidgets.tui._confirm import ConfirmScreen

pytestmark = [pytest.mark.integration, pytest.mark.peers]

FLOWTOY = Path(sys.executable).with_name("flowtoy")
FLOW = Path(__file__).resolve().with_name("tui_flow.yaml")


def _wait_port(port: int, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError(f"flowtoy did not listen on {port} within {timeout} s")


def test_flowtoy_run_in_dag_order_without_actions_then_gone():
    port = free_port()
    proc = subprocess.Popen([str(FLOWTOY), "run", str(FLOW), "--status-port", str(port), "-q"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        _wait_port(port)

        async def scenario() -> None:
            app = FlowTui(f"http://127.0.0.1:{port}", flow=str(FLOW), interval=0.2)
            async with app.run_test(size=(132, 30)) as pilot:
                await wait_until(pilot, lambda: app.detail is not None
                                 and app.detail.status is Status.FAILED, "the failed run")
                await wait_until(pilot, lambda: len(column(app, "steps", "step")) == 5,
                                 "its steps")
                assert "flowtoy" in text_of(app, "#banner")
                assert column(app, "pipelines", "name") == ["tui_flow"]
                assert column(app, "pipelines", "strip") == ["·········✕"]
                # report (after clean and enrich) shows under both of its parents
                assert column(app, "steps", "step") == ["extract", "  └ clean",
                                                        "    └ report ↓", "  └ enrich",
                                                        "    └ report"]
                assert column(app, "steps", "state") == (["✓ succeeded"] * 2 + ["✕ failed"]
                                                         + ["✓ succeeded", "✕ failed"])
                for key, word in (("R", "restart"), ("r", "rerun"), ("n", "run_now")):
                    await pilot.press(key)
                    assert not isinstance(app.screen, ConfirmScreen)
                    assert text_of(app, "#outcome").startswith(
                        "✕ Not available: this runner cannot "), key
                    assert f"offers no {word} action" in text_of(app, "#outcome")
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(10)
                await wait_until(pilot, lambda: "No runner attached" in text_of(app, "#banner"),
                                 "the no-runner banner")

        asyncio.run(scenario())
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(10)
