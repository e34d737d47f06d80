"""A lean blocking HTTP/1.1 client on ``http.client`` for the Sources' plain-http calls.

httpx spends about 0.4 ms of CPU per request on itself (URL and header models, stream
plumbing, the pool's bookkeeping): a third of a deep page of runs at a million runs.
:class:`LeanClient` sends the same request over a kept-alive ``http.client`` connection
and returns an ``httpx.Response`` built from the status, headers and body (httpx decodes
gzip and deflate), so :class:`~flowwidgets.sources._http.HttpCore` and everything after it
is unchanged. Failures are raised as the httpx exceptions that ``HttpCore.may_retry``
knows: a refused connection is ``httpx.ConnectError``, no answer in time
``httpx.ReadTimeout``, a connection dropped mid-answer ``httpx.RemoteProtocolError`` or
``httpx.ReadError``.

Connections are pooled per client (a few idle ones, each used by one request at a time,
so threads may share the client). An idle connection the server has closed (uvicorn's
keep-alive timeout, a restarted runner) is found before reuse, as httpcore does: its
socket is readable. If a reused connection still fails before any byte of the answer, a
GET or HEAD is sent once more on a fresh connection; other methods raise (the caller's
retry rules decide). A request that says ``Connection: close`` (a POST that may not be
retried) gets a connection of its own, never a pooled one. An answer whose head is past
http.client's limits raises :class:`Unreadable`; SyncHttp then sends by httpx.

:class:`~flowwidgets.sources._http.SyncHttp` uses it only for a plain ``http://`` base URL
that no proxy from the environment applies to (see :func:`lean_fits`), and only for
targets httpx would send unchanged; https, injected clients and the event stream stay
on httpx.
"""

from __future__ import annotations

import http.client
import ipaddress
import json as jsonlib
import re
import select
import socket
import threading
from typing import Any
from urllib.parse import urlsplit

import httpx

__all__ = ["LeanClient", "Unreadable", "lean_fits"]

MAX_IDLE = 8
"""Idle connections kept per client (one per thread that reads at the same time)."""
_NO_BODY: Any = object()
_IDEMPOTENT = frozenset({"GET", "HEAD"})
_PLAIN_TARGET = re.compile(r"/[A-Za-z0-9\-._~!$&'()*+,;=:@/%?]*")
"""Characters httpx sends as they are (it percent-encodes others)."""
_ODD_TARGET = re.compile(r"%(?![0-9A-Fa-f]{2})|/\.\.?(?:[/?]|$)")
"""A bare ``%`` (httpx writes ``%25``) or a dot segment (httpx removes it)."""
_MAX_LINE = 65536
"""http.client's limit on one header line."""


def lean_fits(base_url: str, client: httpx.Client) -> bool:
    """True when ``base_url`` is plain ``http://`` (no user info, no query) and httpx's
    ``client`` would send it straight to the server, not to a proxy from the environment
    (``HTTP_PROXY``, ``ALL_PROXY``, ``NO_PROXY``)."""
    try:
        parts = urlsplit(base_url)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        return False
    if parts.scheme != "http" or not parts.hostname or "@" in parts.netloc \
            or parts.query or parts.fragment or "#" in base_url:
        return False
    if parts.path and not _PLAIN_TARGET.fullmatch(parts.path):
        return False
    pick = getattr(client, "_transport_for_url", None)  # httpx has no public getter
    try:
        return pick is not None and pick(httpx.URL(base_url)) is client._transport
    except Exception:  # noqa: BLE001 - anything odd: leave it to httpx
        return False


def _loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _readable(sock: socket.socket | None) -> bool:
    """True when a read would not block: on an idle keep-alive connection that means the
    server closed it (EOF) or sent something unasked; either way it is not reusable."""
    if sock is None or sock.fileno() < 0:
        return True
    if not hasattr(select, "poll"):  # Windows
        return bool(select.select([sock], [], [], 0)[0])
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


class Unreadable(httpx.RemoteProtocolError):
    """An answer whose head is past http.client's limits (more than 100 header lines, a
    line over 64 KiB) that httpx reads (up to 100 KiB of head): send by httpx instead."""


