"""The lean HTTP client (flowwidgets.sources._lean) against real servers on 127.0.0.1:
what goes and comes (Connection: close, chunked / large / empty bodies, error statuses,
gzip and deflate, the same-body cache), when httpx is used instead (proxies from the
environment, cookies), closing, and our real runner read through both clients."""

from __future__ import annotations

import gc
import json
import threading
import warnings

import httpx
import pytest
from fwtest.http import ServerThread
from fwtest.lean_app import SAME, SEEN, get, peer

from flowwidgets import errors
from flowwidgets.sources._http import Request, SyncHttp
from flowwidgets.sources._lean import LeanClient, lean_fits

pytestmark = pytest.mark.integration



# ---- what goes and comes ---------------------------------------------------------------

def test_a_post_without_key_closes_its_own_connection(lean_server: ServerThread):
    http = SyncHttp(lean_server.url, "tok-1", 10.0)
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
            hx.post(f"{lean_server.url}/echo", json={"a": "é✓"})
        assert SEEN[-1]["body"] == posted["body"]
        assert len(http.lean._idle) == 1
        assert http.send(Request("GET", "/echo", "GET /echo")).value["peer"] == pooled
    finally:
        http.close()


def test_an_answer_with_connection_close_is_not_pooled(lean_server: ServerThread,
                                                       lean: LeanClient):
    get(lean, f"{lean_server.url}/echo")
    first = lean._idle[0]
    r = get(lean, f"{lean_server.url}/close")
    assert r.json() == {"bye": True} and r.headers["connection"] == "close"
    assert not lean._idle
    get(lean, f"{lean_server.url}/echo")
    assert lean._idle[0] is not first


def test_bodies_chunked_large_and_empty(lean_server: ServerThread, lean: LeanClient):
    r = get(lean, f"{lean_server.url}/chunked")
    assert r.headers["transfer-encoding"] == "chunked" and r.json() == [1, 2, 3]
    assert "content-length" not in r.headers  # as the server sent them
    big = get(lean, f"{lean_server.url}/big?n=5000000")
    assert len(big.content) == 5_000_008 and big.content.endswith(b'a"}')
    head = lean.request("HEAD", f"{lean_server.url}/big?n=1000", headers={})
    assert head.content == b"" and head.headers["content-length"] == "1008"
    for code in (204, 304):
        r = get(lean, f"{lean_server.url}/status?code={code}")
        assert r.status_code == code and r.content == b""
    assert len({peer(get(lean, f"{lean_server.url}/echo")) for _ in range(2)}) == 1


def test_error_statuses_keep_their_body(lean_server: ServerThread, lean: LeanClient):
    r = get(lean, f"{lean_server.url}/status?code=500")
    assert r.status_code == 500 and r.json() == {"detail": "said 500"}
    assert r.reason_phrase == "Internal Server Error"
    assert str(r.request.url) == f"{lean_server.url}/status?code=500"
    http = SyncHttp(lean_server.url, None, 10.0)
    with pytest.raises(errors.NotFound, match="said 404") as caught:
        http.send(Request("GET", "/status", "GET /status", params={"code": 404}))
    assert caught.value.request.url.path == "/status"
    http.close()


def test_compressed_answers_are_decoded(lean_server: ServerThread, lean: LeanClient):
    assert get(lean, f"{lean_server.url}/echo").json()["headers"].get("accept-encoding") is None
    assert get(lean, f"{lean_server.url}/gzip").json() == {"packed": "z" * 1000}
    far = LeanClient(lean_server.url, 10.0)
    far._accept_encoding = "gzip, deflate"  # what a client of a non-loopback host asks
    try:
        assert get(far, f"{lean_server.url}/echo").json()["headers"]["accept-encoding"] == \
            "gzip, deflate"
        assert get(far, f"{lean_server.url}/deflate").json() == {"packed": "z" * 1000}
    finally:
        far.close()
    assert LeanClient("http://192.0.2.7:80", 1)._accept_encoding == "gzip, deflate"
    assert LeanClient("http://runner.example", 1)._accept_encoding == "gzip, deflate"
    assert LeanClient("http://localhost:9", 1)._accept_encoding is None
    assert LeanClient("http://[::1]:9", 1)._accept_encoding is None


