"""``GET /api/events``: the run log's events as server-sent events (wire format, resume,
keepalive, ending when the server stops). Streams run in-process; the app's ``stopping``
event (what ServerHandle.stop sets) ends them so the buffered body can be read."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from fwtest.api import TestClient, sqlite_log

from flowwidgets.runner._local import LocalRunner
from flowwidgets.runner.api import create_app
from flowwidgets.runner.api._events import format_event
from flowwidgets.runner.store import Event


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


def _stream(runner: LocalRunner, *, after: float, during: Callable[[], object] | None = None,
            headers: dict[str, str] | None = None, params: dict | None = None,
            keepalive_s: float = 15.0, poll_s: float = 0.02, during_at: float = 0.15
            ) -> tuple[int, list[dict[str, str]]]:
    """Open the stream; once its first frame arrived (the stream is open, whatever the
    machine's load), run ``during`` ``during_at`` s later, and stop the server ``after`` s
    after the first frame (counted from the end of ``during`` when it runs late)."""
    app = create_app(runner, events_poll_s=poll_s, keepalive_s=keepalive_s)
    opened = threading.Event()

    def drive() -> None:
        if not opened.wait(60):
            app.state.stopping.set()
            return
        began = time.monotonic()
        if during is not None:
            time.sleep(during_at)
            during()
        time.sleep(max(after - (time.monotonic() - began), 0.1 if during else 0.0))
        app.state.stopping.set()

    driver = threading.Thread(target=drive, daemon=True)
    with TestClient(app) as c:
        driver.start()
        with c.stream("GET", "/api/events", headers=headers, params=params) as r:
            chunks = []
            for chunk in r.iter_text():
                chunks.append(chunk)
                opened.set()
            opened.set()
        driver.join(60)
    return r.status_code, _parse("".join(chunks))


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


def test_a_write_of_this_process_wakes_the_stream_without_polling(runner: LocalRunner
                                                                    ) -> None:
    """Polling every 60 s, the run created 0.5 s in (the stream waiting by then) still
    arrives before the server stops at 2 s: the commit woke the stream. ``since`` pins
    the position, so a request that starts late still cannot skip the write."""
    created: list[str] = []
    _, frames = _stream(runner, after=2.0, poll_s=60.0, during_at=0.5,
                        params={"since": runner.store.last_event_id()},
                        during=lambda: created.append(runner.run_now("orders")))
    datas = [json.loads(f["data"]) for f in frames if "data" in f]
    assert created and any(d["run_id"] == created[0] and d["status"] == "requested"
                           for d in datas), frames


def test_keepalive_comments_when_idle(runner: LocalRunner) -> None:
    _, frames = _stream(runner, after=0.5, keepalive_s=0.1)
    assert sum(1 for f in frames if f.get("") == "keepalive") >= 2


def test_bad_last_event_id_is_422(runner: LocalRunner) -> None:
    with TestClient(create_app(runner)) as c:
        r = c.get("/api/events", headers={"Last-Event-ID": "seven"})
        assert r.status_code == 422 and "Last-Event-ID" in r.json()["detail"]
        assert c.get("/api/events", params={"since": -1}).status_code == 422


# ---- retention: a client whose position was trimmed gets "reset" ---------------------

def _reset_data(frame: dict[str, str]) -> dict:
    assert frame["event"] == "reset", frame
    data = json.loads(frame["data"])
    assert data["id"] == int(frame["id"]) and data["kind"] == "reset"
    assert data["run_id"] is data["pipeline"] is data["status"] is data["step"] is None
    return data


def test_a_position_older_than_the_kept_events_gets_reset(runner: LocalRunner) -> None:
    runner.run_once("adhoc")
    head = runner.store.last_event_id()
    assert sqlite_log(runner).trim_events(keep=3) > 0
    trimmed = runner.store.events_trimmed_through()
    assert trimmed == head - 3
    created: list[str] = []
    _, frames = _stream(runner, after=0.6, headers={"Last-Event-ID": str(trimmed - 1)},
                        during=lambda: created.append(runner.run_now("orders")))
    assert frames[0] == {"retry": "2000"}
    data = _reset_data(frames[1])
    assert data["id"] == head and data["since"] == trimmed - 1
    assert f"after {trimmed - 1} were trimmed" in data["reason"]
    later = [json.loads(f["data"]) for f in frames[2:] if "data" in f]
    assert later and all(d["id"] > head for d in later)  # no replay of the kept ones
    assert any(d["run_id"] == created[0] for d in later)


def test_a_position_at_the_horizon_replays_what_is_kept(runner: LocalRunner) -> None:
    runner.run_once("adhoc")
    head = runner.store.last_event_id()
    sqlite_log(runner).trim_events(keep=3)
    trimmed = runner.store.events_trimmed_through()
    _, frames = _stream(runner, after=0.3, params={"since": trimmed})
    assert all(f.get("event") != "reset" for f in frames)
    assert [int(f["id"]) for f in frames if "id" in f] == [head - 2, head - 1, head]


def test_a_position_from_another_log_gets_reset(runner: LocalRunner) -> None:
    runner.run_once("adhoc")
    head = runner.store.last_event_id()
    _, frames = _stream(runner, after=0.3, headers={"Last-Event-ID": str(head + 1000)})
    data = _reset_data(frames[1])
    assert data["id"] == head and "another run log" in data["reason"]


def test_a_stream_that_falls_behind_the_retention_gets_reset(runner: LocalRunner,
                                                             tmp_path: Path) -> None:
    """Another process's log (keeping one event) writes two events and trims the first
    in one transaction while the stream is open: the stream cannot deliver it."""
    from flowwidgets.runner.sqlite import SqliteRunLog

    run_id, _ = runner.store.create_run(pipeline="adhoc", kind="batch", trigger="manual",
                                        steps=[("fetch", [])])
    start = runner.store.last_event_id()

    def write_past_the_stream() -> None:
        with SqliteRunLog(tmp_path / "runs.sqlite", keep_events=1) as other:
            other.start_attempt(run_id, "fetch")  # a step event and an attempt event

    _, frames = _stream(runner, after=0.6, during=write_past_the_stream)
    assert frames[1:] and frames[1].get("event") == "reset", frames
    data = _reset_data(frames[1])
    assert data["since"] == start and data["id"] == start + 2
    assert "while this stream was behind" in data["reason"]
    assert all(int(f["id"]) != start + 1 for f in frames if "id" in f)
