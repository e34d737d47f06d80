"""Benchmark change → widget latency over the push channel (server-sent events).

    python bench/bench_push.py               # prints the figures
    python bench/bench_push.py --record      # also rewrites its section of RESULTS.md

A real runner served by ``serve_in_thread`` on 127.0.0.1 (its scheduler off, so nothing
else writes), a Source from ``flowwidgets.connect`` and a live ``PipelineCards`` widget
in this process. Each sample creates a run in the run log and times from the moment the
write returns (committed) to the moment the widget's ``pipelines`` trait holds that run
(the Poller got the event, re-read ``/api/pipelines`` and set the trait).

Two ways, interleaved sample by sample so load hits both alike:

- ``wake``: the event stream is woken by the commit (what the runner does);
- ``poll``: the commit hook switched off, the stream finds the write by polling the
  store every 200 ms (what it did before, and still does for other processes' writes).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import flowwidgets as fw  # noqa: E402
from flowwidgets.runner.spec import Pipelines, PipelineSpec, StepSpec  # noqa: E402


def pct(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank) of ``values``."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


class Watch:
    """When each run id first shows in the widget's ``pipelines`` trait."""

    def __init__(self, widget: Any) -> None:
        self.first: dict[str, float] = {}
        self.changed = threading.Condition()
        widget.observe(self._changed, names=["pipelines"])

    def _changed(self, change: dict[str, Any]) -> None:
        now = time.perf_counter()
        with self.changed:
            for card in change["new"]:
                for r in card["recent_runs"]:
                    self.first.setdefault(r["run_id"], now)
            self.changed.notify_all()

    def wait(self, run_id: str, timeout: float) -> float | None:
        with self.changed:
            self.changed.wait_for(lambda: run_id in self.first, timeout)
            return self.first.get(run_id)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=40, help="per way")
    ap.add_argument("--record", action="store_true")
    args = ap.parse_args()
    lines = [f"# bench_push  {time.strftime('%Y-%m-%d')}  nproc={os.cpu_count()}  "
             f"load {os.getloadavg()[0]:.1f} at the start"]
    print(lines[0])
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "bench_push_jobs.py").write_text("def noop():\n    return None\n")
        specs = Pipelines((PipelineSpec("orders", steps=(
            StepSpec("fetch", call="bench_push_jobs:noop"),)),), base_dir=Path(tmp))
        runner = fw.LocalRunner(specs, db=Path(tmp) / "runs.sqlite", data_dir=tmp)
        store = runner.store
        with fw.serve_in_thread(runner, start_runner=False) as server:
            src = fw.connect(server.url)
            cards = fw.PipelineCards(src)
            watch = Watch(cards)
            poller = src.poller()
            deadline = time.monotonic() + 10
            while poller.mode != "push" or not poller.connected:
                if time.monotonic() > deadline:
                    raise SystemExit(f"no push channel (mode {poller.mode})")
                time.sleep(0.05)
            time.sleep(0.5)
            got: dict[str, list[float]] = {"wake": [], "poll": []}
            pool = store._pool  # type: ignore[attr-defined]
            stream_hooks = dict(pool._listeners)  # the open stream's wake-up
            commits: list[float] = []
            timing = {object(): lambda: commits.append(time.perf_counter())}
            for i in range(2 * args.samples):
                way = ("wake", "poll")[i % 2]
                # the commit time first; the stream is woken only in the 'wake' way
                pool._listeners = {**timing, **(stream_hooks if way == "wake" else {})}
                time.sleep(random.uniform(0.05, 0.25))
                commits.clear()
                run_id, _ = store.create_run(pipeline="orders", kind="batch",
                                             trigger="manual", steps=[("fetch", [])])
                seen = watch.wait(run_id, 5)
                if seen is None:
                    raise SystemExit(f"{way}: run {run_id} never reached the widget")
                got[way].append((seen - commits[0]) * 1000)
            pool._listeners = stream_hooks
            cards.close()
    for way, label in (("wake", "woken by the commit"), ("poll", "store polled every 200 ms")):
        ms = got[way]
        line = (f"{label:<28} p50 {statistics.median(ms):6.1f} ms   p95 {pct(ms, 95):6.1f} ms"
                f"   max {max(ms):6.1f} ms   ({len(ms)} writes)")
        print(line)
        lines.append(line)
    lines.append(f"# load {os.getloadavg()[0]:.1f} at the end")
    if args.record:
        from _record import record  # type: ignore[import-not-found]

        record("bench_push", "Push latency (`python bench/bench_push.py`)",
               "From a committed write in the runner's process to the run showing in a live "
               "PipelineCards widget's `pipelines` trait (SSE event, Poller, re-read of "
               "/api/pipelines, trait set), real HTTP on 127.0.0.1.", lines)


if __name__ == "__main__":
    main()
