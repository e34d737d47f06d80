"""runs_frame on our runner (real HTTP on 127.0.0.1) follows ``next_cursor``: every run
once, in order, the same frame the offsets give, and the requests after the first carry
the cursor (one index seek each on the runner, however deep)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fwtest.api import sqlite_log

import flowwidgets.frames as frames
from flowwidgets.models import Status
from flowwidgets.runner._local import LocalRunner
from flowwidgets.runner.serve import serve_in_thread
from flowwidgets.runner.spec import Pipelines, PipelineSpec, StepSpec
from flowwidgets.runner.store import RunRecord
from flowwidgets.sources import connect

T0 = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture
def url(tmp_path: Path) -> Iterator[str]:
    spec = PipelineSpec("orders", steps=(StepSpec("x", run="true"),))
    runner = LocalRunner(Pipelines((spec,), base_dir=tmp_path), db=tmp_path / "runs.sqlite")
    sqlite_log(runner).import_runs([
        RunRecord(run_id=f"r{i:04d}", pipeline="orders", kind="batch",
                  status=Status.FAILED if i % 4 == 0 else Status.SUCCEEDED,
                  trigger="schedule", created_at=T0 + timedelta(seconds=i // 2),
                  started_at=T0, finished_at=T0 + timedelta(seconds=3))
        for i in range(230)])
    try:
        with serve_in_thread(runner, start_runner=False) as server:
            yield server.url
    finally:
        runner.stop()


def test_runs_frame_follows_the_cursor(url: str, monkeypatch: pytest.MonkeyPatch,
                                       request: pytest.FixtureRequest) -> None:
    monkeypatch.setattr(frames, "PAGE_SIZE", 20)
    src = connect(url)
    request.addfinalizer(src.close)
    cursors: list[str | None] = []
    real = src.runs_columns_page

    def spy(pipeline, status, limit, offset, cursor=None):
        cursors.append(cursor)
        return real(pipeline, status, limit, offset, cursor)

    monkeypatch.setattr(src, "runs_columns_page", spy)
    df = frames.runs_frame(src, progress=False)
    expected = sorted((f"r{i:04d}" for i in range(230)),
                      key=lambda r: (int(r[1:]) // 2, r), reverse=True)
    assert list(df["run_id"]) == expected
    assert cursors[0] is None and len(cursors) == 12 and all(cursors[1:])
    failed = frames.runs_frame(src, status="failed", progress=False)
    assert list(failed["run_id"]) == [r for r in expected if int(r[1:]) % 4 == 0]
