"""How the DAG layout grows with the number of steps: 1,000 to 10,000, CPU time per node.

    python bench/bench_layout.py [--record]

Two shapes (bench_executor's ``wide``: layers of 50, two dependencies each; and a
chain), laid out with the memo bypassed, best of ``--repeat`` by process CPU time (the
machine is shared: wall time would mostly measure the other jobs). Linear means the
per-node column stays level as the size grows.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from flowwidgets import layout as L  # noqa: E402

SIZES = (1_000, 2_000, 5_000, 10_000)


def wide(n: int, width: int = 50) -> L.Shape:
    out = []
    for i in range(n):
        layer, k = divmod(i, width)
        deps = () if layer == 0 else tuple(
            f"s{(layer - 1) * width + j}" for j in sorted({k, (k + 1) % width}))
        out.append((f"s{i}", deps))
    return tuple(out)


def chain(n: int) -> L.Shape:
    return tuple((f"s{i}", (f"s{i - 1}",) if i else ()) for i in range(n))


def cpu_ms(shape: L.Shape, repeat: int) -> float:
    """Best CPU milliseconds of laying ``shape`` out (memo bypassed)."""
    fn = getattr(L._layout, "__wrapped__", L._layout)  # the memo bypassed, GC handling kept
    best = float("inf")
    for _ in range(repeat):
        t0 = time.process_time()
        fn(shape)
        best = min(best, time.process_time() - t0)
    return best * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--record", action="store_true")
    args = ap.parse_args()
    lines = [f"# bench_layout  {time.strftime('%Y-%m-%d')}  load {os.getloadavg()[0]:.1f}; "
             f"best of {args.repeat}, CPU time",
             f"{'steps':>8}  {'wide ms':>9}  {'µs/node':>8}  {'chain ms':>9}  {'µs/node':>8}"]
    for n in SIZES:
        w, c = cpu_ms(wide(n), args.repeat), cpu_ms(chain(n), args.repeat)
        lines.append(f"{n:>8,}  {w:>9.1f}  {w / n * 1000:>8.1f}  {c:>9.1f}  {c / n * 1000:>8.1f}")
    print("\n".join(lines))
    if args.record:
        from _record import record  # type: ignore[import-not-found]

        record("bench_layout", "DAG layout growth (`python bench/bench_layout.py`)",
               "`flowwidgets.layout` on 1k–10k steps, memo bypassed, CPU time per node.",
               lines)


if __name__ == "__main__":
    main()
