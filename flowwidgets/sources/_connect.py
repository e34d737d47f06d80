"""``connect``: find out which runner answers at a URL and return a Source for it."""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from flowwidgets import errors
from flowwidgets.sources._base import AsyncSource, Flavour, Plan, Source
from flowwidgets.sources._http import AsyncHttp, HttpCore, Request, SyncHttp
from flowwidgets.sources.api import EmatixFlavour, FlowwidgetsFlavour, looks_like_stub
from flowwidgets.sources.flowtoy import FlowtoyFlavour

__all__ = ["FlavourProbe", "connect", "connect_async", "register_flavour"]

FlowFiles = str | Path | Sequence[str | Path] | None


@dataclass(frozen=True, slots=True)
class FlavourProbe:
    """How :func:`connect` recognises another runner (Airflow, Prefect, ...).

    ``detect()`` is a plan of probe requests returning something truthy (a version, say)
    when its runner answers, else None; ``make(http, found, options)`` builds the flavour
    (``options`` holds the keywords of ``connect`` named in ``options``, e.g. username);
    ``start(flavour)``, if given, is a plan run once before the Source is returned (a
    login, a check that the credentials work).
    """

    name: str
    detect: Callable[[], Plan[Any]]
    make: Callable[[HttpCore, Any, dict[str, Any]], Flavour]
    start: Callable[[Flavour], Plan[None]] | None = None
    options: frozenset[str] = frozenset()


_PROBES: list[FlavourProbe] = []


def register_flavour(probe: FlavourProbe) -> None:
    """Let :func:`connect` detect another runner; probes run in registration order, after
    our /api and ematix-flow and before flowtoy. Registering a name again replaces it."""
    _PROBES[:] = [p for p in _PROBES if p.name != probe.name]
    _PROBES.append(probe)


def _check_options(options: dict[str, Any]) -> None:
    known = {o for p in _PROBES for o in p.options}
    unknown = sorted(set(options) - known)
    if unknown:
        hint = difflib.get_close_matches(unknown[0], [*known, "token", "timeout", "flow",
                                                      "client"], n=1)
        raise TypeError(f"connect() got unexpected keyword argument(s) {unknown}"
                        + (f"; did you mean {hint[0]!r}?" if hint else ""))


def _health_plan() -> Plan[tuple[str | None, int]]:
    """``("flowwidgets" | "api" | None, status code)``: our runner, another /api server,
    or no /api here."""
    reply = yield Request("GET", "/api/health", "GET /api/health", probe=True)
    if reply.status_code == 200 and isinstance(reply.value, dict):
        kind = "flowwidgets" if reply.value.get("runner") == "flowwidgets" else "api"
        return kind, reply.status_code
    return None, reply.status_code


def _ematix_plan() -> Plan[Flavour]:
    reply = yield Request("GET", "/api/pipelines", "GET /api/pipelines")
    data = reply.value
    if not isinstance(data, dict) or not isinstance(data.get("pipelines"), list):
        raise errors.SchemaError("GET /api/pipelines", "pipelines",
                                 "must be an array (is this an ematix-flow `flow web` server?)",
                                 data)
    return EmatixFlavour(stub_mode=looks_like_stub(data))


def _flowtoy_plan(url: str, health_code: int, flow: FlowFiles) -> Plan[Flavour]:
    reply = yield Request("GET", "/status", "GET /status", probe=True)
    d = reply.value
    if isinstance(d, dict) and (
        (reply.status_code == 200 and ("steps" in d or "run_id" in d
                                       or d.get("status") == "no-runner"))
        or (reply.status_code == 500 and "error" in d)
    ):
        return FlowtoyFlavour(flow=flow)
    raise errors.RunnerUnavailable(
        url, f"no known runner API answers there (GET /api/health → {health_code}, "
        f"GET /status → {reply.status_code})", ["GET /api/health", "GET /status"])


def _detect(http: HttpCore, base: str, flow: FlowFiles, options: dict[str, Any]
            ) -> Plan[Flavour]:
    """Which runner answers at ``base``: our runner, ematix-flow, a registered flavour
    (its ``start`` plan run once), else flowtoy. Forgets what the probes cached."""
    kind, code = yield from _health_plan()
    if kind == "flowwidgets":
        flavour: Flavour = FlowwidgetsFlavour()
    elif kind == "api":
        if http.token is None:
            http.token = os.environ.get("EMATIX_FLOW_WEB_TOKEN")
        flavour = yield from _ematix_plan()
    else:
        for probe in list(_PROBES):
            found = yield from probe.detect()
            if found:
                flavour = probe.make(http, found, _pick(options, probe))
                if probe.start is not None:
                    yield from probe.start(flavour)
                break
        else:
            flavour = yield from _flowtoy_plan(base, code, flow)
    http.forget()
    return flavour


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
