"""Which action a key proposes, and why one does not apply (pure planning)."""

from __future__ import annotations

import pytest

from flowwidgets.models import Actions, Run, RunDetail, Status, Step
from flowwidgets.tui._actions import (
    NotApplicable,
    plan_rerun,
    plan_restart,
    plan_resume,
    plan_run_now,
)


def _detail(status: Status = Status.FAILED, failed: str | None = "merge",
            actions: Actions | None = None, **kw) -> RunDetail:
    steps = (Step("fetch", Status.SUCCEEDED), Step("merge", Status.FAILED, ("fetch",)),
             Step("report", Status.PENDING, ("merge",)))
    run = Run("run-1", "warehouse", status, failed_step=failed)
    return RunDetail(run=run, steps=steps, actions=actions or Actions(), **kw)


def test_restart_defaults_to_the_failed_step():
    plan = plan_restart(_detail(actions=Actions(restart_from_step=("merge",),
                                                restart_steps=("fetch", "merge", "report"))))
    assert (plan.kind, plan.target, plan.from_step) == ("restart", "run-1", "merge")
    assert "'merge'" in plan.question and "run-1" in plan.question
    assert plan.done("run-2") == "Restart from step 'merge' of run run-1: new run run-2"


def test_restart_takes_the_highlighted_step_when_allowed():
    actions = Actions(restart_from_step=("merge",), restart_steps=("fetch", "merge", "report"))
    assert plan_restart(_detail(actions=actions), "fetch").from_step == "fetch"
    only_failed = Actions(restart_from_step=("merge",))
    assert plan_restart(_detail(actions=only_failed), "fetch").from_step == "merge"


def test_restart_finds_the_failed_step_from_the_steps_when_the_run_does_not_say():
    actions = Actions(restart_steps=("fetch", "merge", "report"))
    assert plan_restart(_detail(failed=None, actions=actions)).from_step == "merge"


def test_restart_of_a_run_without_failure_asks_for_a_step():
    ok = _detail(Status.SUCCEEDED, failed=None,
                 actions=Actions(restart_steps=("fetch", "report")))
    with pytest.raises(NotApplicable, match="highlight the step"):
        plan_restart(ok)
    assert plan_restart(ok, "report").from_step == "report"


def test_restart_not_offered_says_why():
    with pytest.raises(NotApplicable, match="no run selected"):
        plan_restart(None)
    with pytest.raises(NotApplicable, match="run run-1 is still running"):
        plan_restart(_detail(Status.RUNNING, failed=None))
    with pytest.raises(NotApplicable, match="stub mode"):
        plan_restart(_detail(actions=Actions(reasons={"all": "stub mode: refuses"})))
    with pytest.raises(NotApplicable, match="offers no restart"):
        plan_restart(_detail())


def test_rerun_and_resume_follow_the_actions_object():
    assert plan_rerun(_detail(actions=Actions(rerun=True))).kind == "rerun"
    with pytest.raises(NotApplicable, match="still requested"):
        plan_rerun(_detail(Status.REQUESTED))
    detail = _detail(actions=Actions(resume_from_watermark=True), failed_watermark="offset=41")
    plan = plan_resume(detail)
    assert plan.kind == "resume" and "offset=41" in plan.question
    with pytest.raises(NotApplicable, match="streaming"):
        plan_resume(_detail())


def test_run_now_needs_a_pipeline_and_the_capability():
    assert plan_run_now("warehouse", frozenset({"run_now"})).target == "warehouse"
    assert plan_run_now("warehouse").kind == "run_now"
    with pytest.raises(NotApplicable, match="cannot start runs"):
        plan_run_now("warehouse", frozenset())
    with pytest.raises(NotApplicable):
        plan_run_now(None)


def test_a_runner_without_the_capability_is_refused_before_any_question():
    allowed = _detail(actions=Actions(restart_from_step=("merge",), rerun=True,
                                      resume_from_watermark=True))
    none: frozenset[str] = frozenset()
    for plan, word in ((lambda: plan_restart(allowed, None, none), "restart"),
                       (lambda: plan_rerun(allowed, none), "rerun"),
                       (lambda: plan_resume(allowed, none), "resume")):
        with pytest.raises(NotApplicable, match=f"offers no {word} action"):
            plan()
    assert plan_restart(allowed, None, frozenset({"restart"})).from_step == "merge"
    stub = _detail(actions=Actions(reasons={"all": "stub mode: the server refuses"}))
    with pytest.raises(NotApplicable, match="^stub mode: the server refuses$"):
        plan_rerun(stub, none)


class _Recorder:
    def __init__(self):
        self.calls = []

    def restart(self, run_id, from_step=None):
        self.calls.append(("restart", run_id, from_step))
        return "new-1"

    def rerun(self, run_id):
        self.calls.append(("rerun", run_id))
        return "new-2"


def test_execute_calls_the_source_once_with_the_planned_arguments():
    src = _Recorder()
    plan = plan_restart(_detail(actions=Actions(restart_from_step=("merge",))))
    assert plan.execute(src) == "new-1"
    assert plan_rerun(_detail(actions=Actions(rerun=True))).execute(src) == "new-2"
    assert src.calls == [("restart", "run-1", "merge"), ("rerun", "run-1")]


def test_cancel_applies_while_the_runner_says_so():
    from flowwidgets.tui._actions import plan_cancel

    running = _detail(Status.RUNNING, failed=None, actions=Actions(can_cancel=True))
    plan = plan_cancel(running, {"cancel"})
    assert (plan.kind, plan.target, plan.title) == ("cancel", "run-1", "Cancel run")
    assert "Cancel run run-1 (warehouse, running)?" in plan.question
    assert plan.done("cancelled") == "Cancel of run run-1: it is cancelled"
    with pytest.raises(NotApplicable, match="is failed: only requested or running"):
        plan_cancel(_detail(), {"cancel"})
    with pytest.raises(NotApplicable, match="cannot cancel runs"):
        plan_cancel(running, {"rerun"})
    with pytest.raises(NotApplicable, match="no run selected"):
        plan_cancel(None, {"cancel"})
