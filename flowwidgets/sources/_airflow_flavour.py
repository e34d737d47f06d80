"""The Airflow flavour's plans (see :mod:`flowwidgets.sources.airflow` for what they do)."""

from __future__ import annotations

import getpass
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

from flowwidgets import errors
from flowwidgets.models import Pipeline, Run, RunDetail, RunPage, Status
from flowwidgets.sources import _fields as F
from flowwidgets.sources._airflow_cards import DagCards
from flowwidgets.sources._airflow_detail import build_detail
from flowwidgets.sources._airflow_parse import (
    AIRFLOW_RUN_STATES,
    TaskInstance,
    join_run_id,
    parse_failed_index,
    parse_log,
    parse_run,
    parse_runs_page,
    parse_task_instances,
    parse_tasks,
    split_run_id,
    tail,
)
from flowwidgets.sources._base import Flavour, Plan, Snapshot
from flowwidgets.sources._cards_state import read_details
from flowwidgets.sources._http import HttpCore, Reply, Request

__all__ = ["AirflowFlavour"]

PAGE = 100
"""Airflow's default ``maximum_page_limit``: larger limits are cut silently."""
_RUN_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_.~:+-]")
_V2 = "/api/v2"


def _seg(value: str) -> str:
    return quote(str(value), safe="")


def _q(path: str, params: dict[str, Any]) -> str:
    """``path?query`` with list values repeated (``state=a&state=b``), None dropped."""
    items = [(k, v) for k, v in params.items() if v is not None and v != []]
    return f"{path}?{urlencode(items, doseq=True)}" if items else path


def _who() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name in this environment
        return "an unknown user"


def _parse_token(data: Any) -> str:
    ep = "POST /auth/token"
    d = F.need_obj(data, ep, "")
    token = F.s(d, "access_token", ep, "", required=True)
    assert token is not None
    return token


