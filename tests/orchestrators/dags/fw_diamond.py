"""Airflow DAG for the flowwidgets live tests: a diamond of five tasks, one switchable failure.

    extract ─┬─ clean ──┬─ join ── publish
             └─ enrich ─┘

``clean`` keeps running while the file named by ``$FW_HOLD_FLAG`` exists (a run to cancel).
``enrich`` fails while the file named by ``$FW_FAIL_FLAG`` exists; the test deletes it and
restarts from ``enrich``. Each task appends "<task> <try>" to ``$FW_TRACE`` so the test can
see which tasks really ran again. (Airflow skips a file unless it says "airflow" and "dag".)
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from airflow.sdk import dag, get_current_context, task


def _trace(name: str) -> None:
    ti = get_current_context()["ti"]
    with open(os.environ["FW_TRACE"], "a") as out:
        out.write(f"{name} {ti.try_number}\n")


@dag(dag_id="fw_diamond", schedule=None, catchup=False, tags=["flowwidgets", "test"])
def fw_diamond():
    @task
    def extract() -> int:
        _trace("extract")
        return 1

    @task
    def clean(x: int) -> int:
        _trace("clean")
        hold, deadline = os.environ.get("FW_HOLD_FLAG"), time.monotonic() + 300
        while hold and Path(hold).exists() and time.monotonic() < deadline:
            time.sleep(0.5)
        return x + 1

    @task
    def enrich(x: int) -> int:
        _trace("enrich")
        if Path(os.environ["FW_FAIL_FLAG"]).exists():
            raise RuntimeError("enrich failed: the flag file is there")
        return x + 2

    @task
    def join(a: int, b: int) -> int:
        _trace("join")
        return a + b

    @task
    def publish(total: int) -> None:
        _trace("publish")
        print(f"published {total}")

    x = extract()
    publish(join(clean(x), enrich(x)))


fw_diamond()
