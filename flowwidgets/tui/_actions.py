"""What an action key would do to the selected run or pipeline, decided before asking.

Each ``plan_*`` function returns a :class:`Plan` (the question for the confirmation
dialog and the call to make) or raises :class:`NotApplicable` with the reason the action
does not apply, taken from the runner's ``actions`` object where it gave one. Planning is
pure; only :meth:`Plan.execute` talks to the runner (from a worker thread).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flowwidgets.models import RunDetail, Status
from flowwidgets.tui._format import clean, dag_order

__all__ = ["NotApplicable", "Plan", "plan_cancel", "plan_rerun", "plan_restart", "plan_resume",
           "plan_run_now"]


class NotApplicable(Exception):
    """The action does not apply here; the message says why (shown in the UI)."""


@dataclass(frozen=True, slots=True)
class Plan:
    """One confirmed-before-running action: its question, its call and its outcome text."""

    kind: str
    """``restart``, ``rerun``, ``resume``, ``run_now`` or ``cancel``."""
    target: str
    """The run id (or, for ``run_now``, the pipeline name) the action applies to."""
    question: str
    from_step: str | None = None

    @property
    def title(self) -> str:
        """The action's name as the dialog and the outcome line show it."""
        return {
            "restart": "Restart",
            "rerun": "Rerun",
            "resume": "Resume from watermark",
            "run_now": "Run now",
            "cancel": "Cancel run",
        }[self.kind]

    def execute(self, source: Any) -> str:
        """Ask the runner to do it; returns the new run id (a cancel: the run's status
        word afterwards). Raises the Source's errors."""
        if self.kind == "restart":
            return source.restart(self.target, from_step=self.from_step)
        if self.kind == "rerun":
            return source.rerun(self.target)
        if self.kind == "resume":
            return source.resume(self.target)
        if self.kind == "run_now":
            return source.run_now(self.target)
        if self.kind == "cancel":
            return source.cancel(self.target)
        raise ValueError(f"unknown action kind {self.kind!r}")

    def done(self, new_run_id: str) -> str:
        """The outcome line after the runner accepted the action."""
        new = clean(new_run_id, 60)
        if self.kind == "cancel":
            return f"Cancel of run {clean(self.target, 60)}: it is {new}"
        if self.kind == "run_now":
            return f"Run now of {clean(self.target, 60)}: new run {new}"
        what = self.title
        if self.from_step is not None:
            what += f" from step {clean(self.from_step, 60)!r}"
        return f"{what} of run {clean(self.target, 60)}: new run {new}"


def _reason(detail: RunDetail, *keys: str) -> str | None:
    for key in keys:
        value = detail.actions.reasons.get(key)
        if value:
            return clean(value, 200)
    return None


def _state_reason(detail: RunDetail) -> str | None:
    status = detail.run.status
    if status.is_active:
        return f"run {clean(detail.run_id, 60)} is still {status.value}"
    return None


def _require(capabilities: Any, action: str, doing: str,
             detail: RunDetail | None = None) -> None:
    if capabilities is not None and action not in capabilities:
        raise NotApplicable((_reason(detail, "all") if detail is not None else None)
                            or f"this runner cannot {doing} (it offers no {action} action)")


def _run_for(detail: RunDetail | None, capabilities: Any, action: str, doing: str
             ) -> RunDetail:
    """The selected run, once the runner has ``action`` at all and a run is selected."""
    _require(capabilities, action, doing, detail)
    if detail is None:
        raise NotApplicable("no run selected")
    return detail


def _refusal(detail: RunDetail, keys: tuple[str, ...], otherwise: str) -> NotApplicable:
    """Why the run's actions leave ``keys`` out: the runner's reason, else its state."""
    return NotApplicable(_reason(detail, *keys) or _state_reason(detail) or otherwise)


def _failed_step(detail: RunDetail) -> str | None:
    if detail.run.failed_step:
        return detail.run.failed_step
    for step, _rank in dag_order(detail.steps):
        if step.status is Status.FAILED:
            return step.name
    return None


