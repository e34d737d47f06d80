"""The Timeline in the Voilà dashboard against a real demo runner, in chromium: every
pipeline on one axis with the hourly cron's ghost bars, a bar click opens the run, the run
view's Timeline tab with the critical path outlined in the timeline and in the DAG."""

from __future__ import annotations

import pytest
from _demo import PACE, DemoRunner
from fwtest.browser import ARTIFACTS, assert_no_tracebacks

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def demo_runner(tmp_path, monkeypatch, cleanup):
    monkeypatch.setenv("FLOWWIDGETS_DEMO_PACE", PACE)
    runner = DemoRunner(tmp_path)
    cleanup.callback(runner.stop_server)
    return runner


def test_timeline_ghosts_bar_click_and_critical_path(page, voila, demo_runner):
    ui = voila(demo_runner.url)
    page.goto(ui.url, timeout=90_000)
    page.locator('.fw-root.fw-cards[data-ready="1"] article.fw-card').first.wait_for(
        timeout=90_000)
    page.locator('.fw-navbar .fw-tab[data-key="timeline"]').click()
    fleet = page.locator(".fw-root.fw-fleet")
    fleet.locator("svg.fw-fl").wait_for(timeout=30_000)
    assert_no_tracebacks(page)
    rows = fleet.locator("g.fw-fl-row").evaluate_all("els => els.map(e => e.dataset.pipeline)")
    assert "warehouse_etl" in rows and len(rows) == 6
    # warehouse_etl runs hourly: its next fires are ghost bars of its median duration
    ghosts = fleet.locator('g.fw-fl-row[data-pipeline="warehouse_etl"] rect.fw-fl-ghost')
    assert ghosts.count() >= 1
    assert "scheduled" in ghosts.first.locator("title").text_content()
    page.screenshot(path=str(ARTIFACTS / "timeline-dashboard-24h.png"), full_page=True)
    # 1h window: the demo's runs are seconds long, so they are their own bars there
    fleet.locator('button[data-window="1h"]').click()
    page.wait_for_function(
        "document.querySelector('.fw-fleet .fw-fl-note').textContent.includes('last 1h')",
        timeout=60_000)
    failed = demo_runner.failed_warehouse_run()
    bar = fleet.locator(f'rect.fw-fl-bar[data-run-id="{failed}"]')
    bar.wait_for(timeout=60_000)
    page.screenshot(path=str(ARTIFACTS / "timeline-dashboard-fleet.png"), full_page=True)
    bar.click(force=True)
    run = page.locator(".fw-root.fw-run")
    run.locator(f'.fw-run-title:has-text("{failed}")').wait_for(timeout=60_000)
    # the run's own timeline, its critical path outlined there and on the DAG
    run.locator('.fw-vtab[data-view="timeline"]').click()
    # waits, not counts: on a loaded machine the view draws a moment after the click
    run.locator(".fw-tl-bar--critical").first.wait_for(timeout=60_000)
    assert run.locator(".fw-critical-line").text_content().startswith("Critical path")
    page.screenshot(path=str(ARTIFACTS / "timeline-dashboard-run.png"), full_page=True)
    run.locator('.fw-vtab[data-view="dag"]').click()
    run.locator("g.fw-node--critical").first.wait_for(timeout=60_000)
    assert_no_tracebacks(page)
