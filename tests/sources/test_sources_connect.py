"""connect(): flavour detection, URL and token defaults, unreachable / slow / garbage runners."""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import httpx
import pytest
from ematix_flow.run_log.history import InMemoryRunHistory
from ematix_flow.web.server import create_app
from fwtest.http import BASE, free_port, mock_client, payload, starlette_client

from flowwidgets import errors
from flowwidgets.sources import StubModeWarning, connect, connect_async

OUR_HEALTH = {"status": "ok", "runner": "flowwidgets", "version": "0.1.0"}


def test_detects_our_runner_by_its_health_answer():
    seen: list[httpx.Request] = []
    with mock_client({"GET /api/health": OUR_HEALTH}, seen=seen) as client:
        src = connect(BASE, client=client)
        assert src.flavour == "flowwidgets"
        assert src.capabilities == {"restart", "rerun", "resume", "run_now", "cancel"}
        assert not src.stub_mode
        assert [r.url.path for r in seen] == ["/api/health"]


def test_detects_ematix_with_history_through_its_real_app():
    with starlette_client(create_app(history=InMemoryRunHistory())) as client:
        src = connect("http://testserver", client=client)
        assert src.flavour == "ematix"
        assert not src.stub_mode
        assert "resume" in src.capabilities
        assert src.pipelines() == []


def test_ematix_stub_mode_is_detected_warned_and_marked():
    with starlette_client(create_app()) as client:
        with pytest.warns(StubModeWarning, match="stub mode.*placeholder"):
            src = connect("http://testserver", client=client)
        assert src.stub_mode and src.capabilities == frozenset()
        pipes = src.pipelines()
        assert pipes and all(p.extra.get("stub") for p in pipes)
        assert all(r.extra.get("stub") for r in src.runs().runs)
        detail = src.run("01HQSTUB000000000000000002")
        assert detail.extra["stub"] and not detail.actions.any
        with pytest.raises(errors.ActionNotSupported, match="stub mode"):
            src.rerun("01HQSTUB000000000000000002")


def test_stub_mode_learned_from_a_400_on_an_action():
    # A stub server whose pipelines list does not show the stub ids yet: the POST tells.
    body = payload("ematix_stub_restart_400.json")["body"]
    routes = {
        "GET /api/health": {"status": "ok"},
        "GET /api/pipelines": {"pipelines": []},
        "POST /api/runs/x/restart": httpx.Response(400, json=body),
    }
    with mock_client(routes) as client:
        src = connect(BASE, client=client)
        assert not src.stub_mode
        with pytest.raises(errors.ActionNotSupported, match="stub mode"):
            src.restart("x")
        assert src.stub_mode and src.capabilities == frozenset()


def test_detects_flowtoy_by_status_and_accepts_its_status_url():
    routes = {"GET /status": payload("flowtoy_status_failed.json")}
    with mock_client(routes) as client:
        src = connect(BASE + "/status", client=client)
        assert src.flavour == "flowtoy" and src.url == BASE
        assert src.capabilities == frozenset()


def test_detects_flowtoy_before_its_runner_is_attached():
    with mock_client({"GET /status": {"status": "no-runner"}}) as client:
        assert connect(BASE, client=client).flavour == "flowtoy"


def test_url_and_tokens_come_from_the_environment(monkeypatch):
    seen: list[httpx.Request] = []
    routes = {"GET /api/health": {"status": "ok"}, "GET /api/pipelines": {"pipelines": []}}
    monkeypatch.setenv("RUNNER_STATUS_URL", "runner.test/api")
    monkeypatch.delenv("FLOWWIDGETS_TOKEN", raising=False)
    monkeypatch.setenv("EMATIX_FLOW_WEB_TOKEN", "em-secret")
    with mock_client(routes, seen=seen) as client:
        src = connect(client=client)
        assert src.url == "http://runner.test" and src.flavour == "ematix"
        assert seen[-1].headers["authorization"] == "Bearer em-secret"
    seen.clear()
    monkeypatch.setenv("FLOWWIDGETS_TOKEN", "fw-secret")
    with mock_client({"GET /api/health": OUR_HEALTH, "GET /api/pipelines": {"pipelines": []}},
                     seen=seen) as client:
        src = connect(client=client)
        src.pipelines()
        assert seen[-1].headers["authorization"] == "Bearer fw-secret"
    seen.clear()
    with mock_client({"GET /api/health": OUR_HEALTH, "GET /api/pipelines": {"pipelines": []}},
                     seen=seen) as client:
        connect(BASE, "explicit", client=client).pipelines()
        assert seen[-1].headers["authorization"] == "Bearer explicit"


def test_no_url_at_all_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("RUNNER_STATUS_URL", raising=False)
    with pytest.raises(ValueError, match="RUNNER_STATUS_URL"):
        connect()


def test_connection_refused_names_the_url_and_what_was_tried():
    port = free_port()
    started = time.monotonic()
    with pytest.raises(errors.RunnerUnavailable) as info:
        connect(f"http://127.0.0.1:{port}", timeout=2)
    assert time.monotonic() - started < 3
    assert info.value.url == f"http://127.0.0.1:{port}"
    assert "GET /api/health" in str(info.value) and "connection failed" in str(info.value)


def test_nothing_known_at_the_url():
    with mock_client({"GET /": "<html>hello</html>"}) as client:
        with pytest.raises(errors.RunnerUnavailable) as info:
            connect(BASE, client=client)
    assert "GET /api/health → 404" in str(info.value)
    # every probe's request, once each (Prefect reuses /api/health)
    assert info.value.tried == ["GET /api/health", "GET /api/v2/version", "GET /server_info",
                               "GET /status"]


