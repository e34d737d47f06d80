"""The dashboard notebook in Voilà against a real demo runner, in chromium: the cards, a
failed run's DAG, a restart from the failed step, the jobs table, a runner outage."""

from __future__ import annotations

import re

import pytest
from _demo import PACE, DemoRunner
from fwtest.browser import ARTIFACTS, assert_no_tracebacks, contrast
from fwtest.procs import until as wait_until

from flowwidgets import demo

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# the dark palette of js/src/lib/theme.css (Voilà runs with --theme=dark, as the demo does)
COLOURS = {
    "succeeded": "rgb(43, 179, 163)",
    "failed": "rgb(229, 83, 75)",
    "running": "rgb(242, 169, 59)",
}
TRANSPARENT = "rgba(0, 0, 0, 0)"


@pytest.fixture
def demo_runner(tmp_path, monkeypatch, cleanup):
    """A fresh demo runner with the history of its real runs only (three rounds); stopped
    after the page closed. These tests count what those runs did; the two weeks of
    imported history `flowwidgets demo` adds are covered by test_history_view.py."""
    monkeypatch.setenv("FLOWWIDGETS_DEMO_PACE", PACE)
    runner = DemoRunner(tmp_path, imported=False)
    cleanup.callback(runner.stop_server)
    return runner


def open_dashboard(page, ui) -> None:
    """Load the Voilà page and wait for the cards (the kernel ran the notebook)."""
    page.goto(ui.url, timeout=90_000)
    page.locator('.fw-root.fw-cards[data-ready="1"] article.fw-card').first.wait_for(
        timeout=90_000)
    assert_no_tracebacks(page)


def square_states(card) -> list[str]:
    """Each run square's status (from its class), oldest first."""
    return card.locator("button.fw-sq").evaluate_all(
        "els => els.map(e => [...e.classList].find(c => c.startsWith('fw-sq--')"
        " && c !== 'fw-sq--selected').slice(7))")


def test_cards_show_every_demo_pipeline(page, voila, demo_runner):
    ui = voila(demo_runner.url)
    open_dashboard(page, ui)
    api = {p["name"]: p for p in demo_runner.api("pipelines")["pipelines"]}
    assert len(api) == 6
    cards = page.locator(".fw-cards article.fw-card")
    names = cards.evaluate_all("els => els.map(e => e.dataset.pipeline)")
    assert names == list(api)  # every pipeline, in the runner's order

    for name, p in api.items():
        card = page.locator(f'.fw-card[data-pipeline="{name}"]')
        states = square_states(card)
        assert len(states) + card.locator(".fw-sq--empty").count() == 10
        colours = card.locator("button.fw-sq").evaluate_all(
            "els => els.map(e => getComputedStyle(e).backgroundColor)")
        assert colours == [COLOURS[s] for s in states], (name, states, colours)
        text = card.text_content()
        if p["kind"] == "streaming":
            assert states == ["running"]
            assert "LIVE STREAMING" in text and "NEXT" not in text.upper().split("LIVE")[0]
        else:
            assert len(states) == 3, (name, states)
            next_at = p["next_run_at"]  # "2026-11-22T10:00:00Z"
            # relative within a day ("in 57 min"), the absolute time (UTC) on hover
            title = card.locator(".fw-next time").get_attribute("title")
            assert title == f"{next_at[:10]} {next_at[11:19]} UTC", (name, title)
            shown = f"{next_at[:10]} {next_at[11:16]} UTC"
            assert re.search(rf"Next\s*:?\s*(in \d|{re.escape(shown)})", text, re.I), (name, text)
            assert "LIVE STREAMING" not in text
    assert square_states(page.locator('.fw-card[data-pipeline="warehouse_etl"]')) == [
        "succeeded", "succeeded", "failed"]
    # empty slots are dashed outlines, not coloured squares
    empty = page.locator(".fw-card .fw-sq--empty").first
    assert empty.evaluate("e => getComputedStyle(e).borderTopStyle") == "dashed"
    assert empty.evaluate("e => getComputedStyle(e).backgroundColor") == TRANSPARENT


