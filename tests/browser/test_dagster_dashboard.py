"""The Dashboard over a live Dagster 1.13, in Voilà and chromium: the diamond job's failed run
is a red square on its card; its run view shows the failed op red, its downstream not run,
the job's edges; "Restart from step "enrich"" re-executes it from failure — Dagster makes a
new run — and the view opens that run and follows it to succeeded, the reused upstream ops
marked "reused".

    extract ─┬─ clean ──┬─ join ── publish
             └─ enrich ─┘          (enrich fails while the fail-switch file exists)

The Dagster server is the session fixture of tests/fwtest/orchestrators.py; the notebook is
tests/browser/notebooks/dagster_dashboard.ipynb, served by the ``voila`` fixture.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fwtest.browser import ARTIFACTS, assert_no_tracebacks, wait_until
from fwtest.orchestrators import LiveServer, wait_run

import flowwidgets as fw
from flowwidgets.demo import _ui
from flowwidgets.models import Status

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow,
              pytest.mark.timeout(600)]

NOTEBOOK = Path(__file__).with_name("notebooks") / "dagster_dashboard.ipynb"
JOB = "fw_diamond"
EDGES = {("extract", "clean"), ("extract", "enrich"), ("clean", "join"), ("enrich", "join"),
         ("join", "publish")}
UPSTREAM = ("extract", "clean")
DOWNSTREAM = ("join", "publish")
FAILED_RED = "rgb(229, 83, 75)"
SUCCEEDED_TEAL = "rgb(43, 179, 163)"
RUN_TIMEOUT = 120.0


def node_states(page) -> dict[str, str]:
    """Each DAG node's status (from its class) by step key."""
    return dict(page.locator(".fw-run svg.fw-dag g.fw-node").evaluate_all(
        "els => els.map(e => [e.dataset.step, [...e.classList].find(c => "
        "c.startsWith('fw-node--') && !['fw-node--selected', 'fw-node--cyclic'].includes(c))"
        ".slice(9)])"))


def edges(page) -> set[tuple[str, str]]:
    return {(s, t) for s, t in page.locator(".fw-run svg.fw-dag path.fw-edge").evaluate_all(
        "els => els.map(e => [e.dataset.source, e.dataset.target])")}


def box_style(page, step: str, prop: str) -> str:
    return page.locator(f'.fw-run g.fw-node[data-step="{step}"] rect.fw-node-box').evaluate(
        f"e => getComputedStyle(e).{prop}")


def node_meta(page, step: str) -> str:
    return page.locator(f'.fw-run g.fw-node[data-step="{step}"] .fw-node-meta').text_content()


