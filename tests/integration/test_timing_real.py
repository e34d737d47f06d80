"""Real runner, real timing: a diamond whose steps sleep known amounts runs on a 2-worker
pool over real HTTP; the timing and the ETA computed from what the runner recorded must
match the truth.

a (0.05 s) → slow (1.0 s), fast (0.2 s), side (0.2 s) → d (0.05 s). Two workers: slow and
fast start together, side waits for fast's worker (0.2 s), d waits for slow.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from flowwidgets.frames import runs_frame
from flowwidgets.runner._local import LocalRunner
from flowwidgets.runner.serve import serve_in_thread
from flowwidgets.runner.spec import Pipelines, PipelineSpec, StepSpec
from flowwidgets.sources import connect, connect_async
from flowwidgets.timing import timing

pytestmark = [pytest.mark.integration]

HERE = Path(__file__).resolve().parent
TOL_S = 0.15
"""Scheduling jitter allowed on a shared 2-core machine (per measured interval)."""


def _step(name: str, *deps: str) -> StepSpec:
    return StepSpec(name, depends_on=deps, call="_timing_jobs:nap")


DIAMOND = (_step("a"), _step("slow", "a"), _step("fast", "a"), _step("side", "a"),
           _step("d", "slow", "fast", "side"))


def _runner(tmp_path: Path, *extra: StepSpec) -> LocalRunner:
    spec = PipelineSpec("diamond", DIAMOND + extra)
    return LocalRunner(Pipelines((spec,), base_dir=HERE), db=tmp_path / "runs.sqlite",
                       tick_s=0.02, data_dir=tmp_path, max_workers=2)


def test_critical_path_wait_and_slack_of_a_real_run(tmp_path):
    runner = _runner(tmp_path)
    with serve_in_thread(runner) as server, connect(server.url) as src:
        rid = runner.run_now("diamond")
        runner.wait(rid, timeout=30)
        t = timing(src.run(rid))
    assert t.critical_path == ("a", "slow", "d")
    side = t.step("side")
    assert side.wait_ms is not None and abs(side.wait_ms - 200) <= TOL_S * 1000
    assert t.step("fast").wait_ms is not None and t.step("fast").wait_ms < TOL_S * 1000
    assert t.step("fast").slack_ms is not None
    assert abs(t.step("fast").slack_ms - 800) <= TOL_S * 1000
    assert abs(t.step("side").slack_ms - 600) <= TOL_S * 1000
    assert t.critical_share is not None and t.critical_share > 0.9


def test_eta_at_mid_run_is_close_to_the_real_end_and_partial_without_history(tmp_path):
    runner = _runner(tmp_path)
    with serve_in_thread(runner) as server, connect(server.url) as src:
        for _ in range(3):
            runner.wait(runner.run_now("diamond"), timeout=30)
        rid = runner.run_now("diamond")
        deadline = time.monotonic() + 10
        while src.run(rid).step("slow").started_at is None and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.4)  # mid-run: slow has about 0.6 s left, d 0.05 s after it
        eta = src.eta(rid)
        df = runs_frame(src)
        runner.wait(rid, timeout=30)
        real_end = src.run(rid).run.finished_at
    assert not eta.partial and eta.history_runs == 3 and eta.workers == 2
    assert eta.finish_at is not None and real_end is not None
    err = abs((eta.finish_at - real_end).total_seconds())
    assert err <= 0.25, f"ETA {eta.finish_at} vs real end {real_end}: {err:.3f} s off"
    assert eta.finish_p90_at >= eta.finish_at
    # runs_frame: the running run has an ETA, the finished ones NaT
    assert df["eta"].notna().tolist() == [True, False, False, False]
    assert abs((df["eta"].iloc[0] - real_end).total_seconds()) <= 0.5

    # the same pipeline with a new step: that step has no history, the ETA says partial
    runner2 = _runner(tmp_path, _step("report", "d"))
    with serve_in_thread(runner2) as server, connect(server.url) as src:
        rid = runner2.run_now("diamond")
        time.sleep(0.3)
        eta = src.eta(rid)
        assert eta.partial and eta.missing == ("report",) and eta.finish_at is None
        assert eta.describe() == "ETA partial: 1 step has no history"

        async def twin() -> bool:
            async with await connect_async(server.url) as asrc:
                return (await asrc.eta(rid)).partial

        assert asyncio.run(twin())
        runner2.wait(rid, timeout=30)
        assert src.eta(rid).done
