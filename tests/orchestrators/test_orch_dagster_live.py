"""A real Dagster 1.13: the diamond fails, is re-executed from failure, from a chosen step and
whole, and a run is terminated; the ops' own trace says what really ran.

    extract ─┬─ clean ──┬─ join ── publish
             └─ enrich ─┘          (enrich fails while the fail-switch file exists)

The Source comes from ``flowwidgets.sources.connect`` (detection through the registered
probes). Each re-execution is a new Dagster run whose unselected steps reuse the parent's
stored outputs: the trace lines (``"<op> <run id>"``) of a run name exactly the ops that ran.
"""

from __future__ import annotations

import pytest
from fwtest.orchestrators import wait_run

from flowwidgets.models import Status
from flowwidgets.sources import connect

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(300)]

EDGES = {"extract": (), "clean": ("extract",), "enrich": ("extract",),
         "join": ("clean", "enrich"), "publish": ("join",)}


def ran(live, run_id: str) -> list[str]:  # noqa: ANN001
    """The ops that ran in ``run_id``, by their own trace."""
    return sorted(line.split()[0] for line in live.traced() if line.endswith(f" {run_id}"))


def test_dagster_diamond_fails_then_reexecutes_from_failure_and_from_a_step(dagster_live):
    with connect(dagster_live.url, timeout=30) as src:
        assert src.flavour == "dagster"
        assert src.capabilities == {"restart", "rerun", "run_now", "cancel"}
        assert src.health()
        assert "fw_diamond" in {p.name for p in src.pipelines()}

        dagster_live.fail()  # the server is shared: another test may have healed it
        run_id = src.run_now("fw_diamond")
        failed = wait_run(src, run_id, lambda d: d.status.is_terminal, 90.0)
        assert failed.status is Status.FAILED
        steps = {s.name: s for s in failed.steps}
        assert {n: s.depends_on for n, s in steps.items()} == EDGES
        assert {n: s.status for n, s in steps.items()} == {
            "extract": Status.SUCCEEDED, "clean": Status.SUCCEEDED, "enrich": Status.FAILED,
            "join": Status.PENDING, "publish": Status.PENDING}
        assert failed.run.failed_step == "enrich"
        assert failed.error.splitlines()[-1].startswith("RuntimeError: the flag file is there")
        assert failed.actions.restart_from_step == ("enrich",) and failed.actions.rerun
        assert "the flag file is there" in src.step_log(run_id, "enrich")
        assert ran(dagster_live, run_id) == ["clean", "enrich", "extract"]
        listed = src.runs(pipeline="fw_diamond", status="failed").runs
        assert (run_id, "enrich") in [(r.run_id, r.failed_step) for r in listed]

        # -- restart from the failed step: Dagster's FROM_FAILURE, a new run ------------
        dagster_live.heal()
        healed_id = src.restart(run_id, "enrich")
        assert healed_id != run_id
        healed = wait_run(src, healed_id, lambda d: d.status.is_terminal, 90.0)
        assert healed.status is Status.SUCCEEDED, healed.error
        assert healed.parent_run_id == run_id
        assert {s.name: (s.status, s.reused_from) for s in healed.steps} == {
            "extract": (Status.SUCCEEDED, run_id), "clean": (Status.SUCCEEDED, run_id),
            "enrich": (Status.SUCCEEDED, None), "join": (Status.SUCCEEDED, None),
            "publish": (Status.SUCCEEDED, None)}
        # what really ran: only the failed op and its downstream; upstream outputs reused
        assert ran(dagster_live, healed_id) == ["enrich", "join", "publish"]
        assert ran(dagster_live, run_id) == ["clean", "enrich", "extract"]  # not again

        # -- restart from a chosen step: it and its downstream, selected ----------------
        step_id = src.restart(healed_id, "join")
        stepped = wait_run(src, step_id, lambda d: d.status.is_terminal, 90.0)
        assert stepped.status is Status.SUCCEEDED, stepped.error
        assert ran(dagster_live, step_id) == ["join", "publish"]
        assert stepped.run.extra["root_run_id"] == run_id  # in the run group of the first

        # -- rerun: every step again ----------------------------------------------------
        all_id = src.rerun(run_id)
        wait_run(src, all_id, lambda d: d.status is Status.SUCCEEDED, 90.0)
        assert ran(dagster_live, all_id) == sorted(EDGES)

        # -- the poller: a full snapshot, then an idle poll of one request --------------
        snap = src.snapshot()
        assert snap.pipelines["fw_diamond"].latest_run.status is Status.SUCCEEDED
        before = src.stats.requests
        assert src.snapshot() == snap
        assert src.stats.requests - before == 1


def test_dagster_terminate_cancels_a_run(dagster_live):
    dagster_live.hold()  # tick runs until released: the run cannot end before the cancel
    try:
        with connect(dagster_live.url, timeout=30) as src:
            run_id = src.run_now("fw_nightly")
            queued = src.run(run_id)
            assert queued.status.is_active and queued.actions.can_cancel
            assert src.cancel(run_id) in ("cancelled", "running", "requested")
            done = wait_run(src, run_id, lambda d: d.status.is_terminal, 60)
    finally:
        dagster_live.release()
    assert done.status is Status.CANCELLED
    assert done.run.extra["dagster_status"] == "CANCELED"
    assert not done.actions.can_cancel and done.actions.rerun
