"""RunCompare and the run view's "Compare with…" over a real runner holding the demo's
imported history (HTTP on 127.0.0.1)."""

from __future__ import annotations

import pytest
from _widget_support import Replies

import flowwidgets as fw
from flowwidgets import demo
from flowwidgets.compare import previous_success
from flowwidgets.runner.spec import load_pipelines


@pytest.fixture(scope="module")
def src(tmp_path_factory):
    data = demo.prepare(tmp_path_factory.mktemp("cmp") / "data")
    runner = fw.LocalRunner(load_pipelines(demo.pipelines_path()), db=data / "runs.sqlite",
                            data_dir=data)
    demo.import_history(runner)
    with fw.serve_in_thread(runner) as server, fw.connect(server.url) as source:
        yield source


def newest_failed(src) -> str:
    page = src.runs(pipeline="warehouse_etl", status="failed", limit=20)
    return next(r.run_id for r in page.runs if r.trigger == "schedule")


def test_compare_a_failed_run_with_its_previous_success(src):
    failed = newest_failed(src)
    prev = previous_success(src, failed)
    assert prev is not None and prev < failed  # ids sort by time here
    view = fw.RunCompare(src, None, failed, live=False)
    try:
        c = view.comparison
        assert c["a"]["run_id"] == prev and c["b"]["run_id"] == failed
        assert c["steps"][0]["step"] == "merge_payments"
        assert c["steps"][0]["change"] == "new_failure"
        assert c["first_error_diff"] == "merge_payments"
        assert "amount column missing in batch" in c["steps"][0]["b"]["error"]
        assert view.df["step"].iloc[0] == "merge_payments"
        assert "merge_payments" in view._repr_mimebundle_()[0]["text/html"]
    finally:
        view.close()


def test_two_successes_put_the_biggest_slowdown_on_top(src):
    ok = src.runs(pipeline="warehouse_etl", status="succeeded", limit=200).runs
    a, b = ok[-1].run_id, ok[0].run_id  # oldest and newest of the page
    view = fw.RunCompare(src, a, b, live=False)
    try:
        rows = view.comparison["steps"]
        slower = [r for r in rows if r["change"] == "slower"]
        if slower:
            assert rows[0] is slower[0]
            assert rows[0]["delta_ms"] == max(r["delta_ms"] for r in slower)
        view.run_a = ok[1].run_id  # a new baseline re-compares
        assert view.comparison["a"]["run_id"] == ok[1].run_id
    finally:
        view.close()


def test_run_view_compare_with(src):
    failed = newest_failed(src)
    view = fw.RunView(src, failed, live=False)
    try:
        reply = Replies(view).click("compare", run_id=failed, **{"with": None})
        assert reply["response"]["a"] == previous_success(src, failed)
        assert view._compare["steps"][0]["change"] == "new_failure"
        other = src.runs(pipeline="warehouse_etl", limit=5).runs[-1].run_id
        view.compare_with(other)
        assert view._compare["a"]["run_id"] == other
        bad = Replies(view).click("compare", run_id=failed, **{"with": "nope"})
        assert "nope" in bad["error"]
    finally:
        view.close()


def test_no_earlier_success_is_said(src):
    first = src.runs(pipeline="warehouse_etl", limit=500).runs[-1].run_id
    view = fw.RunCompare(src, None, first, live=False)
    try:
        assert view.comparison == {} and "no earlier succeeded run" in view.error
    finally:
        view.close()
