"""The hot GETs' fast path: answers are not validated per request, so check here that
they still match the documented models, that OpenAPI still documents them, that
``/api/runs`` equals the record path, and that cached next fire times equal croniter's."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from fwtest.api import TestClient, make_runner

from flowwidgets.runner._local import LocalRunner
from flowwidgets.runner.api import create_app
from flowwidgets.runner.api._payloads import run_summary
from flowwidgets.runner.api._schedule import NextFires
from flowwidgets.runner.api._schemas import PipelineList, RunDetailOut, RunPageOut
from flowwidgets.runner.spec import PipelineSpec, StepSpec


@pytest.fixture(scope="module")
def runner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRunner]:
    tmp: Path = tmp_path_factory.mktemp("api-fast")
    r = make_runner(tmp)
    r.run_once("adhoc")
    (tmp / "fail-merge").touch()
    r.run_once("orders")
    r.store.commit_watermark("r-stream", "events", "w1", rows=5)
    yield r
    r.stop()


@pytest.fixture(scope="module")
def client(runner: LocalRunner) -> Iterator[TestClient]:
    with TestClient(create_app(runner)) as c:
        yield c


def test_openapi_documents_the_fast_routes(client: TestClient) -> None:
    paths = client.get("/api/openapi.json").json()["paths"]
    for path, model in (("/api/pipelines", "PipelineList"), ("/api/runs", "RunPageOut"),
                        ("/api/runs/{run_id}", "RunDetailOut")):
        ok = paths[path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        assert ok == {"$ref": f"#/components/schemas/{model}"}, path


def test_fast_answers_match_their_models(client: TestClient, runner: LocalRunner) -> None:
    r = client.get("/api/pipelines")
    assert r.headers["content-type"] == "application/json"
    body = r.json()
    assert PipelineList.model_validate(body).model_dump(mode="json") == body
    page = client.get("/api/runs", params={"limit": 500}).json()
    assert RunPageOut.model_validate(page).model_dump(mode="json") == page
    for run in page["runs"]:
        detail = client.get(f"/api/runs/{run['run_id']}").json()
        assert RunDetailOut.model_validate(detail).model_dump(mode="json") == detail
    events = {p["name"]: p for p in body["pipelines"]}["events"]["streaming_stats"]
    assert set(events) >= {"stats_1m", "stats_5m", "run_id", "watermark"}


def test_runs_page_equals_the_record_path(client: TestClient, runner: LocalRunner) -> None:
    for params in ({}, {"limit": 1, "offset": 1}, {"pipeline": "orders"},
                   {"status": "failed"}, {"pipeline": "adhoc", "status": "succeeded"}):
        page = client.get("/api/runs", params=params).json()
        records, total = runner.store.list_runs(**params)
        assert page["runs"] == [run_summary(r) for r in records], params
        assert page["total"] == total


def test_pipeline_cards_follow_each_write_of_their_runs(tmp_path: Path) -> None:
    """/api/pipelines reuses a recent run's record and encoded summary only while its row
    is unchanged: after a run is created, started, finished and cancelled, every card's
    runs equal the record path's summaries again (and the store hands out the same
    record object for an unchanged row)."""
    runner = LocalRunner([PipelineSpec("p", (StepSpec("s", run="true"),))],
                         db=tmp_path / "runs.sqlite", data_dir=tmp_path)
    store = runner.store

    def check(c: TestClient) -> list[dict]:
        card = {p["name"]: p for p in c.get("/api/pipelines").json()["pipelines"]}["p"]
        stats = store.pipeline_stats(["p"], now=datetime.now(UTC))["p"]
        assert card["recent_runs"] == [run_summary(r) for r in stats.recent_runs]
        assert card["latest_run"] == (run_summary(stats.latest_run) if stats.latest_run
                                      else None)
        return card["recent_runs"]

    try:
        with TestClient(create_app(runner)) as c:
            assert check(c) == []
            first, _ = store.create_run(pipeline="p", kind="batch", trigger="manual",
                                        steps=[("s", [])])
            assert [r["status"] for r in check(c)] == ["requested"]
            again = store.pipeline_stats(["p"], now=datetime.now(UTC))["p"].recent_runs
            assert again[0] is store.pipeline_stats(["p"], now=datetime.now(UTC))[
                "p"].recent_runs[0]
            store.claim_requested("w")
            assert [r["status"] for r in check(c)] == ["running"]
            second, _ = store.create_run(pipeline="p", kind="batch", trigger="manual",
                                         steps=[("s", [])])
            store.cancel_run(second)
            runs = check(c)
            assert [r["run_id"] for r in runs] == [first, second]
            assert runs[1]["status"] == "cancelled"
    finally:
        runner.stop()


def test_hostile_strings_survive_the_encoder(tmp_path: Path) -> None:
    name = "p\u2028\"<b>\\\n\ud7ff\U0001f600"
    runner = LocalRunner([PipelineSpec(name, (StepSpec("s", run="true"),))],
                         db=tmp_path / "runs.sqlite", data_dir=tmp_path)
    try:
        run_id, _ = runner.store.create_run(pipeline=name, kind="batch", trigger="manual",
                                            steps=[("s", [])])
        with TestClient(create_app(runner)) as c:
            assert c.get("/api/runs").json()["runs"][0]["pipeline"] == name
            assert c.get(f"/api/runs/{quote(run_id, safe='')}").json()["pipeline"] == name
            assert c.get("/api/pipelines").json()["pipelines"][0]["name"] == name
    finally:
        runner.stop()


def test_next_fires_are_kept_until_they_pass(runner: LocalRunner,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[datetime] = []
    real = runner.next_run_at

    def counting(name: str, now: datetime | None = None) -> datetime | None:
        calls.append(now)
        return real(name, now)

    monkeypatch.setattr(runner, "next_run_at", counting)
    fires = NextFires(runner)
    t0 = datetime(2026, 3, 8, 6, 30, tzinfo=UTC)  # a DST change in Chicago that morning
    t = t0
    while t < t0 + timedelta(hours=30):
        assert fires.next_run_at("orders", t) == real("orders", t), t
        t += timedelta(minutes=7)
    assert 30 <= len(calls) <= 33  # hourly schedule: about one croniter call per fire
    assert fires.next_run_at("adhoc", t0) is None  # unscheduled
    earlier = t0 - timedelta(hours=5)  # the clock went back: computed afresh
    assert fires.next_run_at("orders", earlier) == real("orders", earlier)
