"""Live updates: one poller per Source feeds every view of it.

A :class:`Poller` runs a daemon thread, started on the first :meth:`Poller.subscribe` and
stopped when the last subscriber leaves (or on :meth:`Poller.stop`). Subscribers get
:class:`LiveEvent` objects from that thread:

- ``"changed"``: something you show may have changed; re-query the Source (its ETag /
  body-hash cache makes a re-query of unchanged data cheap and returns the same models).
  ``pipelines`` and ``runs`` name what changed: at the first contact everything the
  runner shows, after a reconnection what differs from before the outage. When both are
  empty, anything may have changed: re-read what you show.
- ``"disconnected"``: the runner went away (once per outage; ``error`` says why). The
  poller backs off (1 s doubling to :data:`MAX_BACKOFF`, jittered) and keeps trying: a
  runner that comes back is seen within a few seconds, and a failed try while it is away
  is one refused connection.
- ``"connected"``: the runner answers: at the first contact (whether or not earlier tries
  failed) and again after an outage. It is always followed at once by a ``"changed"``, so
  a subscriber that only re-queries on "changed" also recovers reads that failed while
  the runner was away; "connected" itself needs handling only to show the connection.

It listens to the runner's push channel where there is one (``Flavour.push_path``: our
runner's server-sent events at ``GET /api/events``, resumed with ``Last-Event-ID``) and
otherwise polls with conditional requests (ETag / If-None-Match, or a hash of the body for
servers without ETags) and emits only when the parsed state differs.
"""

from __future__ import annotations

import json
import logging
import random
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from flowwidgets import errors

if TYPE_CHECKING:
    from flowwidgets.sources._base import Snapshot, Source

__all__ = ["MAX_BACKOFF", "LiveEvent", "Poller"]

log = logging.getLogger(__name__)

EventKind = Literal["changed", "connected", "disconnected"]
MAX_BACKOFF = 3.0
"""Default cap of the retry delay while the runner is away (seconds, before a ±20 %
jitter): the longest a returning runner waits to be seen, besides the try itself."""
_SSE_READ_TIMEOUT = 45.0
"""Seconds without a byte before the event stream is reopened (the runner sends a
keepalive comment every 15 s)."""


@dataclass(frozen=True, slots=True)
class LiveEvent:
    """What the poller tells its subscribers."""

    kind: EventKind
    pipelines: frozenset[str] = frozenset()
    runs: frozenset[str] = frozenset()
    error: str | None = None
    at: datetime = field(default_factory=lambda: datetime.now(UTC))


Callback = Callable[[LiveEvent], Any]


