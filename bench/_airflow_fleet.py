"""A fleet of generated Airflow DAGs with runs made through Airflow's own API.

``write_dags(folder, n)`` writes one DAG file defining ``bench_000`` … (each a single
task, a daily schedule, paused at creation so nothing ever executes). ``make_runs``
triggers runs of a paused DAG (they stay queued) and marks them success or failed with
one bulk ``PATCH /dags/{id}/dagRuns``, as an operator would.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx

DAG_FILE = '''"""Generated for the flowwidgets benchmark (airflow dag): {n} paused DAGs."""
from airflow.sdk import dag, task

for _i in range({n}):
    @dag(dag_id=f"bench_{{_i:03d}}", schedule="@daily", catchup=False,
         is_paused_upon_creation=True, tags=["bench"])
    def _make():
        @task
        def only() -> None:
            print("never executed: the DAG is paused")

        only()

    _make()
'''


def dag_ids(n: int) -> list[str]:
    """The ids ``write_dags`` defines."""
    return [f"bench_{i:03d}" for i in range(n)]


def write_dags(folder: Path, n: int) -> Path:
    """One DAG file defining ``n`` paused DAGs."""
    path = folder / "bench_fleet.py"
    path.write_text(DAG_FILE.format(n=n))
    return path


def make_runs(client: httpx.Client, dag_id: str, count: int, fail_every: int = 4) -> list[str]:
    """``count`` runs of a paused DAG (each ``POST .../dagRuns``: queued, never executed),
    then marked success (every ``fail_every``-th failed) in one bulk
    ``PATCH /dags/{id}/dagRuns``."""
    made = []
    for _ in range(count):
        r = _retry(lambda: client.post(f"/api/v2/dags/{dag_id}/dagRuns",
                                       json={"logical_date": None, "conf": {}}))
        made.append(r.json()["dag_run_id"])
    entities = [{"dag_run_id": run_id, "dag_id": dag_id,
                 "state": "failed" if (k + 1) % fail_every == 0 else "success"}
                for k, run_id in enumerate(made)]
    r = client.patch(f"/api/v2/dags/{dag_id}/dagRuns",
                     json={"actions": [{"action": "update", "entities": entities}]})
    if r.status_code >= 500 or (r.json().get("update") or {}).get("errors"):
        for e in entities:  # one by one (a busy SQLite server can fail the bulk write)
            mark(client, dag_id, e["dag_run_id"], e["state"])
    else:
        r.raise_for_status()
    return made


def _retry(call: Callable[[], httpx.Response], tries: int = 8) -> httpx.Response:
    """``call()`` again after a 5xx (SQLite's "database is locked" under concurrent
    writes), up to ``tries`` times."""
    for n in range(tries):
        r = call()
        if r.status_code < 500 or n == tries - 1:
            r.raise_for_status()
            return r
        time.sleep(0.5 * (n + 1))
    raise AssertionError("unreachable")


def mark(client: httpx.Client, dag_id: str, run_id: str, state: str) -> None:
    """Set a dag run's state through the API."""
    from urllib.parse import quote
    _retry(lambda: client.patch(f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}",
                                json={"state": state}))