def plan_restart(detail: RunDetail | None, highlighted_step: str | None = None,
                 capabilities: Any = None, *, exact: bool = False) -> Plan:
    """Restart from ``highlighted_step`` if the runner allows it, else from the failed step
    (``exact``: from ``highlighted_step`` or not at all, saying why).

    The runner's ``actions`` decide: ``restart_from_step`` is the step it suggests (the
    failed one), ``restart_steps`` every step it would accept. ``capabilities`` is the
    Source's set of action names (None: unknown).
    """
    detail = _run_for(detail, capabilities, "restart", "restart runs")
    suggested = tuple(detail.actions.restart_from_step)
    allowed = suggested + tuple(s for s in detail.actions.restart_steps if s not in suggested)
    if not allowed:
        raise _refusal(detail, ("restart_from_step", "restart", "all"),
                       f"the runner offers no restart for run {clean(detail.run_id, 60)}"
                       f" ({detail.run.status.value})")
    failed = _failed_step(detail)
    if exact and highlighted_step not in allowed:
        names = ", ".join(clean(s, 40) for s in allowed[:8])
        raise NotApplicable(f"the runner does not restart run {clean(detail.run_id, 60)} from "
                            f"step {clean(str(highlighted_step), 60)!r}; it can from: {names}")
    if highlighted_step is not None and highlighted_step in allowed:
        step = highlighted_step
    elif failed is not None and failed in allowed:
        step = failed
    elif suggested:
        step = suggested[0]
    elif len(allowed) == 1:
        step = allowed[0]
    else:
        names = ", ".join(clean(s, 40) for s in allowed[:8])
        raise NotApplicable(f"run {clean(detail.run_id, 60)} has no failed step: highlight "
                            f"the step to restart from in the steps table ({names})")
    run = clean(detail.run_id, 60)
    return Plan(
        kind="restart",
        target=detail.run_id,
        from_step=step,
        question=(
            f"Restart run {run} ({clean(detail.run.pipeline, 60)}) from step "
            f"{clean(step, 60)!r}?\nThat step and everything downstream of it run again; "
            "upstream outputs are reused."
        ),
    )


def plan_rerun(detail: RunDetail | None, capabilities: Any = None) -> Plan:
    """Rerun the selected run from the beginning, if the runner allows it."""
    detail = _run_for(detail, capabilities, "rerun", "rerun runs")
    if not detail.actions.rerun:
        raise _refusal(detail, ("rerun", "rerun_full", "all"),
                       f"the runner offers no rerun for run {clean(detail.run_id, 60)}")
    return Plan(
        kind="rerun",
        target=detail.run_id,
        question=(
            f"Rerun {clean(detail.run.pipeline, 60)} from the beginning "
            f"(a new run after {clean(detail.run_id, 60)})?\nEvery step runs again."
        ),
    )


def plan_resume(detail: RunDetail | None, capabilities: Any = None) -> Plan:
    """Resume a failed streaming run from its last committed watermark."""
    detail = _run_for(detail, capabilities, "resume", "resume runs from a watermark")
    if not detail.actions.resume_from_watermark:
        raise _refusal(detail, ("resume_from_watermark", "resume", "all"),
                       "only a failed streaming run can resume from its watermark")
    mark = clean(detail.failed_watermark, 60) if detail.failed_watermark else "its last watermark"
    return Plan(
        kind="resume",
        target=detail.run_id,
        question=(
            f"Resume {clean(detail.run.pipeline, 60)} (run {clean(detail.run_id, 60)}) "
            f"from {mark}?"
        ),
    )


def plan_run_now(pipeline: str | None, capabilities: Any = None) -> Plan:
    """Start a new run of the selected pipeline now."""
    _require(capabilities, "run_now", "start runs")
    if pipeline is None:
        raise NotApplicable("no pipeline selected")
    return Plan(
        kind="run_now",
        target=pipeline,
        question=f"Start a new run of {clean(pipeline, 60)} now?",
    )


def plan_cancel(detail: RunDetail | None, capabilities: Any = None) -> Plan:
    """Cancel the shown run while it is requested or running, if the runner can."""
    detail = _run_for(detail, capabilities, "cancel", "cancel runs")
    run = clean(detail.run_id, 60)
    if not detail.actions.can_cancel:
        status = detail.run.status
        if status.is_active:
            raise _refusal(detail, ("cancel", "all"), f"the runner offers no cancel for {run}")
        raise NotApplicable(f"run {run} is {status.value}: only requested or running runs can "
                            "be cancelled")
    return Plan(
        kind="cancel",
        target=detail.run_id,
        question=(
            f"Cancel run {run} ({clean(detail.run.pipeline, 60)}, "
            f"{detail.run.status.value})?\nIts running steps are stopped; steps that have not "
            "started will not run."
        ),
    )
