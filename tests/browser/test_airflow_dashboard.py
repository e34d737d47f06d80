"""The Dashboard over a live Airflow 3.3.2, in Voilà and chromium: the diamond DAG's failed
run is a red square on its card; its run view shows the failed task red, its downstream not
run, the DAG's edges; "Restart from step "enrich"" restarts it in place (Airflow keeps the
dag run and gives the cleared tasks new tries) and the view follows it to succeeded.

    extract ─┬─ clean ──┬─ join ── publish
             └─ enrich ─┘          (enrich fails while the fail-switch file exists)

The Airflow server is the session fixture of tests/fwtest/orchestrators.py (one
``airflow standalone`` per session for this module, stopped by process group at the end);
the notebook is tests/browser/notebooks/airflow_dashboard.ipynb, served by the ``voila``
fixture with the URL and the login in its environment.
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

NOTEBOOK = Path(__file__).with_name("notebooks") / "airflow_dashboard.ipynb"
DAG = "fw_diamond"
EDGES = {("extract", "clean"), ("extract", "enrich"), ("clean", "join"), ("enrich", "join"),
         ("join", "publish")}
UPSTREAM = ("extract", "clean")
DOWNSTREAM = ("join", "publish")
# the dark palette (DESIGN.md "Look"; Voilà runs with --theme=dark)
FAILED_RED = "rgb(229, 83, 75)"
SUCCEEDED_TEAL = "rgb(43, 179, 163)"
RUN_TIMEOUT = 180.0
"""Seconds for a diamond run to end (measured on 2 shared cores: 21 s for the failing run,
4 s for the restart from enrich)."""


def square_states(card) -> list[str]:
    """Each run square's status (from its class), oldest first."""
    return card.locator("button.fw-sq").evaluate_all(
        "els => els.map(e => [...e.classList].find(c => c.startsWith('fw-sq--')"
        " && c !== 'fw-sq--selected').slice(7))")


def node_states(page) -> dict[str, str]:
    """Each DAG node's status (from its class) by task id."""
    return dict(page.locator(".fw-run svg.fw-dag g.fw-node").evaluate_all(
        "els => els.map(e => [e.dataset.step, [...e.classList].find(c => "
        "c.startsWith('fw-node--') && !['fw-node--selected', 'fw-node--cyclic'].includes(c))"
        ".slice(9)])"))


def edges(page) -> dict[tuple[str, str], bool]:
    """Each drawn edge (source, target) → whether it is drawn as done (its source ran)."""
    return {(s, t): done for s, t, done in page.locator(".fw-run svg.fw-dag path.fw-edge")
            .evaluate_all("els => els.map(e => [e.dataset.source, e.dataset.target,"
                          " e.classList.contains('fw-edge--done')])")}


def box_style(page, step: str, prop: str) -> str:
    return page.locator(f'.fw-run g.fw-node[data-step="{step}"] rect.fw-node-box').evaluate(
        f"e => getComputedStyle(e).{prop}")


def node_meta(page, step: str) -> str:
    return page.locator(f'.fw-run g.fw-node[data-step="{step}"] .fw-node-meta').text_content()


def serve_notebook(voila, live: LiveServer, monkeypatch) -> _ui.UiServer:
    """Voilà serving notebooks/airflow_dashboard.ipynb against the live Airflow.

    The ``voila`` fixture serves the packaged dashboard notebook; this hands it ours
    instead (``UiServer`` copies whatever ``dashboard_notebook()`` names)."""
    monkeypatch.setattr(_ui, "dashboard_notebook", lambda: NOTEBOOK)
    return voila(live.url, env={"AIRFLOW_USERNAME": live.username,
                                "AIRFLOW_PASSWORD": live.password})