def node_states(page) -> dict[str, str]:
    """Each DAG node's status (from its class) by step name."""
    return dict(page.locator(".fw-run svg.fw-dag g.fw-node").evaluate_all(
        "els => els.map(e => [e.dataset.step, [...e.classList].find(c => "
        "c.startsWith('fw-node--') && !['fw-node--selected', 'fw-node--cyclic'].includes(c))"
        ".slice(9)])"))


def box_style(page, step: str, prop: str) -> str:
    return page.locator(f'.fw-run g.fw-node[data-step="{step}"] rect.fw-node-box').evaluate(
        f"e => getComputedStyle(e).{prop}")


def open_failed_run(page, failed: str) -> None:
    page.locator(f'.fw-cards button.fw-sq--failed[data-run-id="{failed}"]').click()
    page.locator(".fw-run svg.fw-dag g.fw-node--failed").wait_for(timeout=20_000)


UPSTREAM = ("extract_orders", "transform_orders", "transform_payments")
RERUN = ("merge_payments", "load_warehouse")


def test_failed_square_opens_the_dag_with_the_failure(page, voila, demo_runner):
    failed = demo_runner.failed_warehouse_run()
    open_dashboard(page, voila(demo_runner.url))
    open_failed_run(page, failed)
    crumb = page.locator(".fw-navbar .fw-crumb[aria-current=page]")
    # the navbar is its own widget: its crumbs may arrive a moment after the run's DAG
    wait_until(lambda: crumb.text_content() == f"Run {failed}", 20, "the run's crumb")
    # the way back reads as two crumbs: a visible separator (it was the rule colour,
    # 1.3:1) and a parent crumb in the muted link colour, not the current one's
    sep = page.locator(".fw-navbar .fw-crumb-sep").first
    assert contrast(sep) >= 3, f"breadcrumb separator at {contrast(sep):.2f}:1"
    parent = page.locator(".fw-navbar .fw-crumb[data-target=cards]")
    colour = "e => getComputedStyle(e).color"
    assert parent.evaluate(colour) != crumb.evaluate(colour)
    primary = page.locator(".fw-run .fw-actions .fw-btn--primary").first
    assert contrast(primary) >= 4.5, f"primary button text at {contrast(primary):.2f}:1"
    states = node_states(page)
    assert states == {**dict.fromkeys(UPSTREAM, "succeeded"), "merge_payments": "failed",
                      "load_warehouse": states["load_warehouse"]}
    assert states["load_warehouse"] in ("pending", "skipped")  # never ran
    assert box_style(page, "merge_payments", "stroke") == COLOURS["failed"]
    assert box_style(page, "load_warehouse", "strokeDasharray") != "none"  # dashed
    for step in (*UPSTREAM, "merge_payments"):
        assert box_style(page, step, "strokeDasharray") == "none", step
    # the DAG is laid out left to right by rank: load_warehouse right of merge_payments
    xs = dict(page.locator(".fw-run g.fw-node").evaluate_all(
        "els => els.map(e => [e.dataset.step, e.getBoundingClientRect().x])"))
    assert xs["extract_orders"] < xs["transform_orders"] == xs["transform_payments"] \
        < xs["merge_payments"] < xs["load_warehouse"]
    failure = page.locator(".fw-run .fw-failure").text_content()
    assert "merge_payments" in failure and "amount column missing in batch 47" in failure
    assert page.locator('.fw-run .fw-actions button[data-action="restart"]').text_content() == \
        'Restart from step "merge_payments"'


