"""``GET /api/events``: the run log's events as server-sent events (wire format, resume,
keepalive, ending when the server stops). Streams run in-process; the app's ``stopping``
event (what ServerHandle.stop sets) ends them so the buffered body can be read."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from _api_support import TestClient, make_runner

from flowwidgets.runner._local import LocalRunner
from flowwidgets.runner.api import create_app
from flowwidgets.runner.api._events import format_event
from flowwidgets.runner.store import Event


@pytest.fixture(autouse=True)
def _no_token_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FLOWWIDGETS_TOKEN", raising=False)


@pytest.fixture
def runner(tmp_path: Path) -> Iterator[LocalRunner]:
    r = make_runner(tmp_path)
    yield r
    r.stop()


def _parse(body: str) -> list[dict[str, str]]:
    """SSE frames as dicts of their fields (comments under ':')."""
    frames = []
    for block in body.split("\n\n"):
        if not block.strip():
            continue
        frame: dict[str, str] = {}
        for line in block.split("\n"):
            name, _, value = line.partition(":")
            frame[name] = value.strip()
        frames.append(frame)
    return frames


def _stream(runner: LocalRunner, *, after: float, during: Callable[[], None] | None = None,
            headers: dict[str, str] | None = None, params: dict | None = None,
            keepalive_s: float = 15.0) -> tuple[int, list[dict[str, str]]]:
    """Open the stream, run ``during`` 0.15 s in, stop the server after ``after`` s."""
    app = create_app(runner, events_poll_s=0.02, keepalive_s=keepalive_s)
    timers = [threading.Timer(after, app.state.stopping.set)]
    if during is not None:
        timers.append(threading.Timer(0.15, during))
    with TestClient(app) as c:
        for t in timers:
            t.start()
        try:
            r = c.get("/api/events", headers=headers, params=params)
        finally:
            for t in timers:
                t.cancel()
                t.join()
    return r.status_code, _parse(r.text)


def test_format_event_is_one_sse_frame() -> None:
    e = Event(id=7, kind="step", run_id="r1", pipeline="orders", status="running",
              step="merge\nevent: fake", at=datetime(2026, 11, 22, 10, 4, 5, 123000, tzinfo=UTC))
    text = format_event(e)
    assert text.startswith("id: 7\nevent: step\ndata: ") and text.endswith("\n\n")
    assert text.count("\n") == 4  # the newline in the step name stays inside the JSON
    data = json.loads(text.split("data: ", 1)[1])
    assert data == {"id": 7, "kind": "step", "run_id": "r1", "pipeline": "orders",
                    "status": "running", "step": "merge\nevent: fake",
                    "at": "2026-11-22T10:04:05.123Z"}
    odd = Event(id=8, kind="x\ny", run_id="r", pipeline="p", status=None, step=None,
                at=datetime(2026, 1, 1, tzinfo=UTC))
    assert "event: message\n" in format_event(odd)


def test_stream_replays_from_since_then_stops_with_the_server(runner: LocalRunner) -> None:
    run = runner.run_once("adhoc")
    status, frames = _stream(runner, after=0.4, params={"since": 0})
    assert status == 200
    assert frames[0] == {"retry": "2000"}
    events = [f for f in frames if "id" in f]
    kinds = {f["event"] for f in events}
    assert {"run", "step", "attempt"} <= kinds
    ids = [int(f["id"]) for f in events]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    datas = [json.loads(f["data"]) for f in events]
    assert all(d["run_id"] == run.run_id and d["pipeline"] == "adhoc" for d in datas)
    final = [d for d in datas if d["kind"] == "run"][-1]
    assert final["status"] == "succeeded"


def test_stream_starts_at_the_newest_event_and_pushes_new_ones(runner: LocalRunner) -> None:
    old = runner.run_once("adhoc")
    created: list[str] = []
    status, frames = _stream(runner, after=0.6,
                             during=lambda: created.append(runner.run_now("orders")))
    datas = [json.loads(f["data"]) for f in frames if "data" in f]
    assert created and datas, frames
    assert all(d["run_id"] != old.run_id for d in datas)
    assert any(d["run_id"] == created[0] and d["kind"] == "run"
               and d["status"] == "requested" for d in datas)


def test_last_event_id_header_wins_over_since(runner: LocalRunner) -> None:
    runner.run_once("adhoc")
    all_ids = [e.id for e in runner.store.events_since(0, 1000)]
    cut = all_ids[len(all_ids) // 2]
    _, frames = _stream(runner, after=0.3, headers={"Last-Event-ID": str(cut)},
                        params={"since": 0})
    got = [int(f["id"]) for f in frames if "id" in f]
    assert got == [i for i in all_ids if i > cut]


def test_since_beyond_the_log_restarts_at_its_head(runner: LocalRunner) -> None:
    """A client that remembers an id from another (bigger) log still gets new events."""
    runner.run_once("adhoc")
    _, frames = _stream(runner, after=0.6, params={"since": 10**9},
                        during=lambda: runner.run_now("orders"))
    assert any(json.loads(f["data"])["pipeline"] == "orders" for f in frames if "data" in f)


def test_keepalive_comments_when_idle(runner: LocalRunner) -> None:
    _, frames = _stream(runner, after=0.5, keepalive_s=0.1)
    assert sum(1 for f in frames if f.get("") == "keepalive") >= 2


def test_bad_last_event_id_is_422(runner: LocalRunner) -> None:
    with TestClient(create_app(runner)) as c:
        r = c.get("/api/events", headers={"Last-Event-ID": "seven"})
        assert r.status_code == 422 and "Last-Event-ID" in r.json()["detail"]
        assert c.get("/api/events", params={"since": -1}).status_code == 422
