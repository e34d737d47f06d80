"""Helpers for the source tests: recorded payloads, mock transports, real servers on
127.0.0.1 (uvicorn in a thread), Starlette's TestClient without its deprecation noise."""

from __future__ import annotations

import json
import socket
import threading
import time
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import httpx
import uvicorn

PAYLOADS = Path(__file__).resolve().parents[1] / "sources" / "payloads"
BASE = "http://runner.test"


def payload(name: str) -> Any:
    """A response body recorded from a real server (see payloads/_record.py)."""
    return json.loads((PAYLOADS / name).read_text())


def starlette_client(app: Any) -> httpx.Client:
    """Starlette's TestClient (an httpx.Client) for ``app``; use it as a context manager."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "use httpx2": we inject httpx clients on purpose
        from starlette.testclient import TestClient
    return TestClient(app)


Route = Callable[[httpx.Request], httpx.Response] | httpx.Response | Any


def mock_client(routes: Mapping[str, Route], *, seen: list[httpx.Request] | None = None
                ) -> httpx.Client:
    """An httpx.Client answering ``"METHOD /path"`` from ``routes``: a Response, a callable
    taking the request, or a JSON-able body (200). Anything else is 404 with a detail."""

    def handler(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        route = routes.get(f"{request.method} {request.url.path}")
        if route is None:
            return httpx.Response(404, json={"detail": "Not Found"})
        if callable(route):
            return route(request)
        if isinstance(route, httpx.Response):
            return route
        return httpx.Response(200, json=route)

    return httpx.Client(transport=httpx.MockTransport(handler), base_url=BASE)


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 20.0) -> None:
    """Wait until something accepts connections on 127.0.0.1:port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


class ServerThread:
    """A real uvicorn server for an ASGI app on 127.0.0.1, in a thread."""

    def __init__(self, app: Any, port: int = 0, **options: Any):
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error",
                                lifespan="off", timeout_graceful_shutdown=1, **options)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.port = port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        self.port = self.server.servers[0].sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
