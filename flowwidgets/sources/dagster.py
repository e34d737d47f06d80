"""The Dagster flavour: a Dagster webserver's GraphQL API (``/graphql``) as flowwidgets models.

Jobs are pipelines (their schedules' cron, timezone and next tick; a job with only
sensors, or nothing, shows as manual; a stopped schedule as paused), runs are runs (run
ids are Dagster's), the run's execution plan gives the steps and ``depends_on``, its step
stats the status, times and attempts, its event log the failed step's error (the user's
exception and stack) and, with the captured stdout/stderr, the step log tail. See
:mod:`._dagster_detail`.

Actions, as Dagster really does them (each a new run, Dagster's re-execution):

- **restart from the failed step**: ``launchRunReexecution`` with strategy
  ``FROM_FAILURE``: the failed steps and their downstream run, upstream outputs are loaded
  from the parent run's storage.
- **restart from a chosen step**: re-execution with that step and every step downstream of
  it selected (expanded here from the op graph: Dagster does not expand ``step*``), after
  checking every step upstream of the selection has an output to reuse.
- **rerun**: re-execution with ``ALL_STEPS``. **run now**: ``launchRun``.
- **cancel**: ``terminateRun`` (``SAFE_TERMINATE``).
- **resume from a watermark**: Dagster has none (ActionNotSupported).

Dagster does not deduplicate launches: an ``idempotency_key`` already used *through this
Source* returns the first answer without launching again.

Cost: the cards are two requests whatever the number of jobs (the job list, then one
document with an aliased run query per job and one list of the week's finished runs); a
later read asks which runs changed since and reads only those jobs' cards again (all of
them every 5 minutes). A run's detail is one request, two when a step failed (its event
log). The idle poll is ONE request (runs updated since the last
poll, plus the workspace's and schedules' states); cards are read again only for jobs
whose runs changed, and active runs' details on every poll.

The webserver has no authentication of its own (``--read-only`` refuses every mutation
with ``UnauthorizedError``, raised as :class:`~flowwidgets.errors.Unauthorized`); a token
given to ``connect`` is sent as a bearer token, for proxies in front of it.
"""

from __future__ import annotations

import os
from typing import Any

import httpx

from flowwidgets import errors
from flowwidgets.sources._base import AsyncSource, Flavour, Plan, Source
from flowwidgets.sources._dagster_flavour import DagsterFlavour
from flowwidgets.sources._dagster_parse import DAGSTER_RUN_STATES, DAGSTER_STEP_STATES
from flowwidgets.sources._http import AsyncHttp, HttpCore, Request, SyncHttp
from flowwidgets.sources._registry import FlavourProbe

__all__ = [
    "DAGSTER_RUN_STATES",
    "DAGSTER_STEP_STATES",
    "DagsterFlavour",
    "connect_dagster",
    "connect_dagster_async",
    "detect_dagster",
]


def detect_dagster() -> Plan[str | None]:
    """Probe ``GET /server_info`` (the Dagster webserver answers its versions): Dagster's
    version, else None."""
    reply = yield Request("GET", "/server_info", "GET /server_info", probe=True)
    data = reply.value
    if reply.status_code != 200 or not isinstance(data, dict):
        return None
    version = data.get("dagster_version") or data.get("dagster_webserver_version")
    if not isinstance(version, str) or not version:
        return None
    return version


def _base(url: str | None) -> str:
    url = url or os.environ.get("RUNNER_STATUS_URL") or os.environ.get("DAGSTER_WEBSERVER_URL")
    if not url:
        raise ValueError("no Dagster URL: pass connect_dagster(url) or set "
                         "$DAGSTER_WEBSERVER_URL")
    url = url.strip().rstrip("/")
    if url.endswith("/graphql"):
        url = url[: -len("/graphql")]
    return url if "://" in url else "http://" + url


def connect_dagster(url: str | None = None, *, token: str | None = None, timeout: float = 10.0,
                    client: httpx.Client | None = None) -> Source:
    """A Source for the Dagster webserver at ``url`` (``.../graphql`` accepted; default
    ``$DAGSTER_WEBSERVER_URL``). Raises RunnerUnavailable when no Dagster answers there."""
    base = _base(url)
    http = SyncHttp(base, token, timeout, client)
    try:
        version = Source(base, DagsterFlavour(), http)._drive(detect_dagster())
        if version is None:
            raise errors.RunnerUnavailable(base, "no Dagster webserver answers there",
                                           ["GET /server_info"])
    except BaseException:
        http.close()
        raise
    return Source(base, DagsterFlavour(version=version), http)


async def connect_dagster_async(url: str | None = None, *, token: str | None = None,
                                timeout: float = 10.0,
                                client: httpx.AsyncClient | None = None) -> AsyncSource:
    """The async twin of :func:`connect_dagster`."""
    base = _base(url)
    http = AsyncHttp(base, token, timeout, client)
    try:
        version = await AsyncSource(base, DagsterFlavour(), http)._drive(detect_dagster())
        if version is None:
            raise errors.RunnerUnavailable(base, "no Dagster webserver answers there",
                                           ["GET /server_info"])
    except BaseException:
        await http.aclose()
        raise
    return AsyncSource(base, DagsterFlavour(version=version), http)


def _make(http: HttpCore, version: str, options: dict[str, Any]) -> Flavour:
    return DagsterFlavour(version=version)


PROBE = FlavourProbe(name="dagster", detect=detect_dagster, make=_make)
"""How connect() recognises Dagster (registered in sources/_flavours.py)."""
