"""SqliteRunLog.cancel_run: one transaction, who/when recorded, and the cancel stands
against later writes of a worker still winding the run down."""

from __future__ import annotations

import pytest

from flowwidgets.models import Status
from flowwidgets.runner.sqlite import SqliteRunLog

STEPS = [("fetch", []), ("clean", ["fetch"])]


@pytest.fixture
def log(tmp_path):
    with SqliteRunLog(tmp_path / "runs.db") as log:
        yield log


def _running(log: SqliteRunLog) -> str:
    run_id, _ = log.create_run(pipeline="orders", kind="batch", trigger="manual", steps=STEPS)
    assert log.claim_requested("w1") is not None
    assert log.start_attempt(run_id, "fetch") == 1
    return run_id


def test_cancel_a_running_run_records_who_when_and_the_running_step(log):
    run_id = _running(log)
    before = log.version()
    run = log.cancel_run(run_id, by="alice")
    assert run.status is Status.CANCELLED and run.finished_at is not None
    assert run.extras["cancelled_by"] == "alice" and run.extras["cancelled_while"] == "running"
    assert run.error == "cancelled by alice while fetch ran"
    steps = {s.name: s for s in log.get_steps(run_id)}
    assert steps["fetch"].status is Status.CANCELLED and steps["fetch"].finished_at
    assert steps["clean"].status is Status.PENDING
    [attempt] = log.get_attempts(run_id, "fetch")
    assert attempt.status is Status.CANCELLED and attempt.error == "cancelled by alice"
    assert log.version() > before
    kinds = [(e.kind, e.status) for e in log.events_since(0)][-3:]
    assert kinds == [("attempt", "cancelled"), ("step", "cancelled"), ("run", "cancelled")]


def test_the_cancel_stands_against_the_workers_later_writes(log):
    run_id = _running(log)
    log.cancel_run(run_id, by="bob")
    log.finish_attempt(run_id, "fetch", 1, status=Status.SUCCEEDED)
    log.set_step_status(run_id, "fetch", Status.FAILED, "runner stopped")
    log.finish_run(run_id, status=Status.SUCCEEDED)
    assert log.start_attempt(run_id, "clean") == 0
    assert log.get_run(run_id).status is Status.CANCELLED
    assert {s.name: s.status for s in log.get_steps(run_id)} == {
        "fetch": Status.CANCELLED, "clean": Status.PENDING}
    assert [a.status for a in log.get_attempts(run_id)] == [Status.CANCELLED]


def test_cancel_a_requested_run_and_refusals(log):
    run_id, _ = log.create_run(pipeline="gone", kind="batch", trigger="schedule", steps=STEPS)
    run = log.cancel_run(run_id)
    assert run.status is Status.CANCELLED and run.started_at is None
    assert run.extras["cancelled_by"] == "unknown" and run.duration_ms is None
    assert log.claim_requested("w1") is None  # nothing left to claim
    with pytest.raises(ValueError, match="is cancelled; only requested or running"):
        log.cancel_run(run_id)
    with pytest.raises(KeyError):
        log.cancel_run("nope")
