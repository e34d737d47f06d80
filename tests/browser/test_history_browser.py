"""The History section of the dashboard notebook in Voilà, in chromium, against a real demo
runner holding the demo's two weeks of imported history plus its real runs: marks for the
history, the grid's failing row, brushing filters the Runs table."""

from __future__ import annotations

from datetime import datetime

import pytest
from _demo import PACE, DemoRunner
from fwtest.browser import ARTIFACTS, assert_no_tracebacks
from fwtest.procs import until as wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def demo_runner(tmp_path_factory):
    """One demo runner for the module, as `flowwidgets demo` makes it (imported history,
    then three real rounds). The tests only read it."""
    mp = pytest.MonkeyPatch()
    mp.setenv("FLOWWIDGETS_DEMO_PACE", PACE)
    runner = DemoRunner(tmp_path_factory.mktemp("hist"))
    yield runner
    runner.stop_server()
    mp.undo()


def open_history(page, ui) -> None:
    page.goto(ui.url, timeout=90_000)
    page.locator('.fw-root.fw-cards[data-ready="1"] article.fw-card').first.wait_for(
        timeout=90_000)
    assert_no_tracebacks(page)
    page.locator('.fw-navbar .fw-tab[data-key="history"]').click()
    page.locator(".fw-history .fw-history-marks .fw-mark").first.wait_for(timeout=60_000)


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_history_shows_marks_grid_and_failures(page, voila, demo_runner):
    assert demo_runner.imported > 1500
    open_history(page, voila(demo_runner.url))
    hist = page.locator(".fw-root.fw-history")
    meta = hist.locator(".fw-history-meta").text_content()
    assert "imported runs" in meta and "bucketed" in meta, meta
    assert hist.locator(".fw-history-marks .fw-mark").count() > 200
    assert hist.locator(".fw-history-marks .fw-mark--failed").count() >= 3
    groups = hist.locator(".fw-fgroup")
    wait_until(lambda: groups.count() == 3, 30, "three causes of failure")
    assert "amount column missing in batch <n>" in groups.first.text_content()
    trend = hist.locator('tr[data-pipeline="warehouse_etl"] .fw-trend').text_content()
    assert trend.endswith("slower"), trend
    shot(page, "history-every-pipeline-dark")

    hist.locator('select[aria-label="Pipeline"]').select_option("warehouse_etl")
    grid = hist.locator("svg.fw-history-gridsvg")
    grid.wait_for(timeout=30_000)
    hist.locator(".fw-history-band").wait_for(timeout=10_000)
    red = grid.locator('rect.fw-gcell--failed[data-step="merge_payments"]')
    assert red.count() >= 1  # the failing step's red row (the real failed run at least)
    assert grid.locator("rect.fw-gcell--failed:not([data-step='merge_payments'])").count() == 0
    assert hist.locator(".fw-history-marks .fw-mark--restart").count() == 2
    shot(page, "history-warehouse-dark")

    # a red cell opens that run with the step selected
    cell = red.last
    run_id = cell.get_attribute("data-run-id")
    cell.click()
    page.locator(".fw-navbar .fw-crumb[aria-current=page]").filter(
        has_text=f"Run {run_id}").wait_for(timeout=15_000)
    page.locator('.fw-run g.fw-node--selected[data-step="merge_payments"]').wait_for(
        timeout=15_000)


def test_brushing_filters_the_runs_table(page, voila, demo_runner):
    open_history(page, voila(demo_runner.url))
    hist = page.locator(".fw-root.fw-history")
    hist.locator('select[aria-label="Pipeline"]').select_option("warehouse_etl")
    hist.locator(".fw-history-band").wait_for(timeout=30_000)
    # the chart may be redrawn (live, or the pipeline's payload landing) right now
    chart = hist.locator("svg.fw-history-svg")
    wait_until(lambda: chart.count() == 1 and chart.bounding_box() is not None, 15,
               "the chart laid out")
    box = chart.bounding_box()
    assert box is not None
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.45, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.55, y, steps=5)
    page.mouse.up()
    note = hist.locator(".fw-history-brush")
    note.locator('[data-action="show-runs"]').wait_for(timeout=15_000)
    text = note.text_content()
    assert "selected" in text and "runs" in text
    shot(page, "history-brushed")
    note.locator('[data-action="show-runs"]').click()
    table = page.locator(".fw-root.fw-jobs")
    rows = table.locator("tbody tr[data-run-id]")
    rows.first.wait_for(timeout=30_000)
    # the (hidden) table may hold rows before the dashboard has switched: wait for the path
    crumb = page.locator(".fw-navbar .fw-crumb")
    wait_until(lambda: crumb.evaluate_all("els => els.map(e => e.textContent.trim())")[:2]
               == ["Runs", "warehouse_etl"], 15, "the Runs › warehouse_etl breadcrumb")
    crumbs = crumb.evaluate_all("els => els.map(e => e.textContent.trim())")
    assert crumbs[2].endswith("UTC"), crumbs
    lo, hi = (datetime.fromisoformat(x.strip().replace(" ", "T") + "+00:00")
              for x in crumbs[2].removesuffix("UTC").split("–"))
    ids = rows.evaluate_all("els => els.map(e => e.dataset.runId)")
    total = int(table.locator(".fw-count").text_content().split(" of ")[1].split()[0])
    # 10 % of 14 days of hourly runs: about 34 of them, not the 339 of the pipeline
    assert 20 <= total <= 50, total
    for run_id in ids:
        run = demo_runner.api(f"runs/{run_id}")
        started = datetime.fromisoformat(run["started_at"].replace("Z", "+00:00"))
        assert run["pipeline"] == "warehouse_etl"
        assert lo.replace(second=0) <= started.replace(second=0, microsecond=0) <= hi, run_id
    shot(page, "history-brush-runs-table")


