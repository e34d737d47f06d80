"""The ETA of a running run where users look: the card of its pipeline, its jobs-table
row, the run view's header and the TUI's run line — over a real runner (the diamond of
tests/integration/_timing_jobs.py, its slow step held long enough to look)."""

from __future__ import annotations

from pathlib import Path

import pytest
from _widget_support import wait_until

from flowwidgets.runner._local import LocalRunner
from flowwidgets.runner.serve import serve_in_thread
from flowwidgets.runner.spec import Pipelines, PipelineSpec, StepSpec
from flowwidgets.sources import connect
from flowwidgets.tui._data import fetch_snapshot
from flowwidgets.tui._rows import run_info
from flowwidgets.widgets import JobsTable, PipelineCards, RunView
from flowwidgets.widgets._run_timing import HistoryCache

pytestmark = pytest.mark.integration

JOBS = Path(__file__).resolve().parents[1] / "integration"


def _step(name: str, *deps: str) -> StepSpec:
    return StepSpec(name, depends_on=deps, call="_timing_jobs:nap")


DIAMOND = PipelineSpec("diamond", (_step("a"), _step("slow", "a"), _step("fast", "a"),
                                   _step("d", "slow", "fast")))


def test_eta_in_card_jobs_table_run_view_and_tui(tmp_path):
    runner = LocalRunner(Pipelines((DIAMOND,), base_dir=JOBS), db=tmp_path / "runs.sqlite",
                         tick_s=0.02, data_dir=tmp_path, max_workers=2)
    with serve_in_thread(runner) as server, connect(server.url) as src:
        for _ in range(2):
            runner.wait(runner.run_now("diamond"), timeout=30)
        (tmp_path / "sleep-slow").write_text("3")
        rid = runner.run_now("diamond")
        try:
            wait_until(lambda: src.run(rid).step("slow").started_at is not None, 10, rid)
            cards = PipelineCards(src, live=False)
            table = JobsTable(src, live=False, background=False)
            view = RunView(src, rid, live=False)
            try:
                card = next(c for c in cards.pipelines if c["name"] == "diamond")
                assert card["eta"].startswith("ETA ") and "UTC (in " in card["eta"]
                row = next(r for r in table._rows if r["run_id"] == rid)
                assert row["eta"].startswith("ETA ")
                assert all(r["eta"] == "" for r in table._rows if r["run_id"] != rid)
                assert view.run["eta_text"].startswith("ETA ")
                assert "ETA" in view._repr_mimebundle_()[0]["text/html"]
            finally:
                cards.close()
                table.close()
                view.close()
            cache = HistoryCache(lambda p: src.step_history(p, limit=21, status="succeeded"))
            snap = fetch_snapshot(src, "diamond", None, follow_latest=True, history=cache)
            assert snap.run_id == rid and snap.eta.startswith("ETA ")
            assert "ETA " in run_info(snap.detail, snap.at, snap.eta).plain
        finally:
            (tmp_path / "sleep-slow").unlink()
            runner.wait(rid, timeout=30)


def test_a_streaming_run_has_no_eta_a_batch_run_has_one():
    # the demo's live stream showed "ETA partial: 1 step has no history" in the run view,
    # the jobs table and the card: a stream has no end to estimate
    from datetime import UTC, datetime

    from flowwidgets.models import Run, RunDetail, Status, Step
    from flowwidgets.widgets._run_timing import run_eta

    start = datetime(2026, 12, 6, 23, 0, tzinfo=UTC)
    step = Step("consume", Status.RUNNING, (), start)
    cache = HistoryCache(lambda _pipeline: [])
    stream = RunDetail(run=Run("s1", "events", Status.RUNNING, start, kind="streaming"),
                       steps=(step,))
    batch = RunDetail(run=Run("b1", "etl", Status.RUNNING, start), steps=(step,))
    assert run_eta(stream, cache) is None
    eta = run_eta(batch, cache)
    assert eta is not None and eta.partial
