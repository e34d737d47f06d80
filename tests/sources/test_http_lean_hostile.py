"""The lean client (flowwidgets.sources._lean) against servers that misbehave, each answer
compared with what httpx (``SyncHttp(..., lean=False)``, the old path) makes of it: a raw
socket server on 127.0.0.1 writes exactly the bytes a test scripts. Written by an
adversarial review (session 6); what was probed and found equal is in /work/notes."""

from __future__ import annotations

import contextlib
import gc
import json
import os
import socket
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

import pytest

from flowwidgets import errors
from flowwidgets.sources._http import Request, SyncHttp

pytestmark = pytest.mark.integration

Handler = Callable[[socket.socket, int], bool]
"""Writes the answer to the ``n``-th request (from 1) on a connection; False closes it."""


class RawServer:
    """A socket server on a free port: reads each request head (and its Content-Length
    body) and lets ``handler`` write whatever it likes; keeps every request line."""

    def __init__(self, handler: Handler):
        self.handler = handler
        self.lines: list[bytes] = []
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.conns: list[socket.socket] = []
        self.line_on: dict[socket.socket, bytes] = {}
        """The request line being answered on each connection."""
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        buf, n = b"", 0
        with conn:
            try:
                while True:
                    while b"\r\n\r\n" not in buf:
                        data = conn.recv(65536)
                        if not data:
                            return
                        buf += data
                    head, buf = buf.split(b"\r\n\r\n", 1)
                    size = 0
                    for line in head.split(b"\r\n")[1:]:
                        name, _, value = line.partition(b":")
                        if name.strip().lower() == b"content-length":
                            size = int(value)
                    while len(buf) < size:
                        buf += conn.recv(65536)
                    buf = buf[size:]
                    self.lines.append(head.split(b"\r\n")[0])
                    self.line_on[conn] = head.split(b"\r\n")[0]
                    n += 1
                    if not self.handler(conn, n):
                        return
            except OSError:
                return

    def close(self) -> None:
        self.sock.close()
        for conn in self.conns:
            conn.close()


def _answer(body: bytes, status: bytes = b"200 OK", *head: bytes) -> bytes:
    lines = [b"HTTP/1.1 " + status, *head, b"Content-Length: %d" % len(body)]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def _fixed(data: bytes, keep: bool = True) -> Handler:
    def handler(conn: socket.socket, n: int) -> bool:
        conn.sendall(data)
        return keep
    return handler


@pytest.fixture
def raw() -> Iterator[Callable[[Handler], RawServer]]:
    servers: list[RawServer] = []

    def make(handler: Handler) -> RawServer:
        servers.append(RawServer(handler))
        return servers[-1]
    yield make
    for server in servers:
        server.close()


def _both(raw: Callable[[Handler], RawServer], handler: Handler, req: Request,
          timeout: float = 5.0) -> dict[bool, Any]:
    """What the lean client and httpx each make of ``handler``'s answer to ``req``: the
    reply's (status, value), or the exception's type and message (the port removed)."""
    out: dict[bool, Any] = {}
    for lean in (True, False):
        server = raw(handler)
        http = SyncHttp(server.url, None, timeout, lean=lean)
        assert (http.lean is not None) is lean
        try:
            reply = http.send(req)
            out[lean] = (reply.status_code, reply.value)
        except Exception as exc:  # noqa: BLE001 - compared below
            out[lean] = (type(exc).__name__, str(exc).replace(server.url, "URL"))
        finally:
            http.close()
    return out


GET = Request("GET", "/api/x", "GET /api/x")
JSON = b'{"a":1}'


def test_an_informational_answer_before_the_answer_is_skipped_as_httpx_does(raw: Any):
    """http.client skips only ``100 Continue``: a ``103 Early Hints`` (sent by proxies and
    CDNs) was taken for the answer, an empty one, and the real answer left in the socket."""
    early = b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
    cont = b"HTTP/1.1 100 Continue\r\n\r\n"
    out = _both(raw, _fixed(cont + early + early + _answer(JSON)), GET)
    assert out[True] == out[False] == (200, {"a": 1})


def test_body_cut_short_by_a_close_is_a_protocol_error_soon_not_a_hang(raw: Any):
    cut = b"HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n" + JSON
    start = time.monotonic()
    out = _both(raw, _fixed(cut, keep=False), GET, timeout=30.0)
    assert time.monotonic() - start < 15  # two retries of 0.2 + 0.5 s each, not 30 s
    for lean in (True, False):
        assert out[lean][0] == "RunnerUnavailable"
        assert "RemoteProtocolError" in out[lean][1]


