"""Dagster Source cost at 10, 50 and 200 jobs: requests and bytes of the cards, of a full
snapshot and of each idle poll, counted where they arrive (a counting proxy in front of a
real Dagster 1.13 ``dagster dev``, one per size).

    python bench/bench_dagster.py [--jobs 10,50,200] [--polls 10] [--record]

``--record`` rewrites this benchmark's section of bench/RESULTS.md. Needs the cached
Dagster venv of the tests (built on first use, about 25 s).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from fwtest.orch_dagster import DAGSTER_VERSION, dagster_server  # noqa: E402

from flowwidgets.sources import connect  # noqa: E402
from flowwidgets.sources._base import Flavour  # noqa: E402

SECTION = "## Dagster 1.13 Source (`python bench/bench_dagster.py`)"


class Proxy:
    """Forwards every request to ``upstream`` and counts what arrives: requests by
    GraphQL operation (or path) and bytes of request and response bodies."""

    def __init__(self, upstream: str):
        self.upstream = upstream
        self.ops: Counter[str] = Counter()
        self.bytes = 0
        self.lock = threading.Lock()
        proxy = self
        client = httpx.Client(timeout=120)

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                op = self.path
                if body:
                    query = json.loads(body).get("query", "")
                    op = query.split("(")[0].split("{")[0].split()[-1] if query else op
                r = client.request(self.command, proxy.upstream + self.path, content=body,
                                   headers={"content-type": self.headers.get(
                                       "content-type", "application/json")})
                with proxy.lock:
                    proxy.ops[op] += 1
                    proxy.bytes += len(body) + len(r.content)
                self.send_response(r.status_code)
                self.send_header("content-type", r.headers.get("content-type", ""))
                self.send_header("content-length", str(len(r.content)))
                self.end_headers()
                self.wfile.write(r.content)

            do_GET = do_POST = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def take(self) -> tuple[int, int, Counter[str]]:
        """Requests and bytes since the last take, and the operations."""
        with self.lock:
            ops, n, b = self.ops, sum(self.ops.values()), self.bytes
            self.ops, self.bytes = Counter(), 0
        return n, b, ops

    def close(self) -> None:
        self.server.shutdown()


def gql(url: str, query: str, variables: dict | None = None) -> dict:
    r = httpx.post(f"{url}/graphql", json={"query": query, "variables": variables or {}},
                   timeout=60)
    return r.json()["data"]


LAUNCH = ("mutation($p: ExecutionParams!) { launchRun(executionParams: $p) { __typename "
          "... on LaunchRunSuccess { run { runId } } } }")


def launch(url: str, job: str) -> str:
    sel = {"repositoryLocationName": "fw", "repositoryName": "__repository__", "jobName": job}
    return gql(url, LAUNCH, {"p": {"selector": sel, "runConfigData": {}}})["launchRun"][
        "run"]["runId"]


def wait_done(url: str, run_id: str) -> None:
    q = "query($r: ID!) { runOrError(runId: $r) { ... on Run { status } } }"
    for _ in range(240):
        if gql(url, q, {"r": run_id})["runOrError"]["status"] in ("SUCCESS", "FAILURE",
                                                                  "CANCELED"):
            return
        time.sleep(0.5)
    raise TimeoutError(run_id)


def measure(jobs: int, polls: int, work: Path) -> list[str]:
    """One Dagster with ``jobs`` jobs and a few finished runs; the Source behind a proxy."""
    with dagster_server(work, {"FW_EXTRA_JOBS": str(jobs - 3)}, timeout=300) as srv:
        started = srv.timings["start"]
        for job in ("fw_diamond", "fw_nightly", "fw_sensed"):
            wait_done(srv.url, launch(srv.url, job))
        proxy = Proxy(srv.url)
        try:
            src = connect(proxy.url, timeout=120)
            proxy.take()
            t = time.perf_counter()
            cards = src.pipelines()
            cards_s = time.perf_counter() - t
            n_cards, b_cards, _ = proxy.take()
            assert len(cards) == jobs, len(cards)
            t = time.perf_counter()
            src.pipelines()
            again_s = time.perf_counter() - t
            n_again, b_again, _ = proxy.take()
            src._snapshot()
            n_first, b_first, _ = proxy.take()
            lat, counts, sizes = [], [], []
            for _ in range(polls):
                t = time.perf_counter()
                src._snapshot()
                lat.append(time.perf_counter() - t)
                n, b, _ = proxy.take()
                counts.append(n)
                sizes.append(b)
            wait_done(srv.url, launch(srv.url, "fw_diamond"))
            proxy.take()
            src._snapshot()
            n_change, b_change, ops_change = proxy.take()
            src._snapshot()
            n_after, _, _ = proxy.take()
            generic = Flavour.snapshot(src._flavour)  # the base class's poll, for contrast
            src._drive(generic)
            n_generic, b_generic, _ = proxy.take()
            src.close()
        finally:
            proxy.close()
    p50 = statistics.median(lat) * 1000
    return [
        f"{jobs} jobs (dagster dev up in {started:.0f} s):",
        f"  cards (pipelines())        {n_cards} requests  {b_cards:>9,} B  "
        f"{cards_s * 1000:7.0f} ms",
        f"  cards again, no change     {n_again} requests  {b_again:>9,} B  "
        f"{again_s * 1000:7.0f} ms",
        f"  first snapshot             {n_first} requests  {b_first:>9,} B",
        f"  idle poll x{polls}              {statistics.mean(counts):.1f} requests  "
        f"{statistics.mean(sizes):>9,.0f} B  p50 {p50:5.0f} ms  max {max(lat) * 1000:5.0f} ms",
        f"  poll after one new run     {n_change} requests  {b_change:>9,} B  "
        f"({', '.join(f'{k} {v}' for k, v in sorted(ops_change.items()))})",
        f"  next idle poll             {n_after} request",
        f"  generic snapshot (contrast) {n_generic} requests  {b_generic:>9,} B",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", default="10,50,200")
    parser.add_argument("--polls", type=int, default=10)
    parser.add_argument("--record", action="store_true", help="rewrite RESULTS.md's section")
    args = parser.parse_args()
    lines = [f"# bench_dagster  {datetime.now(UTC):%Y-%m-%d}  nproc={os.cpu_count()}  "
             f"dagster {DAGSTER_VERSION}  Python {platform.python_version()}"]
    for n in (int(x) for x in args.jobs.split(",")):
        with tempfile.TemporaryDirectory(prefix="fw-bench-dagster-") as tmp:
            lines += measure(n, args.polls, Path(tmp))
        print("\n".join(lines[-8:]), flush=True)
    lines.append(f"load average at the end: {os.getloadavg()[0]:.1f}")
    print(lines[-1])
    if args.record:
        record("\n".join(lines))


def record(text: str) -> None:
    """Replace (or append) this benchmark's section of bench/RESULTS.md."""
    body = (f"{SECTION}\n\nRequests counted where they arrive (a proxy in front of a real "
            "`dagster dev`); each size has 3 finished runs. The idle poll is one GraphQL "
            "request (runs updated since the last poll, with the workspace and schedule "
            "states), whatever the number of jobs; a change re-reads only the touched "
            "job's card, and so does a later `pipelines()` (the widgets' re-query). The "
            "machine is shared with other engineers' test runs.\n\n```\n"
            + text + "\n```\n")
    from _record import replace_heading  # type: ignore[import-not-found]

    replace_heading(SECTION, body)


if __name__ == "__main__":
    main()
