"""The Prefect 3 flavour: a real Prefect server's REST API (``/api``) as flowwidgets models.

Deployments are pipelines named ``"<flow>/<deployment>"`` (schedule, next scheduled run,
paused); a flow's runs started without a deployment make the pipeline ``"<flow>"``. Flow
runs are runs (future auto-scheduled runs are not history and stay out of the lists; the
next one is the card's "Next"); task runs collapsed by ``task_key`` (newest wins) with
dependencies from ``task_inputs`` are steps (see :mod:`._prefect_detail`). A run's
duration is Prefect's ``total_run_time`` (time spent running, retries summed). Prefect
writes task-run states through its event pipeline, seconds after the flow run's own state,
so the poller keeps reading a run's detail for 30 s after it ends.

Cost of one poll (see :mod:`._prefect_cards`): two requests while nothing changed,
whatever the number of deployments (the flow-run state events since the last poll, and
the flow runs that started, ended or came due since then), plus the flow and deployment
lists every 30 s; each changed pipeline costs three more (recent runs, total, next
scheduled run), and the newest-runs page is read again. The first contact reads every
card once (3 requests per deployment) and the 7-day counts in one aggregated read. A run
that starts or ends shows at the next poll; other state changes once Prefect has stored
their event (its event persister flushes every 5 s by default).

Actions, as Prefect really offers them:

- **rerun** is Prefect's *Retry* of a failed, crashed or cancelled deployment run: the flow
  run is set to ``AwaitingRetry`` (what Prefect's UI sends) and the deployment's runner or
  worker runs the *whole* flow again, in place (same flow run id, new task runs).
  Completed tasks are reused only with result persistence on. A run started by calling the
  flow directly can never be retried.
- **run now** creates a flow run from the deployment (``idempotency_key`` is Prefect's own).
- **restart from a chosen task** and **resume from a watermark** do not exist in Prefect:
  :class:`~flowwidgets.errors.ActionNotSupported`.

The server has no authentication by default; Prefect Cloud's account-scoped URLs are not
supported.
"""

from __future__ import annotations

import os
from typing import Any

import httpx

from flowwidgets import errors
from flowwidgets.sources._base import AsyncSource, Flavour, Plan, Source
from flowwidgets.sources._http import AsyncHttp, HttpCore, Request, SyncHttp
from flowwidgets.sources._prefect_flavour import PrefectFlavour
from flowwidgets.sources._prefect_parse import PREFECT_RUN_STATES, PREFECT_TASK_STATES
from flowwidgets.sources._registry import FlavourProbe

__all__ = [
    "PREFECT_RUN_STATES",
    "PREFECT_TASK_STATES",
    "PrefectFlavour",
    "connect_prefect",
    "connect_prefect_async",
    "detect_prefect",
]


def detect_prefect() -> Plan[str | None]:
    """Probe ``GET /api/health`` (a Prefect server answers ``true``): the server's version
    from ``GET /api/admin/version`` (``"unknown"`` when it does not say), else None."""
    reply = yield Request("GET", "/api/health", "GET /api/health", probe=True)
    if reply.status_code != 200 or reply.value is not True:
        return None
    version = yield Request("GET", "/api/admin/version", "GET /api/admin/version", probe=True)
    if version.status_code == 200 and isinstance(version.value, str) and version.value:
        return version.value
    return "unknown"


# ---- connecting ------------------------------------------------------------------------


def _base(url: str | None) -> str:
    url = url or os.environ.get("RUNNER_STATUS_URL") or os.environ.get("PREFECT_API_URL")
    if not url:
        raise ValueError("no Prefect URL: pass connect_prefect(url) or set $PREFECT_API_URL")
    url = url.strip().rstrip("/")
    if url.endswith("/api"):
        url = url[:-4]
    return url if "://" in url else "http://" + url


def connect_prefect(url: str | None = None, *, timeout: float = 10.0,
                    client: httpx.Client | None = None) -> Source:
    """A Source for the Prefect 3 server at ``url`` (``.../api`` accepted; default
    ``$PREFECT_API_URL``). Raises RunnerUnavailable when no Prefect answers there."""
    base = _base(url)
    http = SyncHttp(base, None, timeout, client)
    try:
        version = Source(base, PrefectFlavour(), http)._drive(detect_prefect())
        if version is None:
            raise errors.RunnerUnavailable(base, "no Prefect server answers there",
                                           ["GET /api/health"])
    except BaseException:
        http.close()
        raise
    return Source(base, PrefectFlavour(version=version), http)


async def connect_prefect_async(url: str | None = None, *, timeout: float = 10.0,
                                client: httpx.AsyncClient | None = None) -> AsyncSource:
    """The async twin of :func:`connect_prefect`."""
    base = _base(url)
    http = AsyncHttp(base, None, timeout, client)
    try:
        version = await AsyncSource(base, PrefectFlavour(), http)._drive(detect_prefect())
        if version is None:
            raise errors.RunnerUnavailable(base, "no Prefect server answers there",
                                           ["GET /api/health"])
    except BaseException:
        await http.aclose()
        raise
    return AsyncSource(base, PrefectFlavour(version=version), http)


def _make(http: HttpCore, version: str, options: dict[str, Any]) -> Flavour:
    return PrefectFlavour(version=None if version == "unknown" else version)


PROBE = FlavourProbe(name="prefect", detect=detect_prefect, make=_make)
"""How connect() recognises Prefect 3 (registered in sources/_flavours.py)."""
