"""Rows and info lines built from models: literal text, DAG order, live durations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rich.text import Text

from flowwidgets.models import Attempt, Pipeline, Run, RunDetail, Status, Step
from flowwidgets.tui._rows import (
    PIPELINE_COLUMNS,
    RUN_COLUMNS,
    STEP_COLUMNS,
    banner_text,
    pipeline_rows,
    run_info,
    run_rows,
    step_info,
    step_key_names,
    step_rows,
    unique_keys,
)

NOW = datetime(2026, 11, 22, 15, 30, tzinfo=UTC)
MARKUP = "[bold red]x[/]"


def _plain(cells: list[Text]) -> list[str]:
    assert all(isinstance(c, Text) for c in cells), "a cell is not literal Text"
    return [c.plain for c in cells]


def test_unique_keys_suffixes_repeats():
    assert unique_keys(["a", "b", "a", "a"]) == ["a", "b", "a#2", "a#3"]


def test_pipeline_row_has_strip_latest_next_median_and_literal_name():
    runs = (Run("r1", MARKUP, Status.FAILED), Run("r2", MARKUP, Status.SUCCEEDED))
    p = Pipeline(MARKUP, schedule="*/5 * * * *", recent_runs=runs, latest_run=runs[-1],
                 next_run_at=datetime(2026, 11, 22, 15, 35, tzinfo=UTC),
                 median_duration_ms=4200, total_runs=2)
    [(key, cells)] = pipeline_rows([p])
    assert key == MARKUP
    assert len(cells) == len(PIPELINE_COLUMNS)
    assert _plain(cells) == [MARKUP, "········✕■", "✓ succeeded", "2026-11-22 15:35",
                             "4.2 s", "2", "batch"]
    [(_, empty)] = pipeline_rows([Pipeline("idle")])
    assert _plain(empty)[1:6] == ["··········", "· no run", "manual", "—", "—"]


def test_run_rows_show_a_live_duration_for_active_runs():
    runs = [Run("r2", "p", Status.RUNNING, started_at=NOW - timedelta(seconds=75),
                trigger="restart", attempts=1, extra={"parent_run_id": "r1"}),
            Run("r1", "p", Status.FAILED, started_at=NOW - timedelta(hours=1),
                duration_ms=3000, attempts=2, failed_step=MARKUP)]
    rows = run_rows(runs, NOW)
    assert [k for k, _ in rows] == ["r2", "r1"]
    assert all(len(c) == len(RUN_COLUMNS) for _, c in rows)
    assert _plain(rows[0][1]) == ["r2", "▶ running", "restart", "15:28:45", "1m 15s…", "1", "—",
                                  "↰ restart of r1"]
    assert _plain(rows[1][1]) == ["r1", "✕ failed", "—", "14:30:00", "3.0 s", "2", MARKUP,
                                  "→ r2 ▶ running"]


def test_step_rows_are_in_dag_order_with_state_attempts_and_error():
    t0 = NOW - timedelta(seconds=30)
    steps = [
        Step("report", Status.PENDING, ("merge",)),
        Step("merge", Status.FAILED, ("fetch",), started_at=t0, duration_ms=1200,
             error="Traceback (most recent call last):\n  ...\nValueError: amount missing",
             attempts=(Attempt(1, Status.FAILED), Attempt(2, Status.FAILED))),
        Step("fetch", Status.SUCCEEDED, started_at=t0, duration_ms=800,
             reused_from="run-0", extra={"attempt_count": 1}),
        Step("live", Status.RUNNING, started_at=NOW - timedelta(seconds=5)),
    ]
    rows = step_rows(steps, NOW)
    assert [k for k, _ in rows] == ["fetch", "merge", "report", "live"]  # a tree per root
    assert all(len(c) == len(STEP_COLUMNS) for _, c in rows)
    cells = {k: _plain(c) for k, c in rows}
    assert cells["fetch"] == ["fetch", "✓ succeeded", "15:29:30", "800 ms", "1",
                              "reused from run-0"]
    assert cells["merge"] == ["  └ merge", "✕ failed", "15:29:30", "1.2 s", "2",
                              "ValueError: amount missing"]
    assert cells["report"] == ["    └ report", "○ pending", "—", "—", "—", ""]
    assert cells["live"][3] == "5.0 s…"


def test_step_key_names_maps_suffixed_duplicates_back():
    steps = [Step("a", Status.SUCCEEDED), Step("a", Status.FAILED)]
    assert step_key_names(steps) == {"a": "a", "a#2": "a"}


def test_run_info_shows_lineage_and_the_last_error_line_literally():
    run = Run("run-2", "warehouse", Status.FAILED, failed_step=MARKUP, trigger="restart",
              started_at=NOW - timedelta(minutes=1), duration_ms=61_000)
    detail = RunDetail(run=run, parent_run_id="run-1", extra={"from_step": "merge"},
                       children=(Run("run-3", "warehouse", Status.SUCCEEDED,
                                     trigger="restart"),),
                       error="Traceback\n  File x\nKeyError: '[red]boom'")
    text = run_info(detail, NOW)
    assert text.plain.splitlines() == [
        "RUN run-2  warehouse  ✕ failed  restart of run run-1 from step 'merge'  restarted → "
        "run run-3 ✓ succeeded  started 15:29:00 UTC  1m 01s",
        f"failed at {MARKUP}: KeyError: '[red]boom'",
    ]
    assert run_info(None, NOW).plain == "No run selected"


def test_banner_states():
    up = banner_text("connected", "http://127.0.0.1:1", flavour="flowwidgets", updated=NOW)
    assert up.plain == "● http://127.0.0.1:1 · flowwidgets · updated 15:30:00 UTC"
    stub = banner_text("connected", "u", stub_mode=True)
    assert "STUB MODE" in stub.plain
    away = banner_text("away", "http://h:1", note="connection refused", interval=0.5)
    assert away.plain.startswith("✕ No runner attached at http://h:1 · Waiting for runner…")
    assert "every 0.5 s" in away.plain and away.plain.endswith("connection refused")
    assert banner_text("connecting", "u").plain == "Connecting to u…"
    assert banner_text("error", "u", note="HTTP 500: x").plain == "✕ Runner error: HTTP 500: x"


def test_step_info_shows_attempts_lineage_and_the_whole_last_error_line():
    step = Step("merge", Status.FAILED, ("fetch", "audit"), duration_ms=1200,
                error="Traceback\n  ...\nValueError: " + "x" * 100,
                attempts=(Attempt(1, Status.FAILED), Attempt(2, Status.FAILED)))
    head, error = step_info(step).plain.splitlines()
    assert head == "STEP merge  ✕ failed  2 attempts  1.2 s  after fetch, audit"
    assert error == "ValueError: " + "x" * 100
    reused = Step("fetch", Status.SUCCEEDED, reused_from="run-1", extra={"attempt_count": 1})
    assert step_info(reused).plain == ("STEP fetch  ✓ succeeded  1 attempt  "
                                       "output reused from run-1")
