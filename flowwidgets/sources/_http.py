"""The one httpx wrapper: requests as data, errors mapped, conditional GETs cached.

A flavour describes each call as a :class:`Request`; :class:`SyncHttp` or
:class:`AsyncHttp` sends it and returns a :class:`Reply`. Everything between the two I/O
twins (headers, error mapping, JSON decoding, the ETag / same-body cache, statistics) lives
in :class:`HttpCore`, so the sync and async sources behave identically.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx

from flowwidgets import errors
from flowwidgets.sources._http_answers import (
    api_error,
    decode_json,
    has_request,
    header_bytes,
    maybe_json,
    short,
)
from flowwidgets.sources._lean import LeanClient, Unreadable, lean_fits

__all__ = ["AsyncHttp", "HttpCore", "Reply", "Request", "SyncHttp"]

USER_AGENT = "flowwidgets/0.1"
_RETRY_DELAYS = (0.2, 0.5)
"""Pauses before the retries of a request that may be retried (connection errors only)."""
_CACHE_SIZE = 128


@dataclass(frozen=True, slots=True)
class Request:
    """One HTTP call a flavour wants made."""

    method: str
    path: str
    """Path below the runner's base URL, already percent-encoded (``/api/runs/abc``)."""
    endpoint: str
    """How errors name the call: ``GET /api/runs/{id}``."""
    params: dict[str, Any] | None = None
    body: Any = None
    parse: Callable[[Any], Any] | None = None
    """Turns the decoded JSON into a model; its result is what the reply carries."""
    cache: bool = False
    """Keep the parsed result per URL and revalidate it (ETag, or the same body)."""
    idempotency_key: str | None = None
    """Sent as ``Idempotency-Key``; allows retrying a POST whose answer was lost."""
    probe: bool = False
    """Probing (flavour detection): every status comes back as a reply, never raised, with
    the body decoded as JSON when it is JSON and None otherwise."""


@dataclass(slots=True)
class Reply:
    """What came back: the status, the parsed value (or decoded JSON), whether it was cached."""

    status_code: int
    value: Any
    from_cache: bool = False
    headers: httpx.Headers | None = None


@dataclass(slots=True)
class _Entry:
    etag: str | None
    body: bytes
    """The answer's bytes: an unchanged answer is found by comparing them (exact; for
    163 KB about 3 µs, where a blake2b hash took 215 µs)."""
    value: Any


@dataclass(slots=True)
class Stats:
    """Counters for what a source sent and received (benchmarks, the idle-poll cost)."""

    requests: int = 0
    not_modified: int = 0
    unchanged: int = 0
    bytes_received: int = 0
    """Body plus header bytes of every response."""
    extra: dict[str, int] = field(default_factory=dict)


