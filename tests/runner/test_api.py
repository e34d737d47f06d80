"""The status API's read side over a real runner and SQLite file: health, pipelines, runs,
run detail, step logs. History is made by really running the pipelines (run_once)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fwtest.api import ISO_Z, TestClient, make_runner, sqlite_log

from flowwidgets import __version__
from flowwidgets.models import Status
from flowwidgets.runner.api import create_app
from flowwidgets.runner.store import RunRecord

SUMMARY_KEYS = {"run_id", "pipeline", "status", "started_at", "finished_at", "duration_ms",
                "attempt", "failed_step", "kind", "created_at", "trigger", "parent_run_id",
                "error_summary"}


class History:
    """A runner with real history: orders ok then failed at merge, adhoc retried then ok,
    events (streaming) failed after one batch; hold never ran."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.runner = make_runner(tmp)
        self.ok = self.runner.run_once("orders")
        (tmp / "fail-merge").touch()
        self.failed = self.runner.run_once("orders")
        (tmp / "fail-merge").unlink()
        self.retried = self.runner.run_once("adhoc")
        (tmp / "fail-consume").touch()
        self.stream = self.runner.run_once("events")
        (tmp / "fail-consume").unlink()


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Iterator[History]:
    h = History(tmp_path_factory.mktemp("api-read"))
    yield h
    h.runner.stop()


@pytest.fixture(scope="module")
def client(history: History) -> Iterator[TestClient]:
    with TestClient(create_app(history.runner)) as c:
        yield c


def test_history_is_what_the_tests_assume(history: History) -> None:
    assert history.ok.status is Status.SUCCEEDED
    assert (history.failed.status, history.failed.failed_step) == (Status.FAILED, "merge")
    assert history.retried.status is Status.SUCCEEDED and history.retried.attempt == 2
    assert history.stream.status is Status.FAILED


def test_health_names_the_runner_and_version(client: TestClient) -> None:
    r = client.get("/api/health")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "runner": "flowwidgets", "version": __version__}


# ---- /api/pipelines ------------------------------------------------------------------


def _pipelines(client: TestClient) -> dict[str, dict[str, Any]]:
    r = client.get("/api/pipelines")
    assert r.status_code == 200
    return {p["name"]: p for p in r.json()["pipelines"]}


def test_pipelines_lists_every_configured_pipeline_in_order_even_never_run(
        client: TestClient) -> None:
    r = client.get("/api/pipelines").json()
    assert [p["name"] for p in r["pipelines"]] == ["orders", "events", "adhoc", "hold"]
    hold = r["pipelines"][3]
    assert hold["latest_run"] is None and hold["recent_runs"] == []
    assert hold["total_runs"] == 0 and hold["median_duration_ms"] is None
    assert hold["failure_rate_7d"] is None and hold["steps"] == ["wait"]


def test_pipeline_card_fields_for_a_cron_pipeline(client: TestClient, history: History) -> None:
    before = datetime.now(UTC)
    orders = _pipelines(client)["orders"]
    after = datetime.now(UTC)
    assert orders["kind"] == "batch"
    assert orders["schedule"] == "0 * * * *" and orders["timezone"] == "America/Chicago"
    assert orders["description"] == "Orders into the warehouse"
    assert orders["steps"] == ["extract", "clean", "enrich", "merge", "load"]
    assert orders["total_runs"] == 2
    assert orders["failure_rate_7d"] == pytest.approx(0.5)
    assert orders["median_duration_ms"] is not None and orders["median_duration_ms"] >= 0
    # recent runs oldest → newest, the latest is the failed one
    assert [r["run_id"] for r in orders["recent_runs"]] == [history.ok.run_id,
                                                             history.failed.run_id]
    assert orders["latest_run"]["run_id"] == history.failed.run_id
    assert set(orders["latest_run"]) == SUMMARY_KEYS
    assert orders["streaming_stats"] is None
    nxt = orders["next_run_at"]
    assert ISO_Z.match(nxt)
    at = datetime.fromisoformat(nxt.replace("Z", "+00:00"))
    # the next fire after the request's own clock (a full hour may pass between the
    # request and a clock read after it: bounded by reads on both sides)
    assert before < at <= after + timedelta(hours=1)
    assert at.minute == 0  # "0 * * * *": on the hour in Chicago is on the hour in UTC


