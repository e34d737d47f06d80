"""HistoryView over a real runner (HTTP on 127.0.0.1) holding the demo's imported two weeks:
its payloads, the brush, the grid's click, the Dashboard's History section, the fallback."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from _widget_support import Replies
from fwtest.clock import no_cron_fires

import flowwidgets as fw
from flowwidgets import demo
from flowwidgets.runner.spec import load_pipelines
from flowwidgets.widgets._fallback_history import history_html, history_text, trend_text


@pytest.fixture(scope="module")
def src(tmp_path_factory):
    data = demo.prepare(tmp_path_factory.mktemp("hist") / "data")
    runner = fw.LocalRunner(load_pipelines(demo.pipelines_path()), db=data / "runs.sqlite",
                            data_dir=data)
    demo.import_history(runner)
    no_cron_fires(runner)  # the tests count imported runs: a cron fire would add a real one
    with fw.serve_in_thread(runner) as server, fw.connect(server.url) as source:
        yield source


def test_every_pipeline_marks_summary_and_failures(src):
    view = fw.HistoryView(src, live=False)
    try:
        chart = view.chart
        assert chart["runs"] + chart["streaming_left_out"] == len(view.frame) > 1500
        assert chart["imported"] == len(view.frame) and chart["streaming_left_out"] == 1
        assert chart["bucketed"]  # 1,700 runs over 14 days: narrower than a pixel
        assert len(chart["marks"]) <= 720 * 9 * 2
        batch = view.frame[view.frame["kind"] != "streaming"]
        assert sum(m[3] for m in chart["marks"]) == batch["duration_ms"].notna().sum()
        rows = {r["pipeline"]: r for r in view.summary_rows}
        assert rows["warehouse_etl"]["trend"] > 0.04 and rows["customers_sync"]["runs"] > 1000
        causes = {(g["pipeline"], g["step"]) for g in view.failures}
        assert causes == {("warehouse_etl", "merge_payments"),
                          ("customers_sync", "pull_customers"),
                          ("revenue_report", "summarise_revenue")}
        assert view.grid == {}
        assert view.timings["read"] > 0 and len(json.dumps(chart)) < 200_000
    finally:
        view.close()


def test_one_pipeline_band_grid_brush_and_clicks(src):
    opened: list[tuple[str, str]] = []
    picked: list[str] = []
    view = fw.HistoryView(src, "warehouse_etl", "7d", live=False, on_select=picked.append,
                          on_open_step=lambda r, s: opened.append((r, s)))
    try:
        chart = view.chart
        assert not chart["bucketed"] and chart["band"]
        assert chart["pipelines"] == ["warehouse_etl"]
        restarts = [m for m in chart["marks"] if m[4]]
        assert all(m[3].endswith(("-r1", "-r2")) for m in restarts)
        grid = view.grid
        assert grid["steps"] == ["extract_orders", "transform_orders", "transform_payments",
                                 "merge_payments", "load_warehouse"]
        assert len(grid["runs"]) == 60 and grid["runs"][0]["started_at"] < grid["runs"][-1][
            "started_at"]
        # a cell per step and run: merge_payments is red exactly in the failed runs
        merge = grid["steps"].index("merge_payments")
        for run, cells in zip(grid["runs"], grid["cells"], strict=True):
            assert (cells[merge][0] == "failed") == (run["status"] == "failed"), run
            assert cells[0][0] == "succeeded" and cells[0][1] > 0
        now = datetime.now(UTC)
        view.brush = [(now - timedelta(days=2)).isoformat(), now.isoformat()]
        inside = view.brushed
        assert 0 < len(inside) < len(view.frame)
        assert inside["started_at"].min() >= pd.Timestamp(now - timedelta(days=2))
        r = Replies(view)
        r.notify("open_step", run_id=grid["runs"][-1]["run_id"], step="merge_payments")
        assert opened == [(grid["runs"][-1]["run_id"], "merge_payments")]
        r.notify("select", run_id="imported-x")
        assert picked == ["imported-x"]
        assert r.click("pick", pipeline="nope")["error"].endswith("unknown pipeline 'nope'")
        view.error = ""
        r.notify("pick", pipeline=None)
        assert view.pipeline is None and view.brush == [] and view.grid == {}
    finally:
        view.close()


def test_a_bad_window_says_what_is_expected(src):
    with pytest.raises(ValueError, match="'14d'"):
        fw.HistoryView(src, window="fortnight", live=False)
    with pytest.raises(TypeError, match="did you mean 'pipeline'"):
        fw.HistoryView(src, pipline="x", live=False)


def test_dashboard_history_section_brush_filters_the_runs_table(src):
    dash = fw.Dashboard(src, live=False)
    try:
        assert [t["key"] for t in dash.nav.tabs] == ["cards", "jobs", "timeline", "history"]
        assert dash.cards._can_show_history  # a card's "history →" opens the History tab
        Replies(dash.cards).notify("show_history", pipeline="warehouse_etl")
        hist = dash.section("history")
        assert isinstance(hist, fw.HistoryView) and dash.view == "history"
        assert hist.pipeline == "warehouse_etl" and hist.grid["steps"]
        # the breadcrumb names the pipeline shown (it said only "History"), and follows
        # the view's own picker
        assert [c["label"] for c in dash.nav.crumbs] == ["History", "warehouse_etl"]
        hist.pipeline = None
        assert [c["label"] for c in dash.nav.crumbs] == ["History"]
        hist.pipeline = "warehouse_etl"
        now = datetime.now(UTC)
        lo, hi = (now - timedelta(days=3)).isoformat(), (now - timedelta(days=1)).isoformat()
        hist.brush = [lo, hi]
        jobs = dash.jobs
        assert (jobs.since, jobs.until, jobs.pipeline) == (lo, hi, "warehouse_etl")
        shown = jobs.df
        assert 40 <= len(shown) <= 50 and set(shown["pipeline"]) == {"warehouse_etl"}
        Replies(hist).notify("show_runs")
        assert dash.view == "jobs"
        labels = [c["label"] for c in dash.nav.crumbs]
        assert labels[0] == "Runs" and labels[1] == "warehouse_etl" and "UTC" in labels[2]
        dash.show("history")
        step = hist.grid["runs"][-1]["run_id"]
        Replies(hist).notify("open_step", run_id=step, step="transform_payments")
        assert dash.view == "run" and dash.run_view.selected_step == "transform_payments"
        hist.brush = []
        assert (jobs.since, jobs.until) == (None, None)
    finally:
        dash.close()


def test_standalone_cards_have_no_history_link(src):
    cards = fw.PipelineCards(src, live=False)
    try:
        assert not cards._can_show_history
    finally:
        cards.close()


def test_fallback_escapes_runner_strings():
    evil = "<img src=x onerror=alert(1)>"
    html = history_html(evil, "14d", {"runs": 1, "marks": [[0, 10, "failed", "r", False, 0]],
                                      "start": 0, "end": 1},
                        [{"pipeline": evil, "runs": 1, "success_rate": 0.0, "p50_ms": 10,
                          "p90_ms": 10, "trend": 0.2}],
                        [{"pipeline": evil, "step": evil, "signature": evil, "count": 1,
                          "first_seen": None, "last_seen": None}],
                        {"steps": [evil], "runs": [{"run_id": evil}], "cells": [[["failed", 1,
                                                                                   1]]]})
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "+20% slower" in html
    text = history_text(evil + "\x1b[31m", "14d", [], [])
    assert "\x1b" not in text
    assert [trend_text(x) for x in (None, 0.01, 0.2, -0.5)] == ["—", "steady", "+20% slower",
                                                              "50% faster"]
    assert [trend_text(x) for x in (-0.6875, -0.995)] == ["3.2× faster", "200× faster"]


def test_fallback_grid_marks_a_step_a_restart_reused():
    evil = "<img src=x onerror=alert(1)>"
    html = history_html("etl", "14d", {"runs": 0, "marks": []}, [], [],
                        {"steps": ["extract"], "runs": [{"run_id": "r2"}],
                         "cells": [[["succeeded", None, None, evil]]]})
    assert "reused from run &lt;img src=x onerror=alert(1)&gt;" in html and "<img" not in html
    assert "↺" in html


def _focus_of(group):
    """What the browser sets on a click: the group's keys and its (capped) run ids."""
    return {k: group[k] for k in ("signature", "pipeline", "step", "run_ids")}