class HttpCore:
    """Shared, I/O-free half of the HTTP wrapper."""

    def __init__(self, base_url: str, token: str | None, timeout: float):
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.stats = Stats()
        self._cache: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    # ---- building ----------------------------------------------------------------------

    def url_for(self, req: Request) -> str:
        """The absolute URL of a request (query included), also the cache key."""
        url = self.base_url + req.path
        if req.params:
            items = [(k, v) for k, v in req.params.items() if v is not None]
            if items:
                url += "?" + urlencode(items)
        return url

    def headers_for(self, req: Request, url: str) -> dict[str, str]:
        """Accept, auth, idempotency and conditional headers."""
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if req.idempotency_key:
            headers["Idempotency-Key"] = req.idempotency_key
        elif req.method != "GET":
            # A POST that cannot be retried safely: do not leave its connection in the pool,
            # where a server that drops it after an error (uvicorn after a 500) would turn
            # the next call into an unexplained "connection reset".
            headers["Connection"] = "close"
        if req.cache:
            with self._lock:
                entry = self._cache.get(url)
            if entry is not None and entry.etag:
                headers["If-None-Match"] = entry.etag
        return headers

    def kwargs_for(self, req: Request) -> tuple[str, dict[str, Any]]:
        """``(url, kwargs)`` for ``client.request``."""
        url = self.url_for(req)
        kwargs: dict[str, Any] = {"headers": self.headers_for(req, url)}
        if req.method != "GET":
            kwargs["json"] = req.body if req.body is not None else {}
        return url, kwargs

    # ---- reading -----------------------------------------------------------------------

    def handle(self, req: Request, response: httpx.Response) -> Reply:
        """Map an HTTP response to a Reply, or raise the matching APIError/SchemaError."""
        cache_key = self.url_for(req) if req.cache else ""
        content = response.content
        with self._lock:
            self.stats.requests += 1
            self.stats.bytes_received += len(content) + header_bytes(response)
        code = response.status_code
        if code == 304 and req.cache:
            with self._lock:
                entry = self._cache.get(cache_key)
                if entry is not None:
                    self._cache.move_to_end(cache_key)
                    self.stats.not_modified += 1
            if entry is not None:
                return Reply(304, entry.value, from_cache=True, headers=response.headers)
            raise errors.SchemaError(req.endpoint, "<status>",
                                     "answered 304 Not Modified to a request that was "
                                     "not conditional", None)
        if req.probe:
            return Reply(code, maybe_json(response), headers=response.headers)
        if code >= 300:
            url = str(response.request.url) if has_request(response) else self.url_for(req)
            raise api_error(req, response, url)
        if req.cache:
            with self._lock:
                entry = self._cache.get(cache_key)
            if entry is not None and entry.body == content:
                with self._lock:
                    self.stats.unchanged += 1
                    entry.etag = response.headers.get("etag") or entry.etag
                return Reply(code, entry.value, from_cache=True, headers=response.headers)
        if req.method != "GET" and not content.strip():
            data: Any = None
        else:
            data = decode_json(req, response)
        value = req.parse(data) if req.parse is not None else data
        if req.cache:
            with self._lock:
                self._cache[cache_key] = _Entry(response.headers.get("etag"), content, value)
                self._cache.move_to_end(cache_key)
                while len(self._cache) > _CACHE_SIZE:
                    self._cache.popitem(last=False)
        return Reply(code, value, headers=response.headers)

    def unavailable(self, req: Request, exc: Exception) -> errors.RunnerUnavailable:
        """A transport failure as RunnerUnavailable naming the URL and what was tried."""
        if isinstance(exc, httpx.TimeoutException):
            reason = (f"no answer within {self.timeout:g} s to {req.endpoint} "
                      f"({type(exc).__name__})")
        elif isinstance(exc, httpx.ConnectError):
            reason = f"connection failed for {req.endpoint}: {short(exc)}"
        else:
            reason = f"{req.endpoint} failed: {type(exc).__name__}: {short(exc)}"
        return errors.RunnerUnavailable(self.base_url, reason, [f"{req.method} {req.path}"])

    def retry_pause(self, req: Request, exc: httpx.TransportError, attempt: int) -> float:
        """Seconds to wait before retrying ``req`` after ``exc`` (its ``attempt``-th
        failure, from 0); raises RunnerUnavailable when :meth:`may_retry` says no."""
        if self.may_retry(req, exc, attempt):
            return _RETRY_DELAYS[attempt]
        raise self.unavailable(req, exc) from exc

    @staticmethod
    def may_retry(req: Request, exc: Exception, attempt: int) -> bool:
        """Connection errors (nothing was sent) always; a lost answer only when the server
        deduplicates (an idempotency key) or the call is a GET; never a timeout of a GET."""
        if attempt >= len(_RETRY_DELAYS):
            return False
        if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
            return True
        if isinstance(exc, httpx.TimeoutException):
            return req.idempotency_key is not None
        if isinstance(exc, httpx.TransportError):
            return req.method == "GET" or req.idempotency_key is not None
        return False

    @staticmethod
    def busy_pause(req: Request, response: httpx.Response, attempt: int) -> float | None:
        """Seconds to wait before sending ``req`` again after a 503 (a server busy for a
        moment, e.g. Prefect's database locked), None to answer with the 503. Only what may
        be repeated: a GET, or a request the server deduplicates (an idempotency key).
        The server's ``Retry-After`` is followed up to 2 s."""
        if response.status_code != 503 or attempt >= len(_RETRY_DELAYS):
            return None
        if req.method != "GET" and req.idempotency_key is None:
            return None
        try:
            after = float(response.headers.get("retry-after", ""))
        except ValueError:
            after = 0.0
        return min(max(after, _RETRY_DELAYS[attempt]), 2.0)

    def forget(self) -> None:
        """Drop every cached result."""
        with self._lock:
            self._cache.clear()


