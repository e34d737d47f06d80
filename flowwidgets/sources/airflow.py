"""The Airflow 3 flavour: a real Airflow's REST API (``/api/v2``) as flowwidgets models.

DAGs are pipelines (schedule, next run, paused), dag runs are runs, task instances joined
with the DAG's ``downstream_task_ids`` are steps with their dependencies, tries are
attempts, task logs are the log tails. Statistics (recent 10, median duration, 7-day
failure rate) come from the runs.

Run ids are ``"<dag_id>/<dag_run_id>"`` (the dag run id alone does not name its DAG); the
parts are percent-encoded in URLs (manual run ids hold ``:`` and ``+``).

Authentication: a JWT from ``POST /auth/token`` (``username``/``password``, also
``$AIRFLOW_USERNAME``/``$AIRFLOW_PASSWORD``) or one given as ``token``. When the server
answers 401/403 the flavour logs in again once and repeats the call; a second refusal is
:class:`~flowwidgets.errors.Unauthorized`.

Actions, as Airflow really does them:

- **restart from a task**: ``clearTaskInstances`` of that one dag run, the task and
  everything downstream, after checking the task exists in that run. Airflow restarts *in
  place*: the "new run" is the same dag run with new tries of the cleared tasks, so the
  id returned is the id given. Upstream tasks keep their tries (their XComs are reused).
  Airflow overwrites the run's start and end times; the tries keep the history.
- **rerun**: clear the whole dag run (again in place).
- **run now**: trigger a new dag run.
- **resume from a watermark**: Airflow has none (ActionNotSupported).

Cost of one poll (see :mod:`._airflow_cards`): one request while nothing changed,
whatever the number of DAGs (the dag runs of all DAGs updated since the last poll), plus
the DAG list every 30 s (1 request per 100 DAGs); a DAG whose runs changed costs two
more, and the newest-runs page is read again. The first contact reads each DAG's last 10
runs once (1 request per DAG) and the 7-day counts in one aggregated read. A run's detail
is 3 requests, plus one per task with several tries and one log read per failed task
(its error, up to 5); the poller reads the details of running runs every poll.

An ``idempotency_key`` makes ``run_now`` idempotent in Airflow itself (it becomes the dag
run id, which Airflow keeps unique); for restart and rerun, which Airflow cannot
deduplicate, a key already used *through this Source* returns the first answer without
clearing again.
"""

from __future__ import annotations

import os
from typing import Any

import httpx

from flowwidgets import errors
from flowwidgets.sources._airflow_flavour import AirflowFlavour
from flowwidgets.sources._airflow_parse import AIRFLOW_RUN_STATES, AIRFLOW_TASK_STATES
from flowwidgets.sources._base import AsyncSource, Flavour, Plan, Source
from flowwidgets.sources._http import AsyncHttp, HttpCore, Request, SyncHttp
from flowwidgets.sources._registry import FlavourProbe

__all__ = [
    "AIRFLOW_RUN_STATES",
    "AIRFLOW_TASK_STATES",
    "AirflowFlavour",
    "connect_airflow",
    "connect_airflow_async",
    "detect_airflow",
]

_V2 = "/api/v2"


def detect_airflow() -> Plan[str | None]:
    """Probe ``GET /api/v2/version``: the Airflow version when an Airflow 3 answers
    there (no credentials needed), else None."""
    reply = yield Request("GET", f"{_V2}/version", "GET /api/v2/version", probe=True)
    d = reply.value
    if reply.status_code == 200 and isinstance(d, dict) and isinstance(d.get("version"), str):
        return d["version"]
    return None


# ---- connecting ------------------------------------------------------------------------


def _credentials(username: str | None, password: str | None) -> tuple[str | None, str | None]:
    return (username if username is not None else os.environ.get("AIRFLOW_USERNAME"),
            password if password is not None else os.environ.get("AIRFLOW_PASSWORD"))


def _base(url: str | None) -> str:
    url = url or os.environ.get("RUNNER_STATUS_URL")
    if not url:
        raise ValueError("no Airflow URL: pass connect_airflow(url) or set $RUNNER_STATUS_URL")
    url = url.strip().rstrip("/")
    for suffix in ("/api/v2", "/api"):
        if url.endswith(suffix):
            url = url[: -len(suffix)]
    return url if "://" in url else "http://" + url


def connect_airflow(url: str | None = None, *, username: str | None = None,
                    password: str | None = None, token: str | None = None,
                    timeout: float = 10.0, client: httpx.Client | None = None) -> Source:
    """A Source for the Airflow 3 at ``url`` (checked with ``GET /api/v2/version``).

    Logs in with ``username``/``password`` (default ``$AIRFLOW_USERNAME`` /
    ``$AIRFLOW_PASSWORD``) unless a ``token`` is given. Raises RunnerUnavailable when no
    Airflow 3 answers there, Unauthorized when the credentials are refused.
    """
    base = _base(url)
    user, pw = _credentials(username, password)
    http = SyncHttp(base, token, timeout, client)
    try:
        probe = Source(base, AirflowFlavour(http), http)
        version = probe._drive(detect_airflow())
        if version is None:
            raise errors.RunnerUnavailable(base, "no Airflow 3 API answers there",
                                           ["GET /api/v2/version"])
        flavour = AirflowFlavour(http, username=user, password=pw, version=version)
        src = Source(base, flavour, http)
        src._drive(flavour.start())
    except BaseException:
        http.close()
        raise
    return src


async def connect_airflow_async(url: str | None = None, *, username: str | None = None,
                                password: str | None = None, token: str | None = None,
                                timeout: float = 10.0,
                                client: httpx.AsyncClient | None = None) -> AsyncSource:
    """The async twin of :func:`connect_airflow`."""
    base = _base(url)
    user, pw = _credentials(username, password)
    http = AsyncHttp(base, token, timeout, client)
    try:
        probe = AsyncSource(base, AirflowFlavour(http), http)
        version = await probe._drive(detect_airflow())
        if version is None:
            raise errors.RunnerUnavailable(base, "no Airflow 3 API answers there",
                                           ["GET /api/v2/version"])
        flavour = AirflowFlavour(http, username=user, password=pw, version=version)
        src = AsyncSource(base, flavour, http)
        await src._drive(flavour.start())
    except BaseException:
        await http.aclose()
        raise
    return src


def _make(http: HttpCore, version: str, options: dict[str, Any]) -> Flavour:
    user, pw = _credentials(options.get("username"), options.get("password"))
    return AirflowFlavour(http, username=user, password=pw, version=version)


def _start(flavour: Flavour) -> Plan[None]:
    assert isinstance(flavour, AirflowFlavour)
    return flavour.start()


PROBE = FlavourProbe(name="airflow", detect=detect_airflow, make=_make, start=_start,
                     options=frozenset({"username", "password"}))
"""How connect() recognises Airflow 3 (registered in sources/_flavours.py)."""
