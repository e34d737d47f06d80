"""HistoryView over a real Airflow 3.3.2 (the shared live server of test_orch_live.py):
the chart, the summary and the runs × steps grid of the diamond render from Airflow's
dag runs and task instances."""

from __future__ import annotations

import time

import pytest

import flowwidgets as fw
import flowwidgets.sources.airflow  # noqa: F401 - registers the Airflow probe
from flowwidgets.sources import connect

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(420)]

DAG_ORDER = ["extract", "clean", "enrich", "join", "publish"]


def test_history_view_renders_over_airflow(airflow_live):
    with connect(airflow_live.url, username=airflow_live.username,
                 password=airflow_live.password, timeout=30) as src:
        if not src.runs(pipeline="fw_diamond", limit=1).runs:  # run alone: make one run
            run_id = src.run_now("fw_diamond")
            deadline = time.monotonic() + 240
            while not src.run(run_id).status.is_terminal:
                assert time.monotonic() < deadline, "the diamond run did not finish"
                time.sleep(2)
        view = fw.HistoryView(src, "fw_diamond", live=False)
        try:
            assert view.error == "", view.error
            assert view.chart["runs"] >= 1 and view.chart["marks"]
            assert [r["pipeline"] for r in view.summary_rows] == ["fw_diamond"]
            assert view.grid["steps"] == DAG_ORDER
            assert all(len(col) == len(DAG_ORDER) for col in view.grid["cells"])
        finally:
            view.close()
