"""Processes and polling for the runner tests: is a step's process still alive, wait until
a condition holds (one definition for the shell-guard, cut-off, peer and cancel tests)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from flowwidgets.runner._supervise import proc_state


def alive(pid: int) -> bool:
    """True while process ``pid`` runs; a zombie (exited, not reaped yet) counts as gone."""
    return proc_state(pid) not in (None, b"Z", b"X")


def until(check: Callable[[], Any], timeout: float, what: str, every: float = 0.02) -> Any:
    """Poll ``check`` every ``every`` s until it returns something true (returned); fail
    naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not true after {timeout} s (last: {value!r})")
        time.sleep(every)