def test_compare_with_the_previous_success(page, voila, demo_runner):
    failed = demo_runner.failed_warehouse_run()
    page.goto(voila(demo_runner.url).url, timeout=90_000)
    page.locator(f'.fw-cards button.fw-sq--failed[data-run-id="{failed}"]').click(
        timeout=90_000)
    run = page.locator(".fw-root.fw-run")
    run.locator("svg.fw-dag g.fw-node--failed").wait_for(timeout=20_000)
    run.locator('button[data-action="compare"]').click()
    table = run.locator(".fw-cmp-table")
    table.wait_for(timeout=20_000)
    rows = table.locator("tbody tr")
    assert rows.first.get_attribute("data-step") == "merge_payments"
    assert "new failure" in rows.first.text_content()
    changes = rows.evaluate_all("els => els.map(e => [e.dataset.step, e.className])")
    slower = [s for s, cls in changes if "fw-cmp-row--slower" in cls]
    steps = [s for s, _ in changes]
    if slower:  # slowdowns come right after the new failure, biggest first
        assert steps[1:1 + len(slower)] == slower
    assert "First differing error · merge_payments" in run.locator(".fw-cmp-err").text_content()
    head = run.locator(".fw-cmp-head").text_content()
    assert f"B {failed[:24]}" in head or "B " in head
    run.locator(".fw-cmp-section").screenshot(path=str(ARTIFACTS / "compare-in-run-view.png"))


def test_csv_export_downloads_the_filtered_rows(page, voila, demo_runner, tmp_path):
    page.goto(voila(demo_runner.url).url, timeout=90_000)
    page.locator('.fw-root.fw-cards[data-ready="1"] article.fw-card').first.wait_for(
        timeout=90_000)
    page.locator('.fw-navbar .fw-tab[data-key="jobs"]').click()
    table = page.locator(".fw-root.fw-jobs")
    table.locator('select[aria-label="Filter by pipeline"]').select_option("warehouse_etl")
    table.locator('select[aria-label="Filter by status"]').select_option("failed")
    rows = table.locator("tbody tr[data-run-id]")
    wanted = [r["run_id"] for r in demo_runner.api(
        "runs?pipeline=warehouse_etl&status=failed&limit=500")["runs"]]
    wait_until(lambda: rows.count() == min(len(wanted), 25)
               and table.locator(".fw-count").text_content().endswith(f"{len(wanted)} runs"),
               30, "the failed warehouse runs")
    first = rows.first
    assert "merge_payments" in first.locator(".fw-error-line").text_content() or \
        "amount column missing" in first.locator(".fw-error-line").text_content()
    assert first.locator("code.fw-runid").text_content() == wanted[0]
    shot(page, "jobs-table-columns")
    with page.expect_download(timeout=30_000) as info:
        table.locator('button[data-action="export-csv"]').click()
    path = tmp_path / info.value.suggested_filename
    info.value.save_as(path)
    assert path.name.startswith("runs-warehouse_etl-failed-")
    lines = path.read_text().splitlines()
    assert lines[0].startswith("run_id,pipeline,status,trigger")
    assert [line.split(",")[0] for line in lines[1:]] == wanted  # newest first, as shown
    assert all(",failed," in line for line in lines[1:])