def test_airflow_failed_run_restarts_from_the_failed_task_in_the_dashboard(
        page, voila, airflow_live, monkeypatch):  # noqa: F811 - the imported fixture
    airflow_live.fail()  # a test sharing the server may have healed it
    with fw.connect(airflow_live.url, username=airflow_live.username,
                    password=airflow_live.password, timeout=30) as src:
        assert src.flavour == "airflow"
        traced_before = len(airflow_live.traced())
        run_id = src.run_now(DAG)
        ui = serve_notebook(voila, airflow_live, monkeypatch)  # while the DAG runs
        failed = wait_run(src, run_id, lambda d: d.status.is_terminal, RUN_TIMEOUT)
        assert failed.status is Status.FAILED, failed.status
        dags = [p.name for p in src.pipelines()]

        # -- the cards: every DAG, the run's square red --------------------------------
        page.goto(ui.url, timeout=120_000)
        page.locator('.fw-root.fw-cards[data-ready="1"] article.fw-card').first.wait_for(
            timeout=120_000)
        assert_no_tracebacks(page)
        cards = page.locator(".fw-cards article.fw-card")
        wait_until(lambda: cards.evaluate_all("els => els.map(e => e.dataset.pipeline)")
                   == dags, 30, f"a card for each DAG {dags}")
        card = page.locator(f'.fw-card[data-pipeline="{DAG}"]')
        square = card.locator(f'button.fw-sq--failed[data-run-id="{run_id}"]')
        square.wait_for(timeout=30_000)
        states = square_states(card)
        assert states[-1] == "failed", states  # newest right
        assert square.evaluate("e => getComputedStyle(e).backgroundColor") == FAILED_RED
        assert "manual" in card.text_content()  # schedule=None: no next run

        # -- the run view: enrich red, join/publish never ran, the diamond's edges -----
        square.click()
        page.locator(".fw-run svg.fw-dag g.fw-node--failed").wait_for(timeout=30_000)
        assert page.locator(".fw-navbar .fw-crumb[aria-current=page]").text_content() == \
            f"Run {run_id}"
        assert page.locator(".fw-run .fw-run-title").text_content().endswith(run_id)
        nodes = node_states(page)
        assert {k: nodes[k] for k in (*UPSTREAM, "enrich")} == {
            "extract": "succeeded", "clean": "succeeded", "enrich": "failed"}, nodes
        assert set(nodes) == {"extract", "clean", "enrich", "join", "publish"}
        for step in DOWNSTREAM:  # upstream_failed in Airflow: not run, drawn dashed
            assert nodes[step] in ("pending", "skipped"), (step, nodes)
            assert box_style(page, step, "strokeDasharray") != "none", step
        assert box_style(page, "enrich", "stroke") == FAILED_RED
        assert box_style(page, "extract", "stroke") == SUCCEEDED_TEAL
        assert edges(page) == {e: e[0] in UPSTREAM for e in EDGES}
        xs = dict(page.locator(".fw-run g.fw-node").evaluate_all(
            "els => els.map(e => [e.dataset.step, e.getBoundingClientRect().x])"))
        assert xs["extract"] < xs["clean"] == xs["enrich"] < xs["join"] < xs["publish"], xs
        failure = page.locator(".fw-run .fw-failure").text_content()
        assert "✗ enrich" in failure and "the flag file is there" in failure, failure
        restart = page.locator('.fw-run .fw-actions button[data-action="restart"]')
        assert restart.text_content() == 'Restart from step "enrich"'
        assert page.locator('.fw-run .fw-actions button[data-action="rerun"]').is_visible()
        assert page.locator('.fw-run .fw-actions button[data-action="resume"]').count() == 0
        page.screenshot(path=str(ARTIFACTS / "airflow-dashboard-failed-run.png"),
                        full_page=True)

        # -- heal, restart from enrich, confirm in the view ----------------------------
        airflow_live.heal()
        restart.click()
        dialog = page.locator(".fw-run [role=alertdialog]")
        assert f'Restart run {run_id} from step "enrich"?' in dialog.text_content()
        dialog.locator(".fw-btn--primary").click()
        outcome = page.locator(".fw-run .fw-last-action", has_text="new run")
        outcome.wait_for(timeout=30_000)
        text = outcome.text_content()
        assert f'restart from "enrich" of run {run_id}' in text, text
        assert f"new run {run_id}:" in text, text  # in place: the same dag run

        # the view follows the same run until it ends succeeded
        page.locator(".fw-run .fw-run-head .fw-pill--succeeded").wait_for(
            timeout=RUN_TIMEOUT * 1000)
        wait_until(lambda: set(node_states(page).values()) == {"succeeded"}, 30,
                   "every node of the restarted run succeeded")
        assert edges(page) == dict.fromkeys(EDGES, True)
        assert "2 tries" in node_meta(page, "enrich")
        for step in (*UPSTREAM, *DOWNSTREAM):
            assert "tries" not in node_meta(page, step), step
        assert page.locator(".fw-navbar .fw-crumb[aria-current=page]").text_content() == \
            f"Run {run_id}"
        rows = page.locator(".fw-run table[aria-label='attempt history'] tbody tr")
        enrich_tries = rows.filter(has=page.locator("td:nth-child(2)", has_text="enrich"))
        assert enrich_tries.count() == 2
        page.screenshot(path=str(ARTIFACTS / "airflow-dashboard-restarted-run.png"),
                        full_page=True)

        # what Airflow really did: only enrich and its downstream ran again, as new tries
        done = wait_run(src, run_id, lambda d: d.status is Status.SUCCEEDED, 10)
        tries = {s.name: [(a.number, a.status) for a in s.attempts] for s in done.steps}
        assert tries["enrich"] == [(1, Status.FAILED), (2, Status.SUCCEEDED)]
        assert all(tries[s] == [(1, Status.SUCCEEDED)] for s in (*UPSTREAM, *DOWNSTREAM))
        ran = airflow_live.traced()[traced_before:]
        assert sorted(ran) == sorted(["extract 1", "clean 1", "enrich 1", "enrich 2",
                                      "join 1", "publish 1"])

        # -- back on the cards, the run's square is succeeded --------------------------
        page.locator(".fw-navbar .fw-crumb[data-target=cards]").click()
        card.locator(f'button.fw-sq--succeeded[data-run-id="{run_id}"]').wait_for(
            timeout=30_000)
        assert square_states(card)[-1] == "succeeded"
    assert_no_tracebacks(page)
