"""``connect()`` recognises Airflow and Prefect; servers that answer garbage give errors
that name the endpoint and the field. Bodies come from the recordings where a real server
said them; the garbage is made up here, as no real server sends it."""

from __future__ import annotations

import copy
from typing import Any

import httpx
import pytest
from _cassette import PASSWORD, Cassette, airflow_source, prefect_source, replay_client

import flowwidgets.sources.airflow  # noqa: F401 - registers the Airflow probe
import flowwidgets.sources.prefect  # noqa: F401 - registers the Prefect probe
from flowwidgets import errors
from flowwidgets.models import Status
from flowwidgets.sources import connect
from flowwidgets.sources._airflow_flavour import AirflowFlavour
from flowwidgets.sources._prefect_flavour import PrefectFlavour
from flowwidgets.sources.airflow import AIRFLOW_RUN_STATES, AIRFLOW_TASK_STATES, connect_airflow
from flowwidgets.sources.prefect import PREFECT_RUN_STATES, PREFECT_TASK_STATES, connect_prefect

BASE = "http://runner.test"


def routed(routes: dict[str, Any], seen: list[str] | None = None) -> httpx.Client:
    """A client answering ``"METHOD /path"`` (query ignored) from ``routes``: a Response or
    a JSON body; anything else 404."""
    def handler(request: httpx.Request) -> httpx.Response:
        key = f"{request.method} {request.url.path}"
        if seen is not None:
            seen.append(key)
        route = routes.get(key)
        if route is None:
            return httpx.Response(404, json={"detail": "Not Found"})
        return route if isinstance(route, httpx.Response) else httpx.Response(200, json=route)
    return httpx.Client(transport=httpx.MockTransport(handler))


def recorded(scenario: str, method: str, path: str) -> Any:
    return copy.deepcopy(Cassette.load(scenario).find(method, path)["response"])


def airflow_routes() -> dict[str, Any]:
    """Detection and login as a real Airflow answers them (fresh Response objects: a
    client takes a response's stream over)."""
    return {
        "GET /api/v2/version": recorded("airflow_pipelines", "GET", "/api/v2/version"),
        "POST /auth/token": httpx.Response(201, json={"access_token": "t"}),
        "GET /api/v2/dags": recorded("airflow_pipelines", "GET", "/api/v2/dags?limit=1"),
    }


def test_connect_detects_airflow_and_logs_in_with_the_keywords():
    seen: list[str] = []
    with routed(airflow_routes(), seen) as client:
        src = connect(BASE, username="admin", password=PASSWORD, client=client)
        assert isinstance(src._flavour, AirflowFlavour) and src._flavour.version == "3.3.2"
        assert src.flavour == "airflow"
        assert src.capabilities == {"restart", "rerun", "run_now", "cancel"}
    assert seen == ["GET /api/health", "GET /api/v2/version", "POST /auth/token",
                    "GET /api/v2/dags"]


def test_connect_takes_airflow_credentials_from_the_environment(monkeypatch):
    monkeypatch.setenv("AIRFLOW_USERNAME", "admin")
    monkeypatch.setenv("AIRFLOW_PASSWORD", PASSWORD)
    with routed(airflow_routes()) as client:
        src = connect_airflow(f"{BASE}/api/v2", client=client)
        assert isinstance(src._flavour, AirflowFlavour) and src._flavour.can_login
        assert src.url == BASE
    with routed(airflow_routes()) as client, pytest.raises(TypeError, match="'password'"):
        connect(BASE, pasword="x", client=client)


def test_connect_detects_prefect_by_its_health_answer():
    routes = {"GET /api/health": True, "GET /api/admin/version": "3.8.8"}
    with routed(routes) as client:
        src = connect(f"{BASE}/api", client=client)
        assert isinstance(src._flavour, PrefectFlavour) and src._flavour.version == "3.8.8"
        assert src.flavour == "prefect"
        assert src.capabilities == {"rerun", "run_now", "cancel"}
    with routed(routes) as client:
        assert connect_prefect(BASE, client=client).flavour == "prefect"


