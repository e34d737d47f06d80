"""A 503 (a server busy for a moment: Prefect answers it when its database is locked) is
sent again after a pause, but only where repeating is safe: a GET, or a request the
server deduplicates by its idempotency key. Anything else answers with the 503."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from flowwidgets import errors
from flowwidgets.sources._http import AsyncHttp, Request, SyncHttp


def _busy_then_ok(busy: int, seen: list[str]):
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.method)
        if len(seen) <= busy:
            return httpx.Response(503, json={"exception_message": "Service Unavailable"},
                                  headers={"Retry-After": "0"})
        return httpx.Response(200, json={"ok": True})
    return handler


def _sync(busy: int, seen: list[str]) -> SyncHttp:
    client = httpx.Client(transport=httpx.MockTransport(_busy_then_ok(busy, seen)))
    return SyncHttp("http://127.0.0.1:9", None, 5.0, client=client)


def test_a_get_is_sent_again_after_a_503():
    seen: list[str] = []
    reply = _sync(2, seen).send(Request("GET", "/api/x", "GET /api/x"))
    assert reply.value == {"ok": True} and seen == ["GET"] * 3


def test_a_post_with_an_idempotency_key_is_sent_again_after_a_503():
    seen: list[str] = []
    reply = _sync(1, seen).send(Request("POST", "/api/x", "POST /api/x", body={},
                                        idempotency_key="k1"))
    assert reply.value == {"ok": True} and seen == ["POST", "POST"]


def test_a_post_without_a_key_answers_with_the_503():
    seen: list[str] = []
    with pytest.raises(errors.APIError) as caught:
        _sync(1, seen).send(Request("POST", "/api/x", "POST /api/x", body={}))
    assert seen == ["POST"] and "503" in str(caught.value)


def test_a_server_busy_for_good_answers_503_after_the_retries():
    seen: list[str] = []
    with pytest.raises(errors.APIError):
        _sync(99, seen).send(Request("GET", "/api/x", "GET /api/x"))
    assert len(seen) == 3  # the first try and two more


def test_the_async_client_waits_out_a_503_too():
    seen: list[str] = []

    async def go():
        client = httpx.AsyncClient(transport=httpx.MockTransport(_busy_then_ok(1, seen)))
        http = AsyncHttp("http://127.0.0.1:9", None, 5.0, client=client)
        try:
            return await http.send(Request("GET", "/api/x", "GET /api/x"))
        finally:
            await client.aclose()

    assert asyncio.run(go()).value == {"ok": True} and seen == ["GET", "GET"]
