"""Keyset paging of ``GET /api/runs``: ``next_cursor`` walks the same runs as offsets do
(ties in created time broken by run id), stays right when runs arrive between pages, and
a cursor that is not one is a 422 naming it. Offsets keep working unchanged."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fwtest.api import TestClient, make_runner, sqlite_log

from flowwidgets.models import Status
from flowwidgets.runner.api import create_app
from flowwidgets.runner.store import RunRecord

T0 = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    runner = make_runner(tmp_path)
    sqlite_log(runner).import_runs([  # three runs per created time: ties on the first key
        RunRecord(run_id=f"r{i:03d}", pipeline="orders" if i % 3 else "payments",
                  kind="batch", status=Status.FAILED if i % 5 == 0 else Status.SUCCEEDED,
                  trigger="schedule", created_at=T0 + timedelta(minutes=i // 3))
        for i in range(95)])
    with TestClient(create_app(runner)) as c:
        c.runner = runner
        yield c
    runner.stop()


def _walk(client: TestClient, **params: object) -> list[str]:
    ids: list[str] = []
    page = client.get("/api/runs", params={**params, "limit": 7}).json()
    while True:
        ids += [r["run_id"] for r in page["runs"]]
        if page["next_cursor"] is None:
            return ids
        assert page["next_offset"] is None or len(ids) == 7  # offsets only on offset pages
        page = client.get("/api/runs", params={**params, "limit": 7,
                                               "cursor": page["next_cursor"]}).json()


@pytest.mark.parametrize("params", [{}, {"pipeline": "orders"},
                                    {"pipeline": "payments", "status": "failed"},
                                    {"status": "succeeded"}])
def test_cursor_pages_equal_offset_pages(client: TestClient, params: dict) -> None:
    everything = client.get("/api/runs", params={**params, "limit": 500}).json()
    expected = [r["run_id"] for r in everything["runs"]]
    assert expected and everything["next_cursor"] is None
    assert _walk(client, **params) == expected
    by_offset: list[str] = []
    offset: int | None = 0
    while offset is not None:
        page = client.get("/api/runs", params={**params, "limit": 7, "offset": offset}).json()
        by_offset += [r["run_id"] for r in page["runs"]]
        offset = page["next_offset"]
    assert by_offset == expected


def test_a_cursor_holds_its_place_when_new_runs_arrive(client: TestClient) -> None:
    first = client.get("/api/runs", params={"limit": 10}).json()
    client.runner.store.create_run(
        pipeline="orders", kind="batch", trigger="manual", steps=[("x", [])])
    second = client.get("/api/runs", params={"limit": 10, "cursor": first["next_cursor"]})
    assert second.status_code == 200
    everything = [r["run_id"] for r in client.get("/api/runs",
                                                  params={"limit": 500}).json()["runs"]]
    assert [r["run_id"] for r in second.json()["runs"]] == everything[11:21]
    assert second.json()["total"] == 96


@pytest.mark.parametrize("bad", ["nope", "W10", "eyJhIjoxfQ", "%%%"])
def test_a_bad_cursor_is_a_422_naming_it(client: TestClient, bad: str) -> None:
    r = client.get("/api/runs", params={"cursor": bad})
    assert r.status_code == 422
    assert "is not a next_cursor from GET /api/runs" in r.json()["detail"]
