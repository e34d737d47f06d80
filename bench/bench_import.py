"""Benchmark the bulk import of run history: our run log against ematix-flow's.

    python bench/bench_import.py                   # 100,000 runs
    python bench/bench_import.py --runs 10000 --record

The same history (bench_scale's generator: eight pipelines over 60 days, four steps per
run) written into a fresh SQLite file each way, interleaved, best of ``--repeat``:

- ours: ``SqliteRunLog.import_runs(runs, steps)``: one transaction, the steps as rows;
- ematix-flow 1.0: its ``SqliteRunLog.record_run_record`` per run (the steps in the
  record's ``extras``, where ematix keeps them) inside one ``BEGIN``/``COMMIT`` (its
  calls autocommit otherwise, which would be far slower: kept out to be fair to it).

Each way is timed twice: with the records built while importing (generators: building
400,000 frozen ``StepRecord`` objects is part of that figure) and with the records of
each log built beforehand, so only the import is on the clock. Wall time and the
process's CPU time (less disturbed by the machine's other tenants).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_scale import STEPS, _shape, runs, steps  # noqa: E402

from flowwidgets.runner.sqlite import SqliteRunLog  # noqa: E402

CPU: dict[str, list[float]] = {}
"""Process CPU seconds of each import (less disturbed by the machine's other tenants)."""


def ours(n: int, folder: Path, now: datetime, prebuilt: bool) -> float:
    """Seconds to import ``n`` runs with their steps into a fresh run log (``prebuilt``:
    the records are built before the clock starts, else while importing)."""
    records: tuple[Iterable[Any], Iterable[Any]] = (runs(n, now), steps(n, now))
    if prebuilt:
        records = (list(records[0]), list(records[1]))
    with SqliteRunLog(folder / "ours.sqlite") as log:
        t0, c0 = time.perf_counter(), time.process_time()
        log.import_runs(*records)
        CPU.setdefault(f"ours{prebuilt}", []).append(time.process_time() - c0)
        return time.perf_counter() - t0


def _ematix_records(n: int, now: datetime) -> Iterator[Any]:
    from ematix_flow.run_log.history import RunRecord

    for i, r in enumerate(runs(n, now)):
        _, took, failed = _shape(i, n, now)
        yield RunRecord(
            run_id=r.run_id, pipeline=r.pipeline, status=str(r.status),
            started_at=r.started_at, finished_at=r.finished_at, attempt=1,
            failed_step=r.failed_step, error_summary=r.error, extras={"steps": [
                {"name": s, "status": "failed" if failed and j == 2 else
                 "pending" if failed and j > 2 else "succeeded",
                 "depends_on": [STEPS[j - 1]] if j else [],
                 "duration_ms": int(took.total_seconds() * 1000)}
                for j, s in enumerate(STEPS)]})


def ematix(n: int, folder: Path, now: datetime, prebuilt: bool) -> float:
    """Seconds for ematix-flow's run log to record the same ``n`` runs."""
    from ematix_flow.run_log.sqlite import SqliteRunLog as EmLog

    records: Iterable[Any] = _ematix_records(n, now)
    if prebuilt:
        records = list(records)
    store = EmLog(str(folder / "ematix.sqlite"))
    try:
        t0, c0 = time.perf_counter(), time.process_time()
        store._conn.execute("BEGIN")
        for record in records:
            store.record_run_record(record)
        store._conn.execute("COMMIT")
        CPU.setdefault(f"ematix{prebuilt}", []).append(time.process_time() - c0)
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
    got: dict[str, list[float]] = {}
    for _ in range(args.repeat):
        for prebuilt in (False, True):
            for name, fn in (("ours", ours), ("ematix", ematix)):
                with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
                    got.setdefault(f"{name}{prebuilt}", []).append(
                        fn(args.runs, Path(tmp), now, prebuilt))
    lines = [f"# bench_import  {time.strftime('%Y-%m-%d')}  nproc={os.cpu_count()}  "
             f"{args.runs:,} runs with 4 steps each, best of {args.repeat}, load "
             f"{os.getloadavg()[0]:.1f} at the end"]
    for prebuilt, what in ((False, "records built while importing"),
                           (True, "records built beforehand (the import alone)")):
        a, b = min(got[f"ours{prebuilt}"]), min(got[f"ematix{prebuilt}"])
        ca, cb = min(CPU[f"ours{prebuilt}"]), min(CPU[f"ematix{prebuilt}"])
        lines += [
            f"## {what}",
            f"flowwidgets SqliteRunLog.import_runs      {a:7.2f} s  ({args.runs / a:,.0f} "
            "runs/s)",
            f"ematix-flow record_run_record, one tx     {b:7.2f} s  ({args.runs / b:,.0f} "
            "runs/s)",
            f"ratio ours/ematix {a / b:.2f}; CPU time: ours {ca:.2f} s, ematix {cb:.2f} s, "
            f"ratio {ca / cb:.2f}"]
    print("\n".join(lines))
    if args.record:
        from _record import record  # type: ignore[import-not-found]

        record("bench_import", "Bulk import (`python bench/bench_import.py`)",
               "The same generated history into fresh SQLite files, ours and ematix-flow's "
               "run log, interleaved in one process; once with the records built while "
               "importing (the caller's cost included), once built beforehand.", lines)


if __name__ == "__main__":
    main()