def test_restart_from_merge_payments_reruns_only_it_and_downstream(page, voila, demo_runner,
                                                                   monkeypatch):
    failed = demo_runner.failed_warehouse_run()
    before = {s["name"]: s for s in demo_runner.api(f"runs/{failed}")["steps"]}
    received: list[tuple[str, str | None]] = []
    runner = demo_runner.runner
    real_restart = runner.restart

    def restart(run_id, from_step=None, **kw):
        received.append((run_id, from_step))  # the API's POST handler reached the runner
        return real_restart(run_id, from_step, **kw)

    monkeypatch.setattr(runner, "restart", restart)
    open_dashboard(page, voila(demo_runner.url))
    open_failed_run(page, failed)
    demo.set_failure(False, demo_runner.data)  # the "fix"

    page.locator('.fw-run .fw-actions button[data-action="restart"]').click()
    page.locator(".fw-run [role=alertdialog] .fw-btn--primary").click()
    outcome = page.locator(".fw-run .fw-last-action", has_text="new run")
    outcome.wait_for(timeout=20_000)
    assert received == [(failed, "merge_payments")]
    text = outcome.text_content()
    assert f'restart from "merge_payments" of run {failed}' in text, text
    new = text.split("new run ", 1)[1].split(":", 1)[0].strip()
    # the view follows the new run until it ends succeeded
    page.locator(".fw-navbar .fw-crumb[aria-current=page]").filter(
        has_text=f"Run {new}").wait_for(timeout=10_000)
    page.locator(".fw-run .fw-run-head .fw-pill--succeeded").wait_for(timeout=30_000)
    # the outcome followed the new run to its end, in the colour of its status
    page.locator(".fw-run .fw-last-action--succeeded", has_text="ended succeeded").wait_for(
        timeout=10_000)
    wait_until(lambda: set(node_states(page).values()) == {"succeeded"}, 10,
               "every node of the restarted run succeeded")
    assert "REUSED" in page.locator(
        '.fw-run g.fw-node[data-step="extract_orders"] .fw-node-meta').text_content()

    detail = demo_runner.api(f"runs/{new}")
    assert detail["status"] == "succeeded" and detail["parent_run_id"] == failed
    assert detail["trigger"] == "restart" and detail["from_step"] == "merge_payments"
    after = {s["name"]: s for s in detail["steps"]}
    source = {s["name"]: s for s in demo_runner.api(f"runs/{failed}")["steps"]}
    for step in UPSTREAM:  # reused from the failed run, not executed again
        assert after[step]["reused_from"] == failed, step
        assert after[step]["attempts"] == 0 and after[step]["status"] == "succeeded", step
        assert source[step]["attempts"] == before[step]["attempts"] == 1, step
    for step in RERUN:  # executed again, in the new run
        assert after[step]["reused_from"] is None, step
        assert after[step]["status"] == "succeeded" and after[step]["attempts"] == 1
    assert {a["step"] for a in detail["attempts"]} == set(RERUN)
    # the cards show it too: the warehouse's newest square is the restart, succeeded
    page.locator(".fw-navbar .fw-crumb[data-target=cards]").click()
    card = page.locator('.fw-card[data-pipeline="warehouse_etl"]')
    card.locator(f'button.fw-sq--succeeded[data-run-id="{new}"]').wait_for(timeout=15_000)
    assert square_states(card) == ["succeeded", "succeeded", "failed", "succeeded"]


