"""The Dagster side of the live tests: the diamond job whose middle op fails on demand.

    extract ─┬─ clean ──┬─ join ── publish
             └─ enrich ─┘          (enrich fails while $FW_FAIL_FLAG exists)

Every op appends ``"<op> <run id>"`` to ``$FW_TRACE`` when it runs, so a test can tell
what re-execution really ran. ``fw_nightly`` has a stopped-by-default schedule and
``fw_sensed`` a sensor (both: what cards show for them; their ``tick`` runs while
``$FW_HOLD_FLAG`` exists: a run to cancel); ``$FW_EXTRA_JOBS`` adds that many
trivial jobs (the benchmarks). The in-process executor keeps a run to about 2 s.
"""

import os
import time
from pathlib import Path

from dagster import (
    DefaultScheduleStatus,
    Definitions,
    ScheduleDefinition,
    in_process_executor,
    job,
    op,
    sensor,
)


def _trace(name: str, context) -> None:
    path = os.environ.get("FW_TRACE")
    if path:
        with open(path, "a") as f:
            f.write(f"{name} {context.run_id}\n")


@op
def extract(context) -> int:
    _trace("extract", context)
    context.log.info("extracted 3 rows")
    return 3


@op
def clean(context, rows: int) -> int:
    _trace("clean", context)
    return rows


@op
def enrich(context, rows: int) -> int:
    _trace("enrich", context)
    flag = os.environ.get("FW_FAIL_FLAG")
    print(f"enrich: checking {flag}")
    if flag and Path(flag).exists():
        raise RuntimeError("the flag file is there: enrich fails on purpose")
    return rows * 2


@op
def join(context, a: int, b: int) -> int:
    _trace("join", context)
    return a + b


@op
def publish(context, total: int) -> None:
    _trace("publish", context)
    context.log.info(f"published {total}")


@job(executor_def=in_process_executor)
def fw_diamond():
    rows = extract()
    publish(join(clean(rows), enrich(rows)))


@op
def tick(context) -> None:
    _trace("tick", context)
    # while $FW_HOLD_FLAG's file exists the op keeps running (at most 5 min): a run to cancel
    hold, deadline = os.environ.get("FW_HOLD_FLAG"), time.monotonic() + 300
    while hold and Path(hold).exists() and time.monotonic() < deadline:
        time.sleep(0.5)


@job(executor_def=in_process_executor)
def fw_nightly():
    tick()


@job(executor_def=in_process_executor)
def fw_sensed():
    tick()


@sensor(job=fw_sensed, minimum_interval_seconds=3600)
def fw_sensor(context):
    return None


def _extra(n: int):
    @job(name=f"fw_extra_{n:03d}", executor_def=in_process_executor)
    def extra():
        tick()
    return extra


defs = Definitions(
    jobs=[fw_diamond, fw_nightly, fw_sensed,
          *(_extra(n) for n in range(int(os.environ.get("FW_EXTRA_JOBS", "0"))))],
    schedules=[ScheduleDefinition(job=fw_nightly, cron_schedule="30 6 * * *",
                                  execution_timezone="Europe/Paris",
                                  default_status=DefaultScheduleStatus.RUNNING)],
    sensors=[fw_sensor],
)
