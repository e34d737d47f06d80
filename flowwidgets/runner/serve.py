"""Serve a runner's status API from a background thread (uvicorn), for notebooks and the CLI.

    with serve_in_thread(runner, port=0) as server:   # starts the runner too
        print(server.url)                              # http://127.0.0.1:54321

The listening socket is bound before the thread starts, so ``port=0`` gives a real port
at once and a busy port fails in the caller (``OSError``). ``stop()`` ends open event
streams, shuts uvicorn down, joins its thread and stops the runner if this handle
started it.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import sys
import threading
import time
import warnings
from typing import TYPE_CHECKING

import uvicorn

from flowwidgets.runner.api import TOKEN_ENV, create_app

if TYPE_CHECKING:
    from types import TracebackType

    from fastapi import FastAPI

    from flowwidgets.runner._local import LocalRunner

__all__ = ["InsecureBindWarning", "ServerHandle", "is_loopback", "serve_in_thread"]

STARTUP_TIMEOUT_S = 15.0


class InsecureBindWarning(UserWarning):
    """The API is reachable from other hosts and no token protects it."""


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def warn_if_exposed(host: str, token: str | None) -> bool:
    """Print a loud warning (and ``warnings.warn``) when binding a non-loopback ``host``
    without a token; returns True when it warned."""
    if token or is_loopback(host):
        return False
    message = (f"the flowwidgets runner API is binding {host!r} WITHOUT a token: anyone who "
               "can reach this port can read your pipelines and restart or rerun them. "
               f"Pass --token (or set {TOKEN_ENV}), or bind 127.0.0.1.")
    print(f"\n*** WARNING: {message}\n", file=sys.stderr, flush=True)
    warnings.warn(message, InsecureBindWarning, stacklevel=3)
    return True


class ServerHandle:
    """A running API server: ``url``, ``port``, ``app``; ``stop()`` or use as a context
    manager."""

    def __init__(self, *, app: FastAPI, server: uvicorn.Server, thread: threading.Thread,
                 sock: socket.socket, host: str, runner: LocalRunner, owns_runner: bool):
        self.app = app
        self.runner = runner
        self._server = server
        self._thread = thread
        self._sock = sock
        self._owns_runner = owns_runner
        self._stopped = False
        self.host = host
        self.port: int = sock.getsockname()[1]
        shown = f"[{host}]" if ":" in host else host
        self.url = f"http://{shown}:{self.port}"

    def __repr__(self) -> str:
        state = "stopped" if self._stopped else "running"
        return f"<ServerHandle {self.url} {state}>"

    @property
    def running(self) -> bool:
        """True while the server thread is alive."""
        return self._thread.is_alive()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving (event streams end first), join the thread, then stop the runner
        if this handle started it. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        self.app.state.stopping.set()
        self._server.should_exit = True
        self._thread.join(timeout)
        if self._thread.is_alive():  # a handler is stuck: stop waiting for it
            self._server.force_exit = True
            self._thread.join(timeout)
        self._sock.close()
        if self._owns_runner:
            self.runner.stop()

    def __enter__(self) -> ServerHandle:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def serve_in_thread(runner: LocalRunner, host: str = "127.0.0.1", port: int = 0, *,
                    token: str | None = None, start_runner: bool = True,
                    log_level: str = "warning") -> ServerHandle:
    """Serve ``runner``'s status API on ``host:port`` (0: a free port) from a daemon
    thread; returns once the server accepts connections. ``start_runner`` also starts
    the runner's scheduler (and the handle stops it). A non-loopback ``host`` without a
    token (``token`` or ``$FLOWWIDGETS_TOKEN``) prints a loud warning."""
    token = token if token is not None else (os.environ.get(TOKEN_ENV) or None)
    warn_if_exposed(host, token)
    app = create_app(runner, token=token)
    sock = _bind(host, port)
    config = uvicorn.Config(app, log_level=log_level, access_log=False, lifespan="off",
                            timeout_graceful_shutdown=3, ws="none")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]},
                              name=f"flowwidgets-api-{sock.getsockname()[1]}", daemon=True)
    if start_runner:
        runner.start()
    try:
        thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                server.should_exit = True
                thread.join(5)
                raise RuntimeError(f"the API server on {host}:{sock.getsockname()[1]} "
                                   "did not start (see the log above)")
            time.sleep(0.01)
    except BaseException:
        sock.close()
        if start_runner:
            runner.stop()
        raise
    return ServerHandle(app=app, server=server, thread=thread, sock=sock, host=host,
                        runner=runner, owns_runner=start_runner)


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host.strip("[]"), port))
        sock.listen(128)
        sock.set_inheritable(True)
    except BaseException:
        sock.close()
        raise
    return sock
