"""A retried step in the monitor, headless against our real runner (SQLite run log, HTTP on
127.0.0.1): the step panel lists every attempt (number, status, start, duration, error
line) and shows the selected attempt's whole traceback and its own log; ``[`` / ``]`` move
between attempts, the newest is shown first."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from tui_helpers import ARTIFACTS, column, text_of, wait_until

from flowwidgets import LocalRunner, serve_in_thread
from flowwidgets.models import Status
from flowwidgets.runner.spec import Pipelines, PipelineSpec, StepSpec
from flowwidgets.tui import FlowTui

pytestmark = pytest.mark.integration

HERE = Path(__file__).resolve().parent


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A run whose ``load`` failed twice (two different refusals) and loaded on try 3."""
    spec = PipelineSpec("loader", steps=(
        StepSpec("prepare", call="tui_jobs:noop"),
        StepSpec("load", depends_on=("prepare",), call="tui_jobs:flaky", retries=2),
    ))
    runner = LocalRunner(Pipelines(pipelines=(spec,), base_dir=HERE), db=tmp_path / "r.sqlite",
                         data_dir=tmp_path, tick_s=0.1)
    handle = serve_in_thread(runner, port=0)
    try:
        run_id = runner.run_now("loader")
        assert runner.wait(run_id, 30).status is Status.SUCCEEDED
        yield handle.url, run_id
    finally:
        handle.stop()


def _attempt_lines(panel: str) -> list[str]:
    lines = panel.splitlines()
    at = lines.index(next(ln for ln in lines if ln.startswith("ATTEMPTS")))
    return [ln for ln in lines[at + 1:] if ln.strip()][:3]


def test_every_attempt_of_a_retried_step_and_each_ones_traceback_and_log(served):
    url, run_id = served

    async def scenario() -> None:
        app = FlowTui(url, interval=0.3)
        async with app.run_test(size=(132, 40)) as pilot:
            await wait_until(pilot, lambda: app.detail is not None
                             and app.detail.run_id == run_id, "the run")
            steps = app.query_one("#steps")
            steps.focus()
            await wait_until(pilot, lambda: "load" in column(app, "steps", "step")[-1],
                             "its steps")
            await pilot.press("down", "enter")
            panel = lambda: text_of(app, "#step-text")  # noqa: E731
            await wait_until(pilot, lambda: "ATTEMPTS (3)" in panel() and "LOG" in panel(),
                             "the attempts and the newest log")
            text = panel()
            assert text.startswith("ATTEMPTS (3) · [ ] pick one\n")
            one, two, three = _attempt_lines(text)
            assert one.startswith("  #1  ✕ failed") and two.startswith("  #2  ✕ failed")
            assert three.startswith("▸ #3  ✓ succeeded")  # the newest, selected
            assert one.endswith("ConnectionError: warehouse refused the connection (try 1)")
            assert two.endswith("ConnectionError: warehouse refused the connection (try 2)")
            for line in (one, two, three):
                assert " UTC " in line, line
            # the newest try succeeded: no traceback, its own log
            assert "TRACEBACK" not in text
            assert "LOG · attempt 3 (2 lines)\ntry 3: connecting to the warehouse\nloaded 3 rows" \
                in text
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            app.save_screenshot("attempts-newest.svg", path=str(ARTIFACTS))

            await pilot.press("left_square_bracket")  # [ : the attempt before
            await wait_until(pilot, lambda: "LOG · attempt 2" in panel(), "attempt 2's log")
            text = panel()
            assert _attempt_lines(text)[1].startswith("▸ #2  ✕ failed")
            assert "TRACEBACK · attempt 2\nTraceback (most recent call last)" in text
            assert "tui_jobs.py" in text and "in flaky" in text
            assert "ConnectionError: warehouse refused the connection (try 2)\n" in text
            assert "LOG · attempt 2 (1 line)\ntry 2: connecting to the warehouse" in text
            assert "try 3" not in text.split("LOG · attempt 2")[1]
            app.save_screenshot("attempts-second.svg", path=str(ARTIFACTS))

            await pilot.press("left_square_bracket", "left_square_bracket")  # stops at #1
            await wait_until(pilot, lambda: "LOG · attempt 1" in panel(), "attempt 1's log")
            assert "(try 1)" in panel().split("TRACEBACK · attempt 1")[1]
            await pilot.press("right_square_bracket", "right_square_bracket")
            await wait_until(pilot, lambda: "LOG · attempt 3" in panel(), "the newest again")
            assert "TRACEBACK" not in panel()
            await pilot.press("escape")
            assert not app.query_one("#step-detail").display

    asyncio.run(scenario())