def test_neither_flavour_claims_a_server_that_only_looks_alike():
    html = httpx.Response(200, text="<html>login</html>",
                          headers={"content-type": "text/html"})
    with routed({"GET /api/v2/version": html, "GET /api/health": "ok"}) as client:
        with pytest.raises(errors.RunnerUnavailable, match="no Airflow 3"):
            connect_airflow(BASE, client=client)
        with pytest.raises(errors.RunnerUnavailable, match="no Prefect"):
            connect_prefect(BASE, client=client)


def test_airflow_garbage_names_endpoint_and_field():
    clock = Cassette.load("airflow_pipelines").clock
    dags = recorded("airflow_pipelines", "GET", "/api/v2/dags?limit=100")
    runs = recorded("airflow_runs", "GET", "/api/v2/dags/~/dagRuns")
    html = httpx.Response(200, text="<html>maintenance</html>",
                          headers={"content-type": "text/html"})
    cases = [(html, "GET /api/v2/dags", "<body>"),
             ({**dags, "dags": {"fw": 1}}, "GET /api/v2/dags", "dags")]
    for body, ep, fld in cases:
        with routed({"GET /api/v2/dags": body}) as client:
            src = airflow_source(BASE, client, clock, start=False)
            with pytest.raises(errors.SchemaError) as e:
                src.pipelines()
            assert (e.value.endpoint, e.value.field) == (ep, fld)
    bad = copy.deepcopy(runs)
    bad["dag_runs"][0]["start_date"] = "yesterday"
    with routed({"GET /api/v2/dags/~/dagRuns": bad}) as client:
        with pytest.raises(errors.SchemaError, match="dag_runs\\[0\\].start_date.*not a time"):
            airflow_source(BASE, client, clock, start=False).runs()
    odd = copy.deepcopy(runs)
    odd["dag_runs"] = [r for r in odd["dag_runs"] if r["state"] != "failed"]
    odd["dag_runs"][0]["state"] = "exploded"
    with routed({"GET /api/v2/dags/~/dagRuns": odd}) as client:
        run = airflow_source(BASE, client, clock, start=False).runs().runs[0]
    assert run.status is Status.UNKNOWN and run.extra["raw_status"] == "exploded"


def test_airflow_server_errors_and_a_login_answer_without_a_token():
    with routed({"GET /api/v2/dags": httpx.Response(500, text="Internal Server Error")}) as c:
        with pytest.raises(errors.ServerError, match="500"):
            airflow_source(BASE, c, Cassette.load("airflow_runs").clock, start=False).pipelines()
    with routed({"POST /auth/token": httpx.Response(201, json={"token": "x"})}) as c:
        with pytest.raises(errors.SchemaError, match="access_token"):
            airflow_source(BASE, c, Cassette.load("airflow_runs").clock,
                           username="admin", password=PASSWORD)


def test_prefect_garbage_names_endpoint_and_field():
    c = Cassette.load("prefect_run_failed")
    run = c.find("GET", "/api/flow_runs/")["response"]
    tasks = c.find("POST", "/api/task_runs/filter")["response"]
    run_id = run["id"]
    cases = [
        ({"runs": []}, "POST /api/task_runs/filter", "<body>"),
        ([{**tasks[0], "task_inputs": ["x"]}], "POST /api/task_runs/filter",
         "[0].task_inputs"),
        ([{**tasks[0], "run_count": "two"}], "POST /api/task_runs/filter", "[0].run_count"),
    ]
    for body, ep, fld in cases:
        routes = {f"GET /api/flow_runs/{run_id}": run, "POST /api/task_runs/filter": body}
        with routed(routes) as client:
            with pytest.raises(errors.SchemaError) as e:
                prefect_source(BASE, client, c.clock).run(run_id)
        assert (e.value.endpoint, e.value.field) == (ep, fld)
    with routed({f"GET /api/flow_runs/{run_id}": {**run, "flow_id": None}}) as client:
        with pytest.raises(errors.SchemaError, match="flow_id"):
            prefect_source(BASE, client, c.clock).run(run_id)


