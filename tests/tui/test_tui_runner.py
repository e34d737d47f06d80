"""The monitor driven headless against our real runner (SQLite run log, HTTP on 127.0.0.1).

A warehouse pipeline (fetch → audit, merge → report) succeeded once and then failed at
merge; the monitor shows the strip, opens the failed run in DAG order, restarts it from
the failed step after a Yes (with the failure switched off) and shows the new run
succeed, reusing upstream outputs. It shows the runner's refusal verbatim, reports "No
runner attached" when the server stops and recovers when a new one starts on the port.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from tui_helpers import ARTIFACTS, column, free_port, text_of, wait_until

from flowwidgets import LocalRunner, serve_in_thread
from flowwidgets.models import Status
from flowwidgets.runner.serve import ServerHandle
from flowwidgets.runner.spec import Pipelines, PipelineSpec, StepSpec
from flowwidgets.tui import FlowTui
from flowwidgets.tui._app_actions import NOTE_S
from flowwidgets.tui._confirm import ConfirmScreen
from flowwidgets.tui._table import MonitorTable

pytestmark = pytest.mark.integration

HERE = Path(__file__).resolve().parent
NEVER_SOON = "0 3 29 2 *"  # 03:00 on 29 February: shown as the next fire, never due here


def _pipelines(*, retired: bool = False) -> Pipelines:
    warehouse = PipelineSpec("warehouse", schedule=NEVER_SOON, steps=(
        StepSpec("fetch", call="tui_jobs:fetch"),
        StepSpec("audit", depends_on=("fetch",), call="tui_jobs:audit"),
        StepSpec("merge", depends_on=("fetch",), call="tui_jobs:merge"),
        StepSpec("report", depends_on=("merge", "audit"), call="tui_jobs:report"),
    ))
    events = PipelineSpec("events", kind="streaming",
                          steps=(StepSpec("consume", call="tui_jobs:consume"),))
    specs = [warehouse, events,
             PipelineSpec("idle", steps=(StepSpec("noop", call="tui_jobs:noop"),))]
    if retired:
        specs.append(PipelineSpec("retired", steps=(StepSpec("noop", call="tui_jobs:noop"),)))
    return Pipelines(pipelines=tuple(specs), base_dir=HERE)


@dataclass
class Env:
    runner: LocalRunner
    port: int
    url: str
    data: Path
    ok_run: str
    failed_run: str
    failed_stream: str
    handle: ServerHandle
    """The server now serving the runner (the fixture stops whichever it is at the end)."""


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    """History written by a real runner (one with a since-retired pipeline), then a runner
    without that pipeline serving it on a free port."""
    db = tmp_path / "runs.sqlite"
    with LocalRunner(_pipelines(retired=True), db=db, data_dir=tmp_path, tick_s=0.1) as first:
        ok_run = first.run_now("warehouse")
        assert first.wait(ok_run, 20).status is Status.SUCCEEDED
        (tmp_path / "fail-merge").touch()
        failed_run = first.run_now("warehouse")
        assert first.wait(failed_run, 20).status is Status.FAILED
        assert first.wait(first.run_now("retired"), 20).status is Status.SUCCEEDED
        (tmp_path / "fail-events").touch()
        failed_stream = first.run_now("events")
        assert first.wait(failed_stream, 20).status is Status.FAILED
    runner = LocalRunner(_pipelines(), db=db, data_dir=tmp_path, tick_s=0.1)
    runner.start()
    port = free_port()
    env = Env(runner, port, "", tmp_path, ok_run, failed_run, failed_stream,
              serve_in_thread(runner, port=port, start_runner=False))
    env.url = env.handle.url
    try:
        yield env
    finally:
        env.handle.stop()
        runner.stop()


def question(app: FlowTui) -> str:
    """The question of the confirmation on screen."""
    screen: object = app.screen
    assert isinstance(screen, ConfirmScreen), screen
    return screen._question


async def select(pilot, app: FlowTui, table: str, key: str) -> None:
    """Focus ``table`` and move its cursor to the row ``key`` with the arrow keys."""
    widget = app.query_one(f"#{table}", MonitorTable)
    widget.focus()
    await wait_until(pilot, lambda: key in widget.keys, f"row {key!r} in {table}")
    for _ in range(len(widget.keys)):
        if widget.cursor_key == key:
            return
        await pilot.press("down" if widget.keys.index(key) > widget.cursor_row else "up")
    assert widget.cursor_key == key


def _save(app: FlowTui, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    app.save_screenshot(name, path=str(ARTIFACTS))


def test_failed_run_restarted_from_the_failed_step_until_it_succeeds(env: Env):
    async def scenario() -> None:
        app = FlowTui(env.url, interval=0.3)
        async with app.run_test(size=(132, 34)) as pilot:
            await wait_until(pilot, lambda: column(app, "pipelines", "name") != [],
                             "the pipelines table")
            names = column(app, "pipelines", "name")
            strips = dict(zip(names, column(app, "pipelines", "strip"), strict=True))
            assert strips["warehouse"] == "········■✕"
            assert strips["idle"] == "··········"
            assert strips["retired"] == "·········■"
            nexts = dict(zip(names, column(app, "pipelines", "next"), strict=True))
            assert nexts["warehouse"].endswith("-02-29 03:00") and nexts["idle"] == "manual"
            assert "flowwidgets" in text_of(app, "#banner")

            await select(pilot, app, "pipelines", "warehouse")
            await wait_until(pilot, lambda: app.detail is not None
                             and app.detail.run_id == env.failed_run, "the failed run")
            await wait_until(pilot, lambda: len(column(app, "steps", "step")) == 5, "its steps")
            assert column(app, "runs", "run") == [env.failed_run, env.ok_run]
            assert column(app, "runs", "status") == ["✕ failed", "✓ succeeded"]
            assert column(app, "runs", "failed") == ["merge", "—"]
            # the fan-in report (after merge and audit) shows under both parents: in full
            # under the last one, as a reference naming both under the other
            assert column(app, "steps", "step") == ["fetch", "  └ audit", "    └ report ↓",
                                                    "  └ merge", "    └ report"]
            assert column(app, "steps", "state") == ["✓ succeeded", "✓ succeeded", "○ pending",
                                                     "✕ failed", "○ pending"]
            errors = column(app, "steps", "error")
            assert errors[2] == "also after merge + audit; drawn below"
            assert errors[4] == "after merge + audit"
            assert errors[3].startswith("ValueError: amount column [red]missing[/red] in")
            assert "failed at merge: ValueError: amount column [red]missing" in text_of(
                app, "#run-info")
            _save(app, "failed-run.svg")
            await select(pilot, app, "steps", "merge")
            await pilot.press("enter")
            head, error = text_of(app, "#run-info").splitlines()
            assert head.startswith("STEP merge  ✕ failed  1 attempt") and "after fetch" in head
            assert error == "ValueError: amount column [red]missing[/red] in batch 47"
            # the panel below the steps: the whole traceback and the log tail
            await wait_until(pilot, lambda: "LOG" in text_of(app, "#step-text"),
                             "the step's traceback and log")
            panel = text_of(app, "#step-text")
            assert panel.startswith("ATTEMPTS (1)\n")  # one try: nothing to pick
            assert "\n\nTRACEBACK · attempt 1\nTraceback (most recent call last)" in panel
            assert 'tui_jobs.py", line' in panel and "in merge" in panel
            assert "ValueError: amount column [red]missing[/red] in batch 47" in panel
            assert "LOG · attempt 1 (1 line)\nmerging 3 rows" in panel
            assert app.query_one("#step-detail").display
            _save(app, "step-detail.svg")
            # R proposes the failed step whatever is highlighted; S the highlighted one
            await select(pilot, app, "steps", "fetch")
            await pilot.press("R")
            await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "R's question")
            assert "from step 'merge'?" in question(app)
            await pilot.press("n")
            await select(pilot, app, "steps", "fetch")
            await pilot.press("S")
            await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "S's question")
            assert "from step 'fetch'?" in question(app)
            await pilot.press("n")
            await pilot.press("escape", "escape")  # back to the pipelines table
            assert app.focused is app.query_one("#pipelines")
            assert not app.query_one("#step-detail").display

            (env.data / "fail-merge").unlink()
            await pilot.press("R")
            await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen),
                             "the confirmation")
            _save(app, "confirm-restart.svg")
            await pilot.press("y")
            await wait_until(pilot, lambda: "new run" in text_of(app, "#outcome"),
                             "the action's outcome")
            new_run = app.run_id
            assert new_run not in (env.failed_run, env.ok_run)
            assert text_of(app, "#outcome").endswith(
                f"Restart from step 'merge' of run {env.failed_run}: new run {new_run}")
            await wait_until(pilot, lambda: app.detail is not None
                             and app.detail.run_id == new_run
                             and app.detail.status is Status.SUCCEEDED,
                             "the restarted run to succeed", timeout=20)
            await wait_until(pilot, lambda: column(app, "steps", "state") == ["✓ succeeded"] * 5,
                             "every step succeeded")
            assert app.detail.parent_run_id == env.failed_run
            assert column(app, "steps", "error") == [
                f"reused from {env.failed_run}", f"reused from {env.failed_run}",
                "also after merge + audit; drawn below", "", "after merge + audit"]
            assert column(app, "runs", "run")[0] == new_run
            assert column(app, "runs", "trigger")[0] == "restart"
            # lineage both ways: the new run says where it came from, the old one where
            # it went and how that ended
            assert f"restart of run {env.failed_run} from step 'merge'" in text_of(
                app, "#run-info")
            lineage = dict(zip(column(app, "runs", "run"), column(app, "runs", "lineage"),
                               strict=True))
            assert lineage[new_run] == f"↰ restart of {env.failed_run}"
            assert lineage[env.failed_run] == f"→ {new_run} ✓ succeeded"
            await wait_until(pilot, lambda: dict(zip(column(app, "pipelines", "name"),
                                                     column(app, "pipelines", "strip"),
                                                     strict=True))["warehouse"] == "·······■✕■",
                             "the strip to gain the new run")
            _save(app, "restart-succeeded.svg")
        run = env.runner.store.get_run(new_run)
        assert run is not None and run.status is Status.SUCCEEDED

    asyncio.run(scenario())


def test_the_runners_refusal_is_shown_with_its_detail(env: Env):
    async def scenario() -> None:
        app = FlowTui(env.url, interval=0.3)
        async with app.run_test(size=(132, 34)) as pilot:
            # "retired" has history but the serving runner no longer has the pipeline
            await select(pilot, app, "pipelines", "retired")
            await wait_until(pilot, lambda: app.detail is not None
                             and app.detail.run.pipeline == "retired", "the retired run")
            await pilot.press("r")
            assert "Not available" in text_of(app, "#outcome")  # its actions offer nothing
            assert not isinstance(app.screen, ConfirmScreen)
            await pilot.press("n")
            await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen),
                             "the confirmation")
            depth = len(app.screen_stack)
            await pilot.press("R", "r", "w")  # other action keys do not stack dialogs
            assert len(app.screen_stack) == depth and isinstance(app.screen, ConfirmScreen)
            await pilot.press("n")  # No: nothing is sent
            assert "Run now: not confirmed; nothing was sent" in text_of(app, "#outcome")
            await wait_until(pilot, lambda: text_of(app, "#outcome") == "",
                             "the note to clear itself", timeout=NOTE_S + 3)
            await pilot.press("n")
            await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen),
                             "the confirmation again")
            await pilot.press("y")
            await wait_until(pilot, lambda: "refused" in text_of(app, "#outcome"),
                             "the refusal")
            outcome = text_of(app, "#outcome")
            assert outcome.startswith("✕ Run now refused: ") and "(HTTP 404)" in outcome
            assert "retired" in outcome
        _runs, total = env.runner.store.list_runs(pipeline="retired")
        assert total == 1, "a refused or cancelled action created a run"

    asyncio.run(scenario())


def test_no_runner_attached_while_the_server_is_down_then_recovers(env: Env):
    async def scenario() -> None:
        app = FlowTui(env.url, interval=0.25)
        async with app.run_test(size=(132, 34)) as pilot:
            await wait_until(pilot, lambda: "idle" in column(app, "pipelines", "name"),
                             "the pipelines table")
            env.handle.stop()
            await wait_until(pilot, lambda: "No runner attached" in text_of(app, "#banner"),
                             "the no-runner banner")
            assert "Waiting for runner…" in text_of(app, "#banner")
            _save(app, "no-runner.svg")
            await pilot.press("r")
            assert "No runner attached: nothing was sent" in text_of(app, "#outcome")
            # the runner keeps working while its API is down
            idle_run = env.runner.run_now("idle")
            assert env.runner.wait(idle_run, 20).status is Status.SUCCEEDED
            env.handle = serve_in_thread(env.runner, port=env.port, start_runner=False)
            await wait_until(pilot, lambda: text_of(app, "#banner").startswith("● "),
                             "the monitor to reattach")

            def idle_strip() -> str:
                names = column(app, "pipelines", "name")
                return dict(zip(names, column(app, "pipelines", "strip"),
                                strict=True)).get("idle", "")

            await wait_until(pilot, lambda: idle_strip() == "·········■",
                             "the run made while away")

    asyncio.run(scenario())


def test_live_updates_come_from_the_runners_push_channel(env: Env):
    """With a 60 s refresh period only the poller (SSE from our runner) can bring a new
    run in within seconds; the newest run of the selected pipeline is followed."""
    async def scenario() -> None:
        app = FlowTui(env.url, interval=60)
        async with app.run_test(size=(132, 34)) as pilot:
            await select(pilot, app, "pipelines", "warehouse")
            await wait_until(pilot, lambda: app.detail is not None
                             and app.detail.run_id == env.failed_run, "the newest run")
            new_run = env.runner.run_now("warehouse")  # still failing at merge
            await wait_until(pilot, lambda: app.detail is not None
                             and app.detail.run_id == new_run
                             and app.detail.status is Status.FAILED,
                             "the new run, pushed", timeout=10)
            assert column(app, "runs", "run")[:2] == [new_run, env.failed_run]
            assert column(app, "steps", "state")[3] == "✕ failed"  # fetch, audit, report ↓, merge

    asyncio.run(scenario())


def test_streaming_run_resumed_from_its_watermark(env: Env):
    async def scenario() -> None:
        app = FlowTui(env.url, interval=0.3)
        async with app.run_test(size=(132, 34)) as pilot:
            await select(pilot, app, "pipelines", "events")
            await wait_until(pilot, lambda: app.detail is not None
                             and app.detail.run_id == env.failed_stream, "the failed stream")
            names = column(app, "pipelines", "name")
            assert column(app, "pipelines", "next")[names.index("events")] == "LIVE"
            assert column(app, "pipelines", "kind")[names.index("events")] == "streaming"
            await wait_until(pilot, lambda: column(app, "steps", "state") == ["✕ failed"],
                             "its step")
            assert column(app, "steps", "error") == [
                "RuntimeError: broker gone after offset 3"]
            (env.data / "fail-events").unlink()
            await pilot.press("w")
            await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen),
                             "the confirmation")
            assert "from 3?" in str(app.screen.query_one("#question").render())
            await pilot.press("y")
            await wait_until(pilot, lambda: "new run" in text_of(app, "#outcome"),
                             "the action's outcome")
            assert text_of(app, "#outcome").startswith("✓ Resume from watermark of run ")
            resumed = app.run_id
            await wait_until(pilot, lambda: app.detail is not None
                             and app.detail.run_id == resumed
                             and app.detail.status is Status.SUCCEEDED,
                             "the resumed run to succeed", timeout=20)
            assert column(app, "runs", "trigger")[0] == "resume"
        mark = env.runner.store.last_watermark("events")
        assert mark is not None and mark.value == "6", "did not continue from offset 3"

    asyncio.run(scenario())


def test_a_token_protected_runner(env: Env):
    env.handle.stop()
    env.handle = serve_in_thread(env.runner, port=free_port(), token="s3cret",
                                 start_runner=False)

    async def scenario() -> None:
        wrong = FlowTui(env.handle.url, token="guess", interval=0.3)
        async with wrong.run_test(size=(132, 34)) as pilot:
            await wait_until(pilot, lambda: "HTTP 401" in text_of(wrong, "#banner"),
                             "the refusal in the banner")
            assert text_of(wrong, "#banner") == "✕ Runner error: invalid bearer token (HTTP 401)"
            assert column(wrong, "pipelines", "name") == []
        right = FlowTui(env.handle.url, token="s3cret", interval=0.3)
        async with right.run_test(size=(132, 34)) as pilot:
            await wait_until(pilot, lambda: "warehouse" in column(right, "pipelines", "name"),
                             "the pipelines with the token")

    asyncio.run(scenario())
