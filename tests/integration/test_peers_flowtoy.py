"""A real flowtoy 0.4.0 runner over HTTP on 127.0.0.1: ``flowtoy run FLOW --status-port P``
in a subprocess (it never exits by itself: SIGTERM), read while running and after."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fwtest.http import PAYLOADS, free_port, wait_port  # noqa: E402

from flowwidgets import errors  # noqa: E402
from flowwidgets.live import LiveEvent  # noqa: E402
from flowwidgets.models import Status  # noqa: E402
from flowwidgets.sources import connect  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.peers]

FLOWTOY = Path(sys.executable).with_name("flowtoy")
FLOW = PAYLOADS / "flowtoy_flow.yaml"


def test_flowtoy_runner_while_running_and_after():
    port = free_port()
    proc = subprocess.Popen(
        [str(FLOWTOY), "run", str(FLOW), "--status-port", str(port), "-q"],
        env={**os.environ, "FT_SLEEP": "0.7"}, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_port(port)
        with connect(f"http://127.0.0.1:{port}/status", flow=FLOW) as src:
            assert src.flavour == "flowtoy" and src.capabilities == frozenset()
            events: queue.Queue[LiveEvent] = queue.Queue()
            unsubscribe = src.poller(interval=0.1).subscribe(events.put)

            (run,) = src.runs().runs
            assert run.status in (Status.RUNNING, Status.REQUESTED)
            detail = src.run(run.run_id)
            assert detail.step("enrich").depends_on == ("extract",)  # inferred from input
            assert {s.status for s in detail.steps} & {Status.PENDING, Status.RUNNING}

            deadline = time.monotonic() + 20
            while src.runs().runs[0].status.is_active:
                assert time.monotonic() < deadline, "flowtoy run did not finish"
                time.sleep(0.1)
            detail = src.run(run.run_id)
            assert detail.status is Status.FAILED and detail.run.failed_step == "report"
            assert detail.step("extract").status is Status.SUCCEEDED
            assert detail.step("report").error == "process exited with code 3"
            assert detail.extra["outputs"]["extract"] == {"data": {"rows": 3}}
            assert [s.name for s in detail.steps] == ["extract", "clean", "enrich", "report"]
            from flowwidgets.timing import timing
            from flowwidgets.widgets._run_timing import timeline_svg, timing_payload

            t = timing(detail)  # every step that ran is timed, or named as untimed
            ran = [s.name for s in detail.steps if s.status.is_terminal]
            assert all(t.step(n).segments or n in t.untimed for n in ran)
            assert 'aria-label="run timeline, 4 steps"' in timeline_svg(timing_payload(detail)) \
                or "gave no step times" in timeline_svg(timing_payload(detail))
            (pipe,) = src.pipelines()
            assert pipe.name == "flowtoy_flow" and pipe.latest_run.status is Status.FAILED

            kinds = []
            while not events.empty():
                event = events.get_nowait()
                kinds.append(event.kind)
                if event.kind == "changed":
                    assert event.runs == {run.run_id}
            assert kinds[0] == "connected" and "changed" in kinds
            unsubscribe()

            with pytest.raises(errors.ActionNotSupported, match="flowtoy"):
                src.restart(run.run_id, "report")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)
