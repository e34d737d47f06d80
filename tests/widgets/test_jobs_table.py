"""JobsTable against a real runner: paging, sorting and filtering in the kernel, the page
sent to the view, selection, and live incremental updates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from _widget_support import Replies, wait_until

from flowwidgets.models import Run, Status
from flowwidgets.widgets import JobsTable
from flowwidgets.widgets._jobs_table import merge_runs

pytestmark = pytest.mark.integration


@pytest.fixture
def history(served):
    """Five runs: orders failed, orders succeeded, three clicks."""
    served.fail()
    ids = [served.src.run_now("orders")]
    served.finished(ids[0])
    served.fail(False)
    for name in ("orders", "clicks", "clicks", "clicks"):
        ids.append(served.src.run_now(name))
        served.finished(ids[-1])
    return ids


def test_first_page_filters_sort_and_paging(served, history):
    table = JobsTable(served.src, live=False, background=False, page_size=2)
    try:
        assert table.total == 5 and len(table._rows) == 2
        assert table._options == {"pipelines": ["clicks", "orders"],
                                  "statuses": ["failed", "succeeded"]}
        assert set(table._rows[0]) == {"run_id", "pipeline", "status", "started_at",
                                       "finished_at", "attempts", "duration_ms", "failed_step",
                                       "trigger", "parent_run_id", "child", "eta", "error",
                                       "imported"}
        # newest first by default
        assert table._rows[0]["run_id"] == history[-1]
        table.page = 2
        assert [r["run_id"] for r in table._rows] == [history[0]]
        assert table._rows[0]["failed_step"] == "dedupe" and table._rows[0]["status"] == "failed"
        table.page = 99
        assert table.page == 2, "clamped to the last page"

        table.status = "failed"
        assert table.page == 0 and table.total == 1
        assert list(table.df["run_id"]) == [history[0]]
        table.status = None
        table.pipeline = "clicks"
        assert table.total == 3 and set(table.df["pipeline"]) == {"clicks"}
        table.pipeline = None

        table.search = "DEDUP"  # case-insensitive, matches the failed step
        assert list(table.df["run_id"]) == [history[0]]
        table.search = history[2][-6:]
        assert list(table.df["run_id"]) == [history[2]]
        table.search = ""

        table.sort_by, table.ascending = "started_at", True
        assert table._rows[0]["run_id"] == history[0]
        table.sort_by = "pipeline"
        assert list(table.df["pipeline"].astype(str)) == sorted(table.df["pipeline"].astype(str))

        table.last = "1h"
        assert table.total == 5
        table.last = None
        table.since = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
        assert table.total == 0 and table._rows == []
        table.since = None
        table.until = "2000-01-01T00:00:00Z"
        assert table.total == 0
        table.until = None
        assert table.total == 5
        assert isinstance(table.df, pd.DataFrame) and table.df["status"].dtype == "category"
    finally:
        table.close()


def test_constructor_filters_and_the_static_page(served, history):
    table = JobsTable(served.src, "orders", Status.FAILED, live=False, background=False)
    try:
        assert table.pipeline == "orders" and table.status == "failed" and table.total == 1
        html = table._repr_mimebundle_()[0]["text/html"]
        assert "1–1 of 1 run<" in html and "dedupe" in html
        text = table._repr_mimebundle_()[0]["text/plain"]
        assert text.startswith("JobsTable: 1 run (times UTC)\n")
    finally:
        table.close()


def test_picking_a_row(served, history):
    picked: list[str] = []
    table = JobsTable(served.src, live=False, background=False, on_select=picked.append)
    try:
        Replies(table).notify("select", run_id=history[1], pipeline="orders")
        assert table.selected_run_id == history[1] and picked == [history[1]]
    finally:
        table.close()


def test_live_updates_merge_new_runs_without_rereading_everything(served, history):
    table = JobsTable(served.src, page_size=50)
    try:
        assert table.wait_loaded(15) and not table.loading
        full_reads: list[int] = []
        reload = table._reload

        def counted_reload() -> None:  # count full re-reads
            full_reads.append(1)
            reload()

        table._reload = counted_reload  # type: ignore[method-assign]
        version = table._version
        new = served.src.run_now("orders")
        wait_until(lambda: any(r["run_id"] == new and r["status"] == "succeeded"
                               for r in table._rows), 15, "the new run in the table")
        assert table.total == 6
        # merged in from the newest page: no full re-read, the frame kept its dtypes
        assert full_reads == [] and table._version > version
        assert table.frame["pipeline"].dtype == "category"
        assert table.frame["started_at"].dtype == "datetime64[ns, UTC]"
    finally:
        table.close()


def test_merge_runs_upserts_by_run_id_and_keeps_dtypes(served, history):
    table = JobsTable(served.src, live=False, background=False)
    try:
        frame = table.frame
        changed = Run(run_id=history[0], pipeline="orders", status=Status.SUCCEEDED,
                      started_at=datetime(2026, 1, 1, tzinfo=UTC), duration_ms=5, attempts=2)
        brand_new = Run(run_id="zzz", pipeline="a_new_pipeline", status=Status.RUNNING)
        merged = merge_runs(frame, [changed, brand_new])
        assert len(merged) == len(frame) + 1
        row = merged.set_index("run_id").loc[history[0]]
        assert row["status"] == "succeeded" and row["attempts"] == 2
        assert "a_new_pipeline" in merged["pipeline"].cat.categories
        for col in frame.columns:
            if isinstance(frame[col].dtype, pd.CategoricalDtype):
                assert merged[col].cat.categories.dtype == frame[col].cat.categories.dtype
                assert set(frame[col].cat.categories) <= set(merged[col].cat.categories)
            else:
                assert merged[col].dtype == frame[col].dtype, col
        assert merge_runs(frame, []) is frame
    finally:
        table.close()


def test_the_first_page_shows_before_the_history_is_loaded(served, history):
    table = JobsTable(served.src, live=False, page_size=2)  # background load
    try:
        # at once: the newest page, read with one request (or already the full frame)
        assert [r["run_id"] for r in table._rows] == history[:-3:-1]
        assert table.total == 5
        assert table.wait_loaded(15) and not table.loading
        assert len(table.df) == 5
        # while loading, pipeline/status/page are served by the runner itself
        table._have_frame = False  # as while loading
        table.pipeline = "clicks"
        assert table.total == 3 and [r["pipeline"] for r in table._rows] == ["clicks"] * 2
        table.page = 1
        assert [r["run_id"] for r in table._rows] == [history[2]]
        table.search = "x"  # the runner cannot search: nothing until the history is in
        assert table._rows == [] and table.total == 0
    finally:
        table.close()


def test_rows_carry_lineage_both_ways(served):
    from flowwidgets.widgets import JobsTable as _Table

    served.fail()
    first = served.src.run_now("orders")
    assert served.finished(first) == "failed"
    served.fail(False)
    second = served.src.restart(first)
    assert served.finished(second) == "succeeded"
    table = _Table(served.src, live=False, background=False)
    try:
        rows = {r["run_id"]: r for r in table._rows}
        assert rows[second]["parent_run_id"] == first and rows[second]["trigger"] == "restart"
        assert rows[first]["child"] == {"run_id": second, "status": "succeeded",
                                        "trigger": "restart"}
        assert rows[second]["child"] is None
        assert "parent_run_id" in table.df.columns
    finally:
        table.close()
