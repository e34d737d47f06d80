"""The jobs table's new columns and its CSV export, against a real runner (HTTP on
127.0.0.1): trigger, the error line, the export of the filtered rows (every page), cells
a spreadsheet would run as formulas defused."""

from __future__ import annotations

import csv
import io

import pandas as pd
import pytest
from _widget_support import Replies

from flowwidgets.frames import runs_to_frame
from flowwidgets.models import Run, Status
from flowwidgets.widgets import JobsTable
from flowwidgets.widgets._jobs_export import CSV_COLUMNS, export_name, frame_csv

pytestmark = pytest.mark.integration


def test_rows_say_trigger_and_error_and_the_export_is_what_is_shown(served, tmp_path):
    served.fail()
    failed = served.src.run_now("orders")
    served.finished(failed)
    served.fail(False)
    ok = [served.src.run_now("clicks") for _ in range(3)]
    for run_id in ok:
        served.finished(run_id)
    table = JobsTable(served.src, live=False, background=False, page_size=2)
    try:
        rows = {r["run_id"]: r for r in table._rows}
        assert all(r["trigger"] == "run_now" and r["imported"] is False for r in rows.values())
        table.status = "failed"
        (row,) = table._rows
        assert row["run_id"] == failed and row["error"] and "\n" not in row["error"]
        table.status = None
        table.pipeline = "clicks"  # 3 runs on 2 pages: the export holds all 3
        reply = Replies(table).click("export_csv")["response"]
        assert reply["rows"] == 3 and reply["filename"].startswith("runs-clicks-")
        parsed = list(csv.DictReader(io.StringIO(reply["csv"])))
        assert [r["run_id"] for r in parsed] == list(table.df["run_id"])
        assert set(r["run_id"] for r in parsed) == set(ok)
        assert list(parsed[0]) == list(CSV_COLUMNS)
        assert parsed[0]["started_at"].endswith("Z") and parsed[0]["status"] == "succeeded"
        out = tmp_path / "runs.csv"
        assert table.to_csv(str(out)) == out.read_text() == reply["csv"]
    finally:
        table.close()


def test_formulas_are_defused_and_names_are_safe():
    df = runs_to_frame([Run("=HYPERLINK(\"x\")", "+p", Status.FAILED, failed_step="@s",
                            extra={"error_summary": "-1 rows"})])
    (row,) = csv.DictReader(io.StringIO(frame_csv(df)))
    assert row["run_id"] == "'=HYPERLINK(\"x\")" and row["pipeline"] == "'+p"
    assert row["failed_step"] == "'@s" and row["error"] == "'-1 rows"
    assert row["started_at"] == "" and row["imported"] == "False"
    assert export_name("a/b c", "failed").startswith("runs-a_b_c-failed-")
    assert pd.isna(df["trigger"].iloc[0])
