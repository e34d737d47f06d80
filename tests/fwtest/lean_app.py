"""A runner-like ASGI app and a raw socket server for the lean client's tests
(tests/sources/test_http_lean*.py), and small helpers for them."""

from __future__ import annotations

import asyncio
import gzip
import json
import socket
import threading
import zlib
from typing import Any
from urllib.parse import parse_qs

import httpx

from flowwidgets.sources._lean import LeanClient

SEEN: list[dict[str, Any]] = []
"""What the uvicorn app received: method, path, headers, body and the client's port."""
SAME = {"body": b'{"v":1}'}


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """A small runner-like app; the path says what to answer."""
    if scope["type"] != "http":
        return
    body = b""
    while True:
        msg = await receive()
        body += msg.get("body", b"")
        if not msg.get("more_body"):
            break
    headers = {k.decode(): v.decode() for k, v in scope["headers"]}
    query = {k: v[0] for k, v in parse_qs(scope["query_string"].decode()).items()}
    seen = {"method": scope["method"], "path": scope["path"], "query": query,
            "headers": headers, "body": body.decode(), "peer": scope["client"][1]}
    SEEN.append(seen)
    path = scope["path"]

    async def answer(status: int, data: bytes, *extra: tuple[bytes, bytes]) -> None:
        head = [(b"content-type", b"application/json"),
                (b"content-length", str(len(data)).encode()), *extra]
        await send({"type": "http.response.start", "status": status, "headers": head})
        await send({"type": "http.response.body", "body": data})

    if path == "/slow":
        await asyncio.sleep(float(query["s"]))
    if path in ("/echo", "/slow"):
        await answer(200, json.dumps(seen).encode())
    elif path == "/big":
        await answer(200, b'{"x":"' + b"a" * int(query["n"]) + b'"}')
    elif path == "/chunked":  # no length: uvicorn sends it chunked
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json")]})
        parts = [b"[", b"1,", b"2,", b"3", b"]"]
        for i, part in enumerate(parts):
            await send({"type": "http.response.body", "body": part * 1,
                        "more_body": i < len(parts) - 1})
    elif path in ("/gzip", "/deflate"):
        raw = json.dumps({"packed": "z" * 1000}).encode()
        data = gzip.compress(raw) if path == "/gzip" else zlib.compress(raw)
        await answer(200, data, (b"content-encoding", path[1:].encode()))
    elif path == "/status":
        code = int(query["code"])
        if code in (204, 304):
            await send({"type": "http.response.start", "status": code,
                        "headers": [(b"etag", b'"e1"')]})
            await send({"type": "http.response.body", "body": b""})
        else:
            await answer(code, json.dumps({"detail": f"said {code}"}).encode())
    elif path == "/close":
        await answer(200, b'{"bye":true}', (b"connection", b"close"))
    elif path == "/cookie":
        await answer(200, b"{}", (b"set-cookie", b"sid=abc; Path=/"))
    elif path == "/same":
        await answer(200, SAME["body"])
    elif path == "/cut":  # a length, part of the body, then the connection drops
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", b"100000")]})
        await send({"type": "http.response.body", "body": b"x" * 10, "more_body": True})
        raise RuntimeError("cut on purpose (test_http_lean)")
    else:
        await answer(404, b'{"detail":"no such path"}')


def get(client: LeanClient, url: str, **kw: Any) -> httpx.Response:
    return client.request("GET", url, headers={"Accept": "application/json"}, **kw)


def peer(response: httpx.Response) -> int:
    return int(response.json()["peer"])


def wait_readable(client: LeanClient, timeout: float = 10.0) -> None:
    """Wait until the server closed the pooled connection (its socket reads EOF)."""
    import select

    sock = client._idle[0].sock
    assert sock is not None
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    assert poller.poll(timeout * 1000), "the server did not close the idle connection"


class DropSecond:
    """A raw HTTP/1.1 server: on each connection it answers the first request (kept
    alive), then reads the second and closes without a word, as a server does that shuts
    the connection at the moment a request arrives."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.requests: list[str] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        with conn, conn.makefile("rb") as f:
            for n in range(2):
                line = f.readline().decode()
                length = 0
                while (h := f.readline()) not in (b"\r\n", b""):
                    if h.lower().startswith(b"content-length:"):
                        length = int(h.split(b":")[1])
                f.read(length)
                if not line:
                    return
                self.requests.append(line.split()[0])
                if n == 0:
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")

    def close(self) -> None:
        self.sock.close()
