"""Throughput of streaming pipelines for ``GET /api/pipelines`` (ematix's ``streaming_stats``).

Totals (rows, batches, the last watermark and when it was committed) come from the
store's newest watermark commit. The ``stats_1m`` rates need the commits of the last
minute; the :class:`~flowwidgets.runner.store.RunLog` contract only exposes the newest
commit, so :class:`WatermarkRates` remembers the commits this API has observed (each a
real commit with its time and running totals) and measures between the newest one and
the newest one at or before the window's start. ``span_seconds`` says how much time the
measurement covers: less than 60 right after the API started, ``None`` rates until a
second commit has been observed.
"""

from __future__ import annotations

import threading
from collections import deque
from datetime import datetime, timedelta
from typing import Any

from flowwidgets.models import format_time
from flowwidgets.runner.store import Watermark

__all__ = ["WatermarkRates"]

_MAX_KEPT = 4096
"""Observed commits kept per pipeline (a bound, whatever the poll rate)."""


class WatermarkRates:
    """Per-pipeline memory of observed watermark commits; thread-safe."""

    def __init__(self, window_s: float = 60.0) -> None:
        self.window_s = window_s
        self._seen: dict[str, deque[Watermark]] = {}
        self._lock = threading.Lock()

    def stats(self, last: Watermark | None, now: datetime) -> dict[str, Any] | None:
        """ematix-shaped ``streaming_stats`` for the pipeline whose newest commit is
        ``last`` (None when it never committed)."""
        if last is None:
            return None
        start = now - timedelta(seconds=self.window_s)
        with self._lock:
            seen = self._seen.setdefault(last.pipeline, deque(maxlen=_MAX_KEPT))
            if not seen or (seen[-1].committed_at, seen[-1].batches_total) != (
                    last.committed_at, last.batches_total):
                seen.append(last)
            # keep exactly one commit at or before the window's start: the baseline
            while len(seen) >= 2 and seen[1].committed_at <= start:
                seen.popleft()
            base = seen[0]
            only_one = len(seen) == 1
        rates: dict[str, float | None]
        if base.committed_at > start and only_one:
            # one commit seen, inside the window: nothing to measure against yet
            rates = {"rows_consumed_per_sec": None, "batches_per_sec": None,
                     "span_seconds": None}
        else:
            span = self.window_s if base.committed_at <= start else max(
                (now - base.committed_at).total_seconds(), 1e-3)
            rates = {
                "rows_consumed_per_sec": round(max(0, last.rows_total - base.rows_total) / span, 3),
                "batches_per_sec": round(max(0, last.batches_total - base.batches_total) / span, 3),
                "span_seconds": round(span, 3),
            }
        return {
            "snapshot_at": format_time(last.committed_at),
            "watermark": last.value,
            "run_id": last.run_id,
            "rows_consumed_total": last.rows_total,
            "batches_total": last.batches_total,
            "stats_1m": rates,
        }
