"""Prefect flow for the flowwidgets live tests: a diamond of five tasks, one switchable failure.

    extract ─┬─ clean ──┬─ join ── publish
             └─ enrich ─┘

``enrich`` fails while the file named by ``$FW_FAIL_FLAG`` exists; ``clean`` keeps
running while ``$FW_HOLD_FLAG`` exists (a run to cancel). Each task appends its
name to ``$FW_TRACE``. Run as a script:

- no argument: serve the flow as the deployment ``fw-diamond/diamond`` (a live runner is
  what Prefect needs to retry a run) until stopped;
- ``--all``: also serve ``fw-diamond/nightly`` (a cron schedule, so runs are scheduled
  ahead) and ``fw-diamond/paused`` (paused) — for recording edge cases;
- ``--mapped``: call the flow ``fw-mapped`` directly once (a run without a deployment, with
  a mapped task whose third item fails) and exit.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from prefect import flow, serve, task


def _trace(name: str) -> None:
    with open(os.environ["FW_TRACE"], "a") as out:
        out.write(f"{name}\n")


@task
def extract() -> dict:
    _trace("extract")
    return {"rows": 10}


@task
def clean(data: dict) -> dict:
    _trace("clean")
    hold, deadline = os.environ.get("FW_HOLD_FLAG"), time.monotonic() + 300
    while hold and Path(hold).exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    return {"clean": data["rows"]}


@task
def enrich(data: dict) -> dict:
    _trace("enrich")
    if Path(os.environ["FW_FAIL_FLAG"]).exists():
        raise RuntimeError("enrich failed: the flag file is there")
    return {"enriched": data["rows"] * 2}


@task
def join(a: dict, b: dict) -> dict:
    _trace("join")
    return {**a, **b}


@task
def publish(row: dict) -> str:
    _trace("publish")
    return f"published {sorted(row)}"


@flow(name="fw-diamond")
def fw_diamond() -> str:
    x = extract.submit()
    c = clean.submit(x)
    e = enrich.submit(x)
    j = join.submit(c, e)
    return publish.submit(j).result()


@task
def square(n: int) -> int:
    if n == 3:
        raise ValueError("three is not allowed")
    return n * n


@flow(name="fw-mapped")
def fw_mapped() -> list[int]:
    return square.map([1, 2, 3]).result()


if __name__ == "__main__":
    if "--mapped" in sys.argv:
        try:
            fw_mapped()
        except Exception as exc:  # the run fails on purpose; Prefect recorded it
            print(f"fw-mapped failed as intended: {exc}")
    elif "--all" in sys.argv:
        serve(fw_diamond.to_deployment(name="diamond"),
              fw_diamond.to_deployment(name="nightly", cron="30 6 * * *"),
              fw_diamond.to_deployment(name="paused", cron="0 5 * * *", paused=True))
    else:
        fw_diamond.serve(name="diamond")
