"""Helpers for driving the terminal monitor headless against real servers on 127.0.0.1."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "tui"


def free_port() -> int:
    """A port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def asgi_server(app: Any, port: int) -> Iterator[str]:
    """Serve an ASGI app with uvicorn from a thread on 127.0.0.1:port; yields its URL."""
    import uvicorn

    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                            lifespan="off", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def text_of(app: Any, selector: str) -> str:
    """The plain text a Static shows."""
    from textual.widgets import Static

    return str(app.query_one(selector, Static).render())


def column(app: Any, table: str, key: str) -> list[str]:
    """The plain text of one column of a monitor table, top to bottom."""
    widget = app.query_one(f"#{table}")
    return [str(getattr(c, "plain", c)) for c in widget.get_column(key)]


async def wait_until(pilot: Any, condition: Callable[[], bool], what: str,
                     timeout: float = 15.0) -> None:
    """Let the app run until ``condition()`` holds; fail naming ``what`` (and save a
    screenshot of the moment) when it does not within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        await pilot.pause(0.05)
    if condition():
        return
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    name = "FAILED-" + "".join(c if c.isalnum() else "_" for c in what)[:60] + ".svg"
    pilot.app.save_screenshot(name, path=str(ARTIFACTS))
    banner = text_of(pilot.app, "#banner")
    outcome = text_of(pilot.app, "#outcome")
    raise AssertionError(f"timed out after {timeout} s waiting for {what}; banner: "
                         f"{banner!r}; outcome: {outcome!r}; screenshot: {ARTIFACTS / name}")
