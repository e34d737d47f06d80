"""flowwidgets.timing on hand-built runs: segments, waits, critical path, slack."""

from __future__ import annotations

import pytest
from _timing_runs import at, diamond, run, step

from flowwidgets.models import Attempt, Status
from flowwidgets.timing import dag_order, timing


def test_diamond_critical_path_wait_and_slack():
    t = timing(diamond())
    assert t.critical_path == ("a", "slow", "d")
    assert t.critical_ms == 1100 and t.duration_ms == 1100
    assert t.critical_share == pytest.approx(1.0)
    assert t.step("side").wait_ms == 200  # ready at 0.05 (a done), started at 0.25
    assert t.step("fast").wait_ms == 0 and t.step("a").wait_ms == 0
    assert t.step("fast").slack_ms == 800  # could end at 1.05 instead of 0.25
    assert t.step("side").slack_ms == 600
    assert t.step("slow").slack_ms is None and t.step("slow").critical
    assert not t.step("fast").critical
    assert [s.name for s in t.steps] == ["a", "slow", "fast", "side", "d"]


def test_retries_are_segments_and_the_gap_is_not_a_bar():
    tries = (Attempt(1, Status.FAILED, at(0), at(1)), Attempt(2, Status.SUCCEEDED, at(3), at(4)))
    t = timing(run("r", [step("x", 0, 4, attempts=tries)]))
    segs = t.step("x").segments
    assert [(g.attempt, g.status, g.start, g.end) for g in segs] == [
        (1, Status.FAILED, at(0), at(1)), (2, Status.SUCCEEDED, at(3), at(4))]


def test_reused_steps_have_no_bar_and_untimed_steps_are_named():
    r = run("r", [step("a", None, None, reused_from="r0"),
                  step("b", None, None, "a"),  # ematix-flow: done, no times
                  step("c", None, None, "b", status=Status.PENDING)],
            end=5)
    t = timing(r)
    assert t.step("a").segments == () and t.step("a").reused_from == "r0"
    assert t.untimed == ("b",)
    assert t.critical_path == () and t.critical_share is None
    assert t.step("b").wait_ms is None  # no times: no wait is guessed


def test_running_run_has_open_segments():
    r = run("r", [step("a", 0, 1), step("b", 1, None, "a", status=Status.RUNNING),
                  step("c", None, None, "b", status=Status.PENDING)], status=Status.RUNNING)
    t = timing(r)
    assert t.end is None and t.duration_ms is None
    assert t.step("b").segments[0].end is None
    assert t.critical_path == ("a",)
    d = t.to_dict()
    assert d["steps"][1]["segments"][0]["end"] is None
    assert d["steps"][0]["segments"][0]["start"] == int(at(0).timestamp() * 1000)


def test_dag_order_and_bad_graphs_never_crash():
    r = run("r", [step("d", 2, 3, "b", "c"), step("b", 1, 2, "a"), step("c", 1, 2, "a", "ghost"),
                  step("a", 0, 1), step("x", 0, 1, "y"), step("y", 0, 1, "x")])
    assert [s.name for s in dag_order(r.steps)] == ["a", "b", "c", "d", "x", "y"]
    t = timing(r)
    assert t.critical_path[-1] in ("d", "x", "y")


def test_to_dict_is_json():
    import json
    json.dumps(timing(diamond()).to_dict())
