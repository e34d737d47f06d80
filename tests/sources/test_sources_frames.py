"""pandas frames over a real ematix-flow app (TestClient) and a paging mock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pandas as pd
import pytest
from ematix_flow.run_log.history import InMemoryRunHistory, RunRecord
from ematix_flow.web.server import create_app
from fwtest.http import BASE, mock_client, starlette_client

from flowwidgets.frames import (
    RUN_COLUMNS,
    pipeline_summary,
    runs_frame,
    runs_to_frame,
    step_failures,
    steps_frame,
)
from flowwidgets.models import Status
from flowwidgets.sources import connect

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def history(n: int) -> InMemoryRunHistory:
    h = InMemoryRunHistory()
    for k in range(n):
        status = "failed" if k % 4 == 3 else "succeeded"
        start = T0 + timedelta(minutes=k)
        h.record_run_record(RunRecord(
            run_id=f"r{k:04d}", pipeline="ab"[k % 2], status=status, started_at=start,
            finished_at=start + timedelta(seconds=10 + k % 7), attempt=1 + k % 3,
            failed_step="load" if status == "failed" else None,
            error_summary=f"boom {k}" if status == "failed" else None,
            extras={"steps": [{"name": "extract", "status": "succeeded"},
                              {"name": "load", "status": status, "depends_on": ["extract"]}]}))
    h.record_run_record(RunRecord(run_id="live", pipeline="a", status="running",
                                  started_at=T0 + timedelta(days=2)))
    return h


@pytest.fixture(scope="module")
def src():
    with starlette_client(create_app(history=history(1203))) as client:
        yield connect("http://testserver", client=client)


def test_runs_frame_pages_through_everything_with_typed_columns(src):
    df = runs_frame(src, progress=False)
    assert list(df.columns) == list(RUN_COLUMNS) and len(df) == 1204
    assert df["run_id"].is_unique and df["run_id"].iloc[0] == "live"
    dtypes = {c: str(t) for c, t in df.dtypes.items()}
    assert dtypes == {
        "run_id": "string", "pipeline": "category", "status": "category",
        "started_at": "datetime64[ns, UTC]", "finished_at": "datetime64[ns, UTC]",
        "duration": "timedelta64[ns]", "duration_ms": "Int64", "attempts": "Int64",
        "failed_step": "string", "kind": "category", "trigger": "string",
        "parent_run_id": "string", "eta": "datetime64[ns, UTC]"}
    assert list(df["status"].cat.categories) == [s.value for s in Status]
    assert df["started_at"].iloc[-1] == pd.Timestamp(T0)
    live = df.iloc[0]
    assert pd.isna(live["finished_at"]) and pd.isna(live["duration_ms"])
    assert pd.isna(live["duration"])
    assert df["duration"].iloc[-1] == pd.Timedelta(seconds=10)
    # the running run's ETA comes from its pipeline's history; finished runs have none
    assert pd.notna(live["eta"]) and df["eta"].iloc[1:].isna().all()
    assert (df["status"] == "failed").sum() == 300


def test_runs_to_frame_is_the_frame_of_runs_frame(src):
    """The public helper builds the same typed frame from models (the jobs table merges
    live updates with it)."""
    page = src.runs(limit=7)
    df = runs_to_frame(page.runs)
    whole = runs_frame(src, progress=False, eta=False).head(7)
    assert list(df.columns) == list(RUN_COLUMNS)
    assert list(df["run_id"]) == [r.run_id for r in page.runs]
    pd.testing.assert_frame_equal(df, whole, check_categorical=False)
    assert list(df["status"].cat.categories) == [s.value for s in Status]
    empty = runs_to_frame(iter(()))
    assert empty.empty and list(empty.columns) == list(RUN_COLUMNS)
    assert str(empty["started_at"].dtype) == "datetime64[ns, UTC]"
    assert str(empty["duration"].dtype) == "timedelta64[ns]"
    import flowwidgets

    assert flowwidgets.runs_to_frame is runs_to_frame


def test_filters_and_since(src):
    assert len(runs_frame(src, pipeline="b", progress=False)) == 601
    assert set(runs_frame(src, status="failed", progress=False)["failed_step"]) == {"load"}
    recent = runs_frame(src, since=T0 + timedelta(minutes=1200), progress=False)
    assert list(recent["run_id"]) == ["live", "r1202", "r1201", "r1200"]
    assert len(runs_frame(src, since="2026-11-01T00:10:00Z", progress=False)) == 1194


def test_progress_bar_can_be_forced(src, capsys):
    runs_frame(src, pipeline="a", progress=True)
    assert "run" in capsys.readouterr().err


def test_pipeline_summary(src):
    summary = pipeline_summary(runs_frame(src, progress=False))
    a = summary.loc["a"]
    assert a["runs"] == 603 and a["failed"] == 0 and a["success_rate"] == 1.0
    assert summary.loc["b"]["failed"] == 300 and summary.loc["b"]["success_rate"] == 301 / 601
    assert a["last_status"] == "running" and a["last_run"] == pd.Timestamp(T0 + timedelta(days=2))
    assert pd.Timedelta(seconds=10) <= a["p50"] <= a["p90"] <= a["p99"] <= pd.Timedelta(seconds=16)


def test_steps_frame(src):
    df = steps_frame(src, "r0003")
    assert list(df["name"]) == ["extract", "load"]
    assert list(df["status"]) == ["succeeded", "failed"]
    assert df["depends_on"].iloc[1] == ["extract"]
    assert str(df["started_at"].dtype) == "datetime64[ns, UTC]"


def test_step_failures_from_a_source_and_from_details(src):
    df = step_failures(src, limit=40)
    assert list(df["step"]) == ["load"] and df["failed_runs"].iloc[0] == 40
    assert df["last_error"].iloc[0] == "boom 1199" and df["last_run_id"].iloc[0] == "r1199"
    details = [src.run("r0003"), src.run("r0007"), src.run("r0004")]
    by_details = step_failures(details)
    assert by_details["failed_runs"].tolist() == [2]


def test_rows_that_shift_while_paging_are_not_duplicated():
    """A run created between two page requests pushes the page boundary down by one."""
    rows = [{"run_id": f"r{k}", "pipeline": "p", "status": "succeeded"} for k in range(3)]
    pages = {0: ([rows[0], rows[1]], 2), 2: ([rows[1], rows[2]], None)}

    def runs(request: httpx.Request) -> httpx.Response:
        got, nxt = pages[int(request.url.params["offset"])]
        return httpx.Response(200, json={"runs": got, "total": 4, "next_offset": nxt})

    with mock_client({"GET /api/health": {"status": "ok", "runner": "flowwidgets"},
                      "GET /api/runs": runs}) as client:
        df = runs_frame(connect(BASE, client=client), progress=False)
    assert list(df["run_id"]) == ["r0", "r1", "r2"]


def test_empty_history_is_an_empty_typed_frame():
    with starlette_client(create_app(history=InMemoryRunHistory())) as client:
        df = runs_frame(connect("http://testserver", client=client))
    assert df.empty and str(df["started_at"].dtype) == "datetime64[ns, UTC]"
    assert pipeline_summary(df).empty