def test_a_failure_group_opens_the_runs_table_filtered_to_its_runs(page, voila, demo_runner):
    open_history(page, voila(demo_runner.url))
    hist = page.locator(".fw-root.fw-history")
    group = hist.locator(".fw-fgroup").filter(has_text="warehouse_etl · merge_payments")
    group.wait_for(timeout=30_000)
    count = int(group.locator(".fw-fcount").text_content().strip("✗× "))
    signature = group.locator(".fw-fsig").text_content()
    group.locator(".fw-fgroup-head").click()
    table = page.locator(".fw-root.fw-jobs")
    rows = table.locator("tbody tr[data-run-id]")
    rows.first.wait_for(timeout=30_000)
    wait_until(lambda: table.locator(".fw-count").text_content().endswith(f"{count} runs"),
               30, f"the group's {count} runs")
    want = ["Runs", "warehouse_etl", f"failures: {signature}"]
    crumbs = page.locator(".fw-navbar .fw-crumb")
    wait_until(lambda: crumbs.evaluate_all("els => els.map(e => e.textContent.trim())")
               == want, 15, f"the breadcrumb {want}")
    assert table.is_visible() and not hist.is_visible()
    failed = {r["run_id"] for r in demo_runner.api(
        "runs?pipeline=warehouse_etl&status=failed&limit=500")["runs"]}
    ids = rows.evaluate_all("els => els.map(e => e.dataset.runId)")
    assert ids and set(ids) <= failed and len(ids) == min(count, 25)
    shot(page, "history-failure-group-runs")
    # back: the History view, the group still highlighted
    page.locator(".fw-navbar .fw-tab[data-key='history']").click()
    hist.locator(".fw-fgroup--on").wait_for(timeout=15_000)


def test_history_in_a_light_page(browser, voila, demo_runner):
    """Voilà's light theme in a browser that prefers light: the real light page (the
    colours come from JupyterLab's light variables), every pipeline then one."""
    context = browser.new_context(viewport={"width": 1280, "height": 900},
                                  color_scheme="light")
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        open_history(page, voila(demo_runner.url, args=["--theme=light"]))
        assert page.evaluate("document.body.dataset.jpThemeLight") == "true"
        hist = page.locator(".fw-root.fw-history")
        bg = hist.evaluate("e => getComputedStyle(e).backgroundColor")
        text = hist.evaluate("e => getComputedStyle(e).color")
        assert _luma(bg) > 0.85 and _luma(text) < 0.35, (bg, text)
        hist.locator(".fw-fgroup").first.wait_for(timeout=30_000)
        shot(page, "history-every-pipeline-light")
        hist.locator('select[aria-label="Pipeline"]').select_option("warehouse_etl")
        hist.locator("svg.fw-history-gridsvg").wait_for(timeout=30_000)
        hist.locator(".fw-history-band").wait_for(timeout=10_000)
        shot(page, "history-warehouse-light")
        assert not errors, errors
    finally:
        context.close()


def _luma(css: str) -> float:
    """Relative brightness (0 black … 1 white) of an ``rgb(…)`` / ``rgba(…)`` colour."""
    r, g, b = (int(float(x)) for x in css[css.index("(") + 1:-1].split(",")[:3])
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255


def test_the_runs_filter_bar_shows_the_failure_group_as_a_chip_that_lifts_it(
        page, voila, demo_runner):
    """The Runs table's own filter bar names the group ("failures: <signature> ×"), as the
    breadcrumb does; its × restores the pipeline's unfiltered table and the breadcrumb."""
    open_history(page, voila(demo_runner.url))
    hist = page.locator(".fw-root.fw-history")
    group = hist.locator(".fw-fgroup").filter(has_text="warehouse_etl · merge_payments")
    group.wait_for(timeout=30_000)
    count = int(group.locator(".fw-fcount").text_content().strip("✗× "))
    signature = group.locator(".fw-fsig").text_content()
    group.locator(".fw-fgroup-head").click()
    table = page.locator(".fw-root.fw-jobs")
    summary = table.locator(".fw-count")
    wait_until(lambda: summary.text_content().endswith(f"{count} runs"), 30,
               f"the group's {count} runs")
    chip = table.locator(".fw-filters .fw-runset")
    chip.wait_for(state="visible", timeout=15_000)
    assert chip.locator(".fw-chip-text").text_content() == f"failures: {signature}"
    shot(page, "runs-failure-group-chip")

    before = demo_runner.api("runs?pipeline=warehouse_etl&limit=1")["total"]
    chip.locator('button[data-action="clear-run-set"]').click()
    chip.wait_for(state="hidden", timeout=15_000)
    crumbs = page.locator(".fw-navbar .fw-crumb")
    wait_until(lambda: crumbs.evaluate_all("els => els.map(e => e.textContent.trim())")
               == ["Runs", "warehouse_etl"], 15, "the breadcrumb without the group")

    def total() -> int:
        text = summary.text_content() or ""
        return int(text.rsplit(" of ", 1)[-1].split()[0].replace(",", "")) if " of " in text \
            else -1

    wait_until(lambda: total() >= before, 30, f"every warehouse_etl run ({before}+)")
    after = demo_runner.api("runs?pipeline=warehouse_etl&limit=1")["total"]
    assert before <= total() <= after and total() > count
    assert table.locator('select[aria-label="Filter by pipeline"]').input_value() == "warehouse_etl"
    shot(page, "runs-failure-group-chip-cleared")
