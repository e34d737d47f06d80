"""Kernel-side history aggregation on known histories: failure signatures and groups, the
runs × steps grid, the duration marks (and their bucketing), the weekly trend."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from flowwidgets.frames import pipeline_summary, runs_to_frame
from flowwidgets.history import (
    dag_order,
    duration_marks,
    failure_groups,
    failure_signature,
    grid_payload,
    step_grid,
    window_start,
)
from flowwidgets.models import Run, RunDetail, Status, Step

T0 = datetime(2026, 11, 1, tzinfo=UTC)
DAG = (("extract", ()), ("transform_a", ("extract",)), ("transform_b", ("extract",)),
       ("merge", ("transform_a", "transform_b")), ("load", ("merge",)))


def detail(i: int, *, fail_at: str | None = None, error: str | None = None,
           slow: dict[str, int] | None = None, pipeline: str = "etl",
           trigger: str = "schedule") -> RunDetail:
    start = T0 + timedelta(hours=i)
    steps, t, failed = [], start, False
    for name, deps in DAG:
        if failed:
            steps.append(Step(name, Status.PENDING, deps))
            continue
        ms = (slow or {}).get(name, 1000)
        bad = name == fail_at
        steps.append(Step(name, Status.FAILED if bad else Status.SUCCEEDED, deps, t,
                          t + timedelta(milliseconds=ms), ms, error if bad else None))
        t += timedelta(milliseconds=ms)
        failed = bad
    status = Status.FAILED if fail_at else Status.SUCCEEDED
    run = Run(f"{pipeline}-{i:03d}", pipeline, status, start, t,
              int((t - start).total_seconds() * 1000), 1, fail_at, trigger=trigger)
    return RunDetail(run=run, steps=tuple(steps), error=error)


def test_signatures_group_numbers_ids_and_paths_and_keep_causes_apart():
    a = failure_signature("Traceback (most recent call last):\n  File \"/srv/x.py\", line 3\n"
                          "KeyError: amount column missing in batch 47\n")
    b = failure_signature("KeyError: amount column missing in batch 48")
    assert a == b == "KeyError: amount column missing in batch <n>"
    assert failure_signature("OSError: cannot open /data/2026-11-01/part-0001.csv") == \
        failure_signature("OSError: cannot open /data/2026-11-02/part-0007.csv")
    assert failure_signature("timeout after 60 s talking to run-0a1b2c") == \
        failure_signature("timeout after 61 s talking to run-ffe012")
    assert failure_signature("ValueError: 'EUR' is not a currency") == \
        failure_signature("ValueError: 'GBP' is not a currency")
    assert failure_signature("KeyError: amount column missing in batch 47") != \
        failure_signature("ConnectionError: CRM API answered 503")
    assert failure_signature(None) == failure_signature("") == ""


def test_failure_groups_count_first_last_and_runs_newest_first():
    history = [detail(0),
               detail(1, fail_at="merge", error="KeyError: amount column missing in batch 47"),
               detail(2, fail_at="merge", error="KeyError: amount column missing in batch 48"),
               detail(3, fail_at="extract", error="ConnectionError: CRM API answered 503"),
               detail(4, fail_at="merge", error="KeyError: amount column missing in batch 52")]
    g = failure_groups(history)
    assert list(g["count"]) == [3, 1]
    top = g.iloc[0]
    assert top["step"] == "merge" and top["signature"].endswith("batch <n>")
    assert top["run_ids"] == ["etl-004", "etl-002", "etl-001"]
    assert top["first_seen"] == pd.Timestamp(T0 + timedelta(hours=1))
    assert top["last_seen"] == pd.Timestamp(T0 + timedelta(hours=4))
    assert top["example"] == "KeyError: amount column missing in batch 52"
    assert g.iloc[1]["step"] == "extract" and g.iloc[1]["count"] == 1
    assert failure_groups([detail(0)]).empty


def test_dag_order_ranks_by_longest_path():
    d = detail(0)
    shuffled = RunDetail(run=d.run, steps=tuple(reversed(d.steps)))
    assert dag_order([shuffled]) == ["extract", "transform_b", "transform_a", "merge", "load"]
    assert dag_order([d]) == ["extract", "transform_a", "transform_b", "merge", "load"]


def test_step_grid_has_steps_as_rows_runs_oldest_left_and_the_failing_row():
    history = [detail(i, fail_at="merge" if i % 3 == 2 else None, error="boom 1")
               for i in range(6)][::-1]  # newest first, as step_history answers
    g = step_grid(history)
    assert list(g.index) == ["extract", "transform_a", "transform_b", "merge", "load"]
    assert list(g.columns) == [f"etl-{i:03d}" for i in range(6)]
    assert list(g.loc["merge"]) == ["succeeded", "succeeded", "failed"] * 2
    assert list(g.loc["load"]) == ["succeeded", "succeeded", "pending"] * 2
    ms = step_grid(history, values="duration_ms")
    assert ms.loc["extract", "etl-000"] == 1000 and ms.isna().loc["load", "etl-002"]
    with pytest.raises(ValueError, match="values must be"):
        step_grid(history, values="colour")


def test_grid_payload_cells_follow_steps_and_runs():
    p = grid_payload([detail(1, fail_at="merge", error="x"), detail(0)], max_runs=10)
    assert [r["run_id"] for r in p["runs"]] == ["etl-000", "etl-001"]
    assert p["steps"][3] == "merge"
    assert p["cells"][1][3] == ["failed", 1000, None, None] and p["cells"][1][4][0] == "pending"


def test_grid_payload_names_the_run_a_restart_reused_a_step_from():
    # the grid drew a restart's reused steps as succeeded, like steps that ran
    first = detail(0, fail_at="merge", error="x")
    reused = tuple(replace(s, reused_from=first.run_id) if s.name in ("extract", "transform_a",
                   "transform_b") else s for s in detail(1).steps)
    restart = replace(detail(1), steps=reused)
    p = grid_payload([first, restart])
    assert [c[3] for c in p["cells"][1]] == [first.run_id] * 3 + [None, None]
    assert [c[3] for c in p["cells"][0] if c] == [None] * 5


def frame(n: int, *, slow_after: int | None = None, restarts: bool = False) -> pd.DataFrame:
    runs = []
    for i in range(n):
        start = T0 + timedelta(hours=i)
        ms = 60_000 if slow_after is None or i < slow_after else 90_000
        trigger = "restart" if restarts and i % 10 == 9 else "schedule"
        if trigger == "restart":
            ms = 5_000
        runs.append(Run(f"r{i:05d}", "etl", Status.SUCCEEDED, start,
                        start + timedelta(milliseconds=ms), ms, 1, trigger=trigger))
    return runs_to_frame(runs)


def test_trend_compares_p50_of_the_last_7_days_with_the_7_before():
    df = frame(14 * 24, slow_after=7 * 24, restarts=True)
    s = pipeline_summary(df)
    row = s.loc["etl"]
    assert row["p50_last_7d"] == pd.Timedelta(seconds=90)   # restarts (5 s) left out
    assert row["p50_prev_7d"] == pd.Timedelta(seconds=60)
    assert row["trend"] == pytest.approx(0.5)
    flat = pipeline_summary(frame(14 * 24)).loc["etl"]
    assert flat["trend"] == pytest.approx(0.0)
    young = pipeline_summary(frame(24)).loc["etl"]
    assert pd.isna(young["trend"]) and pd.isna(young["p50_prev_7d"])


def test_marks_one_per_run_with_restarts_marked_and_out_of_the_band():
    df = frame(200, restarts=True)
    m = duration_marks(df)
    assert not m["bucketed"] and len(m["marks"]) == 200 == m["runs"]
    partial = [mk for mk in m["marks"] if mk[4]]
    assert len(partial) == 20 and all(mk[1] == 5_000 for mk in partial)
    assert m["band"] and all(b[1] == b[2] == 60_000 for b in m["band"])


def test_marks_are_bucketed_and_bounded_above_max_marks():
    df = frame(5000)
    m = duration_marks(df, width=300, max_marks=1000)
    assert m["bucketed"] and m["runs"] == 5000
    assert len(m["marks"]) <= 300 * 2
    assert sum(mk[3] for mk in m["marks"]) == 5000


def test_window_parsing():
    assert window_start("14d", T0) == T0 - timedelta(days=14)
    assert window_start("36h", T0) == T0 - timedelta(hours=36)
    with pytest.raises(ValueError, match="14d"):
        window_start("two weeks", T0)
