"""Messages that carry results from worker and poller threads to the event loop."""

from __future__ import annotations

from typing import Any

from textual.message import Message

from flowwidgets.tui._actions import Plan
from flowwidgets.tui._data import Snapshot
from flowwidgets.tui._step_detail import StepLog

__all__ = ["ActionDone", "Connected", "Failed", "Fetched", "Live", "StepLogRead"]


class Connected(Message):
    """``connect()`` returned a Source."""

    def __init__(self, source: Any) -> None:
        super().__init__()
        self.source = source


class Failed(Message):
    """``connect`` or ``refresh`` (``what``) raised ``error``."""

    def __init__(self, what: str, error: BaseException) -> None:
        super().__init__()
        self.what = what
        self.error = error


class Fetched(Message):
    """A refresh finished; ``request`` is the (pipeline, run_id, follow) it was asked for."""

    def __init__(self, snapshot: Snapshot, request: tuple[Any, ...]) -> None:
        super().__init__()
        self.snapshot = snapshot
        self.request = request


class Live(Message):
    """The poller reported a LiveEvent."""

    def __init__(self, event: Any) -> None:
        super().__init__()
        self.event = event


class ActionDone(Message):
    """An action finished: the new run id, or the error the runner answered."""

    def __init__(self, plan: Plan, new_run_id: str | None, error: BaseException | None):
        super().__init__()
        self.plan = plan
        self.new_run_id = new_run_id
        self.error = error


class StepLogRead(Message):
    """A step's error and log tail were read for the detail panel."""

    def __init__(self, found: StepLog) -> None:
        super().__init__()
        self.found = found
