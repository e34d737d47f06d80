"""The demo's two weeks of imported history, through the run log's import path, read back
over real HTTP from the real runner: marked as imported, grouped failures of three causes,
the grid's failing row, the drift's trend, the restart chain, the streaming run."""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from fwtest.clock import no_cron_fires

import flowwidgets as fw
from flowwidgets import demo
from flowwidgets.demo._history import PREFIX, make_history
from flowwidgets.runner.spec import load_pipelines

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    data = demo.prepare(tmp_path_factory.mktemp("demo") / "data")
    runner = fw.LocalRunner(load_pipelines(demo.pipelines_path()), db=data / "runs.sqlite",
                            data_dir=data)
    t = time.perf_counter()
    n = demo.import_history(runner, now=NOW)
    took = time.perf_counter() - t
    assert demo.import_history(runner, now=NOW) == 0  # once per run log
    no_cron_fires(runner)  # the tests count imported runs: a cron fire would add a real one
    server = fw.serve_in_thread(runner)
    try:
        src = fw.connect(server.url)
        yield src, n, took
        src.close()
    finally:
        server.stop()


def test_history_is_imported_quickly_and_marked(served):
    src, n, took = served
    assert 1500 < n < 2000
    assert took < 5, f"import took {took:.2f} s"  # the demo starts on top of it
    page = src.runs(limit=500)
    assert page.total == n
    assert all(r.extra.get("imported") is True and r.run_id.startswith(PREFIX)
               for r in page.runs)
    first = min(r.started_at for r in src.runs(pipeline="warehouse_etl", limit=500).runs)
    assert NOW - first > timedelta(days=13)


def test_three_causes_of_failure_grouped(served):
    src = served[0]
    groups = fw.failure_groups(src)
    causes = {(g["pipeline"], g["step"]): g for g in groups.to_dict("records")}
    merge = causes[("warehouse_etl", "merge_payments")]
    assert merge["signature"] == "ValueError: amount column missing in batch <n>"
    assert merge["count"] >= 7 and len(merge["run_ids"]) == merge["count"]  # restart chain
    assert causes[("customers_sync", "pull_customers")]["signature"].startswith(
        "ConnectionError: CRM API timed out")
    assert "database is locked" in causes[("revenue_report", "summarise_revenue")]["signature"]
    assert len(groups) == 3


def test_grid_shows_the_failing_row_and_the_restart_chain(served):
    src = served[0]
    grid = fw.step_grid(src, "warehouse_etl", limit=200)
    assert list(grid.index) == ["extract_orders", "transform_orders", "transform_payments",
                                "merge_payments", "load_warehouse"]
    assert (grid.loc["merge_payments"] == "failed").sum() >= 3
    assert (grid.loc["extract_orders"] == "failed").sum() == 0
    chain = [r for r in src.runs(pipeline="warehouse_etl", limit=500).runs
             if r.trigger == "restart"]
    assert sorted(r.status.value for r in chain) == ["failed", "succeeded"]
    last = src.run(max(chain, key=lambda r: r.started_at).run_id)
    assert last.step("extract_orders").reused_from is not None
    assert last.parent_run_id is not None and last.parent_run_id.endswith("-r1")


def test_retries_drift_and_the_stream(served):
    src = served[0]
    runs = fw.runs_frame(src, progress=False)
    retried = runs[(runs.pipeline == "customers_sync") & (runs.attempts > 1)
                   & (runs.status == "succeeded")]
    assert len(retried) > 20
    summary = fw.pipeline_summary(runs, now=NOW)
    trend = summary["trend"]
    assert trend["warehouse_etl"] > 0.04  # transform_payments drifts
    assert abs(trend["inventory_snapshot"]) < 0.15
    stream = runs[runs.pipeline == "events_stream"]
    assert list(stream.status) == ["cancelled"] and stream.duration.iloc[0] > pd.Timedelta(days=5)


def test_history_is_deterministic_for_a_given_now():
    pipes = load_pipelines(demo.pipelines_path())
    a, b = make_history(pipes, NOW), make_history(pipes, NOW)
    assert [r.run_id for r in a[0]] == [r.run_id for r in b[0]]
    assert [r.finished_at for r in a[0]] == [r.finished_at for r in b[0]]


def test_the_drift_shows_whatever_the_time_of_day():
    """The warehouse trend is computed from medians of durations with a daily pattern, so
    where ``now`` falls in the day moves it; the drift must show at every hour (the last
    CI run started at a time of day where a weaker drift read +3.8 %)."""
    pipes = load_pipelines(demo.pipelines_path())
    day = datetime(2026, 12, 6, tzinfo=UTC)
    trends = []
    for k in range(24):
        now = day + timedelta(minutes=60 * k + 17 * (k % 4), seconds=7 * k)
        runs = [r for r in make_history(pipes, now)[0] if r.pipeline == "warehouse_etl"
                and r.status.value == "succeeded" and r.trigger != "restart"]
        weeks = [[(r.finished_at - r.started_at).total_seconds() for r in runs
                  if now - timedelta(days=7 * (w + 1)) < r.started_at
                  <= now - timedelta(days=7 * w)] for w in (0, 1)]
        trends.append(statistics.median(weeks[0]) / statistics.median(weeks[1]) - 1)
    assert min(trends) > 0.07, sorted(trends)[:3]


def test_the_streams_watermarks_are_imported(served):
    """The cancelled 9-day stream's commits (one an hour) are in the run log: the stream's
    card has totals from its history, the API's streaming_stats say so."""
    src, _, _ = served
    pipe = next(p for p in src.pipelines() if p.name == "events_stream")
    stats = pipe.streaming_stats
    assert stats is not None and stats["run_id"].startswith(PREFIX)
    assert stats["batches_total"] == (9 * 24 + 5) * 3600 // 12  # a batch every 12 s
    assert stats["rows_consumed_total"] == 25 * stats["batches_total"]
    assert stats["watermark"] == str(stats["rows_consumed_total"])  # the event offset
    # stopped days ago: nothing in the last minutes
    assert stats["stats_5m"]["rows_consumed_per_sec"] == 0.0
