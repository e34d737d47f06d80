"""The app's step panel (Enter on a step): reads the step's traceback and log tail in a
worker thread and shows them below the steps table."""

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

        def _table(self, name: str) -> MonitorTable: ...

    def _show_step_cursor(self) -> None:
        table = self._table("steps")
        table.move_cursor(row=table.cursor_row, scroll=True)

    def _read_log(self, step: Any) -> None:
        """Show the step's panel, reading its log again when the step changed (every
        refresh while it runs)."""
        detail, source = self.detail, self._source
        if detail is None or source is None:
            return
        key = (detail.run_id, step.name, step.status, len(step.attempts),
               self._updated if step.status.is_active else None)
        found = self._step_log
        if found is None or (found.run_id, found.step) != (detail.run_id, step.name):
            self.query_one("#step-text", Static).update(step_detail_text(None))
        if key == self._log_key:
            return
        self._log_key = key
        work = partial(self._log_work, source, detail, step.name)
        self.run_worker(work, thread=True, group="step-log", exit_on_error=False)

    def _log_work(self, source: Any, detail: RunDetail, step: str) -> None:
        self.post_message(StepLogRead(read_step_log(source, detail, step)))

    def on_step_log_read(self, message: StepLogRead) -> None:
        if not self.is_running:
            return
        found = message.found
        if found.run_id != self.run_id or found.step != self._info_step:
            return  # the user moved on
        self._step_log = found
        self.query_one("#step-text", Static).update(step_detail_text(found))
