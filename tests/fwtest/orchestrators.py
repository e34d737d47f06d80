"""Fixtures with real Airflow 3, Prefect 3 and Dagster 1.13 servers, for any test folder.

``airflow_live``, ``prefect_live`` and ``dagster_live`` are session-scoped (one server per
test session, shared by every test that asks, the browser tests of a Dashboard over a live Airflow
included) and yield a :class:`LiveServer`: ``url``, ``username``/``password`` (Airflow),
the fail-switch file that makes the diamond's ``enrich`` task fail while it exists, and the
trace file each task appends to. The venvs are built on first use and cached by version
(``$FLOWWIDGETS_TEST_CACHE``, default ``~/.cache/flowwidgets-test``); every server is
stopped by process group when the session ends.

They are imported once, by the top-level ``tests/conftest.py``, so every folder shares
one server per session; a test needing the type imports ``fwtest.orchestrators.LiveServer``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from flowwidgets.models import RunDetail
from fwtest import orch_servers as S
from fwtest.orch_dagster import dagster_server


@dataclass
class LiveServer:
    """A running orchestrator, as the tests see it."""

    url: str
    fail_flag: Path
    """While this file exists the diamond's ``enrich`` task fails; delete it to heal."""
    trace: Path
    """Each task run appends a line here (Airflow: ``"<task> <try>"``, Prefect: the name)."""
    username: str | None = None
    password: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    hold_flag: Path | None = None
    """While this file exists the diamond's ``clean`` task (Dagster: the ``tick`` op) keeps
    running (at most 5 min): a run to cancel."""

    def hold(self) -> None:
        """Make ``clean`` run until :meth:`release` (for cancel tests)."""
        assert self.hold_flag is not None
        self.hold_flag.write_text("hold\n")

    def release(self) -> None:
        """Let ``clean`` finish."""
        if self.hold_flag is not None:
            self.hold_flag.unlink(missing_ok=True)

    def fail(self) -> None:
        """Make ``enrich`` fail from the next run on."""
        self.fail_flag.write_text("fail\n")

    def heal(self) -> None:
        """Make ``enrich`` succeed from the next run on."""
        self.fail_flag.unlink(missing_ok=True)

    def traced(self) -> list[str]:
        """The lines tasks have written so far."""
        return self.trace.read_text().splitlines() if self.trace.exists() else []


@pytest.fixture(scope="session")
def airflow_live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A real ``airflow standalone`` (3.3.2) with the diamond DAG ``fw_diamond``."""
    work = tmp_path_factory.mktemp("airflow")
    live = LiveServer("", work / "fail.flag", work / "trace.txt", hold_flag=work / "hold.flag")
    live.fail()
    env = {"FW_FAIL_FLAG": str(live.fail_flag), "FW_TRACE": str(live.trace),
           "FW_HOLD_FLAG": str(live.hold_flag)}
    with S.airflow_server(work, (S.DAGS / "fw_diamond.py",), env) as srv:
        live.url, live.username, live.password = srv.url, srv.username, srv.password
        headers = {"Authorization": f"Bearer {srv.token()}"}
        srv.timings["dag_parsed"] = S.wait_until("the DAG fw_diamond", lambda: httpx.get(
            f"{srv.url}/api/v2/dags/fw_diamond", headers=headers, timeout=10
        ).status_code == 200, 120, (srv.proc,))
        live.timings = srv.timings
        yield live


@pytest.fixture(scope="session")
def prefect_live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A real ``prefect server start`` (3.8.8) serving the deployment
    ``fw-diamond/diamond``."""
    work = tmp_path_factory.mktemp("prefect")
    live = LiveServer("", work / "fail.flag", work / "trace.txt", hold_flag=work / "hold.flag")
    live.fail()
    env = {"FW_FAIL_FLAG": str(live.fail_flag), "FW_TRACE": str(live.trace),
           "FW_HOLD_FLAG": str(live.hold_flag)}
    with S.prefect_server(work, env) as srv:
        runner = srv.serve(S.FLOWS / "fw_diamond_flow.py")
        srv.timings["deployment"] = S.wait_until("the deployment fw-diamond/diamond", lambda: (
            httpx.get(f"{srv.url}/api/deployments/name/fw-diamond/diamond", timeout=10
                      ).status_code == 200), 120, (srv.proc, runner))
        live.url, live.timings = srv.url, srv.timings
        yield live


@pytest.fixture(scope="session")
def dagster_live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A real ``dagster dev`` (1.13, webserver and daemon) with the diamond job
    ``fw_diamond`` (trace lines: ``"<op> <run id>"``)."""
    work = tmp_path_factory.mktemp("dagster")
    live = LiveServer("", work / "fail.flag", work / "trace.txt", hold_flag=work / "hold.flag")
    live.fail()
    env = {"FW_FAIL_FLAG": str(live.fail_flag), "FW_TRACE": str(live.trace),
           "FW_HOLD_FLAG": str(live.hold_flag)}
    with dagster_server(work, env) as srv:
        live.url, live.timings = srv.url, srv.timings
        yield live


def wait_run(src: Any, run_id: str, done: Callable[[RunDetail], bool],
             timeout: float = 120.0, *, poll: float = 0.5) -> RunDetail:
    """Poll ``src.run`` until ``done(detail)``; fail with the last detail otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        detail = src.run(run_id)
        if done(detail):
            return detail
        if time.monotonic() > deadline:
            steps = {s.name: s.status.value for s in detail.steps}
            pytest.fail(f"run {run_id} still {detail.status.value} {steps} after {timeout} s")
        time.sleep(poll)