def test_each_foreign_vocabulary_maps_into_the_step_and_run_subsets():
    from flowwidgets.models import RUN_STATUSES, STEP_STATUSES
    assert set(AIRFLOW_RUN_STATES.values()) <= RUN_STATUSES
    assert set(PREFECT_RUN_STATES.values()) <= RUN_STATUSES
    assert set(AIRFLOW_TASK_STATES.values()) <= STEP_STATUSES
    assert set(PREFECT_TASK_STATES.values()) <= STEP_STATUSES
    assert AIRFLOW_TASK_STATES["upstream_failed"] is Status.PENDING
    assert PREFECT_RUN_STATES["crashed"] is Status.FAILED


def test_replayed_sources_reject_requests_the_recording_does_not_have():
    c = Cassette.load("airflow_run_queued")
    with pytest.raises(AssertionError, match="unexpected GET"):
        airflow_source(BASE, replay_client(c), c.clock, username="admin",
                       password=PASSWORD).run("fw_paused/not-recorded")


def test_async_twins_connect_and_read_the_same_models():
    import asyncio

    from flowwidgets.sources._base import AsyncSource
    from flowwidgets.sources._http import AsyncHttp
    from flowwidgets.sources.airflow import AirflowFlavour, connect_airflow_async
    from flowwidgets.sources.prefect import connect_prefect_async

    c_sync, c_async = Cassette.load("airflow_run_failed"), Cassette.load("airflow_run_failed")
    run_id = "fw_diamond/" + c_sync.find("GET", "/api/v2/dags/fw_diamond/dagRuns/")[
        "response"]["dag_run_id"]
    sync_src = airflow_source(BASE, replay_client(c_sync), c_sync.clock, username="admin",
                              password=PASSWORD)
    expected = (sync_src.run(run_id), sync_src.step_log(run_id, "enrich"))

    def mock(routes: dict[str, Any]) -> httpx.AsyncClient:
        def handler(request: httpx.Request) -> httpx.Response:
            route = routes.get(f"{request.method} {request.url.path}")
            if isinstance(route, httpx.Response):
                return route
            return httpx.Response(200 if route is not None else 404, json=route)
        return httpx.AsyncClient(transport=httpx.MockTransport(handler))

    async def go() -> tuple:
        async with httpx.AsyncClient(transport=httpx.MockTransport(c_async.handler)) as cl:
            http = AsyncHttp(BASE, None, 30.0, cl)
            flavour = AirflowFlavour(http, username="admin", password=PASSWORD,
                                     version="3.3.2", clock=lambda: c_async.clock)
            src = AsyncSource(BASE, flavour, http)
            await src._drive(flavour.start())
            got = (await src.run(run_id), await src.step_log(run_id, "enrich"))
        async with mock(airflow_routes()) as cl:
            af = await connect_airflow_async(BASE, username="admin", password=PASSWORD,
                                             client=cl)
        async with mock({"GET /api/health": True, "GET /api/admin/version": "3.8.8"}) as cl:
            pf = await connect_prefect_async(BASE, client=cl)
        return got, af.flavour, pf.flavour

    got, af, pf = asyncio.run(go())
    assert got == expected
    assert (af, pf) == ("airflow", "prefect")


def test_change_feeds_name_the_endpoint_and_field_of_garbage():
    from flowwidgets.sources._airflow_cards import parse_keyset
    from flowwidgets.sources._cards_state import server_time
    from flowwidgets.sources._http import Reply
    from flowwidgets.sources._prefect_cards import parse_events

    with pytest.raises(errors.SchemaError) as e:
        parse_events({"events": [{"id": "e1", "resource": "prefect.flow-run.x"}]})
    assert (e.value.endpoint, e.value.field) == ("POST /api/events/filter",
                                                 "events[0].resource")
    ok = {"events": [{"id": "e1", "resource": {"prefect.resource.id": "prefect.flow-run.r1"}},
                     {"id": "e2", "resource": {"prefect.resource.id": "prefect.deployment.d"}}],
          "total": 2, "next_page": None}
    assert parse_events(ok) == ({"e1": "r1"}, None)
    ep = "GET /api/v2/dags/{dag_id}/dagRuns"
    with pytest.raises(errors.SchemaError, match="next_cursor"):
        parse_keyset(ep)({"dag_runs": [], "total_entries": 0, "next_cursor": ["c"]})
    assert server_time(Reply(200, None, headers=httpx.Headers({"date": "garbage"}))) is None
    assert server_time(Reply(200, None)) is None
