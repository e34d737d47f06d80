"""Step functions that sleep known amounts, for the timing tests (the pipelines' base dir).

The step's name says how long it sleeps: ``slow`` 1.0 s, ``fast`` 0.2 s, ``side`` 0.2 s,
anything else 0.05 s; a ``sleep-<step>`` file in the data dir holding seconds overrides it.
``fail-<step>`` in the data dir makes that step fail.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

SLEEP = {"slow": 1.0, "fast": 0.2, "side": 0.2}


def nap(ctx: Any, **inputs: Any) -> dict[str, Any]:
    """Sleep this step's known amount (or its ``sleep-<step>`` file's); fail while
    ``fail-<step>`` exists."""
    override = Path(ctx.data_dir) / f"sleep-{ctx.step}"
    time.sleep(float(override.read_text()) if override.exists() else SLEEP.get(ctx.step, 0.05))
    if (Path(ctx.data_dir) / f"fail-{ctx.step}").exists():
        raise RuntimeError(f"{ctx.step} failed on purpose")
    return {"step": ctx.step}