def test_jobs_table_filters_sorts_and_opens_a_run(page, voila, demo_runner):
    runs = {r["run_id"]: r for r in demo_runner.api("runs?limit=100")["runs"]}
    assert len(runs) == 16  # 3 rounds of 5 batch pipelines + the stream
    open_dashboard(page, voila(demo_runner.url))
    page.locator('.fw-card[data-pipeline="warehouse_etl"] .fw-card-foot '
                 '[aria-label="all jobs of warehouse_etl"]').click()
    table = page.locator(".fw-root.fw-jobs")
    rows = table.locator("tbody tr[data-run-id]")

    def shown() -> list[str]:
        return rows.evaluate_all("els => els.map(e => e.dataset.runId)")

    wait_until(lambda: len(shown()) == 3, 15, "the warehouse's 3 runs")
    assert {runs[r]["pipeline"] for r in shown()} == {"warehouse_etl"}
    crumbs = page.locator(".fw-navbar .fw-crumb")

    def trail() -> list[str]:
        return crumbs.evaluate_all("els => els.map(e => e.textContent.trim())")

    wait_until(lambda: trail() == ["Runs", "warehouse_etl"], 15, "the breadcrumb names the filter")

    table.locator('select[aria-label="Filter by pipeline"]').select_option("")
    wait_until(lambda: len(shown()) == 16, 15, "every run")
    wait_until(lambda: trail() == ["Runs: all pipelines"], 15, "the breadcrumb follows the filter")
    assert "1–16 of 16 runs" in table.locator(".fw-count").text_content()
    table.locator('select[aria-label="Filter by status"]').select_option("failed")
    failed = demo_runner.failed_warehouse_run()
    wait_until(lambda: shown() == [failed], 15, "only the failed run")
    assert "✗ merge_payments" in rows.first.text_content()
    table.locator('select[aria-label="Filter by status"]').select_option("")
    table.locator('input[aria-label="Search runs"]').fill("customers")
    wait_until(lambda: len(shown()) == 3, 15, "the 3 customers_sync runs")
    assert {runs[r]["pipeline"] for r in shown()} == {"customers_sync"}
    table.locator('input[aria-label="Search runs"]').fill("")
    wait_until(lambda: len(shown()) == 16, 15, "every run again")

    duration = table.locator("th button.fw-sort", has_text="Duration")

    def durations() -> list[float]:
        return [runs[r]["duration_ms"] for r in shown() if runs[r]["duration_ms"] is not None]

    duration.click()  # largest first
    wait_until(lambda: table.locator("th[aria-sort=descending]").count() == 1, 15, "sorted")
    wait_until(lambda: durations() == sorted(durations(), reverse=True), 15, "descending")
    assert len(durations()) == 15
    duration.click()  # smallest first
    wait_until(lambda: table.locator("th[aria-sort=ascending]").count() == 1, 15, "sorted")
    wait_until(lambda: durations() == sorted(durations()), 15, "ascending")
    assert "▲" in duration.text_content()

    pick = shown()[2]
    rows.nth(2).click()
    page.locator(".fw-navbar .fw-crumb[aria-current=page]").filter(
        has_text=f"Run {pick}").wait_for(timeout=15_000)
    page.locator(".fw-run svg.fw-dag g.fw-node").first.wait_for(timeout=15_000)
    assert page.locator(".fw-run .fw-run-title").text_content().endswith(pick)
    assert page.locator(".fw-run").is_visible() and not table.is_visible()


def test_runner_outage_shows_no_runner_attached_then_recovers(page, voila, demo_runner):
    open_dashboard(page, voila(demo_runner.url))
    banner = page.locator(".fw-cards .fw-banner")
    assert banner.is_hidden()
    demo_runner.stop_server()
    banner.wait_for(state="visible", timeout=20_000)
    assert "No runner attached" in banner.text_content()
    assert "offline" in page.locator(".fw-navbar .fw-nav-live").text_content()
    page.screenshot(path=str(ARTIFACTS / "dashboard-outage.png"), full_page=True)
    demo_runner.start_server()  # same port, same SQLite file
    banner.wait_for(state="hidden", timeout=40_000)
    assert "live" in page.locator(".fw-navbar .fw-nav-live").text_content()
    card = page.locator('.fw-card[data-pipeline="warehouse_etl"]')
    assert square_states(card) == ["succeeded", "succeeded", "failed"]
    # the stream's run was cut short by the outage: its square says so
    wait_until(lambda: square_states(page.locator('.fw-card[data-pipeline="events_stream"]'))
               == ["cancelled"], 15, "the stream's run cancelled")
