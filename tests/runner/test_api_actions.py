"""POST actions over a real runner: restart, rerun, resume from watermark, run now; their
errors (404/409/422 with detail), malformed bodies and Idempotency-Key."""

from __future__ import annotations

from pathlib import Path

import pytest
from fwtest.api import TestClient

from flowwidgets.models import Status
from flowwidgets.runner._local import LocalRunner


def _failed_orders(runner: LocalRunner, tmp: Path) -> str:
    (tmp / "fail-merge").touch()
    try:
        run = runner.run_once("orders")
    finally:
        (tmp / "fail-merge").unlink()
    assert run.status is Status.FAILED
    return run.run_id


def _count(runner: LocalRunner) -> int:
    return runner.store.list_runs(limit=1)[1]


def test_restart_from_a_step_creates_a_run_that_reuses_upstream(
        client: TestClient, runner: LocalRunner, tmp_path: Path) -> None:
    old = _failed_orders(runner, tmp_path)
    r = client.post(f"/api/runs/{old}/restart", json={"from_step": "merge"})
    assert r.status_code == 200
    new = r.json()["new_run_id"]
    assert set(r.json()) == {"new_run_id"}
    run = runner.store.get_run(new)
    assert run is not None and run.status is Status.REQUESTED
    assert (run.trigger, run.parent_run_id, run.from_step) == ("restart", old, "merge")
    steps = {s.name: s for s in runner.store.get_steps(new)}
    assert {n for n, s in steps.items() if s.reused_from == old} == {"extract", "clean",
                                                                      "enrich"}
    assert steps["merge"].status is Status.PENDING and steps["load"].status is Status.PENDING
    detail = client.get(f"/api/runs/{new}").json()
    assert detail["from_step"] == "merge" and detail["parent_run_id"] == old
    assert detail["trigger"] == "restart"


@pytest.mark.parametrize("body", [None, {}, {"from_step": None}])
def test_restart_without_a_step_restarts_from_the_failed_one(
        client: TestClient, runner: LocalRunner, tmp_path: Path, body: dict | None) -> None:
    old = _failed_orders(runner, tmp_path)
    r = client.post(f"/api/runs/{old}/restart", json=body)
    assert r.status_code == 200, r.text
    assert runner.store.get_run(r.json()["new_run_id"]).from_step == "merge"


@pytest.mark.parametrize("content,ctype", [
    ("[1, 2]", "application/json"),
    ('"merge"', "application/json"),
    ('{"from_step": 3}', "application/json"),
    ('{"from_step": ["merge"]}', "application/json"),
    ('{"from_step": ', "application/json"),
])
def test_malformed_restart_body_is_422_with_detail(
        client: TestClient, runner: LocalRunner, tmp_path: Path, content: str,
        ctype: str) -> None:
    old = _failed_orders(runner, tmp_path)
    before = _count(runner)
    r = client.post(f"/api/runs/{old}/restart", content=content,
                    headers={"Content-Type": ctype})
    assert r.status_code == 422
    assert r.json()["detail"]
    assert _count(runner) == before


def test_restart_of_an_unknown_run_is_404(client: TestClient) -> None:
    r = client.post("/api/runs/nope/restart", json={"from_step": "merge"})
    assert r.status_code == 404 and r.json() == {"detail": "run nope not found"}


def test_restart_from_an_unknown_step_is_422_naming_the_steps(
        client: TestClient, runner: LocalRunner, tmp_path: Path) -> None:
    old = _failed_orders(runner, tmp_path)
    r = client.post(f"/api/runs/{old}/restart", json={"from_step": "teleport"})
    assert r.status_code == 422
    assert "teleport" in r.json()["detail"] and "merge" in r.json()["detail"]


