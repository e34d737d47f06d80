"""Next fire times for ``GET /api/pipelines`` and its ETag, computed once per fire.

The first fire strictly after ``t`` is the same for every ``t`` from the moment it was
computed until that fire, so :class:`NextFires` keeps it until then (or until the
pipeline's schedule changes) instead of running croniter on every request.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flowwidgets.runner._local import LocalRunner

__all__ = ["NextFires"]


class NextFires:
    """``runner.next_run_at`` with a per-pipeline memory; thread-safe."""

    def __init__(self, runner: LocalRunner) -> None:
        self._runner = runner
        self._lock = threading.Lock()
        self._kept: dict[str, tuple[object, datetime, datetime]] = {}

    def next_run_at(self, name: str, now: datetime) -> datetime | None:
        """The pipeline's next fire after ``now`` (None: unscheduled, or streaming)."""
        spec = self._runner.pipelines[name]
        key = (spec.schedule, spec.timezone, spec.kind)
        with self._lock:
            kept = self._kept.get(name)
        if kept is not None and kept[0] == key and kept[1] <= now < kept[2]:
            return kept[2]
        fire = self._runner.next_run_at(name, now)
        if fire is not None:
            with self._lock:
                self._kept[name] = (key, now, fire)
        return fire