def test_close_delimited_http10_and_no_reason_answers_read_as_httpx_does(raw: Any):
    for data, keep in ((b"HTTP/1.1 200 OK\r\n\r\n" + JSON, False),
                       (b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n" + JSON,
                        False),
                       (b"HTTP/1.1 200\r\nContent-Length: 7\r\n\r\n" + JSON, True),
                       (_answer(JSON, b"200 OK", "X-Name: caf\u00e9 \u2603".encode()), True)):
        out = _both(raw, _fixed(data, keep), GET)
        assert out[True] == out[False] == (200, {"a": 1}), data


def test_error_statuses_and_redirects_raise_the_same_error_as_httpx(raw: Any):
    for data in (_answer(b"", b"302 Found", b"Location: /elsewhere"),
                 _answer(b'{"detail":"no such run"}', b"404 Not Found"),
                 _answer(b'{"error":"bad token"}', b"401 Unauthorized"),
                 _answer(b"<b>no</b>", b"403 Forbidden", b"Content-Type: text/html"),
                 _answer(b"oops", b"500 Internal Server Error")):
        out = _both(raw, _fixed(data), GET)
        assert out[True] == out[False], data
        assert out[True][0] in ("APIError", "NotFound", "Unauthorized", "ServerError")


def test_a_body_sent_with_204_is_not_read_as_the_next_answer(raw: Any):
    """A 204 ends at its head; bytes a server wrongly sent after it must not become the
    answer to the next request on that connection."""
    def handler(conn: socket.socket, n: int) -> bool:
        if n == 1:
            conn.sendall(b"HTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\n" + JSON)
        else:
            conn.sendall(_answer(b'{"n":%d}' % n))
        return True
    server = raw(handler)
    http = SyncHttp(server.url, None, 5.0)
    assert http.lean is not None
    try:
        assert http.send(Request("POST", "/api/x", "POST", idempotency_key="k")).value is None
        time.sleep(0.1)  # the stray bytes have arrived: the connection is not reused
        assert http.send(GET).value == {"n": 2}
    finally:
        http.close()


def test_a_server_that_never_answers_times_out_at_the_configured_timeout(raw: Any):
    def silent(conn: socket.socket, n: int) -> bool:
        time.sleep(5)
        return False
    server = raw(silent)
    http = SyncHttp(server.url, None, 0.5)
    assert http.lean is not None
    start = time.monotonic()
    try:
        with pytest.raises(errors.RunnerUnavailable, match="no answer within 0.5 s"):
            http.send(GET)
    finally:
        http.close()
    assert 0.45 < time.monotonic() - start < 4.5  # a GET's timeout is not retried


@pytest.mark.parametrize("path,params", [
    ("/api/pipelines/" + quote("a/b c", safe=""), None),
    ("/api/pipelines/" + quote("caf\u00e9 \u2603 %+#", safe=""), {"q": "x y+z%#&k=v"}),
    ("/api/p/caf\u00e9 b", {"u": "\u00e9", "n": 3, "none": None}),
    ("/api/p/%zz/../x", None),
])
def test_the_server_receives_the_request_line_httpx_sent(raw: Any, path: str,
                                                         params: dict[str, Any] | None):
    lines = {}
    for lean in (True, False):
        server = raw(_fixed(_answer(JSON)))
        http = SyncHttp(server.url + "/base", None, 5.0, lean=lean)
        try:
            http.send(Request("GET", path, "GET", params=params))
        finally:
            http.close()
        lines[lean] = server.lines[-1]
    assert lines[True] == lines[False]


@pytest.mark.parametrize("head", [
    [b"X-H%d: v" % i for i in range(150)],  # http.client stops at 100 header lines
    [b"X-Big: " + b"a" * 80_000],  # and at a 64 KiB line; httpx reads 100 KiB of head
], ids=["150-headers", "80k-line"])
def test_a_head_past_http_client_limits_is_read_by_httpx(raw: Any, head: list[bytes]):
    """An answer whose head http.client refuses but httpx reads reaches the caller (the
    request is sent again by httpx where the retry rules allow it, and httpx goes on
    sending from then on), instead of a RunnerUnavailable only the lean path raised."""
    out = _both(raw, _fixed(_answer(JSON, b"200 OK", *head)), GET)
    assert out[True] == out[False] == (200, {"a": 1})
    server = raw(_fixed(_answer(JSON, b"200 OK", *head)))
    http = SyncHttp(server.url, None, 5.0)
    try:
        post = Request("POST", "/api/x", "POST", body={}, idempotency_key="k")
        assert http.send(post).value == {"a": 1}
        assert http.lean is None
        assert http.send(GET).value == {"a": 1}
    finally:
        http.close()


