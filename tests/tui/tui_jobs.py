"""Step functions for the monitor's runner tests (``call: tui_jobs:<name>``).

``merge`` fails while the file ``fail-merge`` exists in the runner's data folder, with an
error message full of Rich markup (it must show literally).
"""

from __future__ import annotations


def fetch() -> dict[str, int]:
    """Upstream step: some rows."""
    return {"rows": 3}


def audit(fetch: dict[str, int]) -> str:
    """A sibling of ``merge`` (same rank)."""
    return f"{fetch['rows']} rows audited"


def merge(fetch: dict[str, int], ctx) -> int:
    """Fails while ``<data_dir>/fail-merge`` exists."""
    print(f"merging {fetch['rows']} rows")
    if (ctx.data_dir / "fail-merge").exists():
        raise ValueError("amount column [red]missing[/red] in batch 47")
    return fetch["rows"] * 2


def report(merge: int, audit: str) -> str:
    """Downstream of ``merge`` and ``audit`` (a fan-in)."""
    return f"{merge} rows merged"


def noop() -> None:
    """A one-step pipeline."""
    return None


def consume(ctx) -> int:
    """A streaming step: commits three offsets after the last watermark, then fails while
    ``<data_dir>/fail-events`` exists."""
    start = int(ctx.watermark or 0)
    for offset in range(start + 1, start + 4):
        ctx.commit(str(offset), rows=5)
    if (ctx.data_dir / "fail-events").exists():
        raise RuntimeError(f"broker gone after offset {start + 3}")
    return start + 3


def flaky(ctx) -> int:
    """Refused on its first two tries (a different line each), then loads: a retried step.
    Counts its tries in ``<data_dir>/flaky-tries``."""
    tries = ctx.data_dir / "flaky-tries"
    n = int(tries.read_text()) + 1 if tries.exists() else 1
    tries.write_text(str(n))
    print(f"try {n}: connecting to the warehouse")
    if n <= 2:
        raise ConnectionError(f"warehouse refused the connection (try {n})")
    print("loaded 3 rows")
    return 3
