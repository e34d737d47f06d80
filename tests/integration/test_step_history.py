"""``Source.step_history`` over real HTTP: our runner's endpoint (one request, ETag, 304,
status filter, 404/422 with ``detail``), the async twin, and the bounded fallback of the
other /api flavours (ematix-flow's ``flow web`` shape served by the same runner)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from flowwidgets import errors
from flowwidgets.models import Status
from flowwidgets.runner._local import LocalRunner
from flowwidgets.runner.serve import serve_in_thread
from flowwidgets.runner.spec import Pipelines, PipelineSpec, StepSpec
from flowwidgets.sources import connect, connect_async
from flowwidgets.sources._base import FALLBACK_HISTORY, Flavour, Source
from flowwidgets.sources._http import SyncHttp
from flowwidgets.sources.api import EmatixFlavour

pytestmark = [pytest.mark.integration]

HERE = Path(__file__).resolve().parent


def _step(name: str, *deps: str, retries: int = 0) -> StepSpec:
    return StepSpec(name, depends_on=deps, call="_timing_jobs:nap", retries=retries)


QUICK = PipelineSpec("quick", (_step("a"), _step("b", "a"), _step("c", "a"), _step("d", "b", "c")))


@pytest.fixture
def runner(tmp_path: Path) -> LocalRunner:
    return LocalRunner(Pipelines((QUICK,), base_dir=HERE), db=tmp_path / "runs.sqlite",
                       tick_s=0.05, data_dir=tmp_path, max_workers=3)


def _run(runner: LocalRunner, n: int) -> list[str]:
    ids = []
    for _ in range(n):
        rid = runner.run_now("quick")
        runner.wait(rid, timeout=20)
        ids.append(rid)
    return ids


def test_step_history_is_one_request_with_steps_and_attempts(runner, tmp_path):
    with serve_in_thread(runner) as server, connect(server.url) as src:
        ids = _run(runner, 2)
        (tmp_path / "fail-d").write_text("on")
        failed = _run(runner, 1)[0]
        before = src.stats.requests
        hist = src.step_history("quick", limit=10)
        assert src.stats.requests == before + 1
        assert [h.run_id for h in hist] == [failed, *reversed(ids)]  # newest first
        ok = hist[1]
        assert ok.status is Status.SUCCEEDED and ok.extra["max_workers"] == 3
        assert [s.name for s in ok.steps] == ["a", "b", "c", "d"]
        for s in ok.steps:
            assert s.started_at and s.finished_at and s.finished_at >= s.started_at
            assert len(s.attempts) == 1 and s.attempts[0].status is Status.SUCCEEDED
        assert ok.step("d").depends_on == ("b", "c")
        assert hist[0].step("d").status is Status.FAILED

        assert [h.run_id for h in src.step_history("quick", status="succeeded")] == \
            list(reversed(ids))
        assert len(src.step_history("quick", limit=1)) == 1
        # unchanged history: the second identical request is a 304
        not_modified = src.stats.not_modified
        src.step_history("quick", limit=10)
        assert src.stats.not_modified == not_modified + 1

        with pytest.raises(errors.NotFound, match="pipeline 'nope' not found"):
            src.step_history("nope")
        with pytest.raises(ValueError, match="unknown status"):
            src.step_history("quick", status="bogus")
        with pytest.raises(ValueError, match="limit"):
            src.step_history("quick", limit=0)


def test_endpoint_etag_and_bad_parameters(runner):
    with serve_in_thread(runner) as server:
        _run(runner, 1)
        url = f"{server.url}/api/pipelines/quick/step_history"
        first = httpx.get(url, params={"limit": 5})
        assert first.status_code == 200 and first.headers["etag"]
        body = first.json()
        assert body["pipeline"] == "quick" and body["total"] == 1 and body["max_workers"] == 3
        assert "actions" not in body["runs"][0]
        again = httpx.get(url, params={"limit": 5},
                          headers={"If-None-Match": first.headers["etag"]})
        assert again.status_code == 304
        bad = httpx.get(url, params={"status": "nope"})
        assert bad.status_code == 422 and "unknown status 'nope'" in bad.json()["detail"]
        missing = httpx.get(f"{server.url}/api/pipelines/<b>x&y/step_history")
        assert missing.status_code == 404 \
            and "pipeline '<b>x&y' not found" in missing.json()["detail"]


def test_async_twin(runner):
    async def go(url: str) -> list[str]:
        async with await connect_async(url) as src:
            return [h.run_id for h in await src.step_history("quick", limit=5)]

    with serve_in_thread(runner) as server:
        ids = _run(runner, 2)
        assert asyncio.run(go(server.url)) == list(reversed(ids))


def test_fallback_lists_runs_then_reads_details_capped(runner):
    """The ematix flavour has no history endpoint: a runs page plus one detail per run,
    never more than FALLBACK_HISTORY details."""
    with serve_in_thread(runner) as server:
        ids = _run(runner, 3)
        http = SyncHttp(server.url, None, 10)
        src = Source(server.url, EmatixFlavour(), http)
        before = src.stats.requests
        hist = src.step_history("quick", limit=2)
        assert [h.run_id for h in hist] == list(reversed(ids))[:2]
        assert src.stats.requests == before + 3
        assert hist[0].step("b").started_at is not None
        assert FALLBACK_HISTORY == 20
        assert isinstance(src._flavour, Flavour)
        src.close()
