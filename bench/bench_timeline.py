"""Benchmark time on the screen: the ETA's error against the naive estimate, and the
Timeline's kernel-side layout (time and bytes) for 1k / 10k / 100k runs.

    python bench/bench_timeline.py            # both parts
    python bench/bench_timeline.py --no-demo  # skip the real demo runs

ETA: each test run is replayed from its recorded step times. At 25 %, 50 % and 75 % of its
wall time it is cut into a running snapshot (steps ended before the cut succeeded, those
started before it running, the rest pending) and :func:`flowwidgets.eta.estimate` is asked
for its end from the runs before it; the naive estimate is max(now, start + the pipeline's
median run duration), i.e. the pipeline's median minus the elapsed time. The error is
|estimate - real end|, its median over the test runs. "Plain running rule" is the ETA
with a running step's remaining time = its median minus elapsed, floored at 0; the
default takes the median of its past durations longer than the elapsed time instead.

- demo history: the demo's warehouse_etl run for real on our runner (steps sleep with
  $FLOWWIDGETS_DEMO_PACE), 24 runs; runs 9-24 are tested against the ones before them.
- generated history: a 12-step DAG on 3 workers, each step's duration its base times a
  lognormal noise (sigma 0.35), list-scheduled exactly as a runner would; 60 runs, the
  last 40 tested.

Timeline: :func:`flowwidgets.fleet.fleet_marks` over N runs spread over 30 days on 20
pipelines (a tenth hourly cron), for a 24 h and a 30 d window at 1,000 px; the bytes are
the JSON of the marks the browser receives.
"""

from __future__ import annotations

import argparse
import heapq
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flowwidgets.eta import estimate  # noqa: E402
from flowwidgets.fleet import RunArrays, fleet_marks, window_bounds  # noqa: E402
from flowwidgets.models import Attempt, Pipeline, Run, RunDetail, Status, Step  # noqa: E402

CUTS = (0.25, 0.5, 0.75)


def snapshot_at(d: RunDetail, t: datetime) -> RunDetail:
    """The run as it looked at ``t``: a running run with its steps' states then."""
    steps = []
    for s in d.steps:
        if s.finished_at is not None and s.finished_at <= t:
            steps.append(s)
        elif s.started_at is not None and s.started_at <= t:
            steps.append(Step(s.name, Status.RUNNING, s.depends_on, s.started_at, None, None,
                              None, (Attempt(1, Status.RUNNING, s.started_at),)))
        else:
            steps.append(Step(s.name, Status.PENDING, s.depends_on))
    run = Run(d.run.run_id, d.run.pipeline, Status.RUNNING, d.run.started_at)
    return RunDetail(run, tuple(steps))


Errors = dict[float, tuple[list[float], list[float], list[float]]]


def errors_for(runs: list[RunDetail], first_test: int, workers: int | None) -> Errors:
    """|ETA - end| (default, then plain median - elapsed for running steps) and
    |naive - end|, in seconds, at each cut, over runs[first_test:]."""
    out: Errors = {c: ([], [], []) for c in CUTS}
    for i in range(first_test, len(runs)):
        real = runs[i]
        start, end = real.run.started_at, real.run.finished_at
        assert start is not None and end is not None
        history = list(reversed(runs[:i]))  # newest first
        med = statistics.median(h.run.duration_ms or 0 for h in history) / 1000
        for c in CUTS:
            now = start + (end - start) * c
            snap = snapshot_at(real, now)
            eta = estimate(snap, history, now=now, workers=workers)
            plain = estimate(snap, history, now=now, workers=workers, conditional=False)
            if eta.finish_at is None or plain.finish_at is None:
                continue
            naive = max(now, start + timedelta(seconds=med))
            out[c][0].append(abs((eta.finish_at - end).total_seconds()))
            out[c][1].append(abs((plain.finish_at - end).total_seconds()))
            out[c][2].append(abs((naive - end).total_seconds()))
    return out


# ---- generated history -----------------------------------------------------------------

BASE = {"extract": 30, "clean": 20, "orders": 60, "payments": 90, "customers": 25,
        "join": 40, "enrich": 35, "score": 120, "report": 15, "export": 20, "audit": 10,
        "notify": 5}
DEPS = {"extract": (), "clean": ("extract",), "orders": ("clean",), "payments": ("clean",),
        "customers": ("clean",), "join": ("orders", "payments", "customers"),
        "enrich": ("join",), "score": ("join",), "report": ("enrich", "score"),
        "export": ("enrich",), "audit": ("report",), "notify": ("report", "export")}


def simulate(run_id: str, start: datetime, rng: np.random.Generator, workers: int) -> RunDetail:
    """One run of the generated DAG: noisy durations, list-scheduled on ``workers``."""
    dur = {n: b * float(rng.lognormal(0, 0.35)) for n, b in BASE.items()}
    names = list(BASE)
    waiting = {n: set(DEPS[n]) for n in names}
    events: list[tuple[float, str]] = []
    started: dict[str, float] = {}
    ended: dict[str, float] = {}
    t = 0.0
    while len(ended) < len(names):
        ready = [n for n in names if n not in started and not waiting[n]]
        for n in ready[:max(0, workers - len(events))]:
            started[n] = t
            heapq.heappush(events, (t + dur[n], n))
        t, done = heapq.heappop(events)
        ended[done] = t
        for w in waiting.values():
            w.discard(done)
    at = lambda s: start + timedelta(seconds=s)  # noqa: E731
    steps = tuple(Step(n, Status.SUCCEEDED, DEPS[n], at(started[n]), at(ended[n]),
                       int((ended[n] - started[n]) * 1000), None,
                       (Attempt(1, Status.SUCCEEDED, at(started[n]), at(ended[n])),))
                  for n in names)
    fin = at(max(ended.values()))
    return RunDetail(Run(run_id, "generated", Status.SUCCEEDED, start, fin,
                         int((fin - start).total_seconds() * 1000)), steps)


