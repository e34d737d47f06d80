"""``streaming_stats``: throughput measured between observed watermark commits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flowwidgets.runner.api._streaming import WatermarkRates
from flowwidgets.runner.store import Watermark

T0 = datetime(2026, 11, 22, 10, 0, 0, tzinfo=UTC)


def _wm(seconds: float, rows_total: int, batches: int, value: str = "w") -> Watermark:
    return Watermark(pipeline="events", value=value, run_id="r1",
                     committed_at=T0 + timedelta(seconds=seconds), rows_total=rows_total,
                     batches_total=batches)


def test_no_commit_no_stats() -> None:
    assert WatermarkRates().stats(None, T0) is None


def test_first_observation_gives_totals_but_no_rate_yet() -> None:
    s = WatermarkRates().stats(_wm(0, 100, 4, "w4"), T0 + timedelta(seconds=1))
    assert s is not None
    assert (s["watermark"], s["rows_consumed_total"], s["batches_total"]) == ("w4", 100, 4)
    assert s["snapshot_at"] == "2026-11-22T10:00:00.000Z" and s["run_id"] == "r1"
    assert s["stats_1m"] == {"rows_consumed_per_sec": None, "batches_per_sec": None,
                             "span_seconds": None}


def test_rate_between_observed_commits_inside_the_first_minute() -> None:
    rates = WatermarkRates()
    rates.stats(_wm(0, 100, 4), T0)
    s = rates.stats(_wm(10, 300, 8), T0 + timedelta(seconds=10))
    assert s["stats_1m"] == {"rows_consumed_per_sec": 20.0, "batches_per_sec": 0.4,
                             "span_seconds": 10.0}


def test_rate_over_the_last_minute_uses_the_commit_at_its_start() -> None:
    rates = WatermarkRates()
    for t in range(0, 121, 5):  # one batch of 50 rows every 5 s, observed each time
        s = rates.stats(_wm(t, 50 * (t // 5 + 1), t // 5 + 1), T0 + timedelta(seconds=t))
    assert s["stats_1m"]["span_seconds"] == 60.0
    assert s["stats_1m"]["rows_consumed_per_sec"] == 10.0  # 600 rows in the last 60 s
    assert s["stats_1m"]["batches_per_sec"] == 0.2


def test_a_stopped_stream_decays_to_zero() -> None:
    rates = WatermarkRates()
    rates.stats(_wm(0, 100, 1), T0)
    rates.stats(_wm(5, 200, 2), T0 + timedelta(seconds=5))
    s = rates.stats(_wm(5, 200, 2), T0 + timedelta(seconds=70))
    assert s["stats_1m"] == {"rows_consumed_per_sec": 0.0, "batches_per_sec": 0.0,
                             "span_seconds": 60.0}
    # a stream that stopped long before the API first looked: zero over the full minute
    s = WatermarkRates().stats(_wm(0, 100, 1), T0 + timedelta(hours=1))
    assert s["stats_1m"]["rows_consumed_per_sec"] == 0.0