def test_slow_runner_times_out_quickly_as_runner_unavailable():
    """A server that accepts and never answers: RunnerUnavailable after ``timeout``."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        accepted: list[socket.socket] = []
        stop = threading.Event()

        def accept() -> None:
            listener.settimeout(0.1)
            while not stop.is_set():
                try:
                    accepted.append(listener.accept()[0])
                except TimeoutError:
                    continue

        t = threading.Thread(target=accept)
        t.start()
        try:
            started = time.monotonic()
            with pytest.raises(errors.RunnerUnavailable, match=r"no answer within 0.3 s"):
                connect(f"http://127.0.0.1:{port}", timeout=0.3)
            assert time.monotonic() - started < 2
        finally:
            stop.set()
            t.join()
            for s in accepted:
                s.close()


def test_html_where_pipelines_json_should_be_is_a_schema_error():
    routes = {"GET /api/health": {"status": "ok"},
              "GET /api/pipelines": httpx.Response(200, html="<html>login</html>")}
    with mock_client(routes) as client:
        with pytest.raises(errors.SchemaError) as info:
            connect(BASE, client=client)
    assert info.value.endpoint == "GET /api/pipelines" and "not JSON" in str(info.value)


def test_ematix_token_missing_is_unauthorized_with_the_servers_detail():
    with starlette_client(create_app(history=InMemoryRunHistory(), bearer_token="s3")) as client:
        with pytest.raises(errors.Unauthorized) as info:
            connect("http://testserver", client=client)
        assert "missing Authorization" in str(info.value.detail)
        assert connect("http://testserver", "s3", client=client).flavour == "ematix"


def test_connect_async_detects_and_reads():
    async def main() -> tuple[str, int]:
        transport = httpx.MockTransport(lambda r: httpx.Response(
            200, json={"GET /api/health": OUR_HEALTH,
                       "GET /api/runs": payload("ematix_runs.json")}.get(
                f"{r.method} {r.url.path}", {})))
        async with httpx.AsyncClient(transport=transport) as client:
            src = await connect_async(BASE, client=client)
            page = await src.runs()
            return src.flavour, page.total

    assert asyncio.run(main()) == ("flowwidgets", 3)


def test_connect_closes_its_own_client_when_detection_fails():
    # filterwarnings=error turns an unclosed client's ResourceWarning into a failure.
    with pytest.raises(errors.RunnerUnavailable):
        connect(f"http://127.0.0.1:{free_port()}", timeout=1)


def test_registered_flavours_are_detected_with_their_options():
    from flowwidgets.sources import FlavourProbe, register_flavour
    from flowwidgets.sources._http import Request
    from flowwidgets.sources._registry import _PROBES
    from flowwidgets.sources.flowtoy import FlowtoyFlavour

    started: list[str] = []

    def detect():
        reply = yield Request("GET", "/api/v9/version", "GET /api/v9/version", probe=True)
        return reply.value.get("version") if reply.status_code == 200 else None

    def make(http, found, options):
        flavour = FlowtoyFlavour()
        flavour.name = f"fake-{found}-{options['username']}"
        return flavour

    def start(flavour):
        started.append(flavour.name)
        yield Request("GET", "/api/v9/version", "GET /api/v9/version")

    saved = list(_PROBES)  # the Airflow/Prefect probes also take username=
    _PROBES[:] = []
    register_flavour(FlavourProbe("fake", detect, make, start, frozenset({"username"})))
    try:
        with mock_client({"GET /api/v9/version": {"version": "9.1"}}) as client:
            src = connect(BASE, client=client, username="ada")
            assert src.flavour == "fake-9.1-ada" and started == ["fake-9.1-ada"]

        async def detect_async() -> str:  # the async twin runs the same detection plan
            transport = httpx.MockTransport(lambda r: httpx.Response(
                200, json={"version": "9.2"}) if r.url.path == "/api/v9/version"
                else httpx.Response(404, json={"detail": "Not Found"}))
            async with httpx.AsyncClient(transport=transport) as client:
                return (await connect_async(BASE, client=client, username="bo")).flavour

        assert asyncio.run(detect_async()) == "fake-9.2-bo" and started[-1] == "fake-9.2-bo"
        with pytest.raises(TypeError, match="did you mean 'username'"):
            connect(BASE, usernme="ada")
        _PROBES[:] = []
        with pytest.raises(TypeError, match="unexpected keyword"):
            connect(BASE, username="ada")
    finally:
        _PROBES[:] = saved


def test_the_async_twin_retries_a_lost_answer_like_the_sync_one():
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/health":
            return httpx.Response(200, json=OUR_HEALTH)
        calls.append(request)
        if len(calls) == 1:
            raise httpx.ReadError("connection reset", request=request)
        return httpx.Response(200, json={"new_run_id": "only-one"})

    async def main() -> str:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            src = await connect_async(BASE, client=client)
            return await src.rerun("r9")

    assert asyncio.run(main()) == "only-one"
    assert len(calls) == 2 and calls[0].headers["idempotency-key"] == calls[1].headers[
        "idempotency-key"]


def test_every_flavour_is_registered_in_one_place_in_detection_order():
    from flowwidgets.sources import _flavours
    from flowwidgets.sources._registry import probes

    names = [p.name for p in probes()]
    assert names[:2] == ["flowwidgets", "ematix"] and names[-1] == "flowtoy"
    assert {"airflow", "prefect"} <= set(names[2:-1])
    assert set(names) == {p.name for p in _flavours.BUILTIN} | set(names[2:-1])


def test_probes_share_one_health_request():
    seen: list[httpx.Request] = []
    with mock_client({"GET /status": {"status": "no-runner"}}, seen=seen) as client:
        assert connect(BASE, client=client).flavour == "flowtoy"
    paths = [r.url.path for r in seen]
    assert paths.count("/api/health") == 1, paths  # ours, ematix and Prefect all read it
