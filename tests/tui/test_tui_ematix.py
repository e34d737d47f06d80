"""The monitor against a real ematix-flow `flow web` app (in-memory run history) over HTTP.

Runner strings are untrusted: names and errors full of Rich markup must show literally.
And a monitor started before its runner waits, then picks the runner up by itself.
"""

from __future__ import annotations

import asyncio
import html
from datetime import UTC, datetime, timedelta

import pytest
from tui_helpers import ARTIFACTS, asgi_server, column, free_port, text_of, wait_until

from flowwidgets.tui import FlowTui

pytestmark = [pytest.mark.integration, pytest.mark.peers]

PIPELINE = "[bold red]orders"
STEP = "[blink]merge[/blink]"
ERROR = "ValueError: [red]boom[/red] \x1b[31mred\x1b[0m"


def _ematix_app():
    from ematix_flow.run_log.history import InMemoryRunHistory, RunRecord
    from ematix_flow.web.server import create_app

    history = InMemoryRunHistory()
    t0 = datetime.now(UTC) - timedelta(hours=1)
    for i, status in enumerate(["succeeded", "failed"]):
        failed = status == "failed"
        history.record_run_record(RunRecord(
            run_id=f"run-{i}", pipeline=PIPELINE, status=status,
            started_at=t0 + timedelta(minutes=10 * i),
            finished_at=t0 + timedelta(minutes=10 * i, seconds=42),
            failed_step=STEP if failed else None, error_summary=ERROR if failed else None,
            extras={"steps": [
                {"name": "fetch", "status": "succeeded", "depends_on": []},
                {"name": STEP, "status": status, "depends_on": ["fetch"]},
                {"name": "[i]report", "status": "pending" if failed else status,
                 "depends_on": [STEP]},
            ]},
        ))
    return create_app(history=history)


def _screen_text(app: FlowTui) -> str:
    return html.unescape(app.export_screenshot()).replace("\xa0", " ")


def test_markup_in_runner_strings_is_shown_literally():
    port = free_port()

    async def scenario() -> None:
        with asgi_server(_ematix_app(), port) as url:
            app = FlowTui(url, interval=0.3)
            async with app.run_test(size=(140, 36)) as pilot:
                await wait_until(pilot, lambda: app.detail is not None, "the newest run")
                assert app.detail.run_id == "run-1"
                assert column(app, "pipelines", "name") == [PIPELINE]
                assert column(app, "runs", "failed") == [STEP, "—"]
                assert [s.strip(" └") for s in column(app, "steps", "step")] == [
                    "fetch", STEP, "[i]report"]
                info = text_of(app, "#run-info")
                assert f"failed at {STEP}: ValueError: [red]boom[/red] \ufffd[31mred" in info
                literals = (PIPELINE, STEP, "[i]report", "[red]boom[/red]")
                # the screen catches up with the widgets on its next refresh
                await wait_until(pilot, lambda: all(t in _screen_text(app) for t in literals),
                                 "the markup shown literally on screen", timeout=5)
                assert "\x1b" not in _screen_text(app)
                ARTIFACTS.mkdir(parents=True, exist_ok=True)
                app.save_screenshot("markup-literal.svg", path=str(ARTIFACTS))

    asyncio.run(scenario())


def test_waits_for_a_runner_that_is_not_there_yet_then_attaches():
    port = free_port()

    async def scenario() -> None:
        app = FlowTui(f"http://127.0.0.1:{port}", interval=0.2)
        async with app.run_test(size=(120, 30)) as pilot:
            await wait_until(pilot, lambda: "No runner attached" in text_of(app, "#banner"),
                             "the no-runner banner")
            assert "Waiting for runner…" in text_of(app, "#banner")
            await pilot.press("R")
            assert "nothing was sent" in text_of(app, "#outcome")
            with asgi_server(_ematix_app(), port):
                await wait_until(pilot, lambda: column(app, "pipelines", "name") == [PIPELINE],
                                 "the pipelines once the runner is up")
                assert text_of(app, "#banner").startswith("● http://127.0.0.1:")
                assert "ematix" in text_of(app, "#banner")

    asyncio.run(scenario())


@pytest.mark.filterwarnings("ignore::flowwidgets.sources.StubModeWarning")
def test_stub_mode_is_flagged_and_its_actions_are_not_offered():
    """`flow web` without a run log serves placeholder runs: say so, offer nothing."""
    from ematix_flow.web.server import create_app

    port = free_port()

    async def scenario() -> None:
        with asgi_server(create_app(), port) as url:
            app = FlowTui(url, interval=0.3)
            async with app.run_test(size=(140, 36)) as pilot:
                await wait_until(pilot, lambda: app.detail is not None, "a placeholder run")
                assert "STUB MODE" in text_of(app, "#banner")
                await pilot.press("R")
                assert text_of(app, "#outcome").startswith("✕ Not available: stub mode")

    asyncio.run(scenario())