def test_the_cache_finds_an_unchanged_body_by_its_bytes(lean_server: ServerThread):
    http = SyncHttp(lean_server.url, None, 10.0)
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


def test_a_runner_that_sets_cookies_gets_httpx_and_its_jar(lean_server: ServerThread):
    http = SyncHttp(lean_server.url, None, 10.0)
    try:
        lean = http.lean
        assert lean is not None
        http.send(Request("GET", "/cookie", "GET /cookie"))
        assert http.lean is None
        assert lean.request("GET", f"{lean_server.url}/echo", headers={}).status_code == 200
        echo = http.send(Request("GET", "/echo", "GET /echo")).value
        assert echo["headers"]["cookie"] == "sid=abc"
    finally:
        http.close()
    assert not lean._idle  # closed with the wrapper


def test_close_closes_the_pooled_connections_without_resource_warnings(lean_server: ServerThread):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        client = LeanClient(lean_server.url, 10.0)
        threads = [threading.Thread(target=get, args=(client, f"{lean_server.url}/echo"))
                   for _ in range(3)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(30)
        get(client, f"{lean_server.url}/close")
        with pytest.raises(httpx.RemoteProtocolError):
            get(client, f"{lean_server.url}/cut")
        get(client, f"{lean_server.url}/echo")
        conns = list(client._idle)
        assert conns
        client.close()
        assert not client._idle and all(c.sock is None for c in conns)
        with pytest.raises(RuntimeError, match="closed"):
            get(client, f"{lean_server.url}/echo")
        http = SyncHttp(lean_server.url, None, 10.0)
        http.send(Request("GET", "/echo", "GET /echo"))
        http.close()
        del client, conns, http
        gc.collect()
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)], caught


# ---- our runner, read through both clients ---------------------------------------------

def test_our_runner_reads_the_same_through_lean_and_httpx(tmp_path):
    """A Source from ``connect`` on a real runner goes by the lean client; every answer
    (models, pages, a frame, a 404, the conditional cache) equals the httpx path's."""
    from datetime import UTC, datetime, timedelta

    from fwtest.api import sqlite_log

    from flowwidgets.frames import runs_frame
    from flowwidgets.models import Status
    from flowwidgets.runner._local import LocalRunner
    from flowwidgets.runner.serve import serve_in_thread
    from flowwidgets.runner.spec import Pipelines, PipelineSpec, StepSpec
    from flowwidgets.runner.store import RunRecord
    from flowwidgets.sources import connect
    from flowwidgets.sources._base import Source
    from flowwidgets.sources.api import FlowwidgetsFlavour

    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    spec = PipelineSpec("orders", steps=(StepSpec("x", run="true"),))
    runner = LocalRunner(Pipelines((spec,), base_dir=tmp_path), db=tmp_path / "runs.sqlite")
    sqlite_log(runner).import_runs([
        RunRecord(run_id=f"r{i:04d}", pipeline="orders", kind="batch",
                  status=Status.FAILED if i % 3 == 0 else Status.SUCCEEDED,
                  trigger="schedule", created_at=t0 + timedelta(seconds=i),
                  started_at=t0, finished_at=t0 + timedelta(seconds=3),
                  error="boom\nat line 2" if i % 3 == 0 else None)
        for i in range(700)])
    try:
        with serve_in_thread(runner, start_runner=False) as srv, \
                connect(srv.url, timeout=10) as lean, \
                Source(srv.url, FlowwidgetsFlavour(),
                       SyncHttp(srv.url, None, 10, lean=False)) as old:
            assert lean._http.lean is not None and old._http.lean is None
            assert lean.pipelines() == old.pipelines()
            assert lean.runs(limit=500, offset=100) == old.runs(limit=500, offset=100)
            assert lean.runs(status="failed", limit=7) == old.runs(status="failed", limit=7)
            assert lean.run("r0003") == old.run("r0003")
            for src in (lean, old):
                with pytest.raises(errors.NotFound, match="r9999"):
                    src.run("r9999")
            assert runs_frame(lean, progress=False, eta=False).equals(
                runs_frame(old, progress=False, eta=False))
            before = lean.stats.not_modified + lean.stats.unchanged
            lean.pipelines()  # nothing changed: the cache answers
            assert lean.stats.not_modified + lean.stats.unchanged == before + 1
    finally:
        runner.stop()