class Poller:
    """Watches one Source and tells subscribers when what they show may have changed.

    ``interval`` is the seconds between conditional polls; ``push`` forces (True) or
    forbids (False) the runner's push channel (default: use it when the runner has one and
    the source talks real HTTP); ``min_backoff``/``max_backoff`` bound the retry delay
    while the runner is away.
    """

    def __init__(self, source: Source, interval: float = 2.0, *, push: bool | None = None,
                 min_backoff: float = 1.0, max_backoff: float = MAX_BACKOFF):
        if interval <= 0:
            raise ValueError(f"interval must be positive, got {interval}")
        self.source = source
        self.interval = interval
        self.min_backoff = min_backoff
        self.max_backoff = max_backoff
        self._push_wanted = push
        self._push_broken = False
        self._subs: dict[int, Callback] = {}
        self._next_id = 0
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._sock: socket.socket | None = None
        self._base: Snapshot | None = None
        self._connected: bool | None = None
        self._last_event_id: str | None = None
        self.last_error: str | None = None
        """The text of the last failure (None once the runner answers again)."""

    # ---- public ------------------------------------------------------------------------

    def subscribe(self, callback: Callback) -> Callable[[], None]:
        """Call ``callback(event)`` from the poller thread on every event; returns the
        function that unsubscribes (the thread stops when nobody is subscribed)."""
        if not callable(callback):
            raise TypeError(f"callback must be callable, got {callback!r}")
        with self._lock:
            sub_id = self._next_id
            self._next_id += 1
            self._subs[sub_id] = callback
            self._start_locked()

        def unsubscribe() -> None:
            with self._lock:
                self._subs.pop(sub_id, None)
                empty = not self._subs
            if empty:
                self.stop()

        return unsubscribe

    def stop(self, timeout: float = 1.0) -> None:
        """Stop the thread (within about a second) and forget the subscribers."""
        with self._lock:
            thread = self._thread
            self._thread = None
            self._subs.clear()
            self._stop.set()
            self._wake.set()
            self._interrupt_stream()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            if thread.is_alive():
                log.warning("flowwidgets poller for %s did not stop within %.1f s",
                            self.source.url, timeout)

    def refresh(self) -> None:
        """Poll now instead of at the next interval (after an action, say)."""
        self._wake.set()

    @property
    def running(self) -> bool:
        """True while the thread runs."""
        thread = self._thread
        return thread is not None and thread.is_alive()

    @property
    def connected(self) -> bool | None:
        """Whether the runner answered last time (None before the first contact)."""
        return self._connected

    @property
    def mode(self) -> str:
        """``"push"`` (server-sent events) or ``"poll"``."""
        return "push" if self._use_push() else "poll"

    # ---- thread ------------------------------------------------------------------------

    def _start_locked(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._loop, args=(self._stop,),
                                        name=f"flowwidgets-poller {self.source.url}",
                                        daemon=True)
        self._thread.start()

    def _loop(self, stop: threading.Event) -> None:
        delay = self.min_backoff
        while not stop.is_set():
            try:
                if self._use_push():
                    self._push_session(stop)
                    delay = self.min_backoff
                    continue
                snap = self.source.snapshot()
                if stop.is_set():
                    break
                self._contact(snap)
                delay = self.min_backoff
                self._wake.wait(self.interval)
                self._wake.clear()
            except Exception as exc:  # noqa: BLE001 - reported to subscribers, never lost
                if stop.is_set():
                    break
                self._failure(exc)
                stop.wait(delay * random.uniform(0.8, 1.2))
                delay = min(delay * 2, self.max_backoff)

    def _use_push(self) -> bool:
        if self._push_broken or self._push_wanted is False:
            return False
        return self.source.push_channel(any_transport=self._push_wanted is True) is not None

    def _emit(self, event: LiveEvent) -> None:
        with self._lock:
            subs = list(self._subs.values())
        for cb in subs:
            try:
                cb(event)
            except Exception:  # noqa: BLE001 - one bad subscriber must not stop the others
                log.exception("flowwidgets poller subscriber %r failed on %s", cb, event.kind)

    def _contact(self, snap: Snapshot) -> None:
        was = self._connected
        self._connected = True
        self.last_error = None
        base, self._base = self._base, snap
        if was is not True:
            self._emit(LiveEvent("connected"))
        # the first contact compares with nothing: everything the runner shows is new
        old_pipes, old_runs = (base.pipelines, base.runs) if base is not None else ({}, {})
        pipes, runs = _diff(old_pipes, snap.pipelines), _diff(old_runs, snap.runs)
        if pipes or runs or was is not True:  # every "connected" is followed by "changed"
            self._emit(LiveEvent("changed", pipes, runs))

    def _failure(self, exc: Exception) -> None:
        if isinstance(exc, errors.SourceError):
            text = str(exc)
        else:
            log.exception("flowwidgets poller for %s failed", self.source.url)
            text = f"{type(exc).__name__}: {exc}"
        self.last_error = text
        if self._connected is not False:
            self._connected = False
            self._emit(LiveEvent("disconnected", error=f"runner unreachable or failing: {text}"))

    # ---- push channel ------------------------------------------------------------------

    def _push_session(self, stop: threading.Event) -> None:
        last = self._last_event_id if self._connected else None
        try:
            with self.source.open_push(last, _SSE_READ_TIMEOUT) as resp:
                if resp is None:  # no (usable) event stream here: poll instead, for good
                    self._push_broken = True
                    log.info("%s has no usable push channel; polling instead",
                             self.source.url)
                    return
                stream = resp.extensions.get("network_stream")
                sock = stream.get_extra_info("socket") if stream is not None else None
                with self._lock:
                    self._sock = sock
                if stop.is_set():
                    return
                self._contact(self.source.snapshot())
                for event_id, name, data in _sse_events(resp.iter_lines()):
                    if stop.is_set():
                        return
                    if event_id:
                        self._last_event_id = event_id
                    self._on_push(name, data)
        except errors.RunnerUnavailable:
            if stop.is_set():
                return
            raise
        finally:
            with self._lock:
                self._sock = None

    def _on_push(self, name: str, data: str) -> None:
        pipes: set[str] = set()
        runs: set[str] = set()
        try:
            payload = json.loads(data) if data else {}
        except ValueError:
            payload = {}
        if isinstance(payload, dict):
            if isinstance(payload.get("pipeline"), str):
                pipes.add(payload["pipeline"])
            if isinstance(payload.get("run_id"), str):
                runs.add(payload["run_id"])
        self._emit(LiveEvent("changed", frozenset(pipes), frozenset(runs)))

    def _interrupt_stream(self) -> None:
        sock = self._sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def _sse_events(lines: Iterator[str]) -> Iterator[tuple[str | None, str, str]]:
    """``(id, event, data)`` for each server-sent event (comments and retry hints skipped)."""
    event_id: str | None = None
    name = "message"
    data: list[str] = []
    for line in lines:
        if not line:
            if data:
                yield event_id, name, "\n".join(data)
            event_id, name, data = None, "message", []
            continue
        if line.startswith(":"):
            continue
        key, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if key == "data":
            data.append(value)
        elif key == "event":
            name = value
        elif key == "id":
            event_id = value


def _diff(old: dict[str, Any], new: dict[str, Any]) -> frozenset[str]:
    keys = old.keys() | new.keys()
    return frozenset(k for k in keys if old.get(k) != new.get(k))
