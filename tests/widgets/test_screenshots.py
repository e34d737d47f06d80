"""Each widget's real bundle rendered in Debian's chromium from the REAL state of a widget
connected to the demo runner, in JupyterLab's dark and light themes. The PNGs land in
test-artifacts/widgets/ — look at them."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from _shots import CHROMIUM, CHROMIUM_ARGS, open_page, shoot, widget_state
from _widget_support import EVIL, wait_until

from flowwidgets import demo
from flowwidgets.runner._local import LocalRunner
from flowwidgets.runner.serve import serve_in_thread
from flowwidgets.runner.spec import PipelineSpec, StepSpec, load_pipelines
from flowwidgets.sources import connect
from flowwidgets.widgets import Dashboard, JobsTable, PipelineCards, RunView

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

THEMES = ("dark", "light")


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
def demo_runner(tmp_path_factory):
    """The demo pipelines, plus one whose step name is hostile markup, with some history."""
    mp = pytest.MonkeyPatch()
    mp.setenv("FLOWWIDGETS_DEMO_PACE", "0.2")
    tmp = tmp_path_factory.mktemp("demo")
    data = demo.prepare(tmp / "data")
    hostile = PipelineSpec("hostile", (StepSpec("ok", run="echo ok"),
                                       StepSpec(EVIL, depends_on=("ok",),
                                                run=f"echo '{EVIL}' >&2; exit 2")))
    specs = [*load_pipelines(demo.pipelines_path()), hostile]
    runner = LocalRunner(specs, db=tmp / "runs.sqlite", data_dir=data, tick_s=0.1)
    with serve_in_thread(runner) as server, connect(server.url) as src:
        def finish(run_id):
            return wait_until(lambda: src.run(run_id).status.is_terminal, 30, run_id)

        history: dict[str, list[str]] = {}
        for name in ("warehouse_etl", "warehouse_etl", "customers_sync", "inventory_snapshot",
                     "customers_sync", "marketing_export", "revenue_report", "hostile"):
            rid = src.run_now(name)
            finish(rid)
            history.setdefault(name, []).append(rid)
        demo.set_failure(False, data)
        for name in ("warehouse_etl", "customers_sync"):
            rid = src.run_now(name)
            finish(rid)
            history[name].append(rid)
        history["events_stream"] = [src.run_now("events_stream")]
        wait_until(lambda: (next(p for p in src.pipelines() if p.name == "events_stream")
                            .streaming_stats or {}).get("rows_consumed_total"), 20,
                   "the stream to consume")
        yield src, history, data
    mp.undo()


def render_both(browser, widget, name, width=1100, before=None):
    state = widget_state(widget)
    shots = []
    for theme in THEMES:
        page = open_page(browser, state, theme, width)
        try:
            assert page.locator(".fw-root[data-ready='1']").count() >= 1
            assert page.locator("img").count() == 0, "runner strings must not create elements"
            if before is not None:
                before(page)
            shots.append(shoot(page, f"{name}-{theme}"))
        finally:
            page.context.close()
    return shots


def test_cards(browser, demo_runner):
    src, history, _ = demo_runner
    cards = PipelineCards(src, live=False)
    try:
        def check(page):
            assert page.locator("article.fw-card").count() == 7
            assert page.locator(".fw-sq--failed").count() >= 2
            assert page.locator(".fw-live").count() == 1
            page.locator(f'button[data-run-id="{history["warehouse_etl"][0]}"]').click()
            sent = page.evaluate("window.__sent")
            assert sent[-1]["kind"] == "select"

        render_both(browser, cards, "cards", before=check)
    finally:
        cards.close()


def test_jobs_table(browser, demo_runner):
    src, history, _ = demo_runner
    table = JobsTable(src, live=False, background=False, page_size=10)
    try:
        def check(page):
            assert page.locator("tbody tr").count() == 10
            assert page.locator("tbody .fw-pill--failed").count() >= 1
            page.locator("tbody tr").first.focus()

        render_both(browser, table, "jobs-table", before=check)
    finally:
        table.close()


def test_run_view_failed_with_log_and_confirm(browser, demo_runner):
    src, history, _ = demo_runner
    view = RunView(src, history["warehouse_etl"][0], live=False)
    try:
        view.selected_step = "merge_payments"
        assert view._step_log.get("step") == "merge_payments"

        def check(page):
            assert page.locator("g[data-step]").count() == 5
            assert page.locator("g.fw-node--failed").count() == 1
            assert page.locator(".fw-legend-item").count() == 7  # + reused, cancelled
            page.locator('.fw-actions button[data-action="restart"]').click()
            assert page.locator("[role=alertdialog]").count() == 1
            assert page.evaluate("window.__sent") == []

        render_both(browser, view, "run-view-failed", before=check)
    finally:
        view.close()


def test_run_view_restarted_and_hostile(browser, demo_runner):
    src, history, _ = demo_runner
    view = RunView(src, history["warehouse_etl"][-1], live=False)
    hostile = RunView(src, history["hostile"][0], live=False)
    try:
        render_both(browser, view, "run-view-succeeded")
        hostile.selected_step = EVIL

        def check(page):
            assert page.locator("g[data-step]").count() == 2
            assert EVIL in page.locator(".fw-dag").text_content()
            assert EVIL in page.locator(".fw-section pre").last.text_content()

        render_both(browser, hostile, "run-view-hostile", before=check)
    finally:
        view.close()
        hostile.close()


def test_run_view_while_running(browser, demo_runner, monkeypatch):
    src, history, _ = demo_runner
    monkeypatch.setenv("FLOWWIDGETS_DEMO_PACE", "4")
    rid = src.run_now("warehouse_etl")
    view = RunView(src, rid, live=False)
    try:
        def some_running():
            view.refresh()
            return any(s["status"] == "running" for s in view.run.get("steps", []))

        wait_until(some_running, 20, "a running step")
        render_both(browser, view, "run-view-running")
    finally:
        view.close()
        wait_until(lambda: src.run(rid).status.is_terminal, 60, "the slow run to finish")


def test_run_view_of_a_live_stream(browser, demo_runner):
    """events_stream's running run: the stream line (throughput, rows, last watermark and
    the time since, lag) and the elapsed time, drawn from the view's real state."""
    src, history, _ = demo_runner
    view = RunView(src, history["events_stream"][0], live=False)
    try:
        def has_rate():
            view.refresh()
            return (view.run.get("stream") or {}).get("rows_per_sec")

        wait_until(has_rate, 30, "the stream's throughput")

        def check(page):
            line = page.locator(".fw-run-stream").inner_text().lower()  # labels are caps
            assert "rows/s" in line and "last watermark" in line, line
            assert ("ago)" in line or "(just now)" in line) and "lag" in line, line
            assert "so far" in page.locator(".fw-elapsed").inner_text()

        render_both(browser, view, "run-view-stream", before=check)
    finally:
        view.close()