def test_streaming_and_unscheduled_pipelines_have_no_next_fire(client: TestClient) -> None:
    cards = _pipelines(client)
    assert cards["events"]["next_run_at"] is None and cards["events"]["kind"] == "streaming"
    assert cards["adhoc"]["next_run_at"] is None and cards["adhoc"]["schedule"] is None


def test_streaming_stats_come_from_the_watermark_history(client: TestClient,
                                                        history: History) -> None:
    stats = _pipelines(client)["events"]["streaming_stats"]
    last = history.runner.store.last_watermark("events")
    assert last is not None
    assert stats["watermark"] == last.value == "1"
    assert stats["rows_consumed_total"] == 10 and stats["batches_total"] == 1
    assert ISO_Z.match(stats["snapshot_at"])
    for key in ("stats_1m", "stats_5m"):  # one commit so far: nothing to measure yet
        assert stats[key] == {"rows_consumed_per_sec": None, "batches_per_sec": None,
                              "span_seconds": None}


def test_pipelines_that_only_have_history_are_listed_after_the_configured_ones(
        history: History) -> None:
    from flowwidgets.runner._local import LocalRunner

    other = LocalRunner([history.runner.pipelines["hold"]], db=history.runner.store,
                        data_dir=history.tmp)
    with TestClient(create_app(other)) as c:
        names = [p["name"] for p in c.get("/api/pipelines").json()["pipelines"]]
        cards = _pipelines(c)
    assert names[0] == "hold" and set(names[1:]) == {"orders", "events", "adhoc"}
    orders = cards["orders"]
    assert orders["total_runs"] == 2 and orders["kind"] == "batch"
    assert orders["schedule"] is None and orders["steps"] == [] and orders["next_run_at"] is None
    assert orders["configured"] is False and cards["hold"]["configured"] is True
    assert cards["events"]["kind"] == "streaming"  # from its runs


def test_pipeline_statistics_cover_the_whole_history_not_a_window(tmp_path: Path) -> None:
    """1,200 imported runs: total, median and 7-day rate are over all of them."""
    runner = make_runner(tmp_path)
    now = datetime.now(UTC)
    runs = []
    for i in range(1200):
        created = now - timedelta(days=30) + timedelta(minutes=i)
        if i >= 1190:  # the last 10 runs: inside the 7-day window
            created = now - timedelta(hours=1) + timedelta(minutes=i - 1190)
        failed = i >= 1195
        runs.append(RunRecord(
            run_id=f"orders-{i:05d}", pipeline="orders", kind="batch",
            status=Status.FAILED if failed else Status.SUCCEEDED, trigger="schedule",
            created_at=created, started_at=created,
            finished_at=created + timedelta(milliseconds=1000 + i)))
    sqlite_log(runner).import_runs(runs)
    try:
        with TestClient(create_app(runner)) as c:
            orders = _pipelines(c)["orders"]
    finally:
        runner.stop()
    assert orders["total_runs"] == 1200
    assert orders["median_duration_ms"] in (1599, 1600)  # 1000 + 599.5, integer
    assert orders["failure_rate_7d"] == pytest.approx(0.5)
    assert [r["run_id"] for r in orders["recent_runs"]] == [
        f"orders-{i:05d}" for i in range(1190, 1200)]


# ---- /api/runs -----------------------------------------------------------------------


def test_runs_are_newest_first_with_summary_fields(client: TestClient, history: History) -> None:
    page = client.get("/api/runs").json()
    assert set(page) == {"runs", "total", "next_offset", "next_cursor"}
    assert page["total"] == 4 and page["next_offset"] is None
    ids = [r["run_id"] for r in page["runs"]]
    assert ids == [history.stream.run_id, history.retried.run_id, history.failed.run_id,
                   history.ok.run_id]
    first = page["runs"][2]
    assert set(first) == SUMMARY_KEYS
    assert first["status"] == "failed" and first["failed_step"] == "merge"
    assert first["kind"] == "batch" and first["trigger"] == "manual"
    assert first["parent_run_id"] is None and first["attempt"] == 1
    for key in ("started_at", "finished_at", "created_at"):
        assert ISO_Z.match(first[key]), (key, first[key])
    assert isinstance(first["duration_ms"], int)