def test_a_failure_group_click_gives_every_run_of_the_group(src):
    got: list[dict] = []
    view = fw.HistoryView(src, live=False, on_group=got.append)
    try:
        groups = fw.failure_groups(src)
        biggest = max(view.failures, key=lambda g: g["count"])
        full = groups[(groups["signature"] == biggest["signature"])
                      & (groups["pipeline"] == biggest["pipeline"])]
        expected = {r for ids in full["run_ids"] for r in ids}
        view.focus = _focus_of(biggest)
        assert len(got) == 1 and got[0]["signature"] == biggest["signature"]
        assert set(got[0]["run_ids"]) == expected == set(view.focused["run_id"])
        assert len(expected) == biggest["count"]
        view.focus = {}
        assert got[-1] == {} and view.focused.empty
    finally:
        view.close()


def test_dashboard_failure_group_opens_the_runs_table_filtered_to_its_runs(src):
    dash = fw.Dashboard(src, live=False)
    try:
        dash.show_history()
        hist = dash.section("history")
        group = next(g for g in hist.failures if g["pipeline"] == "warehouse_etl")
        hist.focus = _focus_of(group)
        jobs = dash.jobs
        assert dash.view == "jobs" and jobs.pipeline == "warehouse_etl"
        shown = jobs.df
        assert len(shown) == group["count"] and set(shown["run_id"]) == set(hist.focus_run_ids())
        assert set(shown["status"]) == {"failed"}
        labels = [c["label"] for c in dash.nav.crumbs]
        assert labels == ["Runs", "warehouse_etl", f"failures: {group['signature']}"]
        dash.back()
        assert dash.view == "history"
        hist.focus = {}  # unfocusing lifts the run filter
        assert jobs.run_ids is None
        hist.focus = _focus_of(group)
        dash.show_jobs(None)  # the Runs tab: every run again
        assert jobs.run_ids is None and len(jobs.df) > group["count"]
        assert [c["label"] for c in dash.nav.crumbs] == ["Runs: all pipelines"]
        assert jobs.run_set == ""
    finally:
        dash.close()


