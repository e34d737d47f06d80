"""Benchmark one run's detail, ``GET /api/runs/{id}``: our runner against ematix-flow.

    python bench/bench_detail.py                 # 10,000 runs, 300 requests each
    python bench/bench_detail.py --record        # also rewrites its RESULTS.md section

The same generated history (bench_scale's: eight pipelines over 60 days, four steps per
run) in our run log (``import_runs``) and in ematix-flow 1.0's SQLite run log (its
``record_run_record``, the steps in ``extras`` where ematix keeps them). Both apps are
served by uvicorn on 127.0.0.1 from threads of this process and read by one httpx
client, requests interleaved so the machine's load hits both alike. The run asked for
is the newest (ours answers it from the ``runs`` primary key and the run's steps and
attempts; ematix from its ``runs`` table).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_import import ematix  # noqa: E402
from bench_scale import pipelines, runs, steps  # noqa: E402
from bench_status import pct, serve_app  # noqa: E402

from flowwidgets.runner._local import LocalRunner  # noqa: E402
from flowwidgets.runner.api import create_app  # noqa: E402
from flowwidgets.runner.sqlite import SqliteRunLog  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10_000)
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--record", action="store_true")
    args = ap.parse_args()
    from ematix_flow.run_log.sqlite import SqliteRunLog as EmLog
    from ematix_flow.web.server import create_app as ematix_app

    now = datetime.now(UTC)
    lines = [f"# bench_detail  {time.strftime('%Y-%m-%d')}  nproc={os.cpu_count()}  "
             f"{args.runs:,} runs, {args.requests} requests each, load "
             f"{os.getloadavg()[0]:.1f} at the start"]
    print(lines[0], flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-detail-") as tmp:
        folder = Path(tmp)
        store = SqliteRunLog(folder / "ours.sqlite")
        store.import_runs(runs(args.runs, now), steps(args.runs, now))
        ematix(args.runs, folder, now)  # writes folder / "ematix.sqlite"
        em_log = EmLog(str(folder / "ematix.sqlite"))
        runner = LocalRunner(pipelines(), db=store)
        ours_url, ours_server, ours_thread = serve_app(create_app(runner))
        em_url, em_server, em_thread = serve_app(ematix_app(history=em_log))
        last = f"bench-{args.runs - 1:07d}"
        urls = {"ours": f"{ours_url}/api/runs/{last}", "ematix": f"{em_url}/api/runs/{last}"}
        times: dict[str, list[float]] = {k: [] for k in urls}
        sizes: dict[str, int] = {}
        try:
            with httpx.Client() as http:
                for name, url in urls.items():  # warm up; both know the run and its steps
                    body = http.get(url).json()
                    assert body["run_id"] == last and len(body["steps"]) == 4, (name, body)
                    sizes[name] = len(http.get(url).content)
                for _ in range(args.requests):
                    for name, url in urls.items():
                        t = time.perf_counter()
                        r = http.get(url)
                        times[name].append((time.perf_counter() - t) * 1000)
                        assert r.status_code == 200
        finally:
            for server in (ours_server, em_server):
                server.should_exit = True
            ours_thread.join(5)
            em_thread.join(5)
            runner.stop()
            store.close()
    for name, label in (("ours", "flowwidgets runner"), ("ematix", "ematix-flow 1.0 (peer)")):
        ms = times[name]
        line = (f"GET /api/runs/{{id}}  {label:<22} p50 {statistics.median(ms):5.2f} ms   "
                f"p95 {pct(ms, 95):5.2f} ms   min {min(ms):5.2f} ms   body {sizes[name]:,} B")
        print(line)
        lines.append(line)
    ratio = statistics.median(times["ours"]) / statistics.median(times["ematix"])
    lines.append(f"ratio ours/ematix at p50: {ratio:.2f}; load {os.getloadavg()[0]:.1f} at "
                 "the end")
    print(lines[-1])
    if args.record:
        from _record import record  # type: ignore[import-not-found]

        record("bench_detail", "One run's detail (`python bench/bench_detail.py`)",
               "`GET /api/runs/{id}` of our runner against ematix-flow's `flow web` app on "
               "the same history, requests interleaved over real HTTP on 127.0.0.1.", lines)


if __name__ == "__main__":
    main()