def test_dashboard_nav(browser, demo_runner):
    src, history, _ = demo_runner
    dash = Dashboard(src, live=False)
    try:
        dash.show_jobs("warehouse_etl")
        dash.show_run(history["warehouse_etl"][0])
        render_both(browser, dash.nav, "dashboard-nav", width=900)
    finally:
        dash.close()
    time.sleep(0)


def test_auto_theme_follows_the_system_outside_jupyterlab(browser, demo_runner):
    """No JupyterLab body attribute (VS Code, Colab, marimo, exports): "auto" follows the
    system's colour scheme; a forced theme does not."""
    src, _, _ = demo_runner
    cards = PipelineCards(src, live=False)
    try:
        state = widget_state(cards)
        for scheme, bg in (("os-light", "rgb(255, 255, 255)"), ("os-dark", "rgb(13, 20, 18)")):
            page = open_page(browser, state, scheme)
            try:
                root = page.locator(".fw-root[data-ready='1']").first
                assert root.evaluate("e => getComputedStyle(e).backgroundColor") == bg, scheme
                shoot(page, f"cards-auto-{scheme}")
            finally:
                page.context.close()
        cards.theme = "dark"  # forced: stays dark under a light system
        page = open_page(browser, widget_state(cards), "os-light")
        try:
            root = page.locator(".fw-root[data-ready='1']").first
            assert root.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(13, 20, 18)"
        finally:
            page.context.close()
    finally:
        cards.close()