def test_a_token_with_a_line_break_fails_as_it_did_with_httpx(raw: Any):
    """A token read from a file keeps its newline: httpx refused the header
    (LocalProtocolError, so RunnerUnavailable, "No runner attached" in the widgets);
    http.client raised a bare ValueError that no widget expects."""
    out: dict[bool, Any] = {}
    for lean in (True, False):
        server = raw(_fixed(_answer(JSON)))
        http = SyncHttp(server.url, "secret\n", 5.0, lean=lean)
        try:
            with pytest.raises(errors.RunnerUnavailable) as caught:
                http.send(GET)
        finally:
            http.close()
        out[lean] = type(caught.value.__cause__).__name__
        assert server.lines == []  # nothing was sent
    assert out[True] == out[False] == "LocalProtocolError"


@pytest.mark.parametrize("framing", [
    [b"Content-Length: -1"], [b"Content-Length: abc"],
    [b"Content-Length: 7", b"Content-Length: 8"], [b"Transfer-Encoding: gzip, chunked"],
], ids=["negative", "not-a-number", "conflicting", "not-chunked-te"])
def test_a_bad_content_length_is_a_protocol_error_at_once(raw: Any, framing: list[bytes]):
    """httpx refuses such an answer at once; http.client read on to the close (or to the
    read timeout on a kept-alive connection: a wrong 'no answer within' after seconds)."""
    head = b"HTTP/1.1 200 OK\r\n" + b"".join(line + b"\r\n" for line in framing)
    start = time.monotonic()
    out = _both(raw, _fixed(head + b"\r\n" + JSON + b" "), GET, timeout=20.0)
    assert time.monotonic() - start < 12  # retries: 2 x (0.2 + 0.5) s, no 20 s timeout
    for lean in (True, False):
        assert out[lean][0] == "RunnerUnavailable", out
        assert "RemoteProtocolError" in out[lean][1], out


@pytest.mark.parametrize("status", [b"204 No Content", b"304 Not Modified"])
def test_a_bad_content_length_on_an_answer_without_a_body_is_refused_as_httpx_does(
        raw: Any, status: bytes):
    """A 204 or 304 has no body, but httpx (h11) still refuses a Content-Length that is not
    a number there; the lean client answers the same (not a SchemaError or an APIError)."""
    head = b"HTTP/1.1 " + status + b"\r\nContent-Length: abc\r\n\r\n"
    out = _both(raw, _fixed(head), GET)
    for lean in (True, False):
        assert out[lean][0] == "RunnerUnavailable", out
        assert "RemoteProtocolError: bad Content-Length" in out[lean][1], out


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts /proc/self/fd")
def test_threads_sharing_a_source_while_the_server_drops_connections(raw: Any):
    """8 threads send GETs and keyed POSTs through one SyncHttp while the server cuts every
    open connection again and again (a runner going away): each answer is the one to its
    own request, every call ends in a reply or RunnerUnavailable, and no socket is left
    open once the wrapper is closed (a ResourceWarning fails the test)."""
    def echo(conn: socket.socket, n: int) -> bool:
        line = server.line_on[conn]
        conn.sendall(_answer(json.dumps({"line": line.decode()}).encode()))
        return True
    server = raw(echo)
    before = _open_fds()
    http = SyncHttp(server.url, None, 5.0)
    assert http.lean is not None
    wrong: list[Any] = []
    odd: list[BaseException] = []
    done = [0]
    stop = time.monotonic() + 1.5

    def worker(i: int) -> None:
        k = 0
        while time.monotonic() < stop:
            k += 1
            tag = f"t{i}-{k}"
            if k % 2:
                req = Request("GET", f"/g/{tag}", "GET", params={"t": tag})
                want = f"GET /g/{tag}?t={tag} HTTP/1.1"
            else:
                req = Request("POST", f"/p/{tag}", "POST", body={}, idempotency_key=tag)
                want = f"POST /p/{tag} HTTP/1.1"
            try:
                got = http.send(req).value["line"]
            except errors.RunnerUnavailable:
                continue
            except BaseException as exc:  # noqa: BLE001 - reported below
                odd.append(exc)
                return
            done[0] += 1
            if got != want:
                wrong.append((want, got))

    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)
        threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
        for th in threads:
            th.start()
        while any(th.is_alive() for th in threads):
            time.sleep(0.05)
            for conn in list(server.conns):
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
        for th in threads:
            th.join()
        http.close()
        gc.collect()
    assert not odd and not wrong, (odd, wrong[:3])
    assert done[0] > 0
    deadline = time.monotonic() + 5
    while _open_fds() > before and time.monotonic() < deadline:  # the server's side closes
        time.sleep(0.05)
    assert _open_fds() <= before
