"""The lean HTTP client (flowwidgets.sources._lean) against real servers on 127.0.0.1:
a uvicorn app for what a runner does, and a raw socket server for a connection dropped
as a request arrives. Keep-alive and its pool across threads, stale connections, httpx's
exception types, timeouts, Connection: close, chunked / large / empty bodies, gzip, the
switch back to httpx (proxies, cookies) and closing."""

from __future__ import annotations

import asyncio
import gc
import gzip
import json
import socket
import threading
import time
import warnings
import zlib
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from fwtest.http import ServerThread

from flowwidgets import errors
from flowwidgets.sources._http import Request, SyncHttp
from flowwidgets.sources._lean import MAX_IDLE, LeanClient, lean_fits

pytestmark = pytest.mark.integration

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


@pytest.fixture(scope="module")
def server() -> Iterator[ServerThread]:
    with ServerThread(app) as srv:
        yield srv


@pytest.fixture()
def lean(server: ServerThread) -> Iterator[LeanClient]:
    client = LeanClient(server.url, 10.0)
    yield client
    client.close()


def _get(client: LeanClient, url: str, **kw: Any) -> httpx.Response:
    return client.request("GET", url, headers={"Accept": "application/json"}, **kw)


def _peer(response: httpx.Response) -> int:
    return int(response.json()["peer"])


def _wait_readable(client: LeanClient, timeout: float = 10.0) -> None:
    """Wait until the server closed the pooled connection (its socket reads EOF)."""
    import select

    sock = client._idle[0].sock
    assert sock is not None
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    assert poller.poll(timeout * 1000), "the server did not close the idle connection"


# ---- keep-alive and the pool ------------------------------------------------------------

def test_one_connection_is_kept_alive_and_reused(server: ServerThread, lean: LeanClient):
    peers = {_peer(_get(lean, f"{server.url}/echo?i={i}")) for i in range(5)}
    assert len(peers) == 1
    assert len(lean._idle) == 1


