"""Shared set-up for the API tests: real pipelines, a real LocalRunner on a SQLite file.

The step functions live in ``tests/runner/_api_jobs.py`` (the pipelines' base dir).
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

from flowwidgets.runner._local import LocalRunner
from flowwidgets.runner.spec import Pipelines, PipelineSpec, StepSpec
from flowwidgets.runner.sqlite import SqliteRunLog

with warnings.catch_warnings():
    # starlette warns (once, at import) that it prefers httpx2; the project uses httpx
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

__all__ = ["HERE", "ISO_Z", "TestClient", "calls", "make_runner", "pipelines"]

HERE = Path(__file__).resolve().parents[1] / "runner"
"""tests/runner: the pipelines' base dir, where their step functions (_api_jobs.py) live."""
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
"""ISO-8601 UTC with milliseconds and a Z, the API's only time format."""


def _call(name: str, depends_on: tuple[str, ...] = (), fn: str = "work", **kw: Any) -> StepSpec:
    return StepSpec(name, depends_on=depends_on, call=f"_api_jobs:{fn}", **kw)


def pipelines() -> Pipelines:
    """orders (a diamond, hourly in Chicago), events (streaming), adhoc (unscheduled,
    one retried step), hold (one step that waits for a release file)."""
    orders = PipelineSpec("orders", (
        _call("extract"),
        _call("clean", ("extract",)),
        _call("enrich", ("extract",)),
        _call("merge", ("clean", "enrich")),
        _call("load", ("merge",)),
    ), schedule="0 * * * *", timezone="America/Chicago", description="Orders into the warehouse")
    events = PipelineSpec("events", (_call("consume", fn="stream"),), kind="streaming")
    adhoc = PipelineSpec("adhoc", (_call("fetch", fn="flaky", retries=1),))
    hold = PipelineSpec("hold", (_call("wait", fn="slow"),))
    return Pipelines((orders, events, adhoc, hold), base_dir=HERE)


def make_runner(tmp: Path, specs: Pipelines | None = None, **kw: Any) -> LocalRunner:
    """A LocalRunner on ``tmp/runs.sqlite`` with ``tmp`` as its data dir (not started)."""
    kw.setdefault("tick_s", 0.05)
    return LocalRunner(specs or pipelines(), db=tmp / "runs.sqlite", data_dir=tmp, **kw)


def sqlite_log(runner: LocalRunner) -> SqliteRunLog:
    """The runner's run log as the SQLite implementation (for its own methods, such as
    ``import_runs`` and ``trim_events``); the tests' runners all keep one."""
    store = runner.store
    assert isinstance(store, SqliteRunLog), type(store)
    return store


def calls(tmp: Path, run_id: str | None = None) -> list[str]:
    """The steps executed (``calls.txt``), of one run if given, in order."""
    path = tmp / "calls.txt"
    if not path.exists():
        return []
    rows = [line.split() for line in path.read_text().splitlines() if line.strip()]
    return [step for rid, step, _ in rows if run_id is None or rid == run_id]
