"""The Poller over real HTTP on 127.0.0.1: ematix-flow's real app (no ETags, so body
hashes) served by uvicorn in a thread; a change, the server going away, a new server on
the same port, a clean stop. The SSE path against our runner is in
tests/integration/test_peers_ours.py."""

from __future__ import annotations

import queue
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from ematix_flow.run_log.history import InMemoryRunHistory, RunRecord
from ematix_flow.web.server import create_app
from fwtest.http import ServerThread, mock_client

from flowwidgets.live import LiveEvent, Poller, _sse_events
from flowwidgets.sources import connect

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def record(run_id: str, status: str = "succeeded", minutes: int = 0) -> RunRecord:
    start = T0 + timedelta(minutes=minutes)
    done = None if status == "running" else start + timedelta(seconds=30)
    return RunRecord(run_id=run_id, pipeline="etl", status=status, started_at=start,
                     finished_at=done)


def next_event(events: queue.Queue[LiveEvent], kind: str, timeout: float = 10) -> LiveEvent:
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no {kind!r} event within {timeout} s")
        event = events.get(timeout=left)
        if event.kind == kind:
            return event


def test_changed_disconnected_connected_and_clean_stop():
    history = InMemoryRunHistory()
    history.record_run_record(record("r1"))
    events: queue.Queue[LiveEvent] = queue.Queue()
    server = ServerThread(create_app(history=history)).start()
    port = server.port
    src = connect(server.url, timeout=2)
    try:
        poller = src.poller(interval=0.1)
        assert src.poller() is poller and poller.mode == "poll"
        poller.min_backoff, poller.max_backoff = 0.2, 0.4
        unsubscribe = poller.subscribe(events.put)
        assert events.get(timeout=10).kind == "connected"
        first = events.get(timeout=1)  # every "connected" is followed by a "changed"
        assert first.kind == "changed" and first.error is None
        assert first.runs == {"r1"} and first.pipelines == {"etl"}, "all is new at first"

        history.record_run_record(record("r2", "running", minutes=5))
        changed = next_event(events, "changed")
        assert "r2" in changed.runs and "etl" in changed.pipelines

        history.record_run_record(record("r2", "failed", minutes=5))
        assert "r2" in next_event(events, "changed").runs

        idle = src.stats.requests
        time.sleep(0.5)
        assert events.empty(), "nothing changed: nothing emitted"
        assert src.stats.requests > idle and src.stats.unchanged > 0

        server.stop()
        gone = next_event(events, "disconnected")
        assert gone.error and "runner unreachable" in gone.error and str(port) in gone.error
        time.sleep(0.6)
        assert all(e.kind != "disconnected" for e in _drain(events)), "emitted once"

        history.record_run_record(record("r3", minutes=9))
        server = ServerThread(create_app(history=history), port=port).start()
        assert next_event(events, "connected").error is None
        back = events.get(timeout=1)
        assert back.kind == "changed" and "r3" in back.runs and "r1" not in back.runs

        before = threading.active_count()
        started = time.monotonic()
        unsubscribe()
        assert time.monotonic() - started < 1.0
        assert not poller.running and threading.active_count() == before - 1
    finally:
        src.close()
        server.stop()


def test_a_poller_that_never_reached_the_runner_says_connected_then_changed():
    """The first contact after failed tries is a connection like any other: "connected",
    then a "changed" naming everything, so subscribers need no special case."""
    history = InMemoryRunHistory()
    history.record_run_record(record("r1"))
    server = ServerThread(create_app(history=history)).start()
    port = server.port
    src = connect(server.url, timeout=2)
    server.stop()  # detected, then gone before the poller ever polled
    events: queue.Queue[LiveEvent] = queue.Queue()
    try:
        poller = src.poller(interval=0.1)
        poller.min_backoff, poller.max_backoff = 0.1, 0.2
        poller.subscribe(events.put)
        gone = events.get(timeout=10)
        assert gone.kind == "disconnected" and str(port) in (gone.error or "")
        assert poller.connected is False
        server = ServerThread(create_app(history=history), port=port).start()
        assert next_event(events, "connected").error is None
        changed = events.get(timeout=1)
        assert changed.kind == "changed"
        assert changed.runs == {"r1"} and changed.pipelines == {"etl"}
        assert poller.connected is True and poller.last_error is None
    finally:
        src.close()
        server.stop()


def test_poller_thread_starts_on_subscribe_and_restarts_after_stop():
    history = InMemoryRunHistory()
    with ServerThread(create_app(history=history)) as server:
        with connect(server.url) as src:
            poller = src.poller(interval=0.05)
            assert not poller.running
            events: queue.Queue[LiveEvent] = queue.Queue()
            poller.subscribe(events.put)
            assert poller.running
            next_event(events, "connected")
            poller.stop()
            assert not poller.running
            poller.subscribe(events.put)
            assert poller.running and poller.connected is True
        assert not poller.running  # closing the source stops its poller


def test_a_failing_subscriber_does_not_stop_the_others(caplog):
    got: queue.Queue[LiveEvent] = queue.Queue()

    def bad(event: LiveEvent) -> None:
        raise RuntimeError("widget bug")

    with ServerThread(create_app(history=InMemoryRunHistory())) as server:
        with connect(server.url) as src:
            poller = src.poller(interval=0.05)
            poller.subscribe(bad)
            poller.subscribe(got.put)
            next_event(got, "connected")
    assert "widget bug" in caplog.text


def test_refresh_polls_at_once():
    history = InMemoryRunHistory()
    with ServerThread(create_app(history=history)) as server, connect(server.url) as src:
        poller = Poller(src, interval=30)
        events: queue.Queue[LiveEvent] = queue.Queue()
        poller.subscribe(events.put)
        next_event(events, "connected")
        first = next_event(events, "changed")
        assert not first.runs and not first.pipelines, "an empty runner: nothing to name"
        time.sleep(0.2)
        history.record_run_record(record("fresh"))
        poller.refresh()
        assert "fresh" in next_event(events, "changed", timeout=3).runs
        poller.stop()


def test_push_channel_parser():
    lines = ["retry: 2000", "", ": keepalive", "", "id: 7", "event: run",
             'data: {"run_id": "r1", "pipeline": "p"}', "", "id: 8", "event: step",
             "data: a", "data: b", ""]
    assert list(_sse_events(iter(lines))) == [
        ("7", "run", '{"run_id": "r1", "pipeline": "p"}'), ("8", "step", "a\nb")]


def test_interval_must_be_positive():
    with mock_client({"GET /api/health": {"status": "ok", "runner": "flowwidgets"}}) as client:
        src = connect("http://runner.test", client=client)
        with pytest.raises(ValueError):
            Poller(src, interval=0)
        with pytest.raises(TypeError):
            src.poller().subscribe("not callable")  # type: ignore[arg-type]


def _drain(events: queue.Queue[LiveEvent]) -> list[LiveEvent]:
    out = []
    while not events.empty():
        out.append(events.get_nowait())
    return out
