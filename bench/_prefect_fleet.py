"""A fleet of Prefect deployments with flow runs made and marked through Prefect's API.

``make_fleet(client, n, runs)`` creates one flow and ``n`` deployments of it (no
schedule, nothing serves them, so nothing executes), then ``runs`` flow runs per
deployment, each set to COMPLETED (every 4th FAILED) with ``set_state`` — what an
operator's or a worker's report looks like to the API.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx


def deployment_names(n: int) -> list[str]:
    """The deployment names ``make_fleet`` creates (flow ``bench-flow``)."""
    return [f"bench-{i:03d}" for i in range(n)]


def make_fleet(client: httpx.Client, n: int, runs: int, start: int = 0) -> dict[str, list[str]]:
    """``{deployment name: [flow run ids]}`` for deployments ``start`` to ``n``."""
    flow_id = client.post("/api/flows/", json={"name": "bench-flow"}).json()["id"]
    out = {}
    for name in deployment_names(n)[start:]:
        r = _retry(lambda name=name: client.post("/api/deployments/",
                                                 json={"name": name, "flow_id": flow_id}))
        dep = r.json()["id"]
        ids = []
        for k in range(runs):
            run = _retry(lambda dep=dep: client.post(
                f"/api/deployments/{dep}/create_flow_run", json={}))
            run_id = run.json()["id"]
            mark(client, run_id, "FAILED" if (k + 1) % 4 == 0 else "COMPLETED")
            ids.append(run_id)
        out[name] = ids
    return out


def mark(client: httpx.Client, run_id: str, state: str) -> None:
    """Force a flow run into ``state`` (a state type)."""
    _retry(lambda: client.post(f"/api/flow_runs/{run_id}/set_state",
                               json={"state": {"type": state}, "force": True}))


def _retry(call: Callable[[], httpx.Response], tries: int = 5) -> httpx.Response:
    """``call()`` again after a 5xx (the SQLite-backed server answers 503 when a write
    times out on a loaded machine), up to ``tries`` times."""
    for n in range(tries):
        r = call()
        if r.status_code < 500 or n == tries - 1:
            r.raise_for_status()
            return r
        time.sleep(0.5 * (n + 1))
    raise AssertionError("unreachable")
