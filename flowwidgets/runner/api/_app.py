"""``create_app``: the FastAPI app that serves a :class:`LocalRunner`'s status API."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from flowwidgets.errors import APIError
from flowwidgets.models import format_time
from flowwidgets.runner.api import _actions, _docs, _events, _flowtoy, _history, _read
from flowwidgets.runner.api._limits import MAX_BODY_BYTES, BodyLimit, validation_error
from flowwidgets.runner.api._middleware import BearerAuth, ConditionalGet
from flowwidgets.runner.api._schedule import NextFires

if TYPE_CHECKING:
    from flowwidgets.runner._local import LocalRunner

__all__ = ["TOKEN_ENV", "create_app"]

TOKEN_ENV = "FLOWWIDGETS_TOKEN"

_UNCACHED = frozenset({"/api/events", "/api/openapi.json", "/api/docs",
                       "/api/docs/oauth2-redirect"})
_FLOWTOY = frozenset({"/status", "/outputs"})
_KEPT = frozenset({"/status", "/api/pipelines"})
"""The polled answers the ETag middleware keeps: each is a function of the run log's
version (and, for /api/pipelines, of the fingerprint below) alone."""


def _conditional(path: str) -> bool:
    """GETs answered with ETags: everything under /api that reads the run log, and
    flowtoy's two paths."""
    return (path.startswith("/api/") and path not in _UNCACHED) or path in _FLOWTOY


def create_app(runner: LocalRunner, *, token: str | None = None,
               events_poll_s: float = 0.2, keepalive_s: float = 15.0) -> FastAPI:
    """The status API for ``runner``: ematix-flow's ``/api`` (plus our additions) and
    flowtoy's ``/status`` and ``/outputs``.

    ``token`` (default: ``$FLOWWIDGETS_TOKEN``) requires ``Authorization: Bearer`` on
    every path but ``/api/health``. ``events_poll_s`` and ``keepalive_s`` pace the
    server-sent events stream. Setting ``app.state.stopping`` ends open event streams
    (the server does it when it stops). CORS stays off.
    """
    from flowwidgets import __version__

    if token is None:
        token = os.environ.get(TOKEN_ENV) or None
    app = FastAPI(
        title="flowwidgets runner",
        version=__version__,
        summary="Status API of the flowwidgets local runner (ematix-flow /api compatible)",
        docs_url=None,  # Swagger UI needs a CDN: /api/docs is our own page (_docs.py)
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.runner = runner
    app.state.stopping = _events.StopSignal()
    app.state.events_poll_s = events_poll_s
    app.state.keepalive_s = keepalive_s
    app.state.next_fires = fires = NextFires(runner)
    app.state.token_required = token is not None

    for module in (_read, _history, _actions, _events, _flowtoy, _docs):
        app.include_router(module.router)

    @app.exception_handler(APIError)
    async def _runner_error(request: Request, exc: APIError) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)

    app.add_exception_handler(RequestValidationError, validation_error)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # JSON even for a bug; the traceback goes to the server's log, not to the client
        return JSONResponse({"detail": f"internal error ({type(exc).__name__}) while "
                                       f"answering {request.method} {request.url.path}; "
                                       "see the runner's log"}, status_code=500)

    app.add_middleware(ConditionalGet, version=runner.store.version, applies=_conditional,
                       fingerprint=lambda path: _time_fingerprint(runner, fires, path),
                       kept=_KEPT)
    app.add_middleware(BodyLimit, max_bytes=MAX_BODY_BYTES)
    if token is not None:
        app.add_middleware(BearerAuth, token=token)  # outermost: 401 before anything else
    return app


def _time_fingerprint(runner: LocalRunner, fires: NextFires, path: str) -> str:
    """What ``/api/pipelines`` shows that changes with time alone: the next fire times,
    and (for rates and the 7-day window) the current minute."""
    if path != "/api/pipelines":
        return ""
    now = datetime.now(UTC)
    times = [str(id(runner.pipelines))]  # a runner given other pipelines answers anew
    for p in runner.pipelines:
        if p.schedule and p.kind != "streaming":
            times.append(format_time(fires.next_run_at(p.name, now)) or "-")
    return f"{int(time.time() // 60)}|{','.join(times)}"