def test_runs_filter_by_pipeline_and_status(client: TestClient, history: History) -> None:
    page = client.get("/api/runs", params={"pipeline": "orders", "status": "failed"}).json()
    assert [r["run_id"] for r in page["runs"]] == [history.failed.run_id]
    assert page["total"] == 1
    assert client.get("/api/runs", params={"pipeline": "nope"}).json()["total"] == 0


def test_runs_page_and_clamp_limit(client: TestClient, history: History) -> None:
    page = client.get("/api/runs", params={"limit": 0}).json()  # clamped to 1
    assert len(page["runs"]) == 1 and page["next_offset"] == 1 and page["total"] == 4
    page = client.get("/api/runs", params={"limit": 2, "offset": 2}).json()
    assert [r["run_id"] for r in page["runs"]] == [history.failed.run_id, history.ok.run_id]
    assert page["next_offset"] is None
    page = client.get("/api/runs", params={"offset": -5, "limit": 3}).json()
    assert len(page["runs"]) == 3 and page["next_offset"] == 3
    page = client.get("/api/runs", params={"offset": 10**30}).json()
    assert page["runs"] == [] and page["total"] == 4


def test_runs_limit_is_clamped_to_500(tmp_path: Path) -> None:
    runner = make_runner(tmp_path)
    t = datetime.now(UTC) - timedelta(days=1)
    sqlite_log(runner).import_runs(
        RunRecord(run_id=f"adhoc-{i:04d}", pipeline="adhoc", kind="batch",
                  status=Status.SUCCEEDED, trigger="manual", created_at=t + timedelta(seconds=i),
                  started_at=t, finished_at=t + timedelta(seconds=1)) for i in range(620))
    try:
        with TestClient(create_app(runner)) as c:
            page = c.get("/api/runs", params={"limit": 10_000}).json()
    finally:
        runner.stop()
    assert len(page["runs"]) == 500 and page["total"] == 620 and page["next_offset"] == 500
    assert page["runs"][0]["run_id"] == "adhoc-0619"


def test_unknown_status_is_422_listing_the_valid_ones(client: TestClient) -> None:
    r = client.get("/api/runs", params={"status": "exploded"})
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert "'exploded'" in detail
    for word in ("requested", "running", "paused", "succeeded", "failed", "cancelled"):
        assert word in detail


def test_non_integer_limit_is_422_with_detail(client: TestClient) -> None:
    r = client.get("/api/runs", params={"limit": "many"})
    assert r.status_code == 422 and r.json()["detail"]


# ---- /api/runs/{id} ------------------------------------------------------------------


def test_run_detail_has_steps_attempts_error_and_actions(client: TestClient,
                                                         history: History) -> None:
    run_id = history.failed.run_id
    d = client.get(f"/api/runs/{run_id}").json()
    assert SUMMARY_KEYS <= set(d)
    assert d["status"] == "failed" and d["failed_step"] == "merge"
    assert d["error_summary"] == "ValueError: amount column missing in batch 47 (merge)"
    assert "Traceback" in d["error"] and d["error"].strip().endswith(d["error_summary"])
    assert d["extras"] == {} and d["from_step"] is None and d["failed_watermark"] is None
    steps = {s["name"]: s for s in d["steps"]}
    assert list(steps) == ["extract", "clean", "enrich", "merge", "load"]
    assert steps["merge"]["depends_on"] == ["clean", "enrich"]
    assert steps["merge"]["status"] == "failed" and "amount column" in steps["merge"]["error"]
    assert steps["load"]["status"] == "pending" and steps["load"]["attempts"] == 0
    assert steps["load"]["started_at"] is None and steps["load"]["duration_ms"] is None
    assert steps["extract"]["status"] == "succeeded" and steps["extract"]["attempts"] == 1
    assert ISO_Z.match(steps["extract"]["finished_at"])
    assert steps["extract"]["reused_from"] is None
    # one attempt per executed step, each with its own times and error
    attempts = d["attempts"]
    assert [(a["step"], a["attempt"], a["status"]) for a in attempts] == [
        ("extract", 1, "succeeded"), ("clean", 1, "succeeded"), ("enrich", 1, "succeeded"),
        ("merge", 1, "failed")]
    merge = attempts[-1]
    assert merge["error_summary"] == d["error_summary"]
    assert "Traceback" in merge["error_stack"] and ISO_Z.match(merge["started_at"])
    assert d["actions"] == history.runner.actions_for(history.failed)
    assert d["actions"]["restart_from_step"] == ["merge"] and d["actions"]["rerun_full"]