class SyncHttp(HttpCore):
    """Blocking I/O over an ``httpx.Client`` (ours, or one the caller injected); with our
    own client, plain-http requests go by the lean client (:mod:`._lean`)."""

    def __init__(self, base_url: str, token: str | None, timeout: float,
                 client: httpx.Client | None = None, *, lean: bool = True):
        super().__init__(base_url, token, timeout)
        self.owns_client = client is None
        self.client = client if client is not None else httpx.Client(
            timeout=httpx.Timeout(timeout), follow_redirects=False)
        self.lean: LeanClient | None = None
        """Our plain-http requests go by :class:`LeanClient` (``http.client``, about a
        third of httpx's CPU per request) when we own the client and no proxy applies;
        ``lean=False`` keeps httpx for everything."""
        if lean and self.owns_client and lean_fits(self.base_url, self.client):
            self.lean = LeanClient(self.base_url, timeout)
        self._retired: LeanClient | None = None

    @property
    def streams(self) -> bool:
        """True when requests go over the network (our client, or an injected one on
        httpx's own transport), so a long-lived event stream makes sense; False for
        in-process transports (Starlette's TestClient, MockTransport)."""
        if self.owns_client:
            return True
        transport = getattr(self.client, "_transport", None)  # httpx has no public getter
        return isinstance(transport, httpx.HTTPTransport)

    @contextmanager
    def stream_events(self, path: str, last_event_id: str | None, read_timeout: float
                      ) -> Iterator[httpx.Response | None]:
        """``GET path`` as a server-sent event stream: the open 200 response, or None when
        the runner has no usable stream there (a 4xx other than 401/403)."""
        req = Request("GET", path, f"GET {path}")
        url = self.url_for(req)
        headers = self.headers_for(req, url)
        headers["Accept"] = "text/event-stream"
        if last_event_id is not None:
            headers["Last-Event-ID"] = last_event_id
        timeout = httpx.Timeout(self.timeout, read=read_timeout)
        try:
            with self.client.stream("GET", url, headers=headers, timeout=timeout) as resp:
                if 400 <= resp.status_code < 500 and resp.status_code not in (401, 403):
                    resp.read()
                    yield None
                    return
                if resp.status_code != 200:
                    resp.read()
                    self.handle(req, resp)  # raises the mapped APIError
                    raise errors.SchemaError(req.endpoint, "<status>",
                                             f"answered {resp.status_code}", None)
                yield resp
        except httpx.TransportError as exc:
            raise self.unavailable(req, exc) from exc

    def send(self, req: Request) -> Reply:
        """Send ``req``; retries connection failures as :meth:`may_retry` allows, and a
        503 as :meth:`busy_pause` does."""
        url, kwargs = self.kwargs_for(req)
        lean = self.lean
        client: LeanClient | httpx.Client = \
            lean if lean is not None and lean.takes(url) else self.client
        attempt = 0
        while True:
            try:
                response = client.request(req.method, url, **kwargs)
            except httpx.TransportError as exc:
                if isinstance(exc, Unreadable):  # a head only httpx reads: httpx from now on
                    self._retire_lean()
                    client = self.client
                time.sleep(self.retry_pause(req, exc, attempt))
                attempt += 1
                continue
            if client is lean and "set-cookie" in response.headers:
                self._keep_cookies(response)
            pause = self.busy_pause(req, response, attempt)
            if pause is not None:
                response.close()
                time.sleep(pause)
                attempt += 1
                continue
            return self.handle(req, response)

    def _keep_cookies(self, response: httpx.Response) -> None:
        """A runner that sets cookies expects them back: httpx keeps its jar, so from
        now on every request goes by httpx, starting with this response's cookies."""
        self.client.cookies.extract_cookies(response)
        self._retire_lean()

    def _retire_lean(self) -> None:
        """Send by httpx from now on (the lean client is closed with this wrapper: another
        thread may be using it now)."""
        if self.lean is not None:
            self._retired, self.lean = self.lean, None

    def close(self) -> None:
        """Close the client if this wrapper created it."""
        if self.owns_client:
            for lean in (self.lean, self._retired):
                if lean is not None:
                    lean.close()
            self.client.close()


class AsyncHttp(HttpCore):
    """Async I/O over an ``httpx.AsyncClient``."""

    def __init__(self, base_url: str, token: str | None, timeout: float,
                 client: httpx.AsyncClient | None = None):
        super().__init__(base_url, token, timeout)
        self.owns_client = client is None
        self.client = client if client is not None else httpx.AsyncClient(
            timeout=httpx.Timeout(timeout), follow_redirects=False)

    async def send(self, req: Request) -> Reply:
        """Send ``req``; retries connection failures as :meth:`may_retry` allows, and a
        503 as :meth:`busy_pause` does."""
        url, kwargs = self.kwargs_for(req)
        attempt = 0
        while True:
            try:
                response = await self.client.request(req.method, url, **kwargs)
            except httpx.TransportError as exc:
                await asyncio.sleep(self.retry_pause(req, exc, attempt))
                attempt += 1
                continue
            pause = self.busy_pause(req, response, attempt)
            if pause is not None:
                await response.aclose()
                await asyncio.sleep(pause)
                attempt += 1
                continue
            return self.handle(req, response)

    async def aclose(self) -> None:
        """Close the client if this wrapper created it."""
        if self.owns_client:
            await self.client.aclose()


# ---- helpers ---------------------------------------------------------------------------
