"""The lean HTTP client (flowwidgets.sources._lean) against real servers on 127.0.0.1
(fwtest.lean_app: a uvicorn app for what a runner does, and a raw socket server for a
connection dropped as a request arrives): keep-alive and its pool across threads, stale
connections, and httpx's exception types for every failure. What goes and comes is in
test_http_lean_io.py."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import httpx
import pytest
from fwtest.http import ServerThread
from fwtest.lean_app import SEEN, DropSecond, app, get, peer, wait_readable

from flowwidgets import errors
from flowwidgets.sources._http import Request, SyncHttp
from flowwidgets.sources._lean import MAX_IDLE, LeanClient

pytestmark = pytest.mark.integration



# ---- keep-alive and the pool ------------------------------------------------------------

def test_one_connection_is_kept_alive_and_reused(lean_server: ServerThread, lean: LeanClient):
    peers = {peer(get(lean, f"{lean_server.url}/echo?i={i}")) for i in range(5)}
    assert len(peers) == 1
    assert len(lean._idle) == 1


def test_threads_share_the_pool_one_request_per_connection(lean_server: ServerThread,
                                                           lean: LeanClient):
    wrong: list[Any] = []
    peers: set[int] = set()

    def work(t: int) -> None:
        for i in range(30):
            r = get(lean, f"{lean_server.url}/echo?t={t}&i={i}")
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
            get(client, f"{srv.url}/echo")
            first = client._idle[0]
            wait_readable(client)
            before = len(SEEN)
            r = client.request("POST", f"{srv.url}/echo", json={"n": 1},
                               headers={"Idempotency-Key": "k1"})
            assert r.status_code == 200 and r.json()["body"] == '{"n":1}'
            assert client._idle and client._idle[0] is not first
            assert [s["method"] for s in SEEN[before:]] == ["POST"]  # sent once
            wait_readable(client)  # and a GET after the next close too
            assert get(client, f"{srv.url}/echo").status_code == 200
        finally:
            client.close()


def test_a_get_dropped_on_a_reused_connection_is_sent_once_more():
    raw = DropSecond()
    client = LeanClient(raw.url, 10.0)
    try:
        assert get(client, f"{raw.url}/a").status_code == 200
        assert get(client, f"{raw.url}/b").status_code == 200  # dropped, then resent
        assert raw.requests == ["GET", "GET", "GET"]
    finally:
        client.close()
        raw.close()


def test_a_post_dropped_on_a_reused_connection_is_not_resent():
    raw = DropSecond()
    client = LeanClient(raw.url, 10.0)
    try:
        assert get(client, f"{raw.url}/a").status_code == 200
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
            get(client, url + "/echo")
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
                get(LeanClient(url, 0.3), url + "/echo")
            assert time.monotonic() - t0 < 5
        finally:
            for f in fillers:
                f.close()


def test_no_answer_in_time_is_read_timeout(lean_server: ServerThread, lean: LeanClient):
    t0 = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        get(lean, f"{lean_server.url}/slow?s=5", timeout=0.3)
    assert time.monotonic() - t0 < 4.5
    assert not lean._idle  # the connection is not reused
    assert get(lean, f"{lean_server.url}/echo").status_code == 200
    http = SyncHttp(lean_server.url, None, 0.3)
    with pytest.raises(errors.RunnerUnavailable, match="no answer within"):
        http.send(Request("GET", "/slow", "GET /slow", params={"s": 5}))
    http.close()


def test_a_connection_dropped_mid_answer_is_a_protocol_error(lean_server: ServerThread,
                                                             lean: LeanClient):
    with pytest.raises(httpx.RemoteProtocolError):
        get(lean, f"{lean_server.url}/cut")
    assert not lean._idle
    assert get(lean, f"{lean_server.url}/echo").status_code == 200
