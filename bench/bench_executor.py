"""Benchmark the executor's per-step overhead on 1,000-step DAGs of no-op calls.

    python bench/bench_executor.py              # prints the figures
    python bench/bench_executor.py --steps 3000 --workers 8

Two shapes: ``wide`` (20 layers of 50 steps, each depending on two steps of the layer
before: lots of parallelism) and ``chain`` (each step depends on the previous one: no
parallelism, every completion starts the next step). Each is measured three ways:

- end to end, with a real ``SqliteRunLog`` file (WAL): per step the executor writes
  ``finish_attempt`` with the output and, in the same transaction, the start of one
  child it made ready (run next on the same worker; other ready children start in a
  transaction of their own when a worker takes them), each with its events, so the
  figure is dominated by SQLite commits;
- the same on a warm log: a file that has already run the DAG, its WAL restarted from
  the beginning, as a long-running runner's log is after each checkpoint (the WAL's pages
  are overwritten instead of appended: about 2 µs less per page written here);
- scheduling alone, with a null run log (in memory, every write a no-op; benchmark only)
  so the executor's own cost (indegree bookkeeping, queueing, thread hand-offs, argument
  building) is visible.

The peer, measured in the same run: flowtoy's ``LocalRunner`` on the same DAG (steps of
its ``env`` provider, no variables: its cheapest step), which keeps everything in memory
and writes nothing durable.

Figures are the best of ``--repeat`` runs, in milliseconds per step (wall time of the run
divided by its number of steps), then the same for the process's CPU time (all threads),
which the other tenants of a shared machine disturb less. ``--record`` rewrites this
script's section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from flowwidgets.models import Status  # noqa: E402
from flowwidgets.runner.executor import Executor  # noqa: E402
from flowwidgets.runner.spec import Pipelines, PipelineSpec, StepSpec  # noqa: E402
from flowwidgets.runner.sqlite import SqliteRunLog  # noqa: E402
from flowwidgets.runner.store import RunRecord, StepRecord  # noqa: E402

JOBS = "def noop():\n    return None\n"

CPU: dict[str, list[float]] = {}
SWITCHES: list[int] = []
"""Context switches (voluntary + involuntary) of each fresh-file run: a few hundred when
one worker runs at a time (the other core busy), thousands when the workers spread over
both cores and wake each other (an idle core: each wake-up is a costly cross-core one)."""
"""Process CPU seconds (all threads, user + system) of each measured run, by kind: less
sensitive than wall time to the other tenants of a shared machine."""


def wide(n: int, width: int = 50) -> PipelineSpec:
    """Layers of ``width`` steps; each depends on two steps of the layer before."""
    steps = []
    for i in range(n):
        layer, k = divmod(i, width)
        deps = () if layer == 0 else tuple(
            f"s{(layer - 1) * width + j}" for j in sorted({k, (k + 1) % width}))
        steps.append(StepSpec(f"s{i}", depends_on=deps, call="bench_noop_jobs:noop"))
    return PipelineSpec("wide", steps=tuple(steps))


def chain(n: int) -> PipelineSpec:
    """Each step depends on the previous one."""
    return PipelineSpec("chain", steps=tuple(
        StepSpec(f"s{i}", depends_on=(f"s{i - 1}",) if i else (), call="bench_noop_jobs:noop")
        for i in range(n)))


class NullLog:
    """The methods the executor calls, doing nothing (isolates scheduling cost)."""

    def __init__(self) -> None:
        self._steps: dict[str, list[StepRecord]] = {}

    def add(self, run: RunRecord, spec: PipelineSpec) -> None:
        self._steps[run.run_id] = [StepRecord(run.run_id, s.name, Status.PENDING, s.depends_on, i)
                                   for i, s in enumerate(spec.steps)]

    def get_steps(self, run_id: str) -> list[StepRecord]:
        return self._steps[run_id]

    def start_attempt(self, run_id: str, step: str) -> int:
        return 1

    def finish_attempt(self, *args: Any, start: Any = (), **kw: Any) -> list[int]:
        return [1] * len(start)

    def save_output(self, *args: Any) -> None:
        pass

    def set_step_status(self, *args: Any, **kw: Any) -> None:
        pass

    def finish_run(self, *args: Any, **kw: Any) -> None:
        pass

    def get_run(self, run_id: str) -> None:
        return None


def measure_sqlite(spec: PipelineSpec, folder: Path, workers: int, tag: str) -> float:
    """Seconds for one run of ``spec`` end to end on a fresh SQLite file."""
    with SqliteRunLog(folder / f"bench-{tag}.sqlite") as store:
        ex = Executor(store, Pipelines((spec,), base_dir=folder), max_workers=workers,
                      data_dir=folder)
        try:
            store.create_run(pipeline=spec.name, kind="batch", trigger="manual",
                             steps=[(s.name, s.depends_on) for s in spec.steps])
            run = store.claim_requested("bench", pipelines=[spec.name])
            assert run is not None
            switches = _switches()
            started, cpu = time.perf_counter(), time.process_time()
            final = ex.execute(run)
            elapsed = time.perf_counter() - started
            CPU.setdefault("sql", []).append(time.process_time() - cpu)
            SWITCHES.append(_switches() - switches)
        finally:
            ex.stop(5)
        assert final.status is Status.SUCCEEDED, final.error
        return elapsed


def _switches() -> int:
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_nvcsw + usage.ru_nivcsw


def measure_warm(spec: PipelineSpec, store: SqliteRunLog, folder: Path, workers: int) -> float:
    """Seconds for one run of ``spec`` on a log file that has already run it, its WAL
    restarted from the beginning (``wal_checkpoint(RESTART)``), the way a long-running
    runner's log is after each checkpoint: the WAL's pages are overwritten, not appended."""
    ex = Executor(store, Pipelines((spec,), base_dir=folder), max_workers=workers,
                  data_dir=folder)
    try:
        store.create_run(pipeline=spec.name, kind="batch", trigger="manual",
                         steps=[(s.name, s.depends_on) for s in spec.steps])
        run = store.claim_requested("bench", pipelines=[spec.name])
        assert run is not None
        with store._pool.connection() as conn:
            conn.execute("PRAGMA wal_checkpoint(RESTART)")
        started, cpu = time.perf_counter(), time.process_time()
        final = ex.execute(run)
        elapsed = time.perf_counter() - started
        CPU.setdefault("warm", []).append(time.process_time() - cpu)
    finally:
        ex.stop(5)
    assert final.status is Status.SUCCEEDED, final.error
    return elapsed


def measure_null(spec: PipelineSpec, folder: Path, workers: int) -> float:
    """Seconds for one run of ``spec`` with the null run log."""
    from datetime import UTC, datetime

    store = NullLog()
    run = RunRecord("null-run", spec.name, "batch", Status.RUNNING, "manual", datetime.now(UTC))
    store.add(run, spec)
    ex = Executor(store, Pipelines((spec,), base_dir=folder), max_workers=workers,  # type: ignore[arg-type]
                  data_dir=folder)
    try:
        started, cpu = time.perf_counter(), time.process_time()
        handle = ex.submit(run)
        assert handle.wait(120) is None  # NullLog.get_run: no record, but finished
        elapsed = time.perf_counter() - started
        CPU.setdefault("null", []).append(time.process_time() - cpu)
        assert handle.done()
    finally:
        ex.stop(5)
    return elapsed


def measure_flowtoy(spec: PipelineSpec, workers: int) -> float:
    """Seconds for flowtoy's in-memory runner on the same DAG (the peer)."""
    import logging

    from flowtoy.runner import LocalRunner

    logging.getLogger("flowtoy").setLevel(logging.WARNING)
    config = {"runner": {"max_workers": workers},
              "flow": [{"name": s.name, "source": {"type": "env"},
                        "depends_on": list(s.depends_on)} for s in spec.steps]}
    runner = LocalRunner(config)
    started, cpu = time.perf_counter(), time.process_time()
    runner.run()
    elapsed = time.perf_counter() - started
    CPU.setdefault("toy", []).append(time.process_time() - cpu)
    states = {st.state for st in runner.status.steps.values()}
    assert states == {"succeeded"}, states
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--record", action="store_true",
                        help="write the figures into bench/RESULTS.md")
    args = parser.parse_args()
    n = args.steps
    lines = [f"# bench_executor  {time.strftime('%Y-%m-%d')}  {n}-step DAGs of no-op calls, "
             f"max_workers={args.workers}, best of {args.repeat}",
             f"# python {platform.python_version()}, {os.cpu_count()} cpus, "
             f"{platform.machine()}, load {os.getloadavg()[0]:.1f} at the start"]
    for line in lines:
        print(line)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "bench_noop_jobs.py").write_text(JOBS)
        for spec in (wide(n), chain(n)):
            sql: list[float] = []
            warm: list[float] = []
            null: list[float] = []
            toy: list[float] = []
            with SqliteRunLog(folder / f"bench-{spec.name}-warm.sqlite") as warm_log:
                measure_warm(spec, warm_log, folder, args.workers)  # its first run: cold
                CPU.clear()
                SWITCHES.clear()
                for i in range(args.repeat):  # interleaved, so load hits all alike
                    sql.append(measure_sqlite(spec, folder, args.workers, f"{spec.name}{i}"))
                    warm.append(measure_warm(spec, warm_log, folder, args.workers))
                    null.append(measure_null(spec, folder, args.workers))
                    toy.append(measure_flowtoy(spec, args.workers))
            best_sql, best_warm = min(sql), min(warm)
            best_null, best_toy = min(null), min(toy)
            line = (f"{spec.name:>5}: SQLite run log {best_sql / n * 1000:.3f} ms/step "
                    f"(warm log {best_warm / n * 1000:.3f}); "
                    f"executor alone {best_null / n * 1000:.3f}; flowtoy (in memory) "
                    f"{best_toy / n * 1000:.3f}; ratio to flowtoy {best_sql / best_toy:.2f}")
            cpu = {k: min(v) / n * 1000 for k, v in CPU.items()}
            line += (f"\n{'':>5}  CPU time: SQLite run log {cpu['sql']:.3f} ms/step (warm log "
                     f"{cpu['warm']:.3f}); executor alone {cpu['null']:.3f}; flowtoy "
                     f"{cpu['toy']:.3f}; ratio to flowtoy {cpu['sql'] / cpu['toy']:.2f}"
                     f"\n{'':>5}  context switches per SQLite run: "
                     f"{', '.join(str(n) for n in SWITCHES)}")
            print(line)
            lines.append(line)
    lines.append(f"# load {os.getloadavg()[0]:.1f} at the end")
    if args.record:
        from _record import record  # type: ignore[import-not-found]

        record("bench_executor", "Executor (`python bench/bench_executor.py`)",
               "Per-step overhead on 1,000-step DAGs of no-op steps; the warm log is a "
               "file that already ran the DAG, its WAL restarted (as in a long-running "
               "runner); the null log isolates the executor's own cost; flowtoy is the "
               "peer, run interleaved in the same process.", lines)


if __name__ == "__main__":
    main()
