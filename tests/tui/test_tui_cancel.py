"""The monitor's cancel key against our real runner: a long shell step is running, `c`
asks, `y` cancels, the run shows cancelled and the step's process is gone."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from tui_helpers import column, text_of, wait_until

from flowwidgets import LocalRunner, serve_in_thread
from flowwidgets.models import Status
from flowwidgets.runner.spec import Pipelines, PipelineSpec, StepSpec
from flowwidgets.tui import FlowTui
from flowwidgets.tui._confirm import ConfirmScreen

pytestmark = pytest.mark.integration


def test_c_cancels_the_running_run_after_a_yes(tmp_path: Path):
    slow = PipelineSpec("slow", (StepSpec("crunch", run="echo $$ > crunch.pid; exec sleep 300"),))
    runner = LocalRunner(Pipelines((slow,), base_dir=tmp_path), db=tmp_path / "runs.sqlite",
                         data_dir=tmp_path, tick_s=0.05)
    with serve_in_thread(runner) as server:
        run_id = runner.run_now("slow")

        async def scenario() -> None:
            app = FlowTui(server.url, interval=0.3)
            async with app.run_test(size=(132, 34)) as pilot:
                await wait_until(pilot, lambda: app.detail is not None
                                 and app.detail.run_id == run_id
                                 and app.detail.step("crunch").status is Status.RUNNING,
                                 "the running run", timeout=20)
                await pilot.press("c")
                await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen),
                                 "the confirmation")
                await pilot.press("y")
                await wait_until(pilot, lambda: "it is cancelled" in text_of(app, "#outcome"),
                                 "the outcome")
                assert text_of(app, "#outcome").endswith(f"Cancel of run {run_id}: it is "
                                                         "cancelled")
                await wait_until(pilot, lambda: app.detail is not None
                                 and app.detail.status is Status.CANCELLED, "the cancelled run")
                await wait_until(pilot, lambda: column(app, "steps", "state") == ["⊘ cancelled"],
                                 "the cancelled step")
                await pilot.press("c")  # nothing left to cancel: said, no dialog
                assert "only requested or running" in text_of(app, "#outcome")
                assert not isinstance(app.screen, ConfirmScreen)

        asyncio.run(scenario())
    pid = int((tmp_path / "crunch.pid").read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    runner.stop()