def test_actions_on_an_active_run_are_409(client: TestClient, runner: LocalRunner,
                                         tmp_path: Path) -> None:
    old = _failed_orders(runner, tmp_path)
    queued = client.post(f"/api/runs/{old}/rerun").json()["new_run_id"]
    before = _count(runner)
    for path, body in ((f"/api/runs/{queued}/restart", {"from_step": "merge"}),
                       (f"/api/runs/{queued}/rerun", None)):
        r = client.post(path, json=body)
        assert r.status_code == 409, path
        assert "requested" in r.json()["detail"]
    assert _count(runner) == before


def test_rerun_creates_a_full_run(client: TestClient, runner: LocalRunner,
                                  tmp_path: Path) -> None:
    old = _failed_orders(runner, tmp_path)
    new = client.post(f"/api/runs/{old}/rerun").json()["new_run_id"]
    run = runner.store.get_run(new)
    assert (run.trigger, run.parent_run_id) == ("rerun", old)
    assert all(s.reused_from is None and s.status is Status.PENDING
               for s in runner.store.get_steps(new))


def test_resume_from_watermark_and_restart_null_on_a_failed_stream(
        client: TestClient, runner: LocalRunner, tmp_path: Path) -> None:
    (tmp_path / "fail-consume").touch()
    old = runner.run_once("events")
    (tmp_path / "fail-consume").unlink()
    assert old.status is Status.FAILED and old.failed_watermark == "1"
    r = client.post(f"/api/runs/{old.run_id}/resume-from-watermark",
                    headers={"Idempotency-Key": "resume-1"})
    assert r.status_code == 200
    run = runner.store.get_run(r.json()["new_run_id"])
    assert (run.trigger, run.resume_watermark, run.parent_run_id) == ("resume", "1",
                                                                       old.run_id)
    # the same through restart with from_step null (ematix-flow's way): one stream at a
    # time, so the queued resume must go first
    r = client.post(f"/api/runs/{old.run_id}/restart", json={"from_step": None})
    assert r.status_code == 409
    runner.store.finish_run(run.run_id, status=Status.CANCELLED)
    r = client.post(f"/api/runs/{old.run_id}/restart", json={"from_step": None})
    assert r.status_code == 200
    assert runner.store.get_run(r.json()["new_run_id"]).trigger == "resume"


def test_resume_from_watermark_of_a_batch_run_is_422(client: TestClient, runner: LocalRunner,
                                                     tmp_path: Path) -> None:
    old = _failed_orders(runner, tmp_path)
    r = client.post(f"/api/runs/{old}/resume-from-watermark")
    assert r.status_code == 422 and "streaming" in r.json()["detail"]


@pytest.mark.parametrize("path", ["/api/jobs/{}/run-now", "/api/pipelines/{}/run-now"])
def test_run_now(client: TestClient, runner: LocalRunner, path: str) -> None:
    r = client.post(path.format("orders"))
    assert r.status_code == 200
    run = runner.store.get_run(r.json()["new_run_id"])
    assert (run.pipeline, run.trigger, run.status) == ("orders", "run_now", Status.REQUESTED)


def test_run_now_of_an_unknown_pipeline_is_404(client: TestClient, runner: LocalRunner) -> None:
    r = client.post("/api/jobs/nope/run-now")
    assert r.status_code == 404 and "nope" in r.json()["detail"]
    assert _count(runner) == 0


@pytest.mark.parametrize("action", ["restart", "rerun", "run-now"])
def test_idempotency_key_gives_one_run(client: TestClient, runner: LocalRunner,
                                       tmp_path: Path, action: str) -> None:
    old = _failed_orders(runner, tmp_path)
    path = ("/api/jobs/orders/run-now" if action == "run-now"
            else f"/api/runs/{old}/{action}")
    before = _count(runner)
    first = client.post(path, headers={"Idempotency-Key": f"key-{action}"})
    again = client.post(path, headers={"Idempotency-Key": f"key-{action}"})
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    assert _count(runner) == before + 1
    other = client.post(path, headers={"Idempotency-Key": f"other-{action}"})
    assert other.status_code in (200, 409)  # a second rerun of old is allowed; one stream
    assert other.json().get("new_run_id") != first.json()["new_run_id"]


