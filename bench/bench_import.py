"""Benchmark the bulk import of run history: our run log against ematix-flow's.

    python bench/bench_import.py                   # 100,000 runs
    python bench/bench_import.py --runs 10000 --record

The same history (bench_scale's generator: eight pipelines over 60 days, four steps per
run) written into a fresh SQLite file each way, interleaved, best of ``--repeat``:

- ours: ``SqliteRunLog.import_runs(runs, steps)``: one transaction, the steps as rows;
- ematix-flow 1.0: its ``SqliteRunLog.record_run_record`` per run (the steps in the
  record's ``extras``, where ematix keeps them) inside one ``BEGIN``/``COMMIT`` (its
  calls autocommit otherwise, which would be far slower: kept out to be fair to it).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_scale import STEPS, _shape, runs, steps  # noqa: E402

from flowwidgets.runner.sqlite import SqliteRunLog  # noqa: E402


def ours(n: int, folder: Path, now: datetime) -> float:
    """Seconds to import ``n`` runs with their steps into a fresh run log."""
    with SqliteRunLog(folder / "ours.sqlite") as log:
        t0 = time.perf_counter()
        log.import_runs(runs(n, now), steps(n, now))
        return time.perf_counter() - t0


def ematix(n: int, folder: Path, now: datetime) -> float:
    """Seconds for ematix-flow's run log to record the same ``n`` runs."""
    from ematix_flow.run_log.history import RunRecord
    from ematix_flow.run_log.sqlite import SqliteRunLog as EmLog

    store = EmLog(str(folder / "ematix.sqlite"))
    try:
        t0 = time.perf_counter()
        store._conn.execute("BEGIN")
        for i, r in enumerate(runs(n, now)):
            _, took, failed = _shape(i, n, now)
            store.record_run_record(RunRecord(
                run_id=r.run_id, pipeline=r.pipeline, status=str(r.status),
                started_at=r.started_at, finished_at=r.finished_at, attempt=1,
                failed_step=r.failed_step, error_summary=r.error, extras={"steps": [
                    {"name": s, "status": "failed" if failed and j == 2 else
                     "pending" if failed and j > 2 else "succeeded",
                     "depends_on": [STEPS[j - 1]] if j else [],
                     "duration_ms": int(took.total_seconds() * 1000)}
                    for j, s in enumerate(STEPS)]}))
        store._conn.execute("COMMIT")
        return time.perf_counter() - t0
    finally:
        store.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--record", action="store_true")
    args = ap.parse_args()
    now = datetime.now(UTC)
    got: dict[str, list[float]] = {"ours": [], "ematix": []}
    for _ in range(args.repeat):
        for name, fn in (("ours", ours), ("ematix", ematix)):
            with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
                got[name].append(fn(args.runs, Path(tmp), now))
    a, b = min(got["ours"]), min(got["ematix"])
    lines = [f"# bench_import  {time.strftime('%Y-%m-%d')}  nproc={os.cpu_count()}  "
             f"{args.runs:,} runs with 4 steps each, best of {args.repeat}, load "
             f"{os.getloadavg()[0]:.1f} at the end",
             f"flowwidgets SqliteRunLog.import_runs      {a:7.2f} s  ({args.runs / a:,.0f} runs/s)",
             f"ematix-flow record_run_record, one tx     {b:7.2f} s  ({args.runs / b:,.0f} runs/s)",
             f"ratio ours/ematix {a / b:.2f}"]
    print("\n".join(lines))
    if args.record:
        from _record import record  # type: ignore[import-not-found]

        record("bench_import", "Bulk import (`python bench/bench_import.py`)",
               "The same generated history into fresh SQLite files, ours and ematix-flow's "
               "run log, interleaved in one process.", lines)


if __name__ == "__main__":
    main()
