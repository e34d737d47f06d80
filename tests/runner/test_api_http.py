"""HTTP semantics of the status API: ETag/304 conditional GETs, the bearer token, CORS off,
JSON errors; and flowtoy's /status and /outputs shapes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fwtest.api import TestClient, make_runner

from flowwidgets.models import Status
from flowwidgets.runner._local import LocalRunner
from flowwidgets.runner.api import create_app
from flowwidgets.runner.api._middleware import etag_matches

# ---- conditional GETs ------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/runs?limit=5", "/api/pipelines", "/api/health",
                                  "/status", "/outputs"])
def test_get_has_a_weak_etag_and_no_cache(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 200
    assert r.headers["etag"].startswith('W/"')
    assert r.headers["cache-control"] == "no-cache"
    again = client.get(path, headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == r.headers["etag"]


def test_an_idle_poll_costs_a_few_hundred_bytes(client: TestClient, runner: LocalRunner) -> None:
    runner.run_once("orders")
    full = client.get("/api/pipelines")
    cond = client.get("/api/pipelines", headers={"If-None-Match": full.headers["etag"]})
    assert cond.status_code == 304
    size = len(b"HTTP/1.1 304 Not Modified\r\n") + sum(
        len(k) + len(v) + 4 for k, v in cond.headers.raw) + 2
    assert size < 300 < len(full.content)


def test_a_write_changes_the_etag(client: TestClient, runner: LocalRunner) -> None:
    first = client.get("/api/runs")
    client.post("/api/jobs/orders/run-now")
    after = client.get("/api/runs", headers={"If-None-Match": first.headers["etag"]})
    assert after.status_code == 200 and after.json()["total"] == 1
    assert after.headers["etag"] != first.headers["etag"]


def test_polled_answers_are_kept_by_their_etag_until_a_write(
        client: TestClient, runner: LocalRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    """/status and /api/pipelines keep their last answers by ETag: a poll that would get
    a 304 with If-None-Match gets the same 200 without it, without running the route;
    after a write the tag changes and the route answers afresh."""
    first_run = runner.run_once("orders")
    store = runner.store
    calls: list[str] = []
    real_steps, real_stats = store.status_steps, store.pipeline_stats

    def counted_steps(rid: str) -> Any:
        calls.append("status")
        return real_steps(rid)

    def counted_stats(*a: Any, **k: Any) -> Any:
        calls.append("stats")
        return real_stats(*a, **k)

    monkeypatch.setattr(store, "status_steps", counted_steps)
    monkeypatch.setattr(store, "pipeline_stats", counted_stats)
    for path in ("/status", "/api/pipelines"):
        first, again = client.get(path), client.get(path)
        assert again.status_code == 200 and again.content == first.content
        assert again.headers["etag"] == first.headers["etag"]
        assert again.headers["content-type"] == first.headers["content-type"]
        assert again.headers["content-length"] == str(len(first.content))
    assert calls == ["status", "stats"]  # each route ran once
    second_run = runner.run_once("orders")
    status, cards = client.get("/status").json(), client.get("/api/pipelines").json()
    assert calls == ["status", "stats", "status", "stats"]
    assert status["run_id"] == second_run.run_id != first_run.run_id
    orders = next(p for p in cards["pipelines"] if p["name"] == "orders")
    assert orders["total_runs"] == 2 and orders["latest_run"]["run_id"] == second_run.run_id
    assert client.get("/api/runs?limit=5").content == client.get("/api/runs?limit=5").content


def test_the_etag_depends_on_path_and_query(client: TestClient) -> None:
    a = client.get("/api/runs?limit=5").headers["etag"]
    b = client.get("/api/runs?limit=6").headers["etag"]
    c = client.get("/api/pipelines").headers["etag"]
    assert len({a, b, c}) == 3
    assert client.get("/api/runs?limit=6", headers={"If-None-Match": a}).status_code == 200


def test_errors_and_posts_carry_no_etag(client: TestClient) -> None:
    assert "etag" not in client.get("/api/runs/nope").headers
    assert "etag" not in client.post("/api/jobs/orders/run-now").headers


def test_etag_matching_rules() -> None:
    tag = 'W/"1a-abc"'
    assert etag_matches('W/"1a-abc"', tag)
    assert etag_matches('"1a-abc"', tag)  # weak comparison
    assert etag_matches('"x", W/"1a-abc"', tag)
    assert etag_matches("*", tag)
    assert not etag_matches('W/"1b-abc"', tag)
    assert not etag_matches("", tag)


# ---- token ---------------------------------------------------------------------------


@pytest.fixture
def locked(runner: LocalRunner) -> Iterator[TestClient]:
    with TestClient(create_app(runner, token="s3cret")) as c:
        yield c


@pytest.mark.parametrize("method,path", [
    ("GET", "/api/runs"), ("GET", "/api/pipelines"), ("GET", "/api/runs/x"),
    ("GET", "/api/openapi.json"), ("GET", "/api/events"), ("GET", "/status"),
    ("GET", "/outputs"), ("POST", "/api/jobs/orders/run-now"), ("POST", "/api/runs/x/rerun"),
])
def test_token_required_everywhere_but_health(locked: TestClient, runner: LocalRunner,
                                              method: str, path: str) -> None:
    missing = locked.request(method, path)
    assert missing.status_code == 401
    assert missing.json() == {"detail": "missing Authorization: Bearer <token> header"}
    assert missing.headers["www-authenticate"] == "Bearer"
    wrong = locked.request(method, path, headers={"Authorization": "Bearer s3cre"})
    assert wrong.status_code == 401 and wrong.json() == {"detail": "invalid bearer token"}
    basic = locked.request(method, path, headers={"Authorization": "Basic czNjcmV0"})
    assert basic.status_code == 401
    assert runner.store.list_runs()[1] == 0  # nothing was created


def test_right_token_passes_and_health_is_open(locked: TestClient, runner: LocalRunner) -> None:
    auth = {"Authorization": "Bearer s3cret"}
    assert locked.get("/api/health").status_code == 200
    assert locked.get("/api/runs", headers=auth).status_code == 200
    assert locked.post("/api/jobs/orders/run-now", headers=auth).status_code == 200
    assert locked.get("/status", headers=auth).status_code == 200
    assert locked.get("/api/runs", headers={"Authorization": "bearer s3cret"}).status_code == 200


def test_non_ascii_token_attempt_is_401_not_500(locked: TestClient) -> None:
    r = locked.get("/api/runs", headers={"Authorization": "Bearer s3cr\u00e9t".encode("latin-1")})
    assert r.status_code == 401


def test_token_from_the_environment(runner: LocalRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWWIDGETS_TOKEN", "from-env")
    with TestClient(create_app(runner)) as c:
        assert c.get("/api/runs").status_code == 401
        assert c.get("/api/runs", headers={"Authorization": "Bearer from-env"}).status_code == 200


def test_cors_is_off(client: TestClient) -> None:
    r = client.get("/api/runs", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in r.headers
    pre = client.options("/api/runs", headers={"Origin": "https://evil.example",
                                              "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in pre.headers


def test_unknown_paths_and_methods_answer_json(client: TestClient) -> None:
    r = client.get("/api/nothing-here")
    assert r.status_code == 404 and r.json() == {"detail": "Not Found"}
    r = client.delete("/api/runs/x")
    assert r.status_code == 405 and r.json()["detail"]


# ---- flowtoy ---------------------------------------------------------------------------


def test_flowtoy_status_without_runs_is_no_runner(client: TestClient) -> None:
    assert client.get("/status").json() == {"status": "no-runner"}
    assert client.get("/outputs").json() == {}


def test_flowtoy_status_of_the_latest_run(client: TestClient, runner: LocalRunner,
                                          tmp_path: Path) -> None:
    ok = runner.run_once("orders")
    (tmp_path / "fail-merge").touch()
    failed = runner.run_once("orders")
    s = client.get("/status").json()
    assert s["run_id"] == failed.run_id
    assert s["started_at"] == pytest.approx(failed.started_at.timestamp())
    assert s["ended_at"] == pytest.approx(failed.finished_at.timestamp())
    assert isinstance(s["started_at"], float)
    assert s["total_steps"] == 5 and s["completed_steps"] == 4
    assert s["current_step"] is None and s["running_count"] == 0 and s["running_steps"] == []
    assert list(s["steps"]) == ["extract", "clean", "enrich", "merge", "load"]
    merge = s["steps"]["merge"]
    assert merge["state"] == "failed"
    assert merge["notes"] and "amount column missing" in merge["notes"][0]
    assert isinstance(merge["started_at"], float) and isinstance(merge["ended_at"], float)
    assert s["steps"]["load"] == {"state": "pending", "started_at": None, "ended_at": None,
                                  "notes": [], "outputs": []}
    assert s["steps"]["extract"]["outputs"] == ["step", "rows"]
    assert s["pipeline"] == "orders" and s["run_status"] == "failed"
    assert client.get("/status", params={"pipeline": "orders"}).json()["run_id"] == failed.run_id
    assert client.get("/status", params={"pipeline": "hold"}).json() == {"status": "no-runner"}
    outputs = client.get("/outputs").json()
    assert outputs == {"extract": {"step": "extract", "rows": 3},
                       "clean": {"step": "clean", "rows": 4},
                       "enrich": {"step": "enrich", "rows": 4}}
    assert ok.run_id != failed.run_id


def test_flowtoy_status_prefers_the_latest_started_run_over_a_queued_one(
        client: TestClient, runner: LocalRunner) -> None:
    done = runner.run_once("adhoc")
    queued = runner.run_now("orders")
    assert runner.store.get_run(queued).status is Status.REQUESTED
    assert client.get("/status").json()["run_id"] == done.run_id
    s = client.get("/status", params={"pipeline": "orders"}).json()
    assert s["run_id"] == queued and s["started_at"] is None and s["completed_steps"] == 0


def test_an_unexpected_error_is_a_json_500(tmp_path: Path) -> None:
    runner = make_runner(tmp_path)
    runner.stop()  # closes the run log under the app: every read now fails
    with TestClient(create_app(runner), raise_server_exceptions=False) as c:
        r = c.get("/api/runs/x")
    assert r.status_code == 500
    assert r.headers["content-type"] == "application/json"
    assert "internal error" in r.json()["detail"] and "/api/runs/x" in r.json()["detail"]
