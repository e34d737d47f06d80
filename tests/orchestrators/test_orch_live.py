"""A real Airflow 3.3.2 and a real Prefect 3.8.8: the diamond fails, is restarted, succeeds.

    extract ─┬─ clean ──┬─ join ── publish
             └─ enrich ─┘          (enrich fails while the fail-switch file exists)

The Sources come from ``flowwidgets.sources.connect`` (flavour detection through the
registered probes). Airflow: restart from the failed task re-runs only it and its
downstream (checked by try numbers and by the tasks' own trace). Prefect: the retry
reruns the whole flow in place and the run ends succeeded.
"""

from __future__ import annotations

import pytest
from fwtest.orchestrators import wait_run

import flowwidgets.sources.airflow  # noqa: F401 - registers the Airflow probe
import flowwidgets.sources.prefect  # noqa: F401 - registers the Prefect probe
from flowwidgets import errors
from flowwidgets.models import RunDetail, Status
from flowwidgets.sources import connect

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(420)]

EDGES = {"extract": (), "clean": ("extract",), "enrich": ("extract",),
         "join": ("clean", "enrich"), "publish": ("join",)}


def by_name(detail: RunDetail) -> dict:
    return {s.name: s for s in detail.steps}


def assert_timeline(done: RunDetail) -> None:
    """The diamond's timeline: every task timed, enrich's two tries, the path extract→publish."""
    from flowwidgets.timing import timing
    from flowwidgets.widgets._run_timing import timeline_svg, timing_payload

    t = timing(done)
    assert not t.untimed and t.critical_path[0] == "extract" and t.critical_path[-1] == "publish"
    assert len(t.step("enrich").segments) == 2
    assert t.critical_share is not None and 0 < t.critical_share <= 1
    assert 'aria-label="run timeline, 5 steps"' in timeline_svg(timing_payload(done))


def test_airflow_diamond_fails_then_restarts_from_the_failed_task(airflow_live):
    with connect(airflow_live.url, username=airflow_live.username,
                 password=airflow_live.password, timeout=30) as src:
        assert src.flavour == "airflow"
        assert src.capabilities == {"restart", "rerun", "run_now", "cancel"}
        assert src.health()
        cards = {p.name: p for p in src.pipelines()}
        assert not cards["fw_diamond"].paused

        airflow_live.fail()  # the server is shared: another test may have healed it
        run_id = src.run_now("fw_diamond")
        dag_id, _, dag_run_id = run_id.partition("/")
        assert dag_id == "fw_diamond" and ":" in dag_run_id and "+" in dag_run_id

        failed = wait_run(src, run_id, lambda d: d.status.is_terminal)
        assert failed.status is Status.FAILED
        steps = by_name(failed)
        assert {n: s.depends_on for n, s in steps.items()} == EDGES
        assert {n: s.status for n, s in steps.items()} == {
            "extract": Status.SUCCEEDED, "clean": Status.SUCCEEDED, "enrich": Status.FAILED,
            "join": Status.PENDING, "publish": Status.PENDING}
        assert steps["join"].extra["state"] == "upstream_failed"
        assert failed.run.failed_step == "enrich"
        assert "the flag file is there" in failed.error
        assert failed.actions.restart_from_step == ("enrich",) and failed.actions.rerun
        assert "RuntimeError" in src.step_log(run_id, "enrich")
        listed = src.runs(pipeline="fw_diamond", status="failed").runs
        assert [(r.run_id, r.failed_step) for r in listed] == [(run_id, "enrich")]

        airflow_live.heal()
        traced_before = len(airflow_live.traced())  # the server is shared with other tests
        assert src.restart(run_id, "enrich") == run_id  # Airflow restarts in place
        done = wait_run(src, run_id, lambda d: d.status is Status.SUCCEEDED)
        snap = src.snapshot()  # what the poller compares between polls
        assert snap.pipelines["fw_diamond"].latest_run.status is Status.SUCCEEDED
        assert snap.runs[run_id].status is Status.SUCCEEDED

    steps = by_name(done)
    assert all(s.status is Status.SUCCEEDED for s in done.steps)
    tries = {n: [(a.number, a.status) for a in s.attempts] for n, s in steps.items()}
    assert tries == {
        "extract": [(1, Status.SUCCEEDED)], "clean": [(1, Status.SUCCEEDED)],
        "enrich": [(1, Status.FAILED), (2, Status.SUCCEEDED)],
        "join": [(1, Status.SUCCEEDED)], "publish": [(1, Status.SUCCEEDED)]}
    assert done.run.attempts == 2
    # what really ran: upstream once, the restarted task and its downstream again
    assert sorted(airflow_live.traced()[traced_before:]) == ["enrich 2", "join 1", "publish 1"]
    assert_timeline(done)