def test_threads_share_the_pool_one_request_per_connection(server: ServerThread,
                                                           lean: LeanClient):
    wrong: list[Any] = []
    peers: set[int] = set()

    def work(t: int) -> None:
        for i in range(30):
            r = _get(lean, f"{server.url}/echo?t={t}&i={i}")
            got = r.json()
            if got["query"] != {"t": str(t), "i": str(i)}:  # another thread's answer
                wrong.append(got)
            peers.add(got["peer"])

    threads = [threading.Thread(target=work, args=(t,)) for t in range(MAX_IDLE)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    assert not wrong
    assert 1 <= len(peers) <= MAX_IDLE  # never more connections than requests at once
    assert len(lean._idle) <= MAX_IDLE


def test_a_connection_the_server_closed_while_idle_is_not_reused():
    """uvicorn closes an idle connection after its keep-alive timeout: the next request,
    even a POST that may not be sent twice by this client, goes on a fresh connection."""
    with ServerThread(app, timeout_keep_alive=1) as srv:
        client = LeanClient(srv.url, 10.0)
        try:
            first = _peer(_get(client, f"{srv.url}/echo"))
            _wait_readable(client)
            before = len(SEEN)
            r = client.request("POST", f"{srv.url}/echo", json={"n": 1},
                               headers={"Idempotency-Key": "k1"})
            assert r.status_code == 200 and r.json()["body"] == '{"n":1}'
            assert _peer(r) != first
            assert [s["method"] for s in SEEN[before:]] == ["POST"]  # sent once
            _wait_readable(client)  # and a GET after the next close too
            assert _get(client, f"{srv.url}/echo").status_code == 200
        finally:
            client.close()


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


def test_a_get_dropped_on_a_reused_connection_is_sent_once_more():
    raw = DropSecond()
    client = LeanClient(raw.url, 10.0)
    try:
        assert _get(client, f"{raw.url}/a").status_code == 200
        assert _get(client, f"{raw.url}/b").status_code == 200  # dropped, then resent
        assert raw.requests == ["GET", "GET", "GET"]
    finally:
        client.close()
        raw.close()


def test_a_post_dropped_on_a_reused_connection_is_not_resent():
    raw = DropSecond()
    client = LeanClient(raw.url, 10.0)
    try:
        assert _get(client, f"{raw.url}/a").status_code == 200
        with pytest.raises(httpx.RemoteProtocolError):
            client.request("POST", f"{raw.url}/p", json={}, headers={"Idempotency-Key": "k"})
        deadline = time.monotonic() + 5
        while len(raw.requests) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert raw.requests == ["GET", "POST"]  # the POST once: the caller's rules decide
    finally:
        client.close()
        raw.close()


# ---- errors and timeouts -----------------------------------------------------------------

def test_a_refused_connection_is_connect_error():
    with socket.socket() as bound:  # bound, not listening: refused, and the port stays ours
        bound.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{bound.getsockname()[1]}"
        client = LeanClient(url, 5.0)
        with pytest.raises(httpx.ConnectError):
            _get(client, url + "/echo")
        http = SyncHttp(url, None, 5.0)
        assert http.lean is not None
        with pytest.raises(errors.RunnerUnavailable, match="connection failed"):
            http.send(Request("GET", "/api/health", "GET /api/health"))
        http.close()


def test_no_connection_in_time_is_connect_timeout():
    with socket.socket() as full:
        full.bind(("127.0.0.1", 0))
        full.listen(0)
        url = f"http://127.0.0.1:{full.getsockname()[1]}"
        fillers = []
        try:
            for _ in range(4):  # fill the accept queue: later connections wait
                f = socket.socket()
                f.setblocking(False)
                f.connect_ex(("127.0.0.1", full.getsockname()[1]))
                fillers.append(f)
            t0 = time.monotonic()
            with pytest.raises(httpx.ConnectTimeout):
                _get(LeanClient(url, 0.3), url + "/echo")
            assert time.monotonic() - t0 < 5
        finally:
            for f in fillers:
                f.close()


def test_no_answer_in_time_is_read_timeout(server: ServerThread, lean: LeanClient):
    t0 = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        _get(lean, f"{server.url}/slow?s=3", timeout=0.3)
    assert time.monotonic() - t0 < 2.5
    assert not lean._idle  # the connection is not reused
    assert _get(lean, f"{server.url}/echo").status_code == 200
    http = SyncHttp(server.url, None, 0.3)
    with pytest.raises(errors.RunnerUnavailable, match="no answer within"):
        http.send(Request("GET", "/slow", "GET /slow", params={"s": 3}))
    http.close()


def test_a_connection_dropped_mid_answer_is_a_protocol_error(server: ServerThread,
                                                             lean: LeanClient):
    with pytest.raises(httpx.RemoteProtocolError):
        _get(lean, f"{server.url}/cut")
    assert not lean._idle
    assert _get(lean, f"{server.url}/echo").status_code == 200


# ---- what goes and comes ---------------------------------------------------------------

def test_a_post_without_key_closes_its_own_connection(server: ServerThread):
    http = SyncHttp(server.url, "tok-1", 10.0)
    assert http.lean is not None
    try:
        pooled = http.send(Request("GET", "/echo", "GET /echo")).value["peer"]
        posted = http.send(Request("POST", "/echo", "POST /echo", body={"a": "é✓"})).value
        assert posted["headers"]["connection"] == "close"
        assert posted["headers"]["authorization"] == "Bearer tok-1"
        assert posted["headers"]["content-type"] == "application/json"
        assert posted["peer"] != pooled
        assert json.loads(posted["body"]) == {"a": "é✓"}
        with httpx.Client() as hx:  # the same bytes as httpx's json=
            hx.post(f"{server.url}/echo", json={"a": "é✓"})
        assert SEEN[-1]["body"] == posted["body"]
        assert len(http.lean._idle) == 1
        assert http.send(Request("GET", "/echo", "GET /echo")).value["peer"] == pooled
    finally:
        http.close()


def test_an_answer_with_connection_close_is_not_pooled(server: ServerThread,
                                                       lean: LeanClient):
    first = _peer(_get(lean, f"{server.url}/echo"))
    r = _get(lean, f"{server.url}/close")
    assert r.json() == {"bye": True} and r.headers["connection"] == "close"
    assert not lean._idle
    assert _peer(_get(lean, f"{server.url}/echo")) != first


def test_bodies_chunked_large_and_empty(server: ServerThread, lean: LeanClient):
    r = _get(lean, f"{server.url}/chunked")
    assert r.headers["transfer-encoding"] == "chunked" and r.json() == [1, 2, 3]
    assert "content-length" not in r.headers  # as the server sent them
    big = _get(lean, f"{server.url}/big?n=5000000")
    assert len(big.content) == 5_000_008 and big.content.endswith(b'a"}')
    head = lean.request("HEAD", f"{server.url}/big?n=1000", headers={})
    assert head.content == b"" and head.headers["content-length"] == "1008"
    for code in (204, 304):
        r = _get(lean, f"{server.url}/status?code={code}")
        assert r.status_code == code and r.content == b""
    assert len({_peer(_get(lean, f"{server.url}/echo")) for _ in range(2)}) == 1


def test_error_statuses_keep_their_body(server: ServerThread, lean: LeanClient):
    r = _get(lean, f"{server.url}/status?code=500")
    assert r.status_code == 500 and r.json() == {"detail": "said 500"}
    assert r.reason_phrase == "Internal Server Error"
    assert str(r.request.url) == f"{server.url}/status?code=500"
    http = SyncHttp(server.url, None, 10.0)
    with pytest.raises(errors.NotFound, match="said 404") as caught:
        http.send(Request("GET", "/status", "GET /status", params={"code": 404}))
    assert caught.value.request.url.path == "/status"
    http.close()


def test_compressed_answers_are_decoded(server: ServerThread, lean: LeanClient):
    assert _get(lean, f"{server.url}/echo").json()["headers"].get("accept-encoding") is None
    assert _get(lean, f"{server.url}/gzip").json() == {"packed": "z" * 1000}
    far = LeanClient(server.url, 10.0)
    far._accept_encoding = "gzip, deflate"  # what a client of a non-loopback host asks
    try:
        assert _get(far, f"{server.url}/echo").json()["headers"]["accept-encoding"] == \
            "gzip, deflate"
        assert _get(far, f"{server.url}/deflate").json() == {"packed": "z" * 1000}
    finally:
        far.close()
    assert LeanClient("http://192.0.2.7:80", 1)._accept_encoding == "gzip, deflate"
    assert LeanClient("http://runner.example", 1)._accept_encoding == "gzip, deflate"
    assert LeanClient("http://localhost:9", 1)._accept_encoding is None
    assert LeanClient("http://[::1]:9", 1)._accept_encoding is None


def test_the_cache_finds_an_unchanged_body_by_its_bytes(server: ServerThread):
    http = SyncHttp(server.url, None, 10.0)
    req = Request("GET", "/same", "GET /same", cache=True)
    try:
        SAME["body"] = b'{"v":1}'
        assert http.send(req).value == {"v": 1}
        again = http.send(req)
        assert again.from_cache and again.value == {"v": 1} and http.stats.unchanged == 1
        SAME["body"] = b'{"v":2}'  # same length, one byte differs
        changed = http.send(req)
        assert not changed.from_cache and changed.value == {"v": 2}
    finally:
        http.close()


# ---- when httpx is used instead, and closing ----------------------------------------------

def test_lean_is_used_only_where_httpx_would_go_straight_to_the_server(
        monkeypatch: pytest.MonkeyPatch):
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "http_proxy",
                 "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    with httpx.Client() as hx:
        assert lean_fits("http://127.0.0.1:8000", hx)
        assert lean_fits("http://runner.example/prefix", hx)
        assert not lean_fits("https://127.0.0.1:8000", hx)
        assert not lean_fits("http://user:pw@127.0.0.1:8000", hx)
        assert not lean_fits("http://127.0.0.1:99999", hx)
        assert not lean_fits("http://127.0.0.1:8000/a b", hx)
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.example:3128")
    with httpx.Client() as hx:
        assert not lean_fits("http://runner.example:8000", hx)
    monkeypatch.setenv("NO_PROXY", "runner.example")
    with httpx.Client() as hx:
        assert lean_fits("http://runner.example:8000", hx)
        assert not lean_fits("http://other.example:8000", hx)
    with httpx.Client() as injected:
        assert SyncHttp("http://runner.example", None, 1, injected).lean is None
    assert SyncHttp("http://runner.example", None, 1, lean=False).lean is None
    assert SyncHttp("https://runner.example", None, 1).lean is None
    http = SyncHttp("http://runner.example/x", None, 1)
    assert http.lean is not None
    assert http.lean.takes("http://runner.example/x/api/runs?limit=5&cursor=a%3Ab")
    assert not http.lean.takes("http://runner.example/x/api/runs/a b")
    assert not http.lean.takes("http://runner.example/x/api/runs/%zz")
    assert not http.lean.takes("http://runner.example/x/api/runs/..")
    assert not http.lean.takes("http://runner.example/x/api/runs/é")
    http.close()


def test_a_runner_that_sets_cookies_gets_httpx_and_its_jar(server: ServerThread):
    http = SyncHttp(server.url, None, 10.0)
    try:
        http.send(Request("GET", "/cookie", "GET /cookie"))
        assert http.lean is None
        echo = http.send(Request("GET", "/echo", "GET /echo")).value
        assert echo["headers"]["cookie"] == "sid=abc"
    finally:
        http.close()


def test_close_closes_the_pooled_connections_without_resource_warnings(server: ServerThread):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        client = LeanClient(server.url, 10.0)
        threads = [threading.Thread(target=_get, args=(client, f"{server.url}/echo"))
                   for _ in range(3)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(30)
        _get(client, f"{server.url}/close")
        with pytest.raises(httpx.RemoteProtocolError):
            _get(client, f"{server.url}/cut")
        conns = list(client._idle)
        assert conns
        client.close()
        assert not client._idle and all(c.sock is None for c in conns)
        with pytest.raises(RuntimeError, match="closed"):
            _get(client, f"{server.url}/echo")
        http = SyncHttp(server.url, None, 10.0)
        http.send(Request("GET", "/echo", "GET /echo"))
        http.close()
        del client, conns, http
        gc.collect()
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)], caught
