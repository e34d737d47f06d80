"""Hostile sizes: request bodies are bounded (413) and a 422 never echoes large input.

:class:`BodyLimit` is pure ASGI: a ``Content-Length`` over the limit is refused before a
byte is read; a chunked body is read here up to the limit (refused once it passes it)
and handed on. :func:`validation_error` is the 422 handler: FastAPI's error list, each ``input``
clipped to :data:`ECHO_CHARS`.
"""

from __future__ import annotations

import reprlib
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["ECHO_CHARS", "MAX_BODY_BYTES", "BodyLimit", "validation_error"]

MAX_BODY_BYTES = 64 * 1024
"""Largest request body the API reads (an action body is a few dozen bytes)."""
ECHO_CHARS = 200
"""Longest piece of a client's input repeated in a 422."""

_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = ECHO_CHARS
_REPR.maxlist = _REPR.maxdict = _REPR.maxtuple = 8
_REPR.maxlevel = 3


class BodyLimit:
    """Refuse request bodies larger than ``max_bytes`` with 413 ``{"detail": ...}``."""

    def __init__(self, app: ASGIApp, *, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = Headers(scope=scope).get("content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            await self._refuse(scope, receive, send)
            return
        if length is not None or scope["method"] in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        # no length (chunked): read it here, bounded, then hand it on
        body = bytearray()
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay(bytes(body), receive), send)
                return
            body += message.get("body", b"")
            if len(body) > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
            more = message.get("more_body", False)
        await self.app(scope, _replay(bytes(body), receive), send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        detail = (f"request body larger than {self.max_bytes:,} bytes; the API's bodies are "
                  "small JSON objects, e.g. {\"from_step\": \"merge\"}")
        await JSONResponse({"detail": detail}, status_code=413)(scope, receive, send)


def _replay(body: bytes, then: Receive) -> Receive:
    """A ``receive`` that gives ``body`` once, then what ``then`` receives (a disconnect)."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await then()

    return receive


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    """422 with FastAPI's error list, each ``input`` shown through a bounded repr."""
    assert isinstance(exc, RequestValidationError)
    errors: list[dict[str, Any]] = []
    for err in exc.errors()[:20]:
        item = {k: v for k, v in err.items() if k not in ("input", "ctx", "url")}
        if "input" in err:
            value = err["input"]
            item["input"] = value if _small(value) else _REPR.repr(value)
        errors.append(item)
    return JSONResponse({"detail": errors}, status_code=422)


def _small(value: Any) -> bool:
    if value is None or isinstance(value, bool | int | float):
        return True
    if isinstance(value, str | bytes):
        return len(value) <= ECHO_CHARS
    shown = _REPR.repr(value)  # bounded: never walks a whole large value
    return len(shown) < ECHO_CHARS and "..." not in shown
