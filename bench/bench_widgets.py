"""Benchmark the widgets: the jobs table on 100,000 runs, the DAG layout and its SVG at
1,000 and 5,000 steps, and the bytes each update sends to the browser.

    python bench/bench_widgets.py                 # all figures (chromium for the JS render)
    python bench/bench_widgets.py --runs 20000 --no-browser

Our runner serves a real SQLite history (``SqliteRunLog.import_runs``) through
``serve_in_thread`` on 127.0.0.1; the widgets read it through a Source over real HTTP.
"Bytes sent" are the JSON state updates a widget's comm would carry to the browser
(recorded by replacing the comm). The JS render time is the run view's real bundle drawing
the DAG in Debian's chromium (skipped when it is not installed).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "widgets"))

from _widget_support import WireRecorder  # noqa: E402

from flowwidgets.layout import _layout, layout  # noqa: E402
from flowwidgets.live import LiveEvent  # noqa: E402
from flowwidgets.models import Status  # noqa: E402
from flowwidgets.runner._local import LocalRunner  # noqa: E402
from flowwidgets.runner.serve import serve_in_thread  # noqa: E402
from flowwidgets.runner.spec import PipelineSpec, StepSpec  # noqa: E402
from flowwidgets.runner.sqlite import SqliteRunLog  # noqa: E402
from flowwidgets.runner.store import RunRecord  # noqa: E402
from flowwidgets.sources import connect  # noqa: E402
from flowwidgets.widgets import JobsTable, PipelineCards  # noqa: E402
from flowwidgets.widgets._fallback import dag_svg  # noqa: E402

NAMES = ("orders", "payments", "customers", "inventory", "events")


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
            created_at=t, started_at=t, finished_at=t + timedelta(seconds=rng.randint(5, 900)),
            attempt=rng.choice((1, 1, 1, 2)), failed_step="load" if failed else None))
    store.import_runs(runs)


def timed(fn, repeat: int = 5) -> float:
    """Median wall time of ``fn`` in ms."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def bench_table(src, runner, n: int) -> None:
    t = time.perf_counter()
    table = JobsTable(src, live=False)  # first page at once, the history in the background
    first = time.perf_counter() - t
    table.wait_loaded()
    loaded = time.perf_counter() - t
    wire = WireRecorder(table)
    print(f"JobsTable on {n:,} runs (kernel-side pandas, page of {table.page_size}):")
    print(f"  time to first page (one request; history loads behind it)  {first * 1000:7.1f} ms")
    print(f"  whole history in the kernel ({table.total:,} runs over HTTP)      {loaded:7.2f} s")
    cases = [
        ("sort by duration", lambda: setattr(table, "sort_by", "duration_ms"),
         lambda: setattr(table, "sort_by", "started_at")),
        ("sort by pipeline", lambda: setattr(table, "sort_by", "pipeline"),
         lambda: setattr(table, "sort_by", "started_at")),
        ("filter status=failed", lambda: setattr(table, "status", "failed"),
         lambda: setattr(table, "status", None)),
        ("filter pipeline=orders", lambda: setattr(table, "pipeline", "orders"),
         lambda: setattr(table, "pipeline", None)),
        ("search 'run-05000'", lambda: setattr(table, "search", "run-05000"),
         lambda: setattr(table, "search", "")),
        ("filter last 24h", lambda: setattr(table, "last", "24h"),
         lambda: setattr(table, "last", None)),
        ("page 2,000 of 4,000", lambda: setattr(table, "page", 2000),
         lambda: setattr(table, "page", 0)),
    ]
    for label, do, undo in cases:
        samples, sent = [], []
        for _ in range(5):
            wire.clear()
            t = time.perf_counter()
            do()
            samples.append((time.perf_counter() - t) * 1000)
            sent.append(wire.bytes)
            undo()
        print(f"  {label:<30} {statistics.median(samples):7.1f} ms   sent {max(sent):>7,} B")
    # a live change: one new run, merged from the newest page (no full re-read)
    wire.clear()
    new = runner.run_now("orders")
    t = time.perf_counter()
    table._on_changed(LiveEvent("changed", frozenset({"orders"}), frozenset({new})))
    took = (time.perf_counter() - t) * 1000
    print(f"  live change (1 new run merged) {took:7.1f} ms   sent {wire.bytes:>7,} B")
    wire.clear()
    t = time.perf_counter()
    table._on_changed(LiveEvent("changed"))
    took = (time.perf_counter() - t) * 1000
    print(f"  live poll, nothing changed     {took:7.1f} ms   sent {wire.bytes:>7,} B")
    table.close()