def test_dagster_failed_run_restarts_from_failure_in_the_dashboard(
        page, voila, dagster_live: LiveServer, monkeypatch):
    dagster_live.fail()  # a test sharing the server may have healed it
    with fw.connect(dagster_live.url, timeout=30) as src:
        assert src.flavour == "dagster"
        run_id = src.run_now(JOB)
        monkeypatch.setattr(_ui, "dashboard_notebook", lambda: NOTEBOOK)
        ui = voila(dagster_live.url)  # while the job runs
        failed = wait_run(src, run_id, lambda d: d.status.is_terminal)
        assert failed.status is Status.FAILED, failed.status
        jobs = [p.name for p in src.pipelines()]

        # -- the cards: every job, the run's square red -----------------------------------
        page.goto(ui.url, timeout=120_000)
        page.locator('.fw-root.fw-cards[data-ready="1"] article.fw-card').first.wait_for(
            timeout=120_000)
        assert_no_tracebacks(page)
        cards = page.locator(".fw-cards article.fw-card")
        wait_until(lambda: sorted(cards.evaluate_all("els => els.map(e => e.dataset.pipeline)"))
                   == sorted(jobs), 30, f"a card for each job {jobs}")
        card = page.locator(f'.fw-card[data-pipeline="{JOB}"]')
        square = card.locator(f'button.fw-sq--failed[data-run-id="{run_id}"]')
        square.wait_for(timeout=30_000)
        assert square.evaluate("e => getComputedStyle(e).backgroundColor") == FAILED_RED
        assert "manual" in card.text_content()  # no schedule
        assert "manual" in page.locator('.fw-card[data-pipeline="fw_sensed"]').text_content()
        nightly = page.locator('.fw-card[data-pipeline="fw_nightly"]').text_content()
        assert "Next" in nightly and "manual" not in nightly, nightly

        # -- the run view: enrich red, join/publish never ran, the job's edges ------------
        square.click()
        page.locator(".fw-run svg.fw-dag g.fw-node--failed").wait_for(timeout=30_000)
        states = node_states(page)
        assert states == {"extract": "succeeded", "clean": "succeeded", "enrich": "failed",
                          "join": "pending", "publish": "pending"}, states
        for step in DOWNSTREAM:
            assert box_style(page, step, "strokeDasharray") != "none", step
        assert box_style(page, "enrich", "stroke") == FAILED_RED
        assert box_style(page, "extract", "stroke") == SUCCEEDED_TEAL
        assert edges(page) == EDGES
        failure = page.locator(".fw-run .fw-failure").text_content()
        assert "✗ enrich" in failure and "the flag file is there" in failure, failure
        restart = page.locator('.fw-run .fw-actions button[data-action="restart"]')
        assert restart.text_content() == 'Restart from step "enrich"'
        assert page.locator('.fw-run .fw-actions button[data-action="rerun"]').is_visible()
        assert page.locator('.fw-run .fw-actions button[data-action="resume"]').count() == 0
        page.screenshot(path=str(ARTIFACTS / "dagster-dashboard-failed-run.png"),
                        full_page=True)

        # -- heal, restart from enrich: a new Dagster run, opened and followed ------------
        dagster_live.heal()
        restart.click()
        dialog = page.locator(".fw-run [role=alertdialog]")
        assert f'Restart run {run_id} from step "enrich"?' in dialog.text_content()
        dialog.locator(".fw-btn--primary").click()
        outcome = page.locator(".fw-run .fw-last-action", has_text="new run")
        outcome.wait_for(timeout=30_000)
        text = outcome.text_content()
        assert f'restart from "enrich" of run {run_id}' in text, text
        new_id = text.split("new run ", 1)[1].split(":", 1)[0].strip()
        assert new_id and new_id != run_id, text

        page.locator(".fw-run .fw-run-head .fw-pill--succeeded").wait_for(
            timeout=RUN_TIMEOUT * 1000)
        assert page.locator(".fw-run .fw-run-title").text_content().endswith(new_id)
        wait_until(lambda: set(node_states(page).values()) == {"succeeded"}, 30,
                   "every node of the re-execution succeeded")
        for step in UPSTREAM:  # loaded from the failed run's stored outputs
            assert "reused" in node_meta(page, step).lower(), step
        for step in ("enrich", *DOWNSTREAM):
            assert "reused" not in node_meta(page, step).lower(), step
        page.screenshot(path=str(ARTIFACTS / "dagster-dashboard-restarted-run.png"),
                        full_page=True)

        # what Dagster really did: only enrich and its downstream ran in the new run
        done = wait_run(src, new_id, lambda d: d.status is Status.SUCCEEDED, 10)
        assert done.parent_run_id == run_id
        ran = sorted(line.split()[0] for line in dagster_live.traced()
                     if line.endswith(f" {new_id}"))
        assert ran == ["enrich", "join", "publish"]

        # -- back on the cards, the new run is a succeeded square, newest right -----------
        page.locator(".fw-navbar .fw-crumb[data-target=cards]").click()
        card.locator(f'button.fw-sq--succeeded[data-run-id="{new_id}"]').wait_for(
            timeout=30_000)
    assert_no_tracebacks(page)
