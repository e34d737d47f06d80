"""A counting HTTP proxy: requests are counted where they arrive, not inside the Source.

``CountingProxy(upstream)`` listens on a free 127.0.0.1 port in a thread and forwards
every request to ``upstream`` (keeping the ``Date`` header the server sent); ``counts()``
returns how many requests arrived since the last ``reset()``, by ``METHOD path`` (query
left out) and in total.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding",
        "proxy-connection", "te", "trailer", "upgrade"}


class CountingProxy:
    """Forward to ``upstream``; count what arrives. Use as a context manager."""

    def __init__(self, upstream: str):
        self.upstream = upstream.rstrip("/")
        self._client = httpx.Client(timeout=120)
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self.seconds = 0.0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _forward(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in _HOP and k.lower() != "host"}
                t0 = time.perf_counter()
                r = proxy._client.request(self.command, proxy.upstream + self.path,
                                          headers=headers, content=body)
                with proxy._lock:
                    proxy._counts[f"{self.command} {self.path.split('?')[0]}"] += 1
                    proxy.seconds += time.perf_counter() - t0
                content = r.content
                self.send_response_only(r.status_code)
                for k, v in r.headers.multi_items():
                    if k.lower() not in _HOP:
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _forward

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> CountingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._client.close()

    def reset(self) -> None:
        """Start counting from zero."""
        with self._lock:
            self._counts.clear()
            self.seconds = 0.0

    def counts(self) -> tuple[int, dict[str, int]]:
        """(total requests, requests by ``METHOD path``) since the last reset."""
        with self._lock:
            return sum(self._counts.values()), dict(self._counts)
