"""Source.cancel: the contract every flavour shares (ours posts; the others refuse)."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from ematix_flow.run_log.history import InMemoryRunHistory
from ematix_flow.web.server import create_app
from fwtest.http import BASE, mock_client, payload, starlette_client

from flowwidgets import errors
from flowwidgets.sources import connect, connect_async
from flowwidgets.sources._base import Flavour

OUR_HEALTH = {"status": "ok", "runner": "flowwidgets", "version": "0.1.0"}


def test_ours_posts_cancel_with_a_key_and_returns_the_status_word():
    seen: list[httpx.Request] = []
    routes = {"GET /api/health": OUR_HEALTH,
              "POST /api/runs/r 1/cancel": {"run_id": "r 1", "status": "cancelled"}}
    with mock_client(routes, seen=seen) as client:
        src = connect(BASE, client=client)
        assert "cancel" in src.capabilities
        assert src.cancel("r 1", idempotency_key="k-1") == "cancelled"
    post = seen[-1]
    assert post.method == "POST" and post.url.raw_path == b"/api/runs/r%201/cancel"
    assert post.headers["Idempotency-Key"] == "k-1"


def test_ours_reports_409_and_404_with_the_runner_detail():
    routes = {"GET /api/health": OUR_HEALTH,
              "POST /api/runs/done/cancel": httpx.Response(
                  409, json={"detail": "run done is succeeded; only requested or running "
                                       "runs can be cancelled"})}
    with mock_client(routes) as client:
        src = connect(BASE, client=client)
        with pytest.raises(errors.Conflict, match="only requested or running"):
            src.cancel("done")
        with pytest.raises(errors.NotFound):
            src.cancel("nope")


def test_async_twin_cancels_too():
    async def go() -> str:
        def handler(request: httpx.Request) -> httpx.Response:
            if request.url.path == "/api/health":
                return httpx.Response(200, json=OUR_HEALTH)
            assert request.method == "POST" and request.url.path == "/api/runs/a/cancel"
            return httpx.Response(200, json={"run_id": "a", "status": "cancelled"})

        async with httpx.AsyncClient(transport=httpx.MockTransport(handler),
                                     base_url=BASE) as client:
            src = await connect_async(BASE, client=client)
            return await src.cancel("a")

    assert asyncio.run(go()) == "cancelled"


def test_ematix_cannot_cancel_and_says_so_without_a_request():
    with starlette_client(create_app(history=InMemoryRunHistory())) as client:
        src = connect("http://testserver", client=client)
        assert "cancel" not in src.capabilities
        with pytest.raises(errors.ActionNotSupported, match="cancel"):
            src.cancel("any")


def test_flowtoy_cannot_cancel():
    with mock_client({"GET /status": payload("flowtoy_status_failed.json")}) as client:
        src = connect(BASE, client=client)
        with pytest.raises(errors.ActionNotSupported, match="cancel runs"):
            src.cancel("any")


def test_a_flavour_without_cancel_refuses_by_default():
    plan = Flavour().cancel("x", None)
    with pytest.raises(errors.ActionNotSupported, match="no cancel action"):
        next(plan)