def test_overlong_idempotency_key_is_422(client: TestClient) -> None:
    r = client.post("/api/jobs/orders/run-now", headers={"Idempotency-Key": "k" * 201})
    assert r.status_code == 422 and "Idempotency-Key" in r.json()["detail"]


@pytest.mark.parametrize("path", ["/api/runs/x/restart", "/api/runs/x/rerun",
                                  "/api/jobs/orders/run-now", "/api/runs/x/resume-from-watermark"])
def test_mutations_are_post_only(client: TestClient, runner: LocalRunner, path: str) -> None:
    assert client.get(path).status_code in (404, 405)
    assert client.put(path).status_code == 405
    assert _count(runner) == 0


# ---- hostile sizes ------------------------------------------------------------------


def test_a_large_body_is_413_with_detail_and_never_read_whole(
        client: TestClient, runner: LocalRunner, tmp_path: Path) -> None:
    old = _failed_orders(runner, tmp_path)
    huge = '{"from_step": "' + "x" * (5 * 1024 * 1024) + '"}'
    r = client.post(f"/api/runs/{old}/restart", content=huge,
                    headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and "65,536 bytes" in r.json()["detail"]
    assert len(r.content) < 500


def test_a_chunked_large_body_is_413(client: TestClient, runner: LocalRunner,
                                     tmp_path: Path) -> None:
    old = _failed_orders(runner, tmp_path)

    def chunks():
        yield b'{"from_step": "'
        for _ in range(100):
            yield b"y" * 4096
        yield b'"}'

    r = client.post(f"/api/runs/{old}/restart", content=chunks(),
                    headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and r.json()["detail"]


def test_a_422_never_echoes_large_input(client: TestClient, runner: LocalRunner,
                                        tmp_path: Path) -> None:
    old = _failed_orders(runner, tmp_path)
    body = '{"from_step": [' + ", ".join(['"abcdefghij"'] * 5000) + "]}"  # 70 KB: too big
    assert client.post(f"/api/runs/{old}/restart", content=body,
                       headers={"Content-Type": "application/json"}).status_code == 413
    body = '{"from_step": [' + ", ".join(['"abcdefghij"'] * 4000) + "]}"  # 56 KB, wrong type
    r = client.post(f"/api/runs/{old}/restart", content=body,
                    headers={"Content-Type": "application/json"})
    assert r.status_code == 422 and len(r.content) < 2000, len(r.content)
    assert r.json()["detail"][0]["loc"][-1] == "from_step"


def test_a_key_reused_on_another_request_is_422_naming_both(
        client: TestClient, runner: LocalRunner, tmp_path: Path) -> None:
    first_run = _failed_orders(runner, tmp_path)
    second_run = _failed_orders(runner, tmp_path)
    ok = client.post(f"/api/runs/{first_run}/rerun", headers={"Idempotency-Key": "k1"})
    assert ok.status_code == 200
    before = _count(runner)
    for path, body in ((f"/api/runs/{second_run}/rerun", None),
                       (f"/api/runs/{first_run}/restart", {"from_step": "merge"}),
                       ("/api/jobs/orders/run-now", None)):
        r = client.post(path, json=body, headers={"Idempotency-Key": "k1"})
        assert r.status_code == 422, (path, r.text)
        detail = r.json()["detail"]
        assert "Idempotency-Key 'k1'" in detail and f"rerun of run {first_run}" in detail
    assert _count(runner) == before
    same = client.post(f"/api/runs/{first_run}/rerun", headers={"Idempotency-Key": "k1"})
    assert same.json() == ok.json()
    restart = {"Idempotency-Key": "k2"}
    a = client.post(f"/api/runs/{first_run}/restart", json={"from_step": "merge"},
                    headers=restart)
    b = client.post(f"/api/runs/{first_run}/restart", json={"from_step": "load"},
                    headers=restart)
    assert a.status_code == 200 and b.status_code == 422 and "'merge'" in b.json()["detail"]
