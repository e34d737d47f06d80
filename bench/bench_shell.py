"""Benchmark the cost of one ``run`` (shell) step: the floor, ``run_shell``, the executor.

    python bench/bench_shell.py              # prints the figures
    python bench/bench_shell.py --n 50 --record

Three figures, medians of ``--n`` (interleaved, so load hits all alike), milliseconds:

- ``sh -c true`` started with :class:`subprocess.Popen` (own session, pipes): the floor;
- :func:`flowwidgets.runner._shell.run_shell` of ``true``: the floor plus what makes the
  step die with its runner (the supervisor), output capture and polling;
- a 50-step chain of ``true`` steps through the executor with a real SQLite run log,
  per step.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from flowwidgets.models import Status  # noqa: E402
from flowwidgets.runner._capture import LogTail  # noqa: E402
from flowwidgets.runner._shell import run_shell  # noqa: E402
from flowwidgets.runner.executor import Executor  # noqa: E402
from flowwidgets.runner.spec import Pipelines, PipelineSpec, StepSpec  # noqa: E402
from flowwidgets.runner.sqlite import SqliteRunLog  # noqa: E402


def floor(folder: Path) -> float:
    """Seconds for ``sh -c true`` in its own session with captured output."""
    started = time.perf_counter()
    with subprocess.Popen(["/bin/sh", "-c", "true"], cwd=folder, stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          start_new_session=True) as proc:
        proc.communicate()
    return time.perf_counter() - started


def shell(folder: Path) -> float:
    """Seconds for ``run_shell("true")``."""
    started = time.perf_counter()
    res = run_shell("true", cwd=folder, env=dict(os.environ), timeout_s=None,
                    cancel=threading.Event(), log=LogTail(), stopped_limit_s=2.5)
    assert res.returncode == 0, res
    return time.perf_counter() - started


def chain(folder: Path, n: int, tag: str) -> float:
    """Seconds per step of an ``n``-step chain of ``true`` steps, SQLite run log."""
    spec = PipelineSpec("shells", steps=tuple(
        StepSpec(f"s{i}", depends_on=(f"s{i - 1}",) if i else (), run="true")
        for i in range(n)))
    with SqliteRunLog(folder / f"bench-{tag}.sqlite") as store:
        ex = Executor(store, Pipelines((spec,), base_dir=folder), max_workers=2,
                      data_dir=folder, stopped_limit_s=2.5)
        try:
            store.create_run(pipeline="shells", kind="batch", trigger="manual",
                             steps=[(s.name, s.depends_on) for s in spec.steps])
            run = store.claim_requested("bench", pipelines=["shells"])
            assert run is not None
            started = time.perf_counter()
            final = ex.execute(run)
            elapsed = time.perf_counter() - started
        finally:
            ex.stop(5)
    assert final.status is Status.SUCCEEDED, final.error
    return elapsed / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=40, help="samples of each figure")
    parser.add_argument("--chain", type=int, default=50, help="steps of the chain")
    parser.add_argument("--label", default="", help="a note for the first line")
    parser.add_argument("--record", action="store_true",
                        help="write the figures into bench/RESULTS.md")
    args = parser.parse_args()
    lines = [f"# bench_shell  {time.strftime('%Y-%m-%d %H:%M')}  {args.label}".rstrip(),
             f"# python {platform.python_version()}, {os.cpu_count()} cpus, "
             f"load {os.getloadavg()[0]:.1f} at the start; medians of {args.n}, ms"]
    for line in lines:
        print(line)
    a: list[float] = []
    b: list[float] = []
    c: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        shell(folder)  # warm up (the supervisor, if one is started once)
        for i in range(args.n):
            a.append(floor(folder))
            b.append(shell(folder))
            if i < 3:
                c.append(chain(folder, args.chain, str(i)))
    ms = lambda xs: statistics.median(xs) * 1000  # noqa: E731
    lines += [f"sh -c true (Popen, own session): {ms(a):.1f}",
              f"run_shell('true'):              {ms(b):.1f}  (+{ms(b) - ms(a):.1f} over the floor)",
              f"executor, {args.chain}-step chain of 'true': {ms(c):.1f} per step (median of 3)",
              f"# load {os.getloadavg()[0]:.1f} at the end"]
    for line in lines[2:]:
        print(line)
    if args.record:
        from _record import record  # type: ignore[import-not-found]

        record("bench_shell", "Shell steps (`python bench/bench_shell.py`)",
               "The cost of one `run` step: the floor (`sh -c true` in its own session), "
               "`run_shell` (floor + the guarantee that the step dies with its runner + "
               "output capture), and a chain through the executor with a SQLite run log.",
               lines)


if __name__ == "__main__":
    main()
