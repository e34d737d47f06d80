"""Benchmark restart planning on long chains: time to request a restart from the middle.

    python bench/bench_restart.py              # 1k, 2k, 4k steps in Python; 5k over HTTP
    python bench/bench_restart.py --record     # also rewrites its section of RESULTS.md

A failed run of an N-step chain (``s0 → s1 → …``, every step before the middle succeeded
with a small stored output, the middle one failed) is written straight into a real
SQLite run log; then ``LocalRunner.restart(run, from_step=middle)`` is timed (the plan:
which steps to reuse, which to re-execute, and the new run's rows), and the same over
real HTTP (``POST /api/runs/{id}/restart``) on a 5,000-step chain. Nothing is executed:
the runner is not started, so the new run stays requested.
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flowwidgets.models import Status  # noqa: E402
from flowwidgets.runner._local import LocalRunner  # noqa: E402
from flowwidgets.runner.serve import serve_in_thread  # noqa: E402
from flowwidgets.runner.spec import Pipelines, PipelineSpec, StepSpec  # noqa: E402
from flowwidgets.runner.sqlite import SqliteRunLog  # noqa: E402

SECTION = "## Restart planning (`python bench/bench_restart.py`)"


def chain(n: int) -> PipelineSpec:
    """An n-step chain of shell steps (never run here)."""
    return PipelineSpec("chain", steps=tuple(
        StepSpec(f"s{i}", depends_on=(f"s{i - 1}",) if i else (), run="true")
        for i in range(n)))


def failed_run(store: SqliteRunLog, spec: PipelineSpec) -> str:
    """A failed run of ``spec``: steps before the middle succeeded, the middle failed."""
    run_id, _ = store.create_run(pipeline=spec.name, kind="batch", trigger="manual",
                                 steps=[(s.name, s.depends_on) for s in spec.steps])
    claimed = store.claim_requested("bench")
    assert claimed is not None and claimed.run_id == run_id
    middle = len(spec.steps) // 2
    with store._pool.write() as tx:  # bulk: one transaction, not 3 writes per step
        for i, s in enumerate(spec.steps[:middle]):
            tx.execute("UPDATE steps SET status = ?, attempts = 1 WHERE run_id = ? AND name = ?",
                       (Status.SUCCEEDED, run_id, s.name))
            tx.execute("INSERT INTO outputs (run_id, step, value, saved_at) VALUES (?, ?, ?, ?)",
                       (run_id, s.name, f'{{"rows": {i}}}', tx.now_text))
        tx.execute("UPDATE steps SET status = ?, attempts = 1 WHERE run_id = ? AND name = ?",
                   (Status.FAILED, run_id, spec.steps[middle].name))
    store.finish_run(run_id, status=Status.FAILED, failed_step=spec.steps[middle].name,
                     error="boom")
    return run_id


def measure(n: int, tmp: Path, http: bool = False) -> float:
    """Seconds to request the restart of an n-step chain from its middle."""
    spec = chain(n)
    db = tmp / f"chain{n}{'-http' if http else ''}.sqlite"
    runner = LocalRunner(Pipelines(pipelines=(spec,), base_dir=tmp), db=db)
    try:
        run_id = failed_run(runner.store, spec)
        middle = spec.steps[n // 2].name
        if not http:
            started = time.perf_counter()
            new = runner.restart(run_id, from_step=middle)
            took = time.perf_counter() - started
        else:
            with serve_in_thread(runner, port=0, start_runner=False) as server:
                started = time.perf_counter()
                r = httpx.post(f"{server.url}/api/runs/{run_id}/restart",
                               json={"from_step": middle}, timeout=600)
                took = time.perf_counter() - started
                r.raise_for_status()
                new = r.json()["new_run_id"]
        steps = runner.store.get_steps(new)
        reused = sum(1 for s in steps if s.reused_from == run_id)
        assert reused == n // 2, (reused, n)
        return took
    finally:
        runner.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--record", action="store_true", help="rewrite RESULTS.md's section")
    parser.add_argument("--sizes", default="1000,2000,4000")
    parser.add_argument("--http", type=int, default=5000, help="steps of the HTTP case")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows = [(f"{int(n):,} steps, in Python", measure(int(n), Path(tmp)))
                for n in args.sizes.split(",")]
        rows.append((f"{args.http:,} steps, over HTTP", measure(args.http, Path(tmp), True)))
    head = (f"# bench_restart  {datetime.now(UTC):%Y-%m-%d}  {platform.processor() or '?'}  "
            f"Python {platform.python_version()}")
    lines = [head] + [f"{label:<28} {secs * 1000:9.1f} ms" for label, secs in rows]
    print("\n".join(lines))
    if args.record:
        record("\n".join(lines))


def record(text: str) -> None:
    """Replace (or append) this benchmark's section of bench/RESULTS.md."""
    body = (f"{SECTION}\n\nRestart from the middle of a failed chain (half the steps reused): "
            "the plan and the new run's rows.\n\n```\n" + text + "\n```\n")
    from _record import replace_heading  # type: ignore[import-not-found]

    replace_heading(SECTION, body)


if __name__ == "__main__":
    main()
