"""The run timeline in Debian's chromium from the REAL state of a RunView over a real
runner (the diamond of tests/integration/_timing_jobs.py on 2 workers): the Timeline tab,
the critical path outlined in both drawings, a running run with its ETA and dashed pending
steps, a restarted run's reused markers. PNGs in test-artifacts/widgets/ — look at them."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from _shots import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, open_page, shoot, widget_state
from _widget_support import wait_until

from flowwidgets.runner._local import LocalRunner
from flowwidgets.runner.serve import serve_in_thread
from flowwidgets.runner.spec import Pipelines, PipelineSpec, StepSpec
from flowwidgets.sources import connect
from flowwidgets.widgets import RunView

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

JOBS = Path(__file__).resolve().parents[1] / "integration"


def _step(name: str, *deps: str) -> StepSpec:
    return StepSpec(name, depends_on=deps, call="_timing_jobs:nap")


DIAMOND = PipelineSpec("diamond", (_step("a"), _step("slow", "a"), _step("fast", "a"),
                                   _step("side", "a"), _step("d", "slow", "fast", "side")))


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/bootstrap.sh --browser")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tl")
    runner = LocalRunner(Pipelines((DIAMOND,), base_dir=JOBS), db=tmp / "runs.sqlite",
                         tick_s=0.02, data_dir=tmp, max_workers=2)
    with serve_in_thread(runner) as server, connect(server.url) as src:
        for _ in range(3):
            runner.wait(runner.run_now("diamond"), timeout=30)
        yield runner, src, tmp


def test_timeline_tab_and_critical_path_in_both_views(browser, served):
    runner, src, _ = served
    rid = src.runs(limit=1).runs[0].run_id
    view = RunView(src, rid, live=False)
    try:
        for theme in ("dark", "light"):
            view.view = "timeline"
            page = open_page(browser, widget_state(view), theme, width=900)
            assert page.locator(".fw-tl-rows").count() == 1
            assert page.locator(".fw-tl-bar--critical").count() == 3
            assert page.locator('[data-step="side"] .fw-tl-wait').count() == 1
            line = page.locator(".fw-critical-line").inner_text()
            assert line.startswith("Critical path: a → slow → d · 1.")
            assert page.locator('.fw-vtab[aria-selected="true"]').inner_text().lower() == "timeline"
            shoot(page, f"run_timeline_{theme}")
            if theme == "dark":  # drag across the bars: the view zooms to the selection
                box = page.locator("svg.fw-tl-rows").bounding_box()
                y = box["y"] + 30
                w0 = float(page.locator('[data-step="fast"] .fw-tl-bar').get_attribute("width"))
                page.mouse.move(box["x"] + 200, y)
                page.mouse.down()
                page.mouse.move(box["x"] + 420, y, steps=5)
                page.mouse.up()
                page.locator("text=Reset zoom").wait_for()
                w1 = float(page.locator('[data-step="fast"] .fw-tl-bar').get_attribute("width"))
                assert w1 > w0 * 1.5, (w0, w1)
                shoot(page, "run_timeline_zoomed")
                page.locator("text=Reset zoom").click()
            # the Graph tab: the same path outlined on the DAG's nodes and edges
            page.locator('.fw-vtab[data-view="dag"]').click()
            page.wait_for_selector(".fw-dag")
            assert page.locator(".fw-node--critical").count() == 3
            assert page.locator(".fw-edge--critical").count() == 2
            shoot(page, f"run_timeline_dag_{theme}")
            page.context.close()
    finally:
        view.close()


def test_running_run_shows_eta_and_dashed_pending_steps(browser, served):
    runner, src, _ = served
    rid = runner.run_now("diamond")
    wait_until(lambda: src.run(rid).step("slow").started_at is not None, 10, rid)
    time.sleep(0.3)
    view = RunView(src, rid, live=False, view="timeline")
    try:
        assert view.run["eta_text"].startswith("ETA ")
        page = open_page(browser, widget_state(view), "dark", width=900)
        assert page.locator(".fw-eta").inner_text().startswith("ETA ")
        assert page.locator(".fw-tl-bar--planned").count() >= 1
        assert page.locator(".fw-tl-bar--running").count() >= 1
        w0 = float(page.locator(".fw-tl-bar--running").first.get_attribute("width"))
        page.wait_for_timeout(1300)  # the running bar grows with the clock
        assert float(page.locator(".fw-tl-bar--running").first.get_attribute("width")) > w0
        shoot(page, "run_timeline_running")
        page.context.close()
    finally:
        view.close()
        runner.wait(rid, timeout=30)


def test_restart_shows_reused_markers(browser, served):
    runner, src, tmp = served
    (tmp / "fail-d").write_text("on")
    failed = runner.run_now("diamond")
    runner.wait(failed, timeout=30)
    (tmp / "fail-d").unlink()
    new = src.restart(failed, "d")
    runner.wait(new, timeout=30)
    view = RunView(src, new, live=False, view="timeline")
    try:
        page = open_page(browser, widget_state(view), "dark", width=900)
        assert page.locator(".fw-tl-reused").count() == 4
        marker = page.locator(".fw-tl-reused text").first.text_content()
        assert f"reused from run {failed}" in marker
        shoot(page, "run_timeline_reused")
        page.context.close()
    finally:
        view.close()


def test_every_pipeline_on_one_axis_in_both_themes(browser, served):
    runner, src, _ = served
    from flowwidgets.widgets import Timeline

    tl = Timeline(src, window="1h", live=False)
    try:
        for theme in ("dark", "light"):
            page = open_page(browser, widget_state(tl), theme, width=900)
            bars = page.locator("rect.fw-fl-bar")
            assert bars.count() >= 1
            assert page.locator('g.fw-fl-row[data-pipeline="diamond"]').count() == 1
            assert "runs in the last 1h" in page.locator(".fw-fl-note").inner_text()
            bars.first.click(force=True)  # the view sends the kernel its select message
            sent = page.evaluate("window.__sent")
            assert sent and sent[-1]["kind"] == "select" and sent[-1]["run_id"]
            shoot(page, f"fleet_timeline_{theme}")
            page.context.close()
    finally:
        tl.close()


def test_300_steps_stay_readable(browser, tmp_path):
    """A real 300-step run (a binary tree of 50 ms steps on 4 workers): one label per row,
    20 px apart, the rows scroll under the axis."""
    steps = [_step("s000")] + [_step(f"s{i:03d}", f"s{(i - 1) // 2:03d}") for i in range(1, 300)]
    big = PipelineSpec("big", tuple(steps))
    runner = LocalRunner(Pipelines((big,), base_dir=JOBS), db=tmp_path / "runs.sqlite",
                         tick_s=0.02, data_dir=tmp_path, max_workers=4)
    with serve_in_thread(runner) as server, connect(server.url) as src:
        rid = runner.run_now("big")
        runner.wait(rid, timeout=120)
        view = RunView(src, rid, live=False, view="timeline")
        try:
            page = open_page(browser, widget_state(view), "dark", width=900)
            ys = page.locator("text.fw-tl-label").evaluate_all(
                "els => els.map(e => e.getBoundingClientRect().top)")
            assert len(ys) == 300
            assert all(b - a >= 19.5 for a, b in zip(ys, ys[1:], strict=False))
            wrap = page.locator(".fw-tl-wrap")
            assert wrap.evaluate("e => e.scrollHeight > e.clientHeight + 1000")
            assert page.locator(".fw-tl-axis").is_visible()
            page.locator(".fw-tl").screenshot(path=str(ARTIFACTS / "run_timeline_300_steps.png"))
            page.context.close()
        finally:
            view.close()
