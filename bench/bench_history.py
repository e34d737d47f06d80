"""Benchmark the History view: build time and bytes sent to the browser at 1k / 10k / 100k
runs in its 14-day window.

    python bench/bench_history.py              # prints the figures
    python bench/bench_history.py --record     # also rewrites its section of RESULTS.md
    python bench/bench_history.py --sizes 1000 10000

Our runner serves a real SQLite history (``SqliteRunLog.import_runs``: N finished runs of
five pipelines spread evenly over the last 14 days, 8 % failed with one of three errors)
through ``serve_in_thread``; a Source reads it over real HTTP. For every pipeline and for
one pipeline (its grid too) it measures ``HistoryView``'s build: reading (the runs of the
window, the failed runs' details, the step history) and aggregating (pandas), and the
JSON bytes of the traits the browser receives (chart, summary, failures, grid).
"""

from __future__ import annotations

import argparse
import contextlib
import json
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

from bench_frames import _Tee  # noqa: E402

from flowwidgets.models import Status  # noqa: E402
from flowwidgets.runner._local import LocalRunner  # noqa: E402
from flowwidgets.runner.serve import serve_in_thread  # noqa: E402
from flowwidgets.runner.spec import PipelineSpec, StepSpec  # noqa: E402
from flowwidgets.runner.sqlite import SqliteRunLog  # noqa: E402
from flowwidgets.runner.store import RunRecord, StepRecord  # noqa: E402
from flowwidgets.sources import connect  # noqa: E402
from flowwidgets.widgets import HistoryView  # noqa: E402

NAMES = ("orders", "payments", "customers", "inventory", "events")
STEPS = ("extract", "transform", "load")
ERRORS = ("ValueError: amount column missing in batch {n}",
          "ConnectionError: CRM API timed out (pull #{n}); retrying",
          "sqlite3.OperationalError: database is locked (waited {n} ms)")
RESULTS = ROOT / "bench" / "RESULTS.md"
START, END = "<!-- bench_history:start -->", "<!-- bench_history:end -->"


def fill(store: SqliteRunLog, n: int) -> None:
    rng = random.Random(14)
    now = datetime.now(UTC).replace(microsecond=0)
    span = timedelta(days=14) - timedelta(minutes=5)
    runs, steps = [], []
    for i in range(n):
        t = now - span + span * i / n
        failed = rng.random() < 0.08
        err = ERRORS[i % 3].format(n=rng.randint(1, 999)) if failed else None
        ms = rng.randint(5_000, 90_000)
        runs.append(RunRecord(
            run_id=f"run-{i:06d}", pipeline=NAMES[i % len(NAMES)], kind="batch",
            status=Status.FAILED if failed else Status.SUCCEEDED, trigger="schedule",
            created_at=t, started_at=t, finished_at=t + timedelta(milliseconds=ms),
            failed_step="load" if failed else None, error=err))
        for pos, name in enumerate(STEPS):
            bad = failed and name == "load"
            steps.append(StepRecord(
                run_id=f"run-{i:06d}", name=name,
                status=Status.FAILED if bad else Status.SUCCEEDED,
                depends_on=(STEPS[pos - 1],) if pos else (), position=pos,
                started_at=t + timedelta(milliseconds=ms * pos // 3),
                finished_at=t + timedelta(milliseconds=ms * (pos + 1) // 3),
                error=err if bad else None, attempts=1))
    store.import_runs(runs, steps)


def sent_bytes(view: HistoryView) -> int:
    return sum(len(json.dumps(getattr(view, name))) for name in
               ("chart", "summary_rows", "failures", "grid", "pipelines"))


def measure(sizes: list[int]) -> None:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text()
                .splitlines() if line.startswith("model name")), platform.processor())
    print(f"# bench_history  {datetime.now(UTC):%Y-%m-%d}  nproc={os.cpu_count()}  {cpu}  "
          f"Python {platform.python_version()}")
    print(f"{'runs':>8}  {'view':<14} {'build':>7} {'read':>7} {'aggregate':>9} "
          f"{'marks':>6} {'bucketed':>8} {'bytes':>9}")
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            store = SqliteRunLog(Path(tmp) / "runs.sqlite")
            fill(store, n)
            specs = [PipelineSpec(p, tuple(StepSpec(s, run="true") for s in STEPS))
                     for p in NAMES]
            runner = LocalRunner(specs, db=store)
            try:
                with serve_in_thread(runner, start_runner=False) as server, \
                        connect(server.url) as src:
                    for pipeline in (None, "orders"):
                        t = time.perf_counter()
                        view = HistoryView(src, pipeline, live=False)
                        build = time.perf_counter() - t
                        assert view.error == "", view.error
                        print(f"{n:>8,}  {pipeline or 'every pipeline':<14} {build:>6.2f}s "
                              f"{view.timings['read']:>6.2f}s {view.timings['aggregate']:>8.2f}s "
                              f"{len(view.chart['marks']):>6,} "
                              f"{'yes' if view.chart['bucketed'] else 'no':>8} "
                              f"{sent_bytes(view):>9,}")
                        view.close()
            finally:
                runner.stop()
                store.close()
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


def record(text: str) -> None:
    """Replace the history section of RESULTS.md (other sections are kept as they are)."""
    body = "\n".join([START, "## History view (`python bench/bench_history.py`)", "",
                      "HistoryView built over real HTTP from our runner (the window: 14 "
                      "days; N runs of five pipelines, 3 steps each). `build` is the "
                      "constructor's wall time (`read`: HTTP + parsing, `aggregate`: "
                      "pandas); `bytes` is the JSON of the traits the browser receives. "
                      "Above 1,500 runs the chart sends one mark per pixel column and "
                      "status, so the bytes stay bounded. The machine is shared with other "
                      "engineers' test runs.", "", "```", text.rstrip("\n"), "```", END])
    old = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    if START in old and END in old:
        new = re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _: body, old,
                     flags=re.S)
    else:
        new = old.rstrip("\n") + "\n\n" + body + "\n"
    RESULTS.write_text(new)
    print(f"recorded in {RESULTS.relative_to(ROOT)}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    ap.add_argument("--record", action="store_true",
                    help="rewrite the history section of bench/RESULTS.md")
    args = ap.parse_args()
    tee = _Tee(sys.stdout)
    with contextlib.redirect_stdout(tee):
        measure(args.sizes)
    if args.record:
        record(tee.kept.getvalue())


if __name__ == "__main__":
    main()
