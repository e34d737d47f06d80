"""Benchmark the runner's status API on a 100,000-run history, over real HTTP.

    python bench/bench_api.py                 # prints the figures
    python bench/bench_api.py --record        # also rewrites the API section of RESULTS.md
    python bench/bench_api.py --runs 20000    # a smaller history

The history is a real SQLite file filled with ``SqliteRunLog.import_runs`` (finished runs
of eight pipelines over 60 days, about 8% failed, each with its steps); the API is served
by ``serve_in_thread`` on 127.0.0.1 and read with httpx. Measured: latency of
``/api/pipelines``, ``/api/runs?limit=50`` (and a filtered page, a deep page, one run's
detail), the 304 answer to a conditional poll, and the bytes an idle poll costs on the
wire (request + response, headers included) with and without ``If-None-Match``.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import re
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flowwidgets.models import Status  # noqa: E402
from flowwidgets.runner._local import LocalRunner  # noqa: E402
from flowwidgets.runner.serve import serve_in_thread  # noqa: E402
from flowwidgets.runner.spec import Pipelines, PipelineSpec, StepSpec  # noqa: E402
from flowwidgets.runner.sqlite import SqliteRunLog  # noqa: E402
from flowwidgets.runner.store import RunRecord, StepRecord  # noqa: E402

RESULTS = ROOT / "bench" / "RESULTS.md"
START, END = "<!-- bench_api:start -->", "<!-- bench_api:end -->"
STEPS = ("extract", "transform", "merge", "load")


def pipelines() -> Pipelines:
    """Eight four-step batch pipelines on different schedules."""
    specs = []
    for i, cron in enumerate(["0 * * * *", "*/15 * * * *", "30 2 * * *", "0 6 * * 1",
                              "*/5 * * * *", "0 */4 * * *", "15 3 * * *", "45 * * * *"]):
        steps = tuple(StepSpec(s, depends_on=(STEPS[j - 1],) if j else (), run="true")
                      for j, s in enumerate(STEPS))
        specs.append(PipelineSpec(f"pipeline_{i}", steps, schedule=cron,
                                  timezone="America/Chicago" if i % 2 else "UTC"))
    return Pipelines(tuple(specs))


def history(n: int, names: list[str], now: datetime):
    """``n`` finished runs (with their steps) spread over the last 60 days."""
    rng = random.Random(47)
    runs, steps = [], []
    for i in range(n):
        created = now - timedelta(seconds=60 * 86400 * (n - i) / n)
        took = timedelta(milliseconds=rng.randint(20_000, 90_000))
        failed = rng.random() < 0.08
        run_id = f"bench-{i:07d}"
        failed_step = rng.choice(STEPS) if failed else None
        runs.append(RunRecord(
            run_id=run_id, pipeline=names[i % len(names)], kind="batch",
            status=Status.FAILED if failed else Status.SUCCEEDED, trigger="schedule",
            created_at=created, started_at=created, finished_at=created + took,
            failed_step=failed_step,
            error="ValueError: amount column missing in batch 47" if failed else None))
        reached = STEPS.index(failed_step) if failed_step else len(STEPS) - 1
        for pos, name in enumerate(STEPS):
            status = (Status.SUCCEEDED if pos < reached or not failed
                      else Status.FAILED if pos == reached else Status.PENDING)
            steps.append(StepRecord(
                run_id=run_id, name=name, status=status, position=pos,
                depends_on=(STEPS[pos - 1],) if pos else (),
                started_at=created if status != Status.PENDING else None,
                finished_at=created + took if status != Status.PENDING else None,
                attempts=0 if status == Status.PENDING else 1))
    return runs, steps


def wire_bytes(r: httpx.Response) -> tuple[int, int]:
    """(request bytes, response bytes) as HTTP/1.1 puts them on the wire."""
    req = r.request
    req_bytes = len(f"{req.method} {req.url.raw_path.decode()} HTTP/1.1\r\n") + sum(
        len(k) + len(v) + 4 for k, v in req.headers.raw) + 2 + len(req.content)
    resp_bytes = len(f"HTTP/1.1 {r.status_code} {r.reason_phrase}\r\n") + sum(
        len(k) + len(v) + 4 for k, v in r.headers.raw) + 2 + len(r.content)
    return req_bytes, resp_bytes


def timed(client: httpx.Client, path: str, repeat: int, headers: dict | None = None
          ) -> tuple[list[float], httpx.Response]:
    client.get(path, headers=headers)  # warm
    times, resp = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        resp = client.get(path, headers=headers)
        times.append((time.perf_counter() - t0) * 1000)
        assert resp.status_code in (200, 304), (path, resp.status_code, resp.text[:200])
    return times, resp


def fmt(times: list[float]) -> str:
    q = statistics.quantiles(times, n=20)
    return f"p50 {statistics.median(times):7.1f} ms   p95 {q[18]:7.1f} ms"


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), {model}; "
            f"Python {platform.python_version()}, SQLite {__import__('sqlite3').sqlite_version}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=30)
    ap.add_argument("--record", action="store_true", help="rewrite the API section of "
                    "bench/RESULTS.md")
    args = ap.parse_args()
    lines: list[str] = []

    def say(text: str) -> None:
        print(text, flush=True)
        lines.append(text)

    specs = pipelines()
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory(prefix="bench-api-") as tmp:
        store = SqliteRunLog(Path(tmp) / "runs.sqlite")
        runs, steps = history(args.runs, list(specs.names), now)
        t0 = time.perf_counter()
        store.import_runs(runs, steps)
        fill_s = time.perf_counter() - t0
        size_mb = (Path(tmp) / "runs.sqlite").stat().st_size / 1e6
        runner = LocalRunner(specs, db=store)
        try:
            with serve_in_thread(runner, port=0, start_runner=False) as server, \
                    httpx.Client(base_url=server.url, timeout=60) as client:
                say(f"history: {args.runs:,} runs of {len(specs)} pipelines, "
                    f"{len(steps):,} steps, imported in {fill_s:.1f} s ({size_mb:.0f} MB)")
                say(f"latency over real HTTP on 127.0.0.1, {args.repeat} requests each:")
                cases = [
                    ("/api/pipelines", "GET /api/pipelines"),
                    ("/api/runs?limit=50", "GET /api/runs?limit=50"),
                    ("/api/runs?limit=500", "GET /api/runs?limit=500"),
                    (f"/api/runs?limit=500&offset={args.runs // 2}",
                     "GET /api/runs?limit=500 (middle page)"),
                    ("/api/runs?pipeline=pipeline_3&status=failed&limit=50",
                     "GET /api/runs?pipeline=…&status=failed"),
                    (f"/api/runs?limit=50&offset={args.runs - 100}",
                     "GET /api/runs?limit=50 (last page)"),
                    (f"/api/runs/{runs[-1].run_id}", "GET /api/runs/{id}"),
                ]
                for path, label in cases:
                    times, _ = timed(client, path, args.repeat)
                    say(f"  {label:<42} {fmt(times)}")
                say("idle poll (nothing changed), bytes on the wire incl. headers:")
                for path in ("/api/pipelines", "/api/runs?limit=50"):
                    full = client.get(path)
                    etag = full.headers["etag"]
                    times, cond = timed(client, path, args.repeat, {"If-None-Match": etag})
                    assert cond.status_code == 304
                    rq, rs = wire_bytes(full)
                    crq, crs = wire_bytes(cond)
                    say(f"  {path:<20} 200: {rq + rs:>6,} B ({len(full.content):,} B body)   "
                        f"304: {crq + crs} B (request {crq} + response {crs})")
                    say(f"  {'':<20} 304 latency {fmt(times)}")
        finally:
            runner.stop()
            store.close()
    say(f"machine: {machine()}")
    say(f"date: {datetime.now(UTC):%Y-%m-%d}; load average at the end "
        f"{os.getloadavg()[0]:.1f}")
    if args.record:
        record(lines)
    return 0


def record(lines: list[str]) -> None:
    """Replace the API section of RESULTS.md (other sections are kept as they are)."""
    body = "\n".join([START, "## API (`python bench/bench_api.py`)", "",
                      "Real HTTP against `serve_in_thread` on a SQLite history filled with "
                      "`SqliteRunLog.import_runs`. The machine is shared with other "
                      "engineers' test runs, so p95 figures are noisy.", "", "```",
                      *lines, "```", END])
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    if START in text and END in text:
        text = re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _: body, text,
                      flags=re.S)
    else:
        text = text.rstrip("\n") + "\n\n" + body + "\n"
    RESULTS.write_text(text)
    print(f"recorded in {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    sys.exit(main())
