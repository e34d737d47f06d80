"""``connect``: find out which runner answers at a URL and return a Source for it."""

from __future__ import annotations

import difflib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar, cast

import httpx

from flowwidgets import errors
from flowwidgets.sources._base import AsyncSource, Flavour, Plan, Source
from flowwidgets.sources._http import AsyncHttp, HttpCore, Reply, SyncHttp
from flowwidgets.sources._registry import _PROBES, FlavourProbe, probes, register_flavour
from flowwidgets.sources.api import FlowwidgetsFlavour

__all__ = ["FlavourProbe", "connect", "connect_async", "register_flavour"]

FlowFiles = str | Path | Sequence[str | Path] | None
T = TypeVar("T")


def _check_options(options: dict[str, Any]) -> None:
    known = {o for p in _PROBES for o in p.options} - {"flow"}
    unknown = sorted(set(options) - known)
    if unknown:
        hint = difflib.get_close_matches(unknown[0], [*known, "token", "timeout", "flow",
                                                      "client"], n=1)
        raise TypeError(f"connect() got unexpected keyword argument(s) {unknown}"
                        + (f"; did you mean {hint[0]!r}?" if hint else ""))


def _once(plan: Plan[T], seen: dict[str, Reply]) -> Plan[T]:
    """Run ``plan`` answering its probe GETs from ``seen`` when an earlier probe of this
    ``connect`` sent the same one (so several probes may ask ``/api/health``: one request)."""
    try:
        req = next(plan)
        while True:
            if req.probe and req.method == "GET" and req.endpoint in seen:
                req = plan.send(seen[req.endpoint])
                continue
            try:
                reply = yield req
            except errors.SourceError as exc:
                req = plan.throw(exc)
                continue
            if req.probe and req.method == "GET":
                seen[req.endpoint] = reply
            req = plan.send(reply)
    except StopIteration as stop:
        return cast(T, stop.value)


def _detect(http: HttpCore, base: str, flow: FlowFiles, options: dict[str, Any]
            ) -> Plan[Flavour]:
    """Which runner answers at ``base``: the first registered probe (by order) that finds
    its runner builds the flavour (its ``start`` plan run once). Forgets what the probes
    cached."""
    seen: dict[str, Reply] = {}
    given = {**options, "flow": flow}
    for probe in probes():
        found = yield from _once(probe.detect(), seen)
        if found:
            flavour = probe.make(http, found, _pick(given, probe))
            if probe.start is not None:
                yield from probe.start(flavour)
            http.forget()
            return flavour
    codes = ", ".join(f"{ep} → {reply.status_code}" for ep, reply in seen.items())
    raise errors.RunnerUnavailable(base, f"no known runner API answers there ({codes})",
                                   list(seen))


def _resolve(url: str | None, client: Any) -> str:
    url = url or os.environ.get("RUNNER_STATUS_URL")
    if not url and client is not None and str(client.base_url):
        url = str(client.base_url)
    if not url:
        raise ValueError("no runner URL: pass connect(url=...) or set $RUNNER_STATUS_URL")
    url = url.strip().rstrip("/")
    for suffix in ("/status", "/api/health", "/api"):
        if url.endswith(suffix):
            url = url[: -len(suffix)]
    if "://" not in url:
        url = "http://" + url
    return url


def _pick(options: dict[str, Any], probe: FlavourProbe) -> dict[str, Any]:
    return {k: v for k, v in options.items() if k in probe.options}


def _token(token: str | None) -> str | None:
    return token if token is not None else os.environ.get("FLOWWIDGETS_TOKEN")


def connect(url: str | None = None, token: str | None = None, *, timeout: float = 10.0,
            flow: FlowFiles = None, client: httpx.Client | None = None,
            **options: Any) -> Source:
    """Connect to a runner and detect its API flavour.

    ``url`` defaults to ``$RUNNER_STATUS_URL`` (a flowtoy-style ``.../status`` URL is
    accepted); ``token`` to ``$FLOWWIDGETS_TOKEN``, or ``$EMATIX_FLOW_WEB_TOKEN`` for an
    ematix-flow server. ``flow`` names a flowtoy flow file (its step dependencies).
    ``client`` injects an ``httpx.Client`` (Starlette's ``TestClient(app)`` works).
    Other keywords go to registered flavours (:func:`register_flavour`), e.g. Airflow's
    ``username``/``password``. Raises RunnerUnavailable naming the URL and what was tried
    when nothing usable answers.
    """
    _check_options(options)
    base = _resolve(url, client)
    http = SyncHttp(base, _token(token), timeout, client)
    try:
        flavour = Source(base, FlowwidgetsFlavour(), http)._drive(
            _detect(http, base, flow, options))
    except BaseException:
        http.close()
        raise
    src = Source(base, flavour, http)
    src._warn_stub()
    return src


async def connect_async(url: str | None = None, token: str | None = None, *,
                        timeout: float = 10.0, flow: FlowFiles = None,
                        client: httpx.AsyncClient | None = None,
                        **options: Any) -> AsyncSource:
    """The async twin of :func:`connect`: returns an :class:`AsyncSource`."""
    _check_options(options)
    base = _resolve(url, client)
    http = AsyncHttp(base, _token(token), timeout, client)
    try:
        flavour = await AsyncSource(base, FlowwidgetsFlavour(), http)._drive(
            _detect(http, base, flow, options))
    except BaseException:
        await http.aclose()
        raise
    src = AsyncSource(base, flavour, http)
    src._warn_stub()
    return src
