"""A real ematix-flow 1.0 ``flow web`` over HTTP on 127.0.0.1.

Three setups: ``flow web --run-log-url sqlite:///...`` in a subprocess serving history
this test wrote through ematix-flow's own SqliteRunLog; the in-memory history served
in-process by uvicorn (its actions work there); and stub mode (no run log).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from ematix_flow.run_log.history import InMemoryRunHistory, RunRecord  # noqa: E402
from ematix_flow.run_log.sqlite import SqliteRunLog  # noqa: E402
from ematix_flow.web.server import create_app  # noqa: E402
from fwtest.http import ServerThread, free_port, wait_port  # noqa: E402

from flowwidgets import errors  # noqa: E402
from flowwidgets.frames import runs_frame  # noqa: E402
from flowwidgets.models import Status  # noqa: E402
from flowwidgets.sources import StubModeWarning, connect  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.peers]

FLOW = Path(sys.executable).with_name("flow")
T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def write_history(store) -> None:
    """Three runs: a success, a failure at merge_payments with its DAG, a failed stream."""
    store.record_run_record(RunRecord(
        run_id="etl-1", pipeline="warehouse_etl", status="succeeded", started_at=T0,
        finished_at=T0 + timedelta(seconds=41)))
    store.record_run_record(RunRecord(
        run_id="etl-2", pipeline="warehouse_etl", status="failed",
        started_at=T0 + timedelta(hours=1), finished_at=T0 + timedelta(hours=1, seconds=35),
        attempt=2, failed_step="merge_payments", error_summary="KeyError: 'amount'",
        extras={"steps": [
            {"name": "extract", "status": "succeeded", "duration_ms": 12000},
            {"name": "merge_payments", "status": "failed", "depends_on": ["extract"]},
            {"name": "publish", "status": "pending", "depends_on": ["merge_payments"]}]}))
    store.record_run_record(RunRecord(
        run_id="ev-1", pipeline="events_stream", status="failed", kind="streaming",
        started_at=T0 + timedelta(hours=2), finished_at=T0 + timedelta(hours=3),
        failed_watermark="offset=1042", error_summary="broker went away"))


def flow_web(*args: str, env: dict[str, str] | None = None) -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [str(FLOW), "web", "--port", str(port), "--log-level", "warning", *args],
        env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, start_new_session=True)
    try:
        wait_port(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
        proc.stderr.close()


@pytest.fixture(scope="module")
def sqlite_server(tmp_path_factory) -> Iterator[str]:
    db = tmp_path_factory.mktemp("ematix") / "runs.db"
    store = SqliteRunLog(str(db))
    try:
        write_history(store)
    finally:
        store.close()
    yield from flow_web("--run-log-url", f"sqlite:///{db}", "--token", "s3cret")


def test_sqlite_history_reads_as_models(sqlite_server, monkeypatch):
    monkeypatch.delenv("FLOWWIDGETS_TOKEN", raising=False)
    monkeypatch.setenv("EMATIX_FLOW_WEB_TOKEN", "s3cret")
    with connect(sqlite_server) as src:
        assert src.flavour == "ematix" and not src.stub_mode and src.health()
        names = {p.name for p in src.pipelines()}
        assert names == {"warehouse_etl", "events_stream"}
        page = src.runs(pipeline="warehouse_etl")
        assert [r.run_id for r in page.runs] == ["etl-2", "etl-1"] and page.total == 2
        detail = src.run("etl-2")
        assert detail.status is Status.FAILED and detail.error == "KeyError: 'amount'"
        assert detail.step("publish").depends_on == ("merge_payments",)
        assert detail.actions.restart_from_step == ("merge_payments",)
        assert src.run("ev-1").actions.resume_from_watermark
        # ematix-flow gives no step times: the timeline says so rather than guessing
        from flowwidgets.timing import timing
        from flowwidgets.widgets._run_timing import critical_line, timeline_svg, timing_payload

        t = timing(detail)
        assert t.untimed == ("extract", "merge_payments") and t.critical_path == ()
        assert t.step("merge_payments").wait_ms is None
        payload = timing_payload(detail)
        assert critical_line(payload) == "Critical path: the runner gave no step times"
        assert "gave no step times" in timeline_svg(payload)
        with pytest.raises(errors.NotFound, match="run nope not found"):
            src.run("nope")
        df = runs_frame(src, progress=False)
        assert list(df["run_id"]) == ["ev-1", "etl-2", "etl-1"]


def test_sqlite_store_answers_500_to_actions_and_we_say_why(sqlite_server):
    with connect(sqlite_server, "s3cret") as src:
        with pytest.raises(errors.ServerError) as info:
            src.restart("etl-2", "merge_payments")
        assert info.value.status_code == 500 and "SQLite run log" in str(info.value)
        with pytest.raises(errors.ServerError, match="Nothing was started"):
            src.rerun("etl-2")


def test_wrong_token_is_unauthorized(sqlite_server):
    with pytest.raises(errors.Unauthorized, match="invalid bearer token"):
        connect(sqlite_server, "wrong")


def test_in_memory_history_actions_create_new_runs():
    history = InMemoryRunHistory()
    write_history(history)
    with ServerThread(create_app(history=history)) as server, connect(server.url) as src:
        new = src.restart("etl-2", "merge_payments")
        assert new.startswith("req-") and history.get_run(new).extras == {
            "restart_from_step": "merge_payments", "prior_run_id": "etl-2"}
        again = src.rerun("etl-2")
        resumed = src.resume("ev-1")
        assert history.get_run(resumed).extras["restart_from_step"] is None
        requested = src.runs(status="requested")
        assert {r.run_id for r in requested.runs} == {new, again, resumed}
        assert src.run(new).parent_run_id == "etl-2"
        with pytest.raises(errors.ActionNotSupported, match="only on failed streaming runs"):
            src.resume("etl-2")
        with pytest.raises(errors.NotFound, match="--module"):
            src.run_now("warehouse_etl")


def test_stub_mode_is_detected_on_a_real_flow_web():
    for url in flow_web():
        with pytest.warns(StubModeWarning), connect(url) as src:
            assert src.stub_mode and src.capabilities == frozenset()
            assert all(r.extra.get("stub") for r in src.runs().runs)
            with pytest.raises(errors.ActionNotSupported, match="stub mode"):
                src.restart("01HQSTUB000000000000000002")
