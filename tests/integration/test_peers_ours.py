"""Our runner over real HTTP on 127.0.0.1 (serve_in_thread), read through a Source: the
same assertions as for the peers where the feature exists, plus a restart through the
Source waited to success, step logs, idempotent actions and SSE-driven poller events."""

from __future__ import annotations

import queue
import time

import pytest

from flowwidgets import errors  # noqa: E402
from flowwidgets.frames import runs_frame, steps_frame  # noqa: E402
from flowwidgets.live import LiveEvent  # noqa: E402
from flowwidgets.models import Status  # noqa: E402
from flowwidgets.runner._local import LocalRunner  # noqa: E402
from flowwidgets.runner.serve import serve_in_thread  # noqa: E402
from flowwidgets.runner.spec import PipelineSpec, StepSpec  # noqa: E402
from flowwidgets.sources import connect  # noqa: E402

pytestmark = [pytest.mark.integration]

ORDERS = PipelineSpec("orders", (
    StepSpec("fetch", run="echo fetch >> ran.txt"),
    StepSpec("dedupe", depends_on=("fetch",),
             run="echo dedupe >> ran.txt; if [ -f fail.flag ]; then echo 'dup key 42' >&2; "
                 "exit 3; fi"),
    StepSpec("load", depends_on=("dedupe",), run="echo load >> ran.txt"),
))


def wait_for(src, run_id: str, timeout: float = 20) -> Status:
    deadline = time.monotonic() + timeout
    while True:
        status = src.run(run_id).status
        if status.is_terminal:
            return status
        assert time.monotonic() < deadline, f"run {run_id} still {status} after {timeout} s"
        time.sleep(0.05)


def next_event(events: queue.Queue[LiveEvent], kind: str, timeout: float = 10,
               run: str | None = None) -> LiveEvent:
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        assert left > 0, f"no {kind!r} event within {timeout} s"
        event = events.get(timeout=left)
        if event.kind == kind and (run is None or run in event.runs):
            return event


@pytest.fixture
def runner(tmp_path):
    (tmp_path / "fail.flag").write_text("on")
    r = LocalRunner([ORDERS], db=tmp_path / "runs.sqlite", tick_s=0.1, data_dir=tmp_path)
    yield r


def test_run_fail_restart_from_the_failed_step_and_watch_it_live(runner, tmp_path):
    with serve_in_thread(runner) as server, connect(server.url) as src:
        assert src.flavour == "flowwidgets" and src.health()
        assert src.capabilities == {"restart", "rerun", "resume", "run_now", "cancel"}
        poller = src.poller(interval=5)
        events: queue.Queue[LiveEvent] = queue.Queue()
        unsubscribe = poller.subscribe(events.put)
        next_event(events, "connected")
        assert poller.mode == "push"

        first = src.run_now("orders")
        assert "orders" in next_event(events, "changed", run=first).pipelines
        assert wait_for(src, first) is Status.FAILED
        detail = src.run(first)
        assert detail.run.failed_step == "dedupe" and detail.run.trigger in ("run_now", "manual")
        assert detail.step("load").status is Status.PENDING
        assert detail.step("dedupe").depends_on == ("fetch",)
        assert detail.actions.restart_from_step == ("dedupe",) and detail.actions.rerun
        assert "dup key 42" in (src.step_log(first, "dedupe") or "")
        assert [a.step for a in detail.attempts] == ["fetch", "dedupe"]

        (tmp_path / "fail.flag").unlink()
        (tmp_path / "ran.txt").write_text("")
        second = src.restart(first, "dedupe")
        assert wait_for(src, second) is Status.SUCCEEDED
        assert (tmp_path / "ran.txt").read_text().split() == ["dedupe", "load"]
        redo = src.run(second)
        assert redo.parent_run_id == first and redo.step("fetch").reused_from == first
        next_event(events, "changed", run=second)

        key = "same-click-twice"
        third = src.rerun(second, idempotency_key=key)
        assert src.rerun(second, idempotency_key=key) == third
        assert wait_for(src, third) is Status.SUCCEEDED  # quiet runner for the 304 check

        with pytest.raises(errors.NotFound):
            src.run("no-such-run")
        with pytest.raises((errors.Unprocessable, errors.Conflict)):
            src.restart(first, "no-such-step")

        before = src.stats.not_modified
        src.pipelines()
        src.pipelines()
        assert src.stats.not_modified > before

        df = runs_frame(src, pipeline="orders", progress=False)
        assert set(df["run_id"]) >= {first, second}
        assert list(steps_frame(src, second)["name"]) == ["fetch", "dedupe", "load"]

        started = time.monotonic()
        unsubscribe()
        assert time.monotonic() - started < 1.0 and not poller.running


def test_push_poller_sees_the_runner_go_and_come_back(runner):
    server = serve_in_thread(runner, start_runner=False)
    port = server.port
    src = connect(server.url, timeout=2)
    try:
        poller = src.poller()
        poller.min_backoff, poller.max_backoff = 0.2, 0.5
        events: queue.Queue[LiveEvent] = queue.Queue()
        poller.subscribe(events.put)
        next_event(events, "connected")
        server.stop()
        assert "runner unreachable" in (next_event(events, "disconnected").error or "")
        server = serve_in_thread(runner, port=port, start_runner=False)
        next_event(events, "connected")
        new = src.run_now("orders")  # no scheduler running: it stays requested
        assert new in next_event(events, "changed", run=new).runs
    finally:
        src.close()
        server.stop()
        runner.stop()