def test_prefect_diamond_fails_then_the_retry_succeeds(prefect_live):
    with connect(prefect_live.url, timeout=30) as src:
        assert src.flavour == "prefect"
        assert src.capabilities == {"rerun", "run_now", "cancel"}
        assert "fw-diamond/diamond" in {p.name for p in src.pipelines()}

        prefect_live.fail()  # session fixture: make sure the first run fails
        run_id = src.run_now("fw-diamond/diamond")
        failed = wait_run(src, run_id, lambda d: d.status is Status.FAILED and any(
            s.status is Status.FAILED for s in d.steps))
        steps = by_name(failed)
        assert {n: s.depends_on for n, s in steps.items()} == EDGES
        assert steps["enrich"].status is Status.FAILED
        assert steps["join"].status is Status.PENDING
        assert "the flag file is there" in failed.error
        assert failed.actions.rerun and not failed.actions.restart_from_step
        assert "result persistence" in failed.actions.reasons["restart"]
        with pytest.raises(errors.ActionNotSupported, match="no restart from a chosen task"):
            src.restart(run_id, "enrich")

        prefect_live.heal()
        assert src.rerun(run_id) == run_id  # retried in place: same flow run
        done = wait_run(src, run_id, lambda d: d.status is Status.SUCCEEDED and all(
            s.status is Status.SUCCEEDED for s in d.steps))
        # a run that ended seconds ago is still read in full by the poller: Prefect
        # records task-run states through its events, after the flow run's own state
        assert isinstance(src.snapshot().runs[run_id], RunDetail)

    assert done.run.attempts == 2
    enrich = by_name(done)["enrich"]
    assert [(a.number, a.status) for a in enrich.attempts] == [
        (1, Status.FAILED), (2, Status.SUCCEEDED)]
    assert prefect_live.traced().count("extract") == 2  # the whole flow ran again
    assert_timeline(done)


def test_airflow_cancel_marks_a_running_dag_run_failed_with_a_note(airflow_live):
    airflow_live.heal()
    airflow_live.hold()  # clean keeps running until released
    try:
        with connect(airflow_live.url, username=airflow_live.username,
                     password=airflow_live.password, timeout=30) as src:
            run_id = src.run_now("fw_diamond")
            running = wait_run(src, run_id, lambda d: by_name(d)["clean"].status
                               is Status.RUNNING)
            assert running.actions.can_cancel and not running.actions.rerun
            assert src.cancel(run_id) == "failed"  # Airflow has no cancelled state
            done = wait_run(src, run_id, lambda d: d.status.is_terminal
                            and by_name(d)["clean"].status is not Status.RUNNING, 60)
            assert done.status is Status.FAILED and not done.actions.can_cancel
            assert by_name(done)["publish"].status is not Status.SUCCEEDED
            with pytest.raises(errors.RunConflict, match="only queued or running"):
                src.cancel(run_id)
    finally:
        airflow_live.release()


def test_prefect_cancel_stops_a_running_flow_run(prefect_live):
    prefect_live.heal()
    prefect_live.hold()
    try:
        with connect(prefect_live.url, timeout=30) as src:
            run_id = src.run_now("fw-diamond/diamond")
            running = wait_run(src, run_id, lambda d: "clean" in by_name(d) and by_name(d)[
                "clean"].status is Status.RUNNING)
            assert running.actions.can_cancel
            assert src.cancel(run_id) in ("running", "cancelled")  # cancelling, then done
            done = wait_run(src, run_id, lambda d: d.status.is_terminal, 90)
            assert done.status is Status.CANCELLED
            assert "publish" not in prefect_live.traced()[-3:]
            with pytest.raises(errors.RunConflict, match="only scheduled, pending"):
                src.cancel(run_id)
    finally:
        prefect_live.release()
