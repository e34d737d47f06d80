"""``GET /api/events``: the run log's events as server-sent events.

Each :class:`~flowwidgets.runner.store.Event` goes out as::

    id: 42
    event: step
    data: {"id": 42, "kind": "step", "run_id": "...", "pipeline": "...", "status": "running", ...}

The stream resumes after the ``Last-Event-ID`` header (what a reconnecting EventSource
sends) or ``?since=N``; without either it starts at the newest event. A write of this
process wakes the stream right after its commit (:meth:`RunLog.on_commit`); the store is
also polled every ``events_poll_s`` (so writes from another process show up), a
``: keepalive`` comment goes out when nothing
else did for a while, and the stream ends when the client goes away or the server stops
(``app.state.stopping``), so uvicorn can exit promptly.

The run log keeps only its newest events (retention). When the stream cannot continue
where the client left off, because events after its position were trimmed (or its
position is newer than anything in this log: another run log), it sends one ``reset``
event instead of the missing ones::

    id: 51234
    event: reset
    data: {"id": 51234, "kind": "reset", "run_id": null, "pipeline": null, "status": null,
           "step": null, "at": "...", "reason": "events after 12 were trimmed ...", "since": 12}

and goes on from there (``id`` is the newest event; a reconnecting client resumes after
it). A client that gets ``reset`` must re-read everything it shows: anything may have
changed. The same can happen mid-stream for a client that fell more than the retention
behind.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Header, HTTPException, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from flowwidgets.models import format_time
from flowwidgets.runner.api._schemas import Detail
from flowwidgets.runner.store import Event

if TYPE_CHECKING:
    from flowwidgets.runner.store import RunLog

__all__ = ["StopSignal", "format_event", "format_reset", "router"]

router = APIRouter(prefix="/api", tags=["events"])

BATCH = 500
_KIND = re.compile(r"[a-z_]{1,32}")


class StopSignal(threading.Event):
    """``app.state.stopping``: a :class:`threading.Event` whose :meth:`set` also wakes
    the event streams waiting for a write (they end at once, not at their next poll)."""

    def __init__(self) -> None:
        super().__init__()
        self._hooks: dict[object, Callable[[], None]] = {}

    def set(self) -> None:
        """Set the flag and wake every stream."""
        super().set()
        for hook in list(self._hooks.values()):
            hook()

    def on_set(self, hook: Callable[[], None]) -> Callable[[], None]:
        """Call ``hook()`` when the flag is set; returns the function that removes it."""
        key = object()
        self._hooks[key] = hook

        def remove() -> None:
            self._hooks.pop(key, None)
        return remove


def format_event(e: Event) -> str:
    """One event in the SSE wire format (the JSON has no raw newlines)."""
    kind = e.kind if _KIND.fullmatch(e.kind or "") else "message"
    data = json.dumps({"id": e.id, "kind": e.kind, "run_id": e.run_id, "pipeline": e.pipeline,
                       "status": e.status, "step": e.step, "at": format_time(e.at)},
                      separators=(",", ":"))
    return f"id: {e.id}\nevent: {kind}\ndata: {data}\n\n"


def format_reset(head: int, since: int, reason: str) -> str:
    """The ``reset`` event: the client at ``since`` missed events and must re-read
    everything; the stream goes on after ``head``."""
    data = json.dumps({"id": head, "kind": "reset", "run_id": None, "pipeline": None,
                       "status": None, "step": None, "at": format_time(datetime.now(UTC)),
                       "reason": reason, "since": since}, separators=(",", ":"))
    return f"id: {head}\nevent: reset\ndata: {data}\n\n"


def _horizon(store: RunLog) -> tuple[int, int]:
    """(the newest event id, the highest trimmed one)."""
    return store.last_event_id(), store.events_trimmed_through()


@router.get("/events", response_class=StreamingResponse, responses={
    200: {"content": {"text/event-stream": {}},
          "description": "Server-sent events: run | step | attempt | watermark, and reset "
                         "when events after the client's position are gone (re-read all)"},
    422: {"model": Detail, "description": "Last-Event-ID or since is not an event id"}})
async def events(
    request: Request,
    since: Annotated[int | None, Query(ge=0, description="Resume after this event id")] = None,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> StreamingResponse:
    """Push channel: every change to the run log, as it happens."""
    store: RunLog = request.app.state.runner.store
    start: int | None = since
    if last_event_id is not None and last_event_id.strip():
        try:
            start = int(last_event_id.strip())
        except ValueError:
            raise HTTPException(status_code=422,
                                detail="Last-Event-ID must be an event id (an integer)") from None
    head, trimmed = await run_in_threadpool(_horizon, store)
    reset = None
    if start is not None and start < trimmed:
        reset = format_reset(head, start, f"events after {start} were trimmed (this run log "
                                          f"keeps the events after {trimmed})")
    elif start is not None and start > head:
        reset = format_reset(head, start, f"event {start} is newer than this run log's "
                                          f"newest ({head}): it comes from another run log")
    cursor = head if start is None or reset is not None else start
    return StreamingResponse(
        _stream(request, store, cursor, reset),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _stream(request: Request, store: RunLog, cursor: int, reset: str | None
                  ) -> AsyncIterator[str]:
    loop = asyncio.get_running_loop()
    wake = asyncio.Event()

    def written() -> None:  # the writer's thread, right after its commit
        try:
            loop.call_soon_threadsafe(wake.set)
        except RuntimeError:  # the loop is closed: the stream is over
            pass

    stop_listening = store.on_commit(written)
    stopping = request.app.state.stopping
    stop_hook = stopping.on_set(written) if isinstance(stopping, StopSignal) else None
    try:
        async for chunk in _follow(request, store, cursor, reset, wake):
            yield chunk
    finally:
        stop_listening()
        if stop_hook is not None:
            stop_hook()


async def _follow(request: Request, store: RunLog, cursor: int, reset: str | None,
                  wake: asyncio.Event) -> AsyncIterator[str]:
    state = request.app.state
    stopping = state.stopping
    poll_s: float = state.events_poll_s
    keepalive_s: float = state.keepalive_s
    yield "retry: 2000\n\n" + (reset or "")
    last_sent = time.monotonic()
    while not stopping.is_set():
        wake.clear()  # before reading: a write after this read sets it again
        found = await run_in_threadpool(store.events_since, cursor, BATCH)
        if found and found[0].id > cursor + 1:  # a gap: trimmed while this client lagged?
            head, trimmed = await run_in_threadpool(_horizon, store)
            if cursor < trimmed:
                yield format_reset(head, cursor, f"events after {cursor} were trimmed while "
                                                 "this stream was behind")
                cursor = head
                last_sent = time.monotonic()
                continue
        if found:
            cursor = found[-1].id
            last_sent = time.monotonic()
            yield "".join(format_event(e) for e in found)
            if len(found) == BATCH:
                continue
        elif time.monotonic() - last_sent >= keepalive_s:
            last_sent = time.monotonic()
            yield ": keepalive\n\n"
        if await request.is_disconnected():
            return
        try:  # woken by a write of this process, or polling for other processes' writes
            await asyncio.wait_for(wake.wait(), poll_s)
        except TimeoutError:
            pass
