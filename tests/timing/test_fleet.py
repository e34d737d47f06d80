"""flowwidgets.fleet: bounded marks whatever the history, merged runs said, ghost bars from
cron × median, the window's bounds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from flowwidgets.fleet import (
    MAX_ROW_MARKS,
    RunArrays,
    fleet_marks,
    parse_window,
    run_arrays,
    window_bounds,
)
from flowwidgets.models import Pipeline, Run, Status

NOW = datetime(2026, 1, 2, 12, 0, tzinfo=UTC)
MS = NOW.timestamp() * 1000


def test_wide_runs_are_bars_and_narrow_ones_are_merged_with_their_worst_status():
    runs = [Run("long", "etl", Status.SUCCEEDED, NOW - timedelta(hours=5),
                NOW - timedelta(hours=3)),
            Run("live", "etl", Status.RUNNING, NOW - timedelta(minutes=30)),
            *[Run(f"q{i}", "etl", Status.FAILED if i == 3 else Status.SUCCEEDED,
                  NOW - timedelta(hours=10, seconds=i), NOW - timedelta(hours=10, seconds=i - 1))
              for i in range(6)]]
    m = fleet_marks(run_arrays(runs), [Pipeline("etl")], NOW - timedelta(hours=24), NOW, NOW,
                    width_px=1000)
    marks = m["rows"][0]["marks"]
    singles = {mk[3]: mk for mk in marks if mk[4] == 1}
    assert set(singles) == {"long", "live"}
    assert singles["live"][1] == int(MS) and singles["live"][2] == "running"
    merged = [mk for mk in marks if mk[4] > 1]
    assert len(merged) == 1 and merged[0][4] == 6 and merged[0][2] == "failed"
    assert merged[0][3] == "q3"  # the failed run is the one a click opens
    assert m["merged"] == 6 and m["runs"] == 8


def test_100k_runs_over_30_days_stay_bounded():
    rng = np.random.default_rng(1)
    n = 100_000
    start = MS - rng.uniform(0, 30 * 86400_000, n)
    dur = rng.uniform(1_000, 600_000, n)
    pipes = np.array([f"p{i % 20}" for i in range(n)], dtype=object)
    arrs = RunArrays([f"r{i}" for i in range(n)], pipes,
                     np.where(rng.uniform(size=n) < 0.05, "failed", "succeeded"), start,
                     start + dur)
    m = fleet_marks(arrs, [Pipeline(f"p{i}") for i in range(20)], NOW - timedelta(days=30), NOW,
                    NOW, width_px=1000)
    assert m["runs"] == n
    assert m["marks"] <= 20 * (1000 / 4 + MAX_ROW_MARKS)
    assert sum(mk[4] for r in m["rows"] for mk in r["marks"]) == n  # every run counted once


def test_ghost_bars_from_cron_times_median():
    p = Pipeline("hourly", schedule="0 * * * *", timezone="UTC", median_duration_ms=600_000)
    paused = Pipeline("off", schedule="0 * * * *", median_duration_ms=600_000, paused=True)
    t0, t1 = window_bounds("24h", None, NOW)
    assert t1 == NOW + timedelta(hours=4)
    m = fleet_marks(run_arrays([]), [p, paused], t0, t1, NOW, 800)
    ghosts = m["rows"][0]["ghosts"]
    assert len(ghosts) == 3  # 13:00, 14:00, 15:00 (16:00 is the window's edge)
    assert ghosts[0] == [int(MS) + 3600_000, int(MS) + 3600_000 + 600_000]
    assert m["rows"][1]["ghosts"] == []


def test_window_words():
    assert parse_window("1h") == 3600 and parse_window("30d") == 30 * 86400
    with pytest.raises(ValueError, match="between 1h and 30d"):
        parse_window("31d")
    with pytest.raises(ValueError, match="look like '1h'"):
        parse_window("soon")