class _Response(http.client.HTTPResponse):
    """http.client skips only a ``100 Continue`` before the answer; this skips every
    informational answer (``103 Early Hints`` from a proxy), as httpx does. A ``101`` is
    left as it is (we never ask to switch protocols)."""

    def _read_status(self) -> tuple[str, int, str]:
        while True:
            version, status, reason = super()._read_status()  # type: ignore[misc]
            if not 100 < status < 200 or status == 101:
                return version, status, reason
            while True:  # its header lines, up to the blank line
                line = self.fp.readline(_MAX_LINE + 1)
                if len(line) > _MAX_LINE:
                    raise http.client.LineTooLong("header line")
                if line in (b"\r\n", b"\n", b""):
                    break


class _Connection(http.client.HTTPConnection):
    response_class = _Response


def _bad_length(answer: http.client.HTTPResponse) -> bool:
    """True for a Content-Length that is not one number, or a Transfer-Encoding other than
    chunked (http.client would read on to the close; httpx refuses the answer)."""
    if answer.chunked:
        return False
    coding = answer.headers.get("transfer-encoding")
    if coding is not None and coding.strip().lower() != "identity":
        return True
    lengths = answer.headers.get_all("content-length") or []
    return bool(lengths) and (len(set(lengths)) > 1 or not lengths[0].strip().isdigit())


class _Unanswered(Exception):
    """Nothing of the answer arrived (the request may not have reached the server)."""

    def __init__(self, error: httpx.TransportError):
        super().__init__(str(error))
        self.error = error


