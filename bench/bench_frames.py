"""Benchmark the Source side: ``runs_frame`` on 100,000 runs and the cost of an idle poll.

    python bench/bench_frames.py              # prints the figures
    python bench/bench_frames.py --record     # also rewrites its section of RESULTS.md
    python bench/bench_frames.py --runs 20000

Our runner serves a real SQLite history (``SqliteRunLog.import_runs``: 100,000 finished
runs of five pipelines) through ``serve_in_thread`` on 127.0.0.1; a Source reads it over
real HTTP. Measured: ``runs_frame`` wall time (200 pages of 500), the share spent parsing
JSON into models, and what one idle poll of the Poller costs (requests and bytes on the
wire) against our runner (ETag → 304) and against ematix-flow's ``flow web`` app (no ETags:
full bodies, compared by hash), plus the push channel's idle cost.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import platform
import random
import re
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "sources"))

from flowwidgets.frames import runs_frame  # noqa: E402
from flowwidgets.models import Status  # noqa: E402
from flowwidgets.runner._local import LocalRunner  # noqa: E402
from flowwidgets.runner.serve import serve_in_thread  # noqa: E402
from flowwidgets.runner.spec import PipelineSpec, StepSpec  # noqa: E402
from flowwidgets.runner.sqlite import SqliteRunLog  # noqa: E402
from flowwidgets.runner.store import RunRecord  # noqa: E402
from flowwidgets.sources import connect  # noqa: E402

NAMES = ("orders", "payments", "customers", "inventory", "events")
RESULTS = ROOT / "bench" / "RESULTS.md"
START, END = "<!-- bench_frames:start -->", "<!-- bench_frames:end -->"


class _Tee(io.TextIOBase):
    """Writes through to the terminal and keeps a copy (for ``--record``)."""

    def __init__(self, out) -> None:
        self.out, self.kept = out, io.StringIO()

    def write(self, text: str) -> int:
        self.out.write(text)
        self.out.flush()
        return self.kept.write(text)


def fill(store: SqliteRunLog, n: int) -> None:
    rng = random.Random(7)
    now = datetime.now(UTC).replace(microsecond=0)
    runs = []
    for i in range(n):
        t = now - timedelta(minutes=5 * (n - i))
        failed = rng.random() < 0.08
        runs.append(RunRecord(
            run_id=f"run-{i:06d}", pipeline=NAMES[i % len(NAMES)], kind="batch",
            status=Status.FAILED if failed else Status.SUCCEEDED, trigger="schedule",
            created_at=t, started_at=t, finished_at=t + timedelta(seconds=rng.randint(5, 90)),
            attempt=rng.choice((1, 1, 1, 2)), failed_step="load" if failed else None))
    store.import_runs(runs)


def wire_bytes(stats_before: tuple[int, int], src) -> tuple[int, int]:
    return src.stats.requests - stats_before[0], src.stats.bytes_received - stats_before[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=100_000)
    ap.add_argument("--record", action="store_true",
                    help="rewrite the frames section of bench/RESULTS.md")
    args = ap.parse_args()
    tee = _Tee(sys.stdout)
    with contextlib.redirect_stdout(tee):
        measure(args)
    if args.record:
        record(tee.kept.getvalue())


def record(text: str) -> None:
    """Replace the frames section of RESULTS.md (other sections are kept as they are)."""
    body = "\n".join([START, "## Frames and idle polls (`python bench/bench_frames.py`)", "",
                      "A Source reading our runner over real HTTP on 127.0.0.1; the machine "
                      "is shared with other engineers' test runs.", "", "```",
                      text.rstrip("\n"), "```", END])
    old = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    if START in old and END in old:
        new = re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _: body, old,
                     flags=re.S)
    else:
        new = old.rstrip("\n") + "\n\n" + body + "\n"
    RESULTS.write_text(new)
    print(f"recorded in {RESULTS.relative_to(ROOT)}")


def measure(args: argparse.Namespace) -> None:
    """Every measurement, printed as it goes."""
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text()
                .splitlines() if line.startswith("model name")), platform.processor())
    print(f"# bench_frames  {datetime.now(UTC):%Y-%m-%d}  nproc={os.cpu_count()}  {cpu}  "
          f"Python {platform.python_version()}  load {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteRunLog(Path(tmp) / "runs.sqlite")
        t = time.perf_counter()
        fill(store, args.runs)
        print(f"history: {args.runs:,} runs imported in {time.perf_counter() - t:.1f} s")
        specs = [PipelineSpec(n, (StepSpec("load", run="true"),)) for n in NAMES]
        runner = LocalRunner(specs, db=store)
        try:
            with serve_in_thread(runner, start_runner=False) as server:
                with connect(server.url) as src:
                    print("served by serve_in_thread in this process:")
                    bench_frame(src, args.runs)
                    bench_idle(src, "our runner (ETag/304)")
                    bench_push(src)
            store.close()
            bench_subprocess(Path(tmp), args.runs)
        finally:
            store.close()
    bench_ematix()


def bench_subprocess(tmp: Path, n: int) -> None:
    """The same history served by ``flowwidgets serve`` in its own process (how a
    notebook usually meets the runner): the kernel's parsing overlaps the server's work."""
    import signal
    import subprocess

    from _src_helpers import free_port, wait_port

    spec = tmp / "pipelines.yaml"
    spec.write_text("pipelines:\n" + "".join(
        f"  - name: {n}\n    steps:\n      - name: load\n        run: 'true'\n"
        for n in NAMES))
    port = free_port()
    exe = Path(sys.executable).with_name("flowwidgets")
    proc = subprocess.Popen([str(exe), "serve", str(spec), "--port", str(port), "--db",
                             str(tmp / "runs.sqlite"), "--tick", "3600"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        wait_port(port)
        with connect(f"http://127.0.0.1:{port}") as src:
            print("served by `flowwidgets serve` in its own process:")
            bench_frame(src, n)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)


def bench_frame(src, n: int) -> None:
    best = None
    for _ in range(3):
        before = (src.stats.requests, src.stats.bytes_received)
        t = time.perf_counter()
        df = runs_frame(src, progress=False)
        took = time.perf_counter() - t
        reqs, size = wire_bytes(before, src)
        best = took if best is None else min(best, took)
        assert len(df) == n, len(df)
    print(f"runs_frame: {n:,} runs in {best:.2f} s (best of 3) = {n / best:,.0f} runs/s; "
          f"{reqs} requests, {size / 1e6:.1f} MB received")
    page = src._http.client.get(f"{src.url}/api/runs", params={"limit": 500}).json()
    flavour = src._flavour
    t = time.perf_counter()
    for _ in range(20):
        flavour.parse_page(page)
    per_page = (time.perf_counter() - t) / 20
    print(f"  parsing 500 runs into models: {per_page * 1000:.1f} ms/page "
          f"({per_page * n / 500:.2f} s of the total)")


def bench_idle(src, label: str) -> None:
    src._snapshot()  # prime the cache
    before = (src.stats.requests, src.stats.bytes_received)
    polls = 20
    t = time.perf_counter()
    for _ in range(polls):
        src._snapshot()
    took = (time.perf_counter() - t) / polls
    reqs, size = wire_bytes(before, src)
    print(f"idle poll, {label}: {reqs / polls:.1f} requests, {size / polls:,.0f} bytes "
          f"received, {took * 1000:.1f} ms per poll")


def bench_push(src) -> None:
    import queue

    events: queue.Queue = queue.Queue()
    poller = src.poller(interval=2.0)
    unsubscribe = poller.subscribe(events.put)
    events.get(timeout=10)  # connected
    before = (src.stats.requests, src.stats.bytes_received)
    time.sleep(3)
    reqs, size = wire_bytes(before, src)
    print(f"idle push channel (SSE, mode={poller.mode}): {reqs} requests in 3 s "
          "(one open stream; a ': keepalive' comment every 15 s)")
    unsubscribe()


def bench_ematix() -> None:
    from _src_helpers import ServerThread
    from ematix_flow.run_log.history import InMemoryRunHistory
    from ematix_flow.run_log.history import RunRecord as EmRecord
    from ematix_flow.web.server import create_app

    h = InMemoryRunHistory()
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    for i in range(1000):
        h.record_run_record(EmRecord(run_id=f"r{i}", pipeline=NAMES[i % 5], status="succeeded",
                                     started_at=t0 + timedelta(minutes=i),
                                     finished_at=t0 + timedelta(minutes=i, seconds=30)))
    with ServerThread(create_app(history=h)) as server, connect(server.url) as src:
        bench_idle(src, "ematix flow web, 1,000 runs (no ETag: body hash)")


if __name__ == "__main__":
    main()