def bench_cards(src) -> None:
    cards = PipelineCards(src, live=False)
    wire = WireRecorder(cards)
    size = len(json.dumps(cards.pipelines))
    cards.refresh()
    print(f"PipelineCards, {len(cards.pipelines)} pipelines: state {size:,} B; "
          f"an unchanged refresh sends {wire.bytes} B")
    cards.close()


def random_dag(n: int, seed: int = 11) -> list[tuple[str, tuple[str, ...]]]:
    rng = random.Random(seed)
    steps = []
    for i in range(n):
        k = min(i, rng.randint(0, 3))
        deps = tuple(f"step_{j:05d}" for j in rng.sample(range(i), k)) if k else ()
        steps.append((f"step_{i:05d}", deps))
    return steps


def bench_layout(browser: bool) -> None:
    print("DAG layout (longest-path rank) and SVG:")
    page_ctx = _browser() if browser else None
    try:
        for n in (1_000, 5_000):
            steps = random_dag(n)
            shape = tuple(steps)
            ms = timed(lambda shape=shape: _layout.__wrapped__(shape), 3)
            lay = layout(steps)
            cached = timed(lambda steps=steps: layout(steps), 3)
            lay_bytes = len(json.dumps(lay.to_dict()))
            statuses = {name: {"name": name, "status": random.choice(
                ["succeeded", "failed", "running", "pending"]), "duration_ms": 1234}
                for name, _ in steps}
            run_bytes = len(json.dumps(list(statuses.values())))
            svg_ms = timed(lambda lay=lay, st=statuses: dag_svg(lay, st), 3)
            svg = dag_svg(lay, statuses)
            line = (f"  {n:>5} steps, {len(lay.edges):>6} edges, {lay.ranks} ranks: layout "
                    f"{ms:6.1f} ms (cached {cached:5.1f} ms); _layout {lay_bytes / 1e3:7.1f} kB "
                    f"once per shape, step statuses {run_bytes / 1e3:6.1f} kB per update; "
                    f"static SVG {svg_ms:6.1f} ms ({len(svg) / 1e3:.0f} kB)")
            if page_ctx is not None:
                line += f"; JS render in chromium {_js_render(page_ctx, lay, statuses):6.1f} ms"
            print(line)
    finally:
        if page_ctx is not None:
            page_ctx[1].close()
            page_ctx[0].stop()


def _browser():
    from _shots import CHROMIUM, CHROMIUM_ARGS

    if not Path(CHROMIUM).exists():
        print("  (chromium not installed: no JS render figure)")
        return None
    from playwright.sync_api import sync_playwright

    pw = sync_playwright().start()
    return pw, pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def _js_render(ctx, lay, statuses) -> float:
    from _shots import open_page

    from flowwidgets.widgets._base import read_asset

    state = {"_esm": read_asset("run-view.js"), "_css": read_asset("run-view.css"),
             "connected": True, "connection_error": "", "error": "", "theme": "dark",
             "run_id": "bench", "selected_step": None, "_step_log": {}, "last_action": {},
             "_layout": lay.to_dict(),
             "run": {"run": {"run_id": "bench", "pipeline": "bench", "status": "running",
                             "started_at": None, "finished_at": None, "duration_ms": None,
                             "attempts": 1, "failed_step": None, "kind": "batch",
                             "trigger": "bench"},
                     "steps": [{**s, "depends_on": [], "started_at": None, "finished_at": None,
                                "error": None, "attempts": 1, "reused_from": None}
                               for s in statuses.values()],
                     "attempts": [], "actions": {"restart_from_step": [], "rerun": True,
                                                 "resume_from_watermark": False, "reasons": {}},
                     "error": None, "failed_watermark": None, "parent_run_id": None}}
    page = open_page(ctx[1], state, "dark")
    try:
        return page.evaluate("window.__renderMs")
    finally:
        page.context.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=100_000)
    ap.add_argument("--no-browser", action="store_true")
    args = ap.parse_args()
    os.environ.setdefault("TQDM_DISABLE", "1")  # no progress bar in the figures
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text()
                .splitlines() if line.startswith("model name")), platform.processor())
    print(f"# bench_widgets  {datetime.now(UTC):%Y-%m-%d}  nproc={os.cpu_count()}  {cpu}")
    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteRunLog(Path(tmp) / "runs.sqlite")
        t = time.perf_counter()
        fill(store, args.runs)
        print(f"history: {args.runs:,} runs imported in {time.perf_counter() - t:.1f} s")
        specs = [PipelineSpec(n, (StepSpec("load", run="true"),)) for n in NAMES]
        runner = LocalRunner(specs, db=store)
        try:
            with serve_in_thread(runner, start_runner=False) as server, \
                    connect(server.url) as src:
                bench_table(src, runner, args.runs)
                bench_cards(src)
        finally:
            store.close()
    bench_layout(browser=not args.no_browser)


if __name__ == "__main__":
    main()
