"""Runner strings are untrusted: a real ematix-flow ``flow web`` (in-memory history, served
in-process) reports a pipeline, steps and an error that are HTML; the Voilà dashboard shows
them as text in the cards, the DAG SVG and the failure panel, and nothing executes (the
``page`` fixture fails on any dialog, JS error or console error)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from ematix_flow.run_log.history import InMemoryRunHistory, RunRecord  # noqa: E402
from ematix_flow.web.server import create_app  # noqa: E402
from fwtest.browser import assert_no_tracebacks
from fwtest.http import ServerThread  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.peers]

IMG = "<img src=x onerror=alert(1)>"
PIPE = '"><script>alert(2)</script>'
ERR = "ValueError: <b onmouseover=alert(3)>bad</b>"
T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


@pytest.fixture
def hostile_runner():
    history = InMemoryRunHistory()
    history.record_run_record(RunRecord(
        run_id="r-1", pipeline=PIPE, status="failed", started_at=T0,
        finished_at=T0 + timedelta(seconds=5), failed_step=IMG, error_summary=ERR,
        extras={"steps": [
            {"name": "extract", "status": "succeeded", "duration_ms": 1200},
            {"name": IMG, "status": "failed", "depends_on": ["extract"]},
            {"name": "load", "status": "pending", "depends_on": [IMG]}]}))
    with ServerThread(create_app(history=history)) as server:
        yield server.url


def test_hostile_names_render_as_text(page, voila, hostile_runner):
    ui = voila(hostile_runner)
    page.goto(ui.url, timeout=90_000)
    card = page.locator('.fw-root.fw-cards[data-ready="1"] article.fw-card').first
    card.wait_for(timeout=90_000)
    assert_no_tracebacks(page)
    assert page.locator("img[src='x']").count() == 0
    assert page.locator(".fw-root script").count() == 0
    assert PIPE in card.inner_text()

    card.locator("button.fw-sq--failed").first.click()
    svg = page.locator(".fw-root svg").first
    svg.wait_for(timeout=30_000)
    page.get_by_text(ERR).first.wait_for(timeout=30_000)  # the error, as text
    assert IMG in svg.text_content()  # the step name, as SVG text
    assert page.locator("img[src='x']").count() == 0
    assert page.locator("b[onmouseover]").count() == 0
    assert page.evaluate("() => !!document.querySelector('svg img, svg foreignObject')") is False