def test_the_runs_filter_bar_names_the_failure_group_and_its_chip_lifts_it(src):
    """The table's own filter bar shows the group as a chip ("failures: <signature>"), as
    the breadcrumb does; the chip's × (the ``clear_run_set`` message) restores the
    pipeline's unfiltered table and the breadcrumb follows."""
    dash = fw.Dashboard(src, live=False)
    try:
        dash.show_history()
        hist = dash.section("history")
        group = next(g for g in hist.failures if g["pipeline"] == "warehouse_etl")
        jobs = dash.jobs
        every = len(jobs.df[jobs.df["pipeline"] == "warehouse_etl"]) if jobs.pipeline is None \
            else None
        hist.focus = _focus_of(group)
        assert jobs.run_set == f"failures: {group['signature']}"
        assert jobs.get_state()["run_set"] == jobs.run_set  # synced: the browser draws it
        assert len(jobs.df) == group["count"]
        jobs._msg_clear_run_set({})
        assert jobs.run_ids is None and jobs.run_set == "" and jobs.page == 0
        assert jobs.pipeline == "warehouse_etl"  # the other filters stay
        assert len(jobs.df) > group["count"]
        if every is not None:
            assert len(jobs.df) == every
        assert [c["label"] for c in dash.nav.crumbs] == ["Runs", "warehouse_etl"]
        assert dash.view == "jobs"
    finally:
        dash.close()


def test_a_run_set_without_a_name_is_counted(src):
    table = fw.JobsTable(src, live=False, background=False)
    try:
        ids = list(table.df["run_id"][:3])
        table.run_ids = ids
        assert table.run_set == "3 selected runs" and len(table.df) == 3
        table.run_ids = None
        assert table.run_set == ""
    finally:
        table.close()