class LeanClient:
    """Blocking HTTP/1.1 requests to one ``http://host:port``, pooled and thread-safe."""

    def __init__(self, base_url: str, timeout: float | None):
        parts = urlsplit(base_url)
        self.host = parts.hostname or ""
        self.port = parts.port or 80
        self.timeout = timeout
        self._prefix = len(parts.scheme) + 3 + len(parts.netloc)
        self._origin = base_url[:self._prefix]
        self._accept_encoding = None if _loopback(self.host) else "gzip, deflate"
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()
        self._closed = False

    def takes(self, url: str) -> bool:
        """True when ``url`` is on this client's origin and httpx would send its path and
        query unchanged (else the caller uses httpx)."""
        target = url[self._prefix:]
        return url.startswith(self._origin) and _PLAIN_TARGET.fullmatch(target) is not None \
            and _ODD_TARGET.search(target) is None

    def request(self, method: str, url: str, *, headers: dict[str, str],
                json: Any = _NO_BODY, timeout: float | None = None) -> httpx.Response:
        """Send one request (``json``: a body encoded as httpx encodes it) and read the
        whole answer. ``timeout``: seconds to connect and between reads (default the
        client's)."""
        if self._closed:
            raise RuntimeError("Cannot send a request, as the client has been closed.")
        wait = self.timeout if timeout is None else timeout
        body = None
        if json is not _NO_BODY:
            body = jsonlib.dumps(json, ensure_ascii=False, separators=(",", ":"),
                                 allow_nan=False).encode()
        one_shot = headers.get("Connection", "").lower() == "close"
        conn = None if one_shot else self._checkout()
        reused = conn is not None
        while True:
            if conn is None:
                conn = self._connect(method, url, wait)
            try:
                response, keep = self._exchange(conn, method, url, headers, body, wait)
            except _Unanswered as exc:
                conn.close()
                if reused and method in _IDEMPOTENT:  # a stale keep-alive connection
                    conn, reused = None, False
                    continue
                raise exc.error from exc.__cause__
            except BaseException:
                conn.close()
                raise
            if keep and not one_shot:
                self._checkin(conn)
            else:
                conn.close()
            return response

    def close(self) -> None:
        """Close the idle connections; those in use are closed when their answer is read."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    # ---- the pool ----------------------------------------------------------------------

    def _checkout(self) -> http.client.HTTPConnection | None:
        stale = []
        found = None
        with self._lock:
            while self._idle:
                conn = self._idle.pop()
                if not _readable(conn.sock):
                    found = conn
                    break
                stale.append(conn)
        for conn in stale:
            conn.close()
        return found

    def _checkin(self, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            if not self._closed and len(self._idle) < MAX_IDLE:
                self._idle.append(conn)
                return
        conn.close()

    def _connect(self, method: str, url: str, wait: float | None
                 ) -> http.client.HTTPConnection:
        conn = _Connection(self.host, self.port, timeout=wait)
        try:
            conn.connect()  # sets TCP_NODELAY
        except TimeoutError as exc:
            conn.close()
            raise httpx.ConnectTimeout(str(exc) or "timed out",
                                       request=httpx.Request(method, url)) from exc
        except OSError as exc:
            conn.close()
            raise httpx.ConnectError(str(exc), request=httpx.Request(method, url)) from exc
        return conn

    # ---- one exchange ------------------------------------------------------------------

    def _exchange(self, conn: http.client.HTTPConnection, method: str, url: str,
                  headers: dict[str, str], body: bytes | None, wait: float | None
                  ) -> tuple[httpx.Response, bool]:
        """Send the request and read the answer: ``(response, connection reusable)``."""
        def fail(cls: type[httpx.TransportError], exc: BaseException) -> httpx.TransportError:
            return cls(str(exc) or type(exc).__name__, request=httpx.Request(method, url))

        sock = conn.sock
        assert sock is not None
        sock.settimeout(wait)
        try:
            conn.putrequest(method, url[self._prefix:], skip_accept_encoding=True)
            if self._accept_encoding:
                conn.putheader("Accept-Encoding", self._accept_encoding)
            for name, value in headers.items():
                conn.putheader(name, value)
            if body is not None:
                conn.putheader("Content-Type", "application/json")
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)  # headers and body in one send
        except UnicodeError:
            raise  # as httpx raises it (before anything is sent)
        except ValueError as exc:  # a line break in a header value: httpx refuses it so
            raise fail(httpx.LocalProtocolError, exc) from exc
        except TimeoutError as exc:
            raise fail(httpx.WriteTimeout, exc) from exc
        except OSError as exc:
            raise _Unanswered(fail(httpx.WriteError, exc)) from exc
        try:
            answer = conn.getresponse()
        except TimeoutError as exc:
            raise fail(httpx.ReadTimeout, exc) from exc
        except http.client.RemoteDisconnected as exc:
            raise _Unanswered(httpx.RemoteProtocolError(
                "Server disconnected without sending a response.",
                request=httpx.Request(method, url))) from exc
        except OSError as exc:
            raise _Unanswered(fail(httpx.ReadError, exc)) from exc
        except http.client.HTTPException as exc:
            if isinstance(exc, http.client.LineTooLong) or str(exc).startswith("got more"):
                raise fail(Unreadable, exc) from exc
            raise fail(httpx.RemoteProtocolError, exc) from exc
        if _bad_length(answer):
            answer.close()
            raise httpx.RemoteProtocolError("bad Content-Length or Transfer-Encoding",
                                            request=httpx.Request(method, url))
        try:
            content = answer.read()
        except TimeoutError as exc:
            raise fail(httpx.ReadTimeout, exc) from exc
        except http.client.IncompleteRead as exc:
            raise httpx.RemoteProtocolError(
                "peer closed connection without sending complete message body "
                f"({len(exc.partial)} bytes read)",
                request=httpx.Request(method, url)) from exc
        except OSError as exc:
            raise fail(httpx.ReadError, exc) from exc
        except http.client.HTTPException as exc:
            raise fail(httpx.RemoteProtocolError, exc) from exc
        finally:
            answer.close()
        raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in answer.getheaders()]
        response = httpx.Response(  # a stream, so httpx adds no Content-Length of its own
            answer.status, headers=raw, stream=httpx.ByteStream(content),
            extensions={"http_version": b"HTTP/1.1",
                        "reason_phrase": answer.reason.encode("latin-1", "replace")})
        response.read()  # decodes gzip and deflate as the headers say
        if answer.status >= 300 or "set-cookie" in response.headers:
            response.request = httpx.Request(method, url)  # errors name it; cookies need it
        return response, not answer.will_close and conn.sock is not None
