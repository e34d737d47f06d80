"""The views in marimo (``marimo run`` of marimo_app.py, in chromium) against a real demo
runner: PipelineCards, JobsTable and RunView render live through ``mo.ui.anywidget``; a
click on a square reaches Python (a dependent cell re-runs and shows the run id); "Run
now" is a message round trip (the kernel POSTs to the runner and replies with the new run
id, which the runner knows). The Dashboard, an ipywidgets container, is not rendered live
by marimo: only its static snapshot shows."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from _compat_harness import ARTIFACTS
from _compat_servers import isolated_env, start_server

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

APP = Path(__file__).with_name("marimo_app.py")


def test_views_render_and_talk_to_python_in_marimo(page, demo_runner, tmp_path, cleanup):
    failed = demo_runner.failed_run
    env = isolated_env(tmp_path / "env", RUNNER_STATUS_URL=demo_runner.url,
                       COMPAT_RUN_ID=failed)
    port = start_server(
        ["marimo", "run", str(APP), "--headless", "--host=127.0.0.1", "--port={port}",
         "--no-token", "--no-sandbox", "--no-check"],
        cwd=tmp_path, env=env, log=tmp_path / "marimo.log", cleanup=cleanup)

    page.goto(f"http://127.0.0.1:{port}/", timeout=90_000)
    cards = page.locator('.fw-root.fw-cards[data-ready="1"] article.fw-card')
    cards.first.wait_for(timeout=90_000)
    expected = [p.name for p in demo_runner.source.pipelines()]
    assert cards.evaluate_all("els => els.map(e => e.dataset.pipeline)") == expected
    page.locator(f'.fw-root.fw-jobs[data-ready="1"] [data-run-id="{failed}"]').wait_for(
        timeout=30_000)
    page.locator('.fw-root.fw-run[data-ready="1"] g.fw-node--failed'
                 '[data-step="merge_payments"]').wait_for(timeout=30_000)

    # a square's click reaches Python: the cell reading cards.widget re-runs
    page.locator(f'.fw-cards button.fw-sq[data-run-id="{failed}"]').click()
    page.locator(f'.compat-selected[data-run-id="{failed}"]').wait_for(timeout=30_000)

    # "Run now": JS → kernel (POST to the runner) → reply with the new run id → JS
    page.locator('.fw-card[data-pipeline="revenue_report"] button.fw-btn').click()
    notice = page.locator(".fw-cards .fw-notice").filter(has_text="Started revenue_report")
    notice.wait_for(timeout=30_000)
    match = re.search(r"run (\S+)$", notice.inner_text().strip())
    assert match, notice.inner_text()
    assert demo_runner.source.run(match.group(1)).run.pipeline == "revenue_report"

    # the Dashboard (ipywidgets VBox): marimo shows its text/html snapshot, not the views
    snapshot = page.locator(".fw-static-cards")
    assert snapshot.count() == 1
    assert page.locator(".fw-navbar").count() == 0
    snapshot.scroll_into_view_if_needed()  # marimo scrolls inside the page: shoot this too
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "marimo-dashboard-snapshot.png"))
