"""Shared by the widget tests: a REAL local runner served over HTTP on 127.0.0.1 and a
Source connected to it. Widgets are driven without a kernel: a click is a call of the
widget's custom-message handler, replies are captured by replacing ``send``."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flowwidgets.models import Status
from flowwidgets.runner._local import LocalRunner
from flowwidgets.runner.spec import PipelineSpec, StepSpec

EVIL = "<img src=x onerror=alert(1)>"

ORDERS = PipelineSpec("orders", (
    StepSpec("fetch", run="echo fetched"),
    StepSpec("dedupe", depends_on=("fetch",),
             run="if [ -f fail.flag ]; then echo 'dup key 42' >&2; exit 3; fi; echo deduped"),
    StepSpec("enrich", depends_on=("fetch",), run="echo enriched"),
    StepSpec("load", depends_on=("dedupe", "enrich"), run="echo loaded"),
))
CLICKS = PipelineSpec("clicks", (StepSpec("count", run="echo 1"),))


@dataclass
class Runner:
    """A served runner and a Source on it."""

    runner: LocalRunner
    url: str
    src: Any
    data: Path

    def fail(self, on: bool = True) -> None:
        """Make the ``dedupe`` step fail (or stop failing)."""
        flag = self.data / "fail.flag"
        if on:
            flag.write_text("on")
        elif flag.exists():
            flag.unlink()

    def finished(self, run_id: str, timeout: float = 20) -> Status:
        """Wait until ``run_id`` is terminal; its status."""
        return wait_until(lambda: self.src.run(run_id).status.is_terminal and
                          self.src.run(run_id).status, timeout, f"run {run_id} to finish")


def wait_until(cond: Callable[[], Any], timeout: float = 10, what: str = "condition") -> Any:
    """Poll ``cond`` until it returns something truthy (that value), or fail."""
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        time.sleep(0.05)


class Replies:
    """Captures what a widget sends to its view."""

    def __init__(self, widget: Any):
        self.messages: list[dict[str, Any]] = []
        widget.send = self.messages.append
        self.widget = widget
        self._n = 0

    def click(self, kind: str, **payload: Any) -> dict[str, Any] | None:
        """Send ``{kind, id, ...}`` as the view would; the reply (None if none was sent)."""
        self._n += 1
        msg_id = f"{kind}-{self._n}"
        before = len(self.messages)
        self.widget._on_message(self.widget, {"kind": kind, "id": msg_id, **payload}, [])
        new = [m for m in self.messages[before:] if m.get("id") == msg_id]
        return new[-1] if new else None

    def notify(self, kind: str, **payload: Any) -> None:
        """Send a message without an id (no reply expected)."""
        self.widget._on_message(self.widget, {"kind": kind, **payload}, [])


class WireRecorder:
    """Stands in for a widget's comm and records every state update sent to the browser."""

    def __init__(self, widget: Any):
        self.comm_id = widget.comm.comm_id if widget.comm is not None else "recorder"
        self.messages: list[dict[str, Any]] = []
        widget.comm = self

    def send(self, data: Any = None, buffers: Any = None, **_: Any) -> None:
        self.messages.append(data)

    def close(self, *args: Any, **kwargs: Any) -> None:
        pass

    def on_msg(self, *args: Any) -> None:
        pass

    @property
    def updated(self) -> list[str]:
        """Names of the traits sent, in order."""
        return [k for m in self.messages if m.get("method") == "update" for k in m["state"]]

    @property
    def bytes(self) -> int:
        """JSON bytes of everything sent."""
        import json

        return sum(len(json.dumps(m)) for m in self.messages)

    def clear(self) -> None:
        self.messages.clear()


def stream_then_fail(ctx: Any) -> None:
    """A streaming step (``call`` target): commits two watermarks, then fails."""
    start = int(ctx.watermark or 0)
    for i in (1, 2):
        ctx.commit(str(start + 10 * i), rows=10)
    raise ValueError(f"malformed event at offset {start + 20}")


def stream_until_stopped(ctx: Any) -> None:
    """A streaming step (``call`` target): commits 10 rows every 0.1 s until stopped."""
    offset = int(ctx.watermark or 0)
    while not ctx.should_stop():
        offset += 10
        ctx.commit(str(offset), rows=10)
        time.sleep(0.1)


STREAM = PipelineSpec("stream", (StepSpec("consume", call="_widget_support:stream_then_fail"),),
                      kind="streaming")
