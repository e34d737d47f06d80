"""HistoryView and RunCompare over a real ematix-flow 1.0 ``flow web`` (its own SQLite run
log, in a subprocess, over HTTP on 127.0.0.1): the views render from its history, failures
group by cause across differing numbers, the grid reads the runs' DAGs."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from ematix_flow.run_log.history import RunRecord
from ematix_flow.run_log.sqlite import SqliteRunLog
from test_peers_ematix import flow_web

import flowwidgets as fw

pytestmark = [pytest.mark.integration, pytest.mark.peers]

NOW = datetime.now(UTC).replace(microsecond=0)
STEPS = ("extract", "merge_payments", "publish")


def _steps(failed: bool) -> list[dict[str, object]]:
    return [{"name": "extract", "status": "succeeded", "duration_ms": 12_000},
            {"name": "merge_payments", "status": "failed" if failed else "succeeded",
             "depends_on": ["extract"], "duration_ms": 3_000},
            {"name": "publish", "status": "pending" if failed else "succeeded",
             "depends_on": ["merge_payments"]}]


@pytest.fixture(scope="module")
def ematix(tmp_path_factory) -> Iterator[str]:
    db = tmp_path_factory.mktemp("ematix-hist") / "runs.db"
    store = SqliteRunLog(str(db))
    try:
        for k in range(48):  # two days, hourly; every 12th fails, with a varying number
            start = NOW - timedelta(hours=48 - k)
            failed = k % 12 == 5
            store.record_run_record(RunRecord(
                run_id=f"etl-{k:03d}", pipeline="warehouse_etl",
                status="failed" if failed else "succeeded", started_at=start,
                finished_at=start + timedelta(seconds=40 + k % 7), attempt=1,
                failed_step="merge_payments" if failed else None,
                error_summary=f"KeyError: amount column missing in batch {k}" if failed
                else None, extras={"steps": _steps(failed)}))
    finally:
        store.close()
    yield from flow_web("--run-log-url", f"sqlite:///{db}")


def test_history_view_renders_over_ematix(ematix, monkeypatch):
    monkeypatch.delenv("EMATIX_FLOW_WEB_TOKEN", raising=False)
    with fw.connect(ematix) as src:
        assert src.flavour == "ematix"
        view = fw.HistoryView(src, live=False)
        try:
            assert view.error == "" and view.chart["runs"] == 48
            assert len(view.chart["marks"]) == 48 and not view.chart["bucketed"]
            (group,) = view.failures
            assert group["count"] == 4
            assert group["signature"] == "KeyError: amount column missing in batch <n>"
            assert view.summary_rows[0]["pipeline"] == "warehouse_etl"
            view.pipeline = "warehouse_etl"  # the grid: 20 details (ematix has no history call)
            assert view.error == "" and view.grid["steps"] == list(STEPS)
            assert len(view.grid["runs"]) == 20
            merge = [c[1][0] for c in view.grid["cells"]]
            assert merge.count("failed") in (1, 2) and merge.count("succeeded") >= 18
            html = view._repr_mimebundle_()[0]["text/html"]
            assert "amount column missing in batch &lt;n&gt;" in html
        finally:
            view.close()
        cmp = fw.RunCompare(src, None, "etl-041", live=False)
        try:
            assert cmp.comparison["a"]["run_id"] == "etl-040"
            assert cmp.comparison["steps"][0]["step"] == "merge_payments"
            assert cmp.comparison["steps"][0]["change"] == "new_failure"
        finally:
            cmp.close()