def generated_errors() -> Errors:
    rng = np.random.default_rng(13)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    runs = [simulate(f"g{i}", t0 + timedelta(hours=i), rng, 3) for i in range(60)]
    return errors_for(runs, 20, 3)


# ---- the demo's real runs ---------------------------------------------------------------

def demo_errors(n: int = 24) -> tuple[Errors, int | None]:
    os.environ.setdefault("FLOWWIDGETS_DEMO_PACE", "1")
    from flowwidgets import demo
    from flowwidgets.runner._local import LocalRunner
    from flowwidgets.runner.serve import serve_in_thread
    from flowwidgets.runner.spec import load_pipelines
    from flowwidgets.sources import connect

    with tempfile.TemporaryDirectory() as tmp:
        data = demo.prepare(Path(tmp) / "data")
        demo.set_failure(False, data)
        runner = LocalRunner(load_pipelines(demo.pipelines_path()), db=Path(tmp) / "r.sqlite",
                             data_dir=data, tick_s=0.05)
        with serve_in_thread(runner) as server, connect(server.url) as src:
            for _ in range(n):
                runner.wait(runner.run_now("warehouse_etl"), timeout=60)
            hist = src.step_history("warehouse_etl", limit=n, status="succeeded")
            workers = runner.max_workers
    runs = list(reversed(hist))  # oldest first
    return errors_for(runs, 8, workers), workers


# ---- the Timeline's layout --------------------------------------------------------------

def layout_rows(sizes: tuple[int, ...]) -> list[str]:
    now = datetime(2026, 1, 31, tzinfo=UTC)
    ms = now.timestamp() * 1000
    pipes = [Pipeline(f"pipeline_{i:02d}", schedule="0 * * * *" if i % 10 == 0 else None,
                      median_duration_ms=600_000) for i in range(20)]
    lines = []
    for n in sizes:
        rng = np.random.default_rng(n)
        start = ms - rng.uniform(0, 30 * 86400_000, n)
        end = start + rng.lognormal(np.log(300_000), 1.0, n)
        running = start > ms - 1800_000
        end[running] = np.nan
        status = np.where(running, "running",
                          np.where(rng.uniform(size=n) < 0.05, "failed", "succeeded"))
        arrs = RunArrays(np.array([f"run-{i:06d}" for i in range(n)], dtype=object),
                         np.array([p.name for p in pipes], dtype=object)[np.arange(n) % 20],
                         status, start, end)
        for window in ("24h", "30d"):
            t0, t1 = window_bounds(window, None, now)
            times = []
            for _ in range(5):
                a = time.perf_counter()
                marks = fleet_marks(arrs, pipes, t0, t1, now, 1000)
                times.append(time.perf_counter() - a)
            body = json.dumps(marks, separators=(",", ":"))
            lines.append(f"  {n:>7,} runs, {window:>3} window: layout p50 "
                         f"{statistics.median(times) * 1000:7.1f} ms, {marks['marks']:>5,} marks "
                         f"({marks['runs']:,} runs in view, {marks['merged']:,} merged), "
                         f"{len(body):>9,} B of JSON")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--no-demo", action="store_true")
    args = ap.parse_args()
    out = []

    def table(title: str, errs: Errors, unit: str) -> None:
        out.append(title)
        out.append("  progress   DAG ETA (default)   DAG ETA (plain running rule)   naive   runs")
        scale = 1000 if unit == "ms" else 1
        for c in CUTS:
            e, p, nv = errs[c]
            out.append(f"  {int(c * 100):>3} %      {statistics.median(e) * scale:9.1f} {unit}"
                       f"        {statistics.median(p) * scale:9.1f} {unit}"
                       f"                  {statistics.median(nv) * scale:7.1f} {unit}"
                       f"   {len(e)}")

    if not args.no_demo:
        demo_err, workers = demo_errors()
        table(f"ETA median absolute error, demo warehouse_etl (real runs, {workers} workers, "
              "16 tested against the runs before them):", demo_err, "ms")
    table("ETA median absolute error, generated history (12 steps, 3 workers, lognormal "
          "noise sigma 0.35, 40 tested):", generated_errors(), "s")
    out.append("Timeline layout in the kernel (fleet_marks, 1,000 px, 20 pipelines):")
    out += layout_rows((1_000, 10_000, 100_000))
    out.append(f"machine: {os.cpu_count()} CPUs, {platform.processor() or platform.machine()}; "
               f"Python {platform.python_version()}; load average {os.getloadavg()[0]:.1f}; "
               f"date {datetime.now(UTC):%Y-%m-%d}")
    print("\n".join(out))


if __name__ == "__main__":
    main()
