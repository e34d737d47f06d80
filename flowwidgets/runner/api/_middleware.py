"""Two pure-ASGI middlewares: the bearer-token gate and conditional GETs (ETag → 304).

Pure ASGI rather than ``BaseHTTPMiddleware`` so the server-sent events stream passes
through untouched and a client disconnect reaches it at once.
"""

from __future__ import annotations

import hashlib
import hmac
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["BearerAuth", "ConditionalGet", "etag_matches"]

OPEN_PATHS = frozenset({"/api/health"})
"""Paths answered without a token (load balancers and readiness probes)."""

KEPT_ANSWERS = 32
"""How many answers :class:`ConditionalGet` keeps by ETag (the least recently used go)."""
KEPT_BYTES = 4 << 20
"""Larger answers are not kept."""


class BearerAuth:
    """Require ``Authorization: Bearer <token>`` on every path except :data:`OPEN_PATHS`.

    The comparison is constant-time; failures are 401 ``{"detail": ...}`` with a
    ``WWW-Authenticate: Bearer`` header.
    """

    def __init__(self, app: ASGIApp, *, token: str) -> None:
        self.app = app
        self._token = token.encode("utf-8")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        header = Headers(scope=scope).get("authorization", "")
        scheme, _, presented = header.partition(" ")
        if scheme.lower() != "bearer" or not presented.strip():
            detail = "missing Authorization: Bearer <token> header"
        elif not hmac.compare_digest(presented.strip().encode("utf-8"), self._token):
            detail = "invalid bearer token"
        else:
            await self.app(scope, receive, send)
            return
        response = JSONResponse({"detail": detail}, status_code=401,
                                headers={"WWW-Authenticate": "Bearer"})
        await response(scope, receive, send)


def etag_matches(if_none_match: str, etag: str) -> bool:
    """Weak comparison of an ``If-None-Match`` header (a list, or ``*``) with ``etag``."""
    if not if_none_match:
        return False
    mine = etag.removeprefix("W/")
    for candidate in if_none_match.split(","):
        candidate = candidate.strip()
        if candidate == "*" or candidate.removeprefix("W/") == mine:
            return True
    return False


class ConditionalGet:
    """Weak ETags on GETs: the store's version, the request's path and query, and an
    optional ``fingerprint(path)`` for answers that also change with time (next fire
    times). A matching ``If-None-Match`` gets a bodiless 304 without running the route.

    The version is read *before* the route runs, so a write that lands meanwhile can only
    make the tag older than the body (the next poll then gets a 200), never newer.

    For the paths in ``kept`` the last 200 answers are kept by their ETag (at most
    :data:`KEPT_ANSWERS`, each up to :data:`KEPT_BYTES`): a poll without
    ``If-None-Match`` whose tag matches one gets that answer again without running the
    route, exactly what a 304 would have told a client that kept it.
    """

    def __init__(self, app: ASGIApp, *, version: Callable[[], int],
                 applies: Callable[[str], bool],
                 fingerprint: Callable[[str], str] | None = None,
                 kept: frozenset[str] = frozenset()) -> None:
        self.app = app
        self._version = version
        self._applies = applies
        self._fingerprint = fingerprint
        self._kept_paths = kept
        self._kept: OrderedDict[str, tuple[Message, bytes]] = OrderedDict()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] != "http" or scope["method"] != "GET"
                or not self._applies(scope["path"])):
            await self.app(scope, receive, send)
            return
        etag = self._etag(scope)
        headers = Headers(scope=scope)
        if etag_matches(headers.get("if-none-match", ""), etag):
            response = Response(status_code=304,
                                headers={"ETag": etag, "Cache-Control": "no-cache"})
            await response(scope, receive, send)
            return
        keep = scope["path"] in self._kept_paths
        if keep and etag in self._kept:
            start, body = self._kept[etag]
            self._kept.move_to_end(etag)
            await send({**start, "headers": list(start["headers"])})
            await send({"type": "http.response.body", "body": body, "more_body": False})
            return
        parts: list[bytes] = []
        started: list[Message] = []

        async def send_with_etag(message: Message) -> None:
            if message["type"] == "http.response.start":
                out = MutableHeaders(scope=message)
                out["Cache-Control"] = "no-cache"
                if message["status"] == 200:
                    out["ETag"] = etag
                    if keep:
                        started.append(message)
            elif started and message["type"] == "http.response.body":
                parts.append(message.get("body", b""))
                if not message.get("more_body", False):
                    self._keep(etag, started[0], b"".join(parts))
            await send(message)

        await self.app(scope, receive, send_with_etag)

    def _keep(self, etag: str, start: Message, body: bytes) -> None:
        if len(body) > KEPT_BYTES:
            return
        self._kept[etag] = (start, body)
        while len(self._kept) > KEPT_ANSWERS:
            self._kept.popitem(last=False)

    def _etag(self, scope: Scope) -> str:
        path: str = scope["path"]
        query: Any = scope.get("query_string", b"")
        h = hashlib.blake2b(digest_size=8)
        h.update(path.encode("utf-8", "surrogateescape"))
        h.update(b"?")
        h.update(bytes(query))
        if self._fingerprint is not None:
            h.update(b"#")
            h.update(self._fingerprint(path).encode("utf-8"))
        return f'W/"{self._version():x}-{h.hexdigest()}"'
