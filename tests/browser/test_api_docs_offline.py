"""``/api/docs`` in chromium with every outside request refused (the ``page`` fixture
aborts anything not on 127.0.0.1): the reference shows every operation, asks for nothing
from outside, and runs no script."""

from __future__ import annotations

from pathlib import Path

import pytest
from fwtest.browser import ARTIFACTS

from flowwidgets.runner._local import LocalRunner
from flowwidgets.runner.serve import serve_in_thread
from flowwidgets.runner.spec import Pipelines, PipelineSpec, StepSpec

pytestmark = [pytest.mark.integration]


def test_api_docs_render_offline(page, tmp_path: Path, cleanup):
    spec = Pipelines((PipelineSpec("orders", (StepSpec("a", run="true"),)),), base_dir=tmp_path)
    runner = LocalRunner(spec, db=tmp_path / "runs.sqlite", data_dir=tmp_path, tick_s=0.2)
    server = serve_in_thread(runner, port=0)
    cleanup.callback(server.stop)
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    page.goto(f"{server.url}/api/docs")
    page.get_by_text("POST", exact=True).first.wait_for(timeout=10_000)
    text = page.inner_text("body")
    for op in ("/api/runs/{run_id}/cancel", "/api/runs/{run_id}/restart", "/api/pipelines",
               "/api/runs/{run_id}/steps/{step}/log"):
        assert op in text, op
    assert "flowwidgets runner" in text
    assert page.locator("script").count() == 0
    assert page.blocked == [], f"asked the network for {page.blocked}"
    assert all(u.startswith(server.url) for u in requested), requested
    page.screenshot(path=str(ARTIFACTS / "api-docs-offline.png"), full_page=False)