def test_run_detail_keeps_every_attempt_of_a_retried_step(client: TestClient,
                                                          history: History) -> None:
    d = client.get(f"/api/runs/{history.retried.run_id}").json()
    assert d["status"] == "succeeded" and d["attempt"] == 2
    assert [(a["attempt"], a["status"]) for a in d["attempts"]] == [(1, "failed"),
                                                                     (2, "succeeded")]
    assert d["attempts"][0]["error_summary"] == "RuntimeError: transient: connection reset"
    assert d["attempts"][1]["error_summary"] is None
    assert d["steps"][0]["attempts"] == 2 and d["steps"][0]["status"] == "succeeded"


def test_streaming_run_detail_has_its_failed_watermark(client: TestClient,
                                                       history: History) -> None:
    d = client.get(f"/api/runs/{history.stream.run_id}").json()
    assert d["kind"] == "streaming" and d["failed_watermark"] == "1"
    assert d["error_summary"] == "ConnectionError: broker went away after batch 1"
    assert d["actions"]["resume_from_watermark"] is True


def test_run_detail_is_the_same_on_the_loop_and_in_the_thread_pool(
        client: TestClient, history: History, monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs of small configured pipelines are read on the event loop, others in the
    thread pool: both answer the same body (and an unknown run the same 404)."""
    from flowwidgets.runner.api import _read

    runs = [history.retried.run_id, history.stream.run_id]
    inline = [client.get(f"/api/runs/{r}").json() for r in runs]
    monkeypatch.setattr(_read, "INLINE_STEPS", -1)
    assert [client.get(f"/api/runs/{r}").json() for r in runs] == inline
    assert client.get("/api/runs/no-such-run").json() == {"detail": "run no-such-run not found"}


def test_unknown_run_is_404_with_detail(client: TestClient) -> None:
    r = client.get("/api/runs/no-such-run")
    assert r.status_code == 404
    assert r.json() == {"detail": "run no-such-run not found"}


# ---- step logs -----------------------------------------------------------------------


def test_step_log_defaults_to_the_latest_attempt(client: TestClient, history: History) -> None:
    r = client.get(f"/api/runs/{history.retried.run_id}/steps/fetch/log").json()
    assert r["run_id"] == history.retried.run_id and r["step"] == "fetch"
    assert r["attempt"] == 2 and r["status"] == "succeeded"
    assert "attempt 2" in r["log_tail"] and r["error"] is None


def test_step_log_of_a_given_attempt(client: TestClient, history: History) -> None:
    r = client.get(f"/api/runs/{history.retried.run_id}/steps/fetch/log",
                   params={"attempt": 1}).json()
    assert r["attempt"] == 1 and r["status"] == "failed"
    assert "attempt 1" in r["log_tail"] and "transient" in r["error"]


def test_step_log_of_a_step_that_never_ran(client: TestClient, history: History) -> None:
    r = client.get(f"/api/runs/{history.failed.run_id}/steps/load/log")
    assert r.status_code == 200
    assert r.json()["attempt"] is None and r.json()["status"] == "pending"


@pytest.mark.parametrize("path", [
    "/api/runs/nope/steps/fetch/log",
    "/api/runs/{run}/steps/nope/log",
    "/api/runs/{run}/steps/fetch/log?attempt=7",
])
def test_step_log_404s(client: TestClient, history: History, path: str) -> None:
    r = client.get(path.format(run=history.retried.run_id))
    assert r.status_code == 404
    assert isinstance(r.json()["detail"], str) and r.json()["detail"]


def test_openapi_and_docs_are_under_api(client: TestClient) -> None:
    spec = client.get("/api/openapi.json").json()
    for path in ("/api/runs", "/api/runs/{run_id}", "/api/pipelines", "/api/health",
                 "/api/runs/{run_id}/restart", "/api/runs/{run_id}/rerun",
                 "/api/runs/{run_id}/resume-from-watermark", "/api/jobs/{name}/run-now",
                 "/api/pipelines/{name}/run-now", "/api/events", "/status", "/outputs",
                 "/api/runs/{run_id}/steps/{step}/log"):
        assert path in spec["paths"], path
    assert client.get("/api/docs").status_code == 200
    assert client.get("/openapi.json").status_code == 404
