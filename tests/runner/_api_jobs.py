"""Step functions for the API tests: real work on files in the runner's data dir.

Every call appends ``<run_id> <step> <attempt>`` to ``calls.txt`` (the counter file the
restart tests read). A step fails while ``fail-<step>`` exists in the data dir; ``flaky``
fails its first attempt of each run; ``slow`` waits for ``release`` (or 10 s).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any


def _record(ctx: Any) -> Path:
    data = Path(ctx.data_dir)
    with open(data / "calls.txt", "a", encoding="utf-8") as f:
        f.write(f"{ctx.run_id} {ctx.step} {ctx.attempt}\n")
    return data


def work(ctx: Any, **inputs: Any) -> dict[str, Any]:
    """A batch step: log a line, fail on its switch, output a small object."""
    data = _record(ctx)
    ctx.log(f"{ctx.step}: got {sorted(inputs)}")
    if (data / f"fail-{ctx.step}").exists():
        raise ValueError(f"amount column missing in batch 47 ({ctx.step})")
    return {"step": ctx.step, "rows": 3 + len(inputs)}


def flaky(ctx: Any, **inputs: Any) -> dict[str, Any]:
    """Fails on its first attempt, succeeds on the next."""
    _record(ctx)
    ctx.log(f"attempt {ctx.attempt}")
    if ctx.attempt == 1:
        raise RuntimeError("transient: connection reset")
    return {"attempt": ctx.attempt}


def slow(ctx: Any, **inputs: Any) -> dict[str, Any]:
    """Runs until the ``release`` file appears (at most 10 s)."""
    data = _record(ctx)
    deadline = time.monotonic() + 10
    while not (data / "release").exists() and time.monotonic() < deadline:
        if ctx.should_stop():
            break
        time.sleep(0.02)
    return {"released": (data / "release").exists()}


def stream(ctx: Any) -> dict[str, Any]:
    """A streaming step: commit a watermark per batch until asked to stop; fails while
    ``fail-consume`` exists, after committing one batch."""
    data = _record(ctx)
    n = int(ctx.watermark or 0)
    while not ctx.should_stop():
        n += 1
        ctx.commit(str(n), rows=10)
        if (data / "fail-consume").exists():
            raise ConnectionError(f"broker went away after batch {n}")
        time.sleep(0.05)
    return {"last": n}
