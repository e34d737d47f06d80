"""flowwidgets.eta on hand-built histories: median/p90, running steps, workers, partial."""

from __future__ import annotations

from datetime import timedelta

from _timing_runs import T0, at, diamond, run, step

from flowwidgets.eta import estimate, format_eta
from flowwidgets.models import Status

HISTORY = [diamond(f"h{i}", scale=1.0 + 0.1 * i) for i in range(5)]  # 1.0 .. 1.4 scale


def _mid(status_d=Status.PENDING):
    """A diamond at t=0.5 s: a done, slow running since 0.05, fast done, side running."""
    return run("now", [
        step("a", 0, 0.05), step("slow", 0.05, None, "a", status=Status.RUNNING),
        step("fast", 0.05, 0.25, "a"), step("side", 0.25, None, "a", status=Status.RUNNING),
        step("d", None, None, "slow", "fast", "side", status=Status.PENDING),
    ], status=Status.RUNNING)


def test_running_step_gets_median_minus_elapsed_then_the_dag():
    e = estimate(_mid(), HISTORY, now=at(0.5), workers=2)
    # medians (scale 1.2): slow 1200 ms, d 60 ms; slow ran 450 ms → 750 + 60
    assert e.remaining_ms == 810
    assert e.finish_at == at(0.5) + timedelta(milliseconds=810)
    assert e.finish_p90_at > e.finish_at and not e.partial and e.history_runs == 5
    assert e.basis["slow"].median_ms == 1200 and e.basis["slow"].runs == 5
    assert e.naive_finish_at == T0 + timedelta(milliseconds=1320)
    assert format_eta(e.to_dict()).startswith("ETA 12:00:01 UTC (in 1 s")


def test_elapsed_beyond_median_floors_at_zero():
    e = estimate(_mid(), HISTORY, now=at(5), workers=None)
    assert e.remaining_ms == 60  # slow and side are overdue: only d is left


def test_workers_serialise_ready_steps():
    fresh = run("new", [
        step("a", 0, None, status=Status.RUNNING),
        *[step(n, None, None, "a", status=Status.PENDING) for n in ("slow", "fast", "side")],
        step("d", None, None, "slow", "fast", "side", status=Status.PENDING)],
        status=Status.RUNNING)
    hist = [diamond(f"h{i}") for i in range(3)]
    one = estimate(fresh, hist, now=at(0), workers=1)
    many = estimate(fresh, hist, now=at(0), workers=None)
    assert many.remaining_ms == 50 + 1000 + 50
    assert one.remaining_ms == 50 + 1000 + 200 + 200 + 50


def test_step_without_history_makes_it_partial():
    r = _mid()
    r = run("now", [*r.steps, step("new_step", None, None, "d", status=Status.PENDING)],
            status=Status.RUNNING)
    e = estimate(r, HISTORY, now=at(0.5))
    assert e.partial and e.missing == ("new_step",) and e.finish_at is None
    assert format_eta(e.to_dict()) == "ETA partial: 1 step has no history"


def test_no_history_says_so_and_finished_run_is_done():
    e = estimate(_mid(), [], now=at(0.5))
    assert e.finish_at is None and e.partial  # every remaining step lacks history
    done = estimate(diamond("x"), HISTORY)
    assert done.done and done.finish_at == diamond("x").run.finished_at
    assert format_eta(done.to_dict()) == ""


def test_steps_behind_a_failure_are_not_waited_for():
    r = run("now", [
        step("a", 0, 0.05), step("slow", 0.05, 0.1, "a", status=Status.FAILED),
        step("fast", 0.05, None, "a", status=Status.RUNNING),
        step("side", None, None, "a", status=Status.PENDING),
        step("d", None, None, "slow", "fast", "side", status=Status.PENDING)],
        status=Status.RUNNING)
    e = estimate(r, HISTORY, now=at(0.1))
    assert e.remaining_ms == 240  # side (240 ms median) outlasts fast (240 - 50 elapsed)


def test_planned_slots_place_pending_steps_after_their_dependencies():
    e = estimate(_mid(), HISTORY, now=at(0.5), workers=2)
    start_d, end_d = e.planned["d"]
    assert start_d == e.planned["slow"][1] and end_d == e.finish_at
    assert e.planned["slow"][0] == at(0.5)  # a running step's slot starts now
    assert set(e.to_dict()["planned"]) == {"slow", "side", "d"}