class AirflowFlavour(Flavour):
    """Plans for Airflow 3's ``/api/v2`` (see the module docstring).

    ``http`` is the wrapper the Source sends through: the flavour sets its bearer token
    after each login. ``clock`` gives "now" for the 7-day window (tests pin it).
    """

    name = "airflow"
    capabilities = frozenset({"restart", "rerun", "run_now", "cancel"})

    def __init__(self, http: HttpCore, *, username: str | None = None,
                 password: str | None = None, version: str | None = None,
                 clock: Callable[[], datetime] | None = None):
        self._http = http
        self._username = username
        self._password = password
        self.version = version
        self._clock = clock or (lambda: datetime.now(UTC))
        self._lock = threading.Lock()
        self._cards = DagCards(self._call, self._clock)
        self._page: tuple[RunPage | None, int, dict[str, RunDetail]] = (None, -1, {})
        self._failed_index: OrderedDict[tuple[str, str, Any], str | None] = OrderedDict()
        self._done: OrderedDict[str, str] = OrderedDict()

    # ---- authentication ----------------------------------------------------------------

    @property
    def can_login(self) -> bool:
        """True when the flavour holds a username and password."""
        return bool(self._username) and self._password is not None

    def login(self) -> Plan[None]:
        """``POST /auth/token`` and use the JWT from then on."""
        body = {"username": self._username, "password": self._password}
        try:
            reply = yield Request("POST", "/auth/token", "POST /auth/token", body=body,
                                  parse=_parse_token)
        except errors.Unauthorized as exc:
            raise errors.Unauthorized(
                f"Airflow at {self._http.base_url} refused the username and password of "
                f"{self._username!r} (POST /auth/token answered {exc.status_code}: "
                f"{exc.detail})", status_code=exc.status_code, detail=exc.detail,
                request=exc.request, response=exc.response) from None
        self._http.token = reply.value

    def start(self) -> Plan[None]:
        """Log in (when there are credentials and no token yet) and check that the API
        lets us read DAGs, so bad credentials show at connect time."""
        if self._http.token is None and self.can_login:
            yield from self.login()
        yield from self._call(Request("GET", _q(f"{_V2}/dags", {"limit": 1}),
                                      "GET /api/v2/dags"))

    def _call(self, req: Request) -> Plan[Reply]:
        """Send ``req``; on 401/403 log in again once (when possible) and repeat it."""
        if self._http.token is None and self.can_login:
            yield from self.login()
        try:
            return (yield req)
        except errors.Unauthorized as exc:
            if not self.can_login:
                hint = ("the token was refused (expired?)" if self._http.token else
                        "this Airflow needs credentials")
                raise errors.Unauthorized(
                    f"{exc} — {hint}: pass username= and password= (or set "
                    "$AIRFLOW_USERNAME and $AIRFLOW_PASSWORD) so flowwidgets can log in",
                    status_code=exc.status_code, detail=exc.detail, request=exc.request,
                    response=exc.response) from None
        yield from self.login()
        return (yield req)

    def _get(self, path: str, ep: str, parse: Callable[[Any], Any],
             cache: bool = True) -> Plan[Any]:
        reply = yield from self._call(Request("GET", path, ep, parse=parse, cache=cache))
        return reply.value

    # ---- reading -----------------------------------------------------------------------

    def pipelines(self) -> Plan[tuple[Pipeline, ...]]:
        return (yield from self._cards.pipelines())

    def _forget_week(self, dag_id: str) -> None:
        """Read a DAG's runs and 7-day counts again: an action just changed them."""
        self._cards.mark_changed(dag_id)

    def snapshot(self) -> Plan[Snapshot]:
        """The cards (one request when idle, see :mod:`._airflow_cards`), the newest runs
        page only when a run changed since it was read, and the details of its active
        runs: running ones every poll (their tasks move while the run stays ``running``),
        queued ones only when the page was read again (nothing runs before they start)."""
        pipes = yield from self.pipelines()
        with self._lock:
            page, generation, kept = self._page
        fresh = page is None or generation != self._cards.generation
        if fresh:
            generation = self._cards.generation
            page = yield from self.runs(None, None, 50, 0, True)
        assert page is not None
        runs: dict[str, Any] = {r.run_id: r for r in page.runs}
        queued = yield from read_details([r for r in page.runs if r.status.is_active][:10],
                                         runs, kept, fresh, self.run)
        with self._lock:
            self._page = (page, generation, queued)
        return Snapshot({p.name: p for p in pipes}, runs)

    def runs(self, pipeline: str | None, status: Status | None, limit: int, offset: int,
             cache: bool) -> Plan[RunPage]:
        states = [k for k, v in AIRFLOW_RUN_STATES.items() if v is status] if status else []
        if status is not None and not states:
            return RunPage(runs=(), total=0, next_offset=None)  # no dag run has it
        dag = _seg(pipeline) if pipeline else "~"
        ep = "GET /api/v2/dags/{dag_id}/dagRuns"
        collected: list[Run] = []
        total = 0
        while len(collected) < limit:
            want = min(PAGE, limit - len(collected))
            page, total = yield from self._get(
                _q(f"{_V2}/dags/{dag}/dagRuns", {"order_by": "-run_after", "limit": want,
                                                 "offset": offset + len(collected),
                                                 "state": states}),
                ep, parse_runs_page(ep), cache=cache)
            collected.extend(page)
            if len(page) < want or offset + len(collected) >= total:
                break
        failed = [r for r in collected if r.status is Status.FAILED]
        if failed:
            index = yield from self._failed_tasks(failed)
            collected = [replace(r, failed_step=index.get(
                (r.extra["dag_id"], r.extra["dag_run_id"])))
                if r.status is Status.FAILED else r for r in collected]
        end = offset + len(collected)
        return RunPage(runs=tuple(collected), total=total,
                       next_offset=end if end < total else None)

    def _failed_tasks(self, runs: list[Run]) -> Plan[dict[tuple[str, str], str | None]]:
        """The first failed task of each failed run; asked only for runs not seen failed
        with the same end time before (an idle poll's runs page costs no lookup)."""
        def key(r: Run) -> tuple[str, str, Any]:
            return (r.extra["dag_id"], r.extra["dag_run_id"], r.finished_at)
        with self._lock:
            known = {key(r)[:2]: self._failed_index[key(r)] for r in runs
                     if key(r) in self._failed_index}
        ask = [r for r in runs if key(r)[:2] not in known]
        if not ask:
            return known
        body = {"dag_ids": sorted({r.extra["dag_id"] for r in ask}),
                "dag_run_ids": sorted({r.extra["dag_run_id"] for r in ask}),
                "state": ["failed"], "page_limit": PAGE}
        reply = yield from self._call(Request(
            "POST", f"{_V2}/dags/~/dagRuns/~/taskInstances/list",
            "POST /api/v2/dags/~/dagRuns/~/taskInstances/list", body=body,
            parse=parse_failed_index))
        with self._lock:
            for r in ask:
                found = reply.value.get(key(r)[:2])
                self._failed_index[key(r)] = found
                known[key(r)[:2]] = found
            while len(self._failed_index) > 1024:
                self._failed_index.popitem(last=False)
        return known

    def _run_base(self, run_id: str) -> tuple[str, str, str]:
        dag_id, dag_run_id = split_run_id(run_id)
        return dag_id, dag_run_id, f"{_V2}/dags/{_seg(dag_id)}/dagRuns/{_seg(dag_run_id)}"

    def _instances(self, base: str) -> Plan[tuple[TaskInstance, ...]]:
        ep = "GET /api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances"
        out: list[TaskInstance] = []
        while True:
            page, total = yield from self._get(
                _q(f"{base}/taskInstances", {"limit": PAGE, "offset": len(out)}), ep,
                parse_task_instances(ep))
            out.extend(page)
            if not page or len(out) >= total:
                return tuple(out)

    def run(self, run_id: str) -> Plan[RunDetail]:
        dag_id, _, base = self._run_base(run_id)
        ep = "GET /api/v2/dags/{dag_id}/dagRuns/{dag_run_id}"
        run = yield from self._get(base, ep, lambda d: parse_run(d, ep, ""))
        instances = yield from self._instances(base)
        tasks = yield from self._get(f"{_V2}/dags/{_seg(dag_id)}/tasks",
                                     "GET /api/v2/dags/{dag_id}/tasks", parse_tasks)
        tries: dict[tuple[str, int], tuple[TaskInstance, ...]] = {}
        ep_tries = "GET /api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task}/tries"
        for ti in instances:
            if ti.try_number > 1 or (ti.try_number == 1 and not ti.describes_latest_try):
                path = f"{base}/taskInstances/{_seg(ti.task_id)}"
                path += f"/{ti.map_index}/tries" if ti.map_index >= 0 else "/tries"
                history, _ = yield from self._get(path, ep_tries,
                                                  parse_task_instances(ep_tries))
                tries[(ti.task_id, ti.map_index)] = history
        errs: dict[str, str] = {}
        for ti in [ti for ti in instances if ti.state == "failed"]:
            if ti.task_id in errs or len(errs) >= 5:
                continue
            found = yield from self._log(base, ti.task_id, ti.try_number, ti.map_index)
            if found is not None and found[1]:
                errs[ti.task_id] = found[1]
        return build_detail(run, instances, tasks, tries, errs)

    def _log(self, base: str, task_id: str, try_number: int,
             map_index: int) -> Plan[tuple[str, str | None] | None]:
        path = _q(f"{base}/taskInstances/{_seg(task_id)}/logs/{try_number}",
                  {"full_content": "true", "map_index": map_index if map_index >= 0 else None})
        try:
            return (yield from self._get(
                path, "GET /api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task}"
                "/logs/{try}", parse_log))
        except errors.NotFound:
            return None  # the log is gone (or was never written)

    def step_log(self, run_id: str, step: str, attempt: int | None) -> Plan[str | None]:
        _, _, base = self._run_base(run_id)
        ep = "GET /api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances"
        group, _ = yield from self._get(_q(f"{base}/taskInstances", {"task_id": step}), ep,
                                        parse_task_instances(ep))
        group = [ti for ti in group if ti.task_id == step]
        if not group:
            raise errors.Unprocessable(f"dag run {run_id} has no task {step!r}")
        ti = next((t for t in group if t.state == "failed"), group[0])
        number = attempt if attempt is not None else ti.try_number
        if number < 1:
            return None  # never started: no log
        found = yield from self._log(base, step, number, ti.map_index)
        return None if found is None else tail(found[0])

    def health(self) -> Plan[bool]:
        reply = yield Request("GET", f"{_V2}/monitor/health", "GET /api/v2/monitor/health",
                              probe=True)
        d = reply.value
        if reply.status_code != 200 or not isinstance(d, dict):
            return False
        return all(isinstance(d.get(part), dict) and d[part].get("status") == "healthy"
                   for part in ("metadatabase", "scheduler"))

    # ---- actions -----------------------------------------------------------------------

    def _why_not(self, action: str) -> str:
        if action == "resume":
            return ("Airflow has no watermarks to resume from; restart from a task instead "
                    "(the task and everything downstream of it run again)")
        return super()._why_not(action)

    def _remembered(self, key: str | None) -> str | None:
        if key is None:
            return None
        with self._lock:
            return self._done.get(key)

    def _remember(self, key: str | None, value: str) -> str:
        if key is not None:
            with self._lock:
                self._done[key] = value
                while len(self._done) > 256:
                    self._done.popitem(last=False)
        return value

    def _finished_run(self, run_id: str, action: str) -> Plan[tuple[str, str, str]]:
        dag_id, dag_run_id, base = self._run_base(run_id)
        ep = "GET /api/v2/dags/{dag_id}/dagRuns/{dag_run_id}"
        run = yield from self._get(base, ep, lambda d: parse_run(d, ep, ""), cache=False)
        if not run.status.is_terminal:
            raise errors.Conflict(
                f"cannot {action} dag run {run_id}: it is {run.extra.get('state')}; Airflow "
                "clears the tasks of a finished run")
        return dag_id, dag_run_id, base

    def restart(self, run_id: str, from_step: str | None, key: str | None) -> Plan[str]:
        """Clear ``from_step`` (default: the failed task) and everything downstream of it
        in this one dag run. Returns ``run_id``: Airflow restarts in place."""
        if (done := self._remembered(key)) is not None:
            return done
        dag_id, dag_run_id, base = yield from self._finished_run(run_id, "restart")
        instances = yield from self._instances(base)
        names = sorted({ti.task_id for ti in instances})
        if from_step is None:
            failed = sorted((ti for ti in instances if ti.state == "failed"),
                            key=lambda t: (t.finished_at is None, t.finished_at, t.task_id))
            if not failed:
                raise errors.Unprocessable(
                    f"dag run {run_id} has no failed task to restart from; name one of "
                    f"{names}")
            from_step = failed[0].task_id
        elif from_step not in names:
            raise errors.Unprocessable(
                f"dag run {run_id} has no task {from_step!r}; its tasks: {names}")
        body = {"dry_run": False, "dag_run_id": dag_run_id, "task_ids": [from_step],
                "include_downstream": True, "include_upstream": False,
                "include_future": False, "include_past": False, "only_failed": False,
                "reset_dag_runs": True}
        ep = "POST /api/v2/dags/{dag_id}/clearTaskInstances"
        yield from self._call(Request("POST", f"{_V2}/dags/{_seg(dag_id)}/clearTaskInstances",
                                      ep, body=body,
                                      parse=parse_task_instances(ep)))
        self._forget_week(dag_id)
        return self._remember(key, run_id)

    def rerun(self, run_id: str, key: str | None) -> Plan[str]:
        """Clear the whole dag run: every task runs again (in place; returns ``run_id``)."""
        if (done := self._remembered(key)) is not None:
            return done
        dag_id, _, base = yield from self._finished_run(run_id, "rerun")
        yield from self._call(Request("POST", f"{base}/clear",
                                      "POST /api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/clear",
                                      body={"dry_run": False, "only_failed": False}))
        self._forget_week(dag_id)
        return self._remember(key, run_id)

    def cancel(self, run_id: str, key: str | None) -> Plan[str]:
        """Airflow has no cancelled state: set the queued or running dag run's state to
        ``failed`` (``PATCH .../dagRuns/{run}``, as its UI's "mark failed"), which fails
        its running task instances (their processes are stopped) and skips the rest; the
        note says who cancelled it. Returns the status word Airflow reports (``failed``)."""
        if (done := self._remembered(key)) is not None:
            return done
        dag_id, dag_run_id, base = self._run_base(run_id)
        ep = "GET /api/v2/dags/{dag_id}/dagRuns/{dag_run_id}"
        run = yield from self._get(base, ep, lambda d: parse_run(d, ep, ""), cache=False)
        if run.status.is_terminal:
            raise errors.Conflict(
                f"cannot cancel dag run {run_id}: it is {run.extra.get('state')}; only queued "
                "or running dag runs can be cancelled")
        ep = "PATCH /api/v2/dags/{dag_id}/dagRuns/{dag_run_id}"
        body = {"state": "failed", "note": f"cancelled from flowwidgets by {_who()}"}
        reply = yield from self._call(Request("PATCH", base, ep, body=body,
                                              parse=lambda d: parse_run(d, ep, "")))
        self._forget_week(dag_id)
        return self._remember(key, reply.value.status.value)

    def run_now(self, pipeline: str, key: str | None) -> Plan[str]:
        """Trigger a dag run now; with a key, the dag run id is derived from it."""
        body: dict[str, Any] = {"logical_date": None, "conf": {}}
        if key is not None:
            body["dag_run_id"] = "flowwidgets__" + _RUN_ID_UNSAFE.sub("-", key)[:200]
        ep = "POST /api/v2/dags/{dag_id}/dagRuns"
        path = f"{_V2}/dags/{_seg(pipeline)}/dagRuns"
        try:
            reply = yield from self._call(Request("POST", path, ep, body=body,
                                                  parse=lambda d: parse_run(d, ep, "")))
        except errors.Conflict:
            if key is None:
                raise
            return join_run_id(pipeline, body["dag_run_id"])  # triggered before: same run
        return reply.value.run_id
