"""Reading a runner's answer: its JSON (orjson where installed), and a failed answer as
the matching :class:`~flowwidgets.errors.APIError` with the server's own detail."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx

from flowwidgets import errors

if TYPE_CHECKING:
    from flowwidgets.sources._http import Request

_fast_loads: Callable[[bytes], Any] | None
try:  # faster decoding where the runner extra brought orjson; the core needs only json
    from orjson import loads as _fast_loads
except ImportError:  # the core install (tests/integration/test_core_install.py)
    _fast_loads = None

__all__ = ["api_error", "decode_json", "error_detail", "format_detail", "has_request",
           "header_bytes", "maybe_json", "short"]

_ERRORS: dict[int, type[errors.APIError]] = {
    400: errors.Unprocessable,
    401: errors.Unauthorized,
    403: errors.Unauthorized,
    404: errors.NotFound,
    409: errors.Conflict,
    422: errors.Unprocessable,
}


def api_error(req: Request, response: httpx.Response, url: str) -> errors.APIError:
    """The APIError subclass for a failed answer (by status), naming the call, its URL
    and the server's detail."""
    code = response.status_code
    detail = error_detail(response)
    cls = _ERRORS.get(code) or (errors.ServerError if code >= 500 else errors.APIError)
    reason = response.reason_phrase or ""
    message = f"{req.endpoint} at {url} answered {code} {reason}".rstrip()
    if detail not in (None, ""):
        message += f": {format_detail(detail)}"
    request = response.request if has_request(response) else None
    return cls(message, status_code=code, detail=detail, request=request, response=response)


def error_detail(response: httpx.Response) -> Any:
    """The server's own explanation: FastAPI's ``detail``, flowtoy's ``error``, or text."""
    data = maybe_json(response)
    if isinstance(data, dict):
        for key in ("detail", "error", "message"):
            if key in data:
                return data[key]
        return data
    if data is not None:
        return data
    text = response.text.strip()
    return text[:500] if text else None


def format_detail(detail: Any) -> str:
    """A detail as one readable line (FastAPI validation lists included)."""
    if isinstance(detail, list) and all(isinstance(d, dict) for d in detail):
        parts = []
        for d in detail:
            loc = ".".join(str(x) for x in d.get("loc", ()) if x != "body")
            parts.append(f"{loc}: {d.get('msg', d)}" if loc else str(d.get("msg", d)))
        return "; ".join(parts)
    text = str(detail)
    return text if len(text) <= 500 else text[:497] + "..."


def decode_json(req: Request, response: httpx.Response) -> Any:
    """The body as JSON, or SchemaError saying what came instead. orjson first where it is
    installed (about 2.5 times ``json`` on a page of 500 runs; an integer past 64 bits
    becomes the nearest float, as in JavaScript); what it refuses and ``json`` takes (NaN,
    UTF-16), and everything in a core install without it, goes through
    ``response.json()``."""
    if _fast_loads is not None:
        try:
            return _fast_loads(response.content)
        except ValueError:
            pass
    try:
        return response.json()
    except ValueError:
        ctype = response.headers.get("content-type", "no content type")
        head = response.text[:60].strip()
        raise errors.SchemaError(req.endpoint, "<body>",
                                 f"is not JSON (got {ctype}: {head!r})", None) from None


def maybe_json(response: httpx.Response) -> Any:
    """The body as JSON, or None when it is not JSON."""
    try:
        return response.json()
    except ValueError:
        return None


def has_request(response: httpx.Response) -> bool:
    """True when the response carries its request (one built by hand does not)."""
    try:
        response.request  # noqa: B018 - raises when the response was built by hand
    except RuntimeError:
        return False
    return True


def header_bytes(response: httpx.Response) -> int:
    """About how many bytes the status line and headers took on the wire."""
    return sum(len(k) + len(v) + 4 for k, v in response.headers.raw) + 17


def short(exc: Exception) -> str:
    """An exception as one short line (at most 200 characters)."""
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."
