"""The app's step panel (Enter on a step): reads the step's attempts, traceback and log
tail in a worker thread and shows them below the steps table; ``[`` / ``]`` pick an older
or newer attempt."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from textual.widgets import Static

from flowwidgets.models import RunDetail
from flowwidgets.tui._messages import StepLogRead
from flowwidgets.tui._step_detail import StepLog, read_step_log, step_detail_text

if TYPE_CHECKING:
    from textual.app import App

    from flowwidgets.tui._table import MonitorTable

    _AppBase = App[None]
else:
    _AppBase = object

__all__ = ["StepPanel"]


class StepPanel(_AppBase):
    """Mixin for :class:`~flowwidgets.tui._app.FlowTui`: the opened step's panel."""

    if TYPE_CHECKING:  # FlowTui's state these use
        run_id: str | None
        detail: RunDetail | None
        _source: Any
        _info_step: str | None
        _step_log: StepLog | None
        _log_key: tuple[Any, ...] | None
        _updated: datetime | None
        _attempt: int | None
        _attempt_of: tuple[str, str] | None

        def _table(self, name: str) -> MonitorTable: ...

        def _render_info(self, now: datetime | None = None) -> None: ...

    def action_attempt(self, delta: int) -> None:
        """Show the previous (``delta`` -1) or next (+1) attempt of the opened step."""
        found = self._step_log
        if self._info_step is None or found is None or found.step != self._info_step \
                or len(found.attempts) < 2:
            return
        numbers = [a.number for a in found.attempts]
        # from the attempt asked for last (keys pressed faster than the logs are read
        # add up), else the newest
        at = numbers.index(self._attempt) if self._attempt in numbers else len(numbers) - 1
        pick = numbers[max(0, min(len(numbers) - 1, at + delta))]
        self._attempt = None if pick == numbers[-1] else pick
        self._log_key = None
        self._render_info()

    def _show_step_cursor(self) -> None:
        table = self._table("steps")
        table.move_cursor(row=table.cursor_row, scroll=True)

    def _read_log(self, step: Any) -> None:
        """Show the step's panel, reading its log again when the step changed (every
        refresh while it runs)."""
        detail, source = self.detail, self._source
        if detail is None or source is None:
            return
        if self._attempt_of != (detail.run_id, step.name):  # another step: its newest try
            self._attempt_of, self._attempt = (detail.run_id, step.name), None
        key = (detail.run_id, step.name, step.status, len(step.attempts),
               self._updated if step.status.is_active else None, self._attempt)
        found = self._step_log
        if found is None or (found.run_id, found.step) != (detail.run_id, step.name):
            self.query_one("#step-text", Static).update(step_detail_text(None))
        if key == self._log_key:
            return
        self._log_key = key
        work = partial(self._log_work, source, detail, step.name, self._attempt)
        self.run_worker(work, thread=True, group="step-log", exit_on_error=False)

    def _log_work(self, source: Any, detail: RunDetail, step: str,
                  attempt: int | None) -> None:
        self.post_message(StepLogRead(read_step_log(source, detail, step, attempt)))

    def on_step_log_read(self, message: StepLogRead) -> None:
        if not self.is_running:
            return
        found = message.found
        if found.run_id != self.run_id or found.step != self._info_step:
            return  # the user moved on
        if self._attempt is not None and found.attempt != self._attempt:
            return  # an answer for an attempt picked before
        self._step_log = found
        self.query_one("#step-text", Static).update(step_detail_text(found))
