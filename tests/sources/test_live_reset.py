"""The Poller meets our runner's ``reset`` event over real HTTP: the run log trimmed events
the open stream had not delivered yet (retention), so the runner sends ``event: reset``
instead, and subscribers get a ``changed`` that names nothing, which every view reads as
"re-read everything" (a ``changed`` naming a run or pipeline would only refresh those)."""

from __future__ import annotations

import queue
import time
from pathlib import Path

from flowwidgets.live import LiveEvent
from flowwidgets.models import Status
from flowwidgets.runner._local import LocalRunner
from flowwidgets.runner.serve import serve_in_thread
from flowwidgets.runner.spec import PipelineSpec, StepSpec
from flowwidgets.runner.sqlite import SqliteRunLog
from flowwidgets.sources import connect

ORDERS = PipelineSpec("orders", (StepSpec("load", run="true"),))


def _next(events: queue.Queue[LiveEvent], kind: str, timeout: float = 10) -> LiveEvent:
    deadline = time.monotonic() + timeout
    while True:
        event = events.get(timeout=max(0.01, deadline - time.monotonic()))
        if event.kind == kind:
            return event


def test_a_reset_reaches_subscribers_as_changed_everything(tmp_path: Path) -> None:
    db = tmp_path / "runs.sqlite"
    runner = LocalRunner([ORDERS], db=db, data_dir=tmp_path)
    run_id, _ = runner.store.create_run(pipeline="orders", kind="batch", trigger="manual",
                                        steps=[("load", [])])
    events: queue.Queue[LiveEvent] = queue.Queue()
    try:
        with serve_in_thread(runner, start_runner=False) as server, \
                connect(server.url, timeout=5) as src:
            poller = src.poller(interval=5.0)
            unsubscribe = poller.subscribe(events.put)
            try:
                assert poller.mode == "push"
                _next(events, "connected")
                time.sleep(0.3)  # the stream is open at the log's newest event
                while not events.empty():
                    events.get_nowait()
                # another process keeping one event writes two (a step and an attempt
                # event) and trims the first in the same transaction
                with SqliteRunLog(db, keep_events=1) as other:
                    other.start_attempt(run_id, "load")
                changed = _next(events, "changed")
                assert (changed.pipelines, changed.runs) == (frozenset(), frozenset())
                # the next change is named again: the stream went on after the reset
                runner.store.finish_run(run_id, status=Status.FAILED, error="x")
                after = _next(events, "changed")
                assert after.runs == {run_id} and after.pipelines == {"orders"}
            finally:
                unsubscribe()
    finally:
        runner.stop()
