"""The action keys of the monitor (restart, rerun, resume, run now, cancel), mixed into
FlowTui.

Each key plans the action from what is shown (:mod:`flowwidgets.tui._actions`), asks a
Yes/No question, sends it from a worker thread and shows the outcome: the new run (which
the monitor then opens) or the runner's refusal with its ``detail``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.app import App
from textual.widgets import Static

from flowwidgets.errors import ActionNotSupported, APIError
from flowwidgets.models import RunDetail
from flowwidgets.tui._actions import (
    NotApplicable,
    Plan,
    plan_cancel,
    plan_rerun,
    plan_restart,
    plan_resume,
    plan_run_now,
)
from flowwidgets.tui._confirm import ConfirmScreen
from flowwidgets.tui._format import COLORS, clean, describe_error
from flowwidgets.tui._messages import ActionDone

if TYPE_CHECKING:
    from flowwidgets.tui._table import MonitorTable

    _AppBase = App[None]
else:
    _AppBase = object

__all__ = ["NOTE_S", "ActionKeys"]

NOTE_S = 4.0
"""Seconds a passing note ("not confirmed; nothing was sent") stays in the status line."""


class ActionKeys(_AppBase):
    """Key actions for :class:`~flowwidgets.tui._app.FlowTui` (uses its selection state)."""

    _acting = False
    if TYPE_CHECKING:  # FlowTui's selection state, which these actions read and set
        pipeline: str | None
        run_id: str | None
        detail: RunDetail | None
        _source: Any
        _state: str
        _step_names: dict[str, str]
        _follow_latest: bool
        _info_step: str | None

        def _table(self, name: str) -> MonitorTable: ...
        def _request_refresh(self) -> None: ...

    def action_restart(self) -> None:
        """Restart the shown run from its failed step (whatever is highlighted), after a
        Yes; :meth:`action_restart_here` restarts from the highlighted step."""
        self._propose(lambda: plan_restart(self._current_detail(), None, self._capabilities))

    def action_restart_here(self) -> None:
        """Restart the shown run from the step highlighted in the steps table, after a Yes."""
        step = self._step_names.get(self._table("steps").cursor_key or "")

        def plan() -> Plan:
            if step is None:
                raise NotApplicable("highlight a step in the steps table first (R restarts "
                                    "from the failed step)")
            return plan_restart(self._current_detail(), step, self._capabilities,
                                exact=True)

        self._propose(plan)

    def action_rerun(self) -> None:
        """Rerun the shown run from the beginning, after a Yes."""
        self._propose(lambda: plan_rerun(self._current_detail(), self._capabilities))

    def action_resume(self) -> None:
        """Resume the shown streaming run from its watermark, after a Yes."""
        self._propose(lambda: plan_resume(self._current_detail(), self._capabilities))

    def action_run_now(self) -> None:
        """Start a run of the selected pipeline, after a Yes."""
        self._propose(lambda: plan_run_now(self.pipeline, self._capabilities))

    def action_cancel_run(self) -> None:
        """Cancel the shown run (requested or running), after a Yes."""
        self._propose(lambda: plan_cancel(self._current_detail(), self._capabilities))

    @property
    def _capabilities(self) -> Any:
        return getattr(self._source, "capabilities", None)

    def _current_detail(self) -> RunDetail | None:
        detail = self.detail
        return detail if detail is not None and detail.run_id == self.run_id else None

    def _propose(self, make_plan: Callable[[], Plan]) -> None:
        if isinstance(self.screen, ConfirmScreen):
            return  # one question at a time: the open dialog wants y or n
        if self._source is None or self._state == "away":
            self._show_outcome("No runner attached: nothing was sent", error=True)
            return
        if self._acting:
            self._show_outcome("An action is still in flight; wait for its outcome", error=True)
            return
        try:
            plan = make_plan()
        except NotApplicable as exc:
            self._show_outcome(f"Not available: {exc}", error=True)
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._run_plan(plan)
            else:
                self._show_outcome(f"{plan.title}: not confirmed; nothing was sent",
                                   fade_s=NOTE_S)

        self.push_screen(ConfirmScreen(plan.title, plan.question), answered)

    def _run_plan(self, plan: Plan) -> None:
        if self._source is None:
            self._show_outcome("No runner attached: nothing was sent", error=True)
            return
        self._acting = True
        self._show_outcome(f"{plan.title}: asking the runner…")
        self.run_worker(partial(self._action_work, self._source, plan), thread=True,
                        group="action", exit_on_error=False)

    def _action_work(self, source: Any, plan: Plan) -> None:
        try:
            new_run_id = plan.execute(source)
        except Exception as exc:  # the runner's refusal is shown in the UI
            self.post_message(ActionDone(plan, None, exc))
            return
        self.post_message(ActionDone(plan, str(new_run_id), None))

    def on_action_done(self, message: ActionDone) -> None:
        if not self.is_running:
            return
        self._acting = False
        plan = message.plan
        if message.error is not None:
            verb = "refused" if isinstance(message.error, APIError | ActionNotSupported) \
                else "failed"
            self._show_outcome(f"{plan.title} {verb}: {describe_error(message.error)}",
                               error=True)
            return
        self._show_outcome(plan.done(message.new_run_id or ""), ok=True)
        if plan.kind == "cancel":  # the same run, now stopping or stopped: show it again
            self._request_refresh()
            return
        self.run_id, self.detail, self._follow_latest = message.new_run_id, None, False
        self._info_step = None
        self._request_refresh()

    def _show_outcome(self, text: str, *, error: bool = False, ok: bool = False,
                      fade_s: float | None = None) -> None:
        """Show an outcome in the status line; with ``fade_s`` it clears itself after
        that many seconds (unless another outcome replaced it)."""
        mark, colour = ("✕ ", COLORS["red"]) if error else (
            ("✓ ", COLORS["teal"]) if ok else ("› ", COLORS["muted"]))
        line = Text()
        line.append(mark, style=colour)
        line.append(clean(text, 400), style=COLORS["red"] if error else "")
        widget = self.query_one("#outcome", Static)
        widget.update(line)
        self._outcome_n = getattr(self, "_outcome_n", 0) + 1
        if fade_s is not None:
            mine = self._outcome_n

            def fade() -> None:
                if self._outcome_n == mine:
                    widget.update("")

            self.set_timer(fade_s, fade)

