"""Requests per poll of the Airflow and Prefect Sources against real servers, by size.

    .venv/bin/python bench/bench_orchestrators.py airflow [--sizes 10 50 200] [--runs 10]
    .venv/bin/python bench/bench_orchestrators.py prefect [--sizes 10 50 100] [--runs 10]

One real server per orchestrator (Airflow 3.3.2 ``standalone``, Prefect 3.8.8), grown
size by size: generated DAGs (paused: nothing executes) or deployments (nothing serves
them), ``--runs`` runs each, created and marked success/failed through the server's own
API. At each size a fresh Source connects through a counting proxy
(``_counting_proxy.py``), so requests are counted where they arrive, and we measure:

- first contact: requests and seconds of the first ``pipelines()``;
- idle polls: ``--idle`` polls ``--interval`` s apart (the poller's ``_snapshot()``),
  requests per poll (median, max, mean) and per second, poll latency;
- a changed poll: one run is marked failed through the API (Prefect with
  ``--new-run``: a new run of one deployment is created instead), then polls every
  ``--interval`` s until the card shows it, and the cards view's re-read
  (``pipelines()``): requests, polls and seconds until seen.

Prints a Markdown table row per size and writes ``bench/orchestrators-<name>.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))  # the tests' fwtest helpers

import _airflow_fleet as AF  # noqa: E402
import _prefect_fleet as PF  # noqa: E402
from _counting_proxy import CountingProxy  # noqa: E402
from fwtest import orch_servers as S  # noqa: E402

from flowwidgets.models import Status  # noqa: E402
from flowwidgets.sources import Source  # noqa: E402
from flowwidgets.sources.airflow import connect_airflow  # noqa: E402
from flowwidgets.sources.prefect import connect_prefect  # noqa: E402


def measure(px: CountingProxy, src: Source, *, idle: int, interval: float,
            change: Any, check: Any, settle: float = 0.0) -> dict[str, Any]:
    """First contact, idle polls, one changed poll; requests counted at the proxy."""
    out: dict[str, Any] = {}
    px.reset()
    t = time.perf_counter()
    cards = src.pipelines()
    out["pipelines"] = len(cards)
    out["first_contact"] = {"requests": px.counts()[0],
                            "seconds": round(time.perf_counter() - t, 2)}
    src._snapshot()  # the poller's first poll: the runs page, names
    if settle:
        time.sleep(settle)
    src._snapshot()
    per_poll, lat = [], []
    t_idle = time.perf_counter()
    for _ in range(idle):
        time.sleep(interval)
        px.reset()
        t = time.perf_counter()
        src._snapshot()
        lat.append(time.perf_counter() - t)
        per_poll.append(px.counts()[0])
    span = time.perf_counter() - t_idle
    out["idle"] = {"polls": idle, "median": statistics.median(per_poll), "max": max(per_poll),
                   "mean": round(statistics.mean(per_poll), 2),
                   "per_second": round(sum(per_poll) / span, 2),
                   "latency_ms_median": round(statistics.median(lat) * 1000, 1),
                   "latency_ms_max": round(max(lat) * 1000, 1)}
    changed_at = change()
    polls = 0
    px.reset()
    while True:
        polls += 1
        t = time.perf_counter()
        snap = src._snapshot()
        latency = time.perf_counter() - t
        if check(snap):
            break
        if time.perf_counter() - changed_at > 30:
            raise AssertionError("the change did not show within 30 s")
        time.sleep(interval)
    poll_requests, by_path = px.counts()
    px.reset()
    src.pipelines()  # what the cards view reads on "changed"
    out["changed"] = {"polls_until_seen": polls, "requests": poll_requests,
                      "view_reread": px.counts()[0],
                      "seconds_until_seen": round(time.perf_counter() - changed_at, 2),
                      "latency_ms": round(latency * 1000, 1), "by_path": by_path}
    return out


def bench_airflow(sizes: list[int], runs: int, idle: int, interval: float) -> list[dict]:
    results = []
    with tempfile.TemporaryDirectory(prefix="fw-bench-airflow-") as tmp:
        work = Path(tmp)
        src_dir = work / "src"
        src_dir.mkdir()
        dag_file = AF.write_dags(src_dir, sizes[0])
        with S.airflow_server(work, (dag_file,)) as srv:
            print(f"airflow up in {srv.timings['start']:.0f} s", flush=True)
            made = 0
            for n in sizes:
                AF.write_dags(srv.dags, n)
                client = httpx.Client(base_url=srv.url, timeout=120,
                                      headers={"Authorization": f"Bearer {srv.token()}"})
                S.wait_until(f"{n} DAGs parsed", lambda n=n, c=client: c.get(
                    "/api/v2/dags", params={"limit": 0}).json()["total_entries"] >= n, 600,
                    (srv.proc,))
                t = time.monotonic()
                with ThreadPoolExecutor(1) as pool:
                    list(pool.map(lambda d, c=client: AF.make_runs(c, d, runs),
                                  AF.dag_ids(n)[made:]))
                print(f"  {n} DAGs: runs of {n - made} new DAGs made in "
                      f"{time.monotonic() - t:.0f} s", flush=True)
                made = n
                with CountingProxy(srv.url) as px:
                    src = connect_airflow(px.url, username=srv.username,
                                          password=srv.password, timeout=120)
                    target = AF.dag_ids(n)[n // 2]

                    def change(c: httpx.Client = client, dag: str = target) -> float:
                        run = c.get(f"/api/v2/dags/{dag}/dagRuns",
                                    params={"order_by": "-run_after", "limit": 1}).json()
                        AF.mark(c, dag, run["dag_runs"][0]["dag_run_id"], "failed")
                        return time.perf_counter()

                    def check(snap: Any, dag: str = target) -> bool:
                        return snap.pipelines[dag].latest_run.status is Status.FAILED

                    # the newest run of the target is marked success or failed by
                    # make_runs: make it success first so marking it failed is a change
                    newest = client.get(f"/api/v2/dags/{target}/dagRuns",
                                        params={"order_by": "-run_after", "limit": 1}).json()
                    AF.mark(client, target, newest["dag_runs"][0]["dag_run_id"], "success")
                    row = measure(px, src, idle=idle, interval=interval, change=change,
                                  check=check)
                    src.close()
                row.update(size=n, runs_per_pipeline=runs)
                results.append(row)
                print(json.dumps(row), flush=True)
                client.close()
    return results


def bench_prefect(sizes: list[int], runs: int, idle: int, interval: float,
                  new_run: bool = False) -> list[dict]:
    results = []
    with tempfile.TemporaryDirectory(prefix="fw-bench-prefect-") as tmp:
        with S.prefect_server(Path(tmp), {}) as srv:
            print(f"prefect up in {srv.timings['start']:.0f} s", flush=True)
            client = httpx.Client(base_url=srv.url, timeout=120)
            made: dict[str, list[str]] = {}
            for n in sizes:
                t = time.monotonic()
                made.update(PF.make_fleet(client, n, runs, start=len(made)))
                print(f"  {n} deployments: runs made in {time.monotonic() - t:.0f} s",
                      flush=True)
                with CountingProxy(srv.url) as px:
                    src = connect_prefect(px.url, timeout=120)
                    target = f"bench-flow/{PF.deployment_names(n)[n // 2]}"
                    run_id = made[target.split("/")[1]][-1]
                    PF.mark(client, run_id, "COMPLETED")

                    created: list[str] = []

                    def change(c: httpx.Client = client, rid: str = run_id,
                               name: str = target, created: list[str] = created) -> float:
                        if new_run:  # a new run, due now (what a schedule or "run" makes)
                            dep = c.get(f"/api/deployments/name/{name}").json()["id"]
                            created.append(c.post(f"/api/deployments/{dep}/create_flow_run",
                                                  json={}).json()["id"])
                        else:  # a finished run marked failed: no new start or end time
                            PF.mark(c, rid, "FAILED")
                        return time.perf_counter()

                    def check(snap: Any, name: str = target,
                              created: list[str] = created) -> bool:
                        latest = snap.pipelines[name].latest_run
                        if new_run:
                            return latest.run_id == created[0]
                        return latest.status is Status.FAILED

                    row = measure(px, src, idle=idle, interval=interval, change=change,
                                  check=check, settle=31.0)
                    src.close()
                row.update(size=n, runs_per_pipeline=runs)
                results.append(row)
                print(json.dumps(row), flush=True)
            client.close()
    return results


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("which", choices=("airflow", "prefect"))
    ap.add_argument("--sizes", type=int, nargs="+")
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--idle", type=int, default=15)
    ap.add_argument("--interval", type=float, default=2.0)
    ap.add_argument("--new-run", action="store_true",
                    help="Prefect: the change is a new run (default: a run marked failed)")
    args = ap.parse_args(argv)
    if args.which == "airflow":
        rows = bench_airflow(args.sizes or [10, 50, 200], args.runs, args.idle, args.interval)
    else:
        rows = bench_prefect(args.sizes or [10, 50, 100], args.runs, args.idle, args.interval,
                             args.new_run)
    suffix = "-new-run" if args.new_run else ""
    out = HERE / f"orchestrators-{args.which}{suffix}.json"
    out.write_text(json.dumps(rows, indent=1) + "\n")
    print(f"\n| {args.which} pipelines | first contact (req, s) | idle poll req (median / "
          "max / mean) | idle req/s | idle poll ms (median) | changed poll req | view "
          "re-read req | change seen after s |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        i, c, f = r["idle"], r["changed"], r["first_contact"]
        print(f"| {r['pipelines']} | {f['requests']}, {f['seconds']} | {i['median']} / "
              f"{i['max']} / {i['mean']} | {i['per_second']} | {i['latency_ms_median']} | "
              f"{c['requests']} ({c['polls_until_seen']} poll) | {c['view_reread']} | "
              f"{c['seconds_until_seen']} |")


if __name__ == "__main__":
    main()
