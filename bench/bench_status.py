"""Benchmark flowtoy's ``GET /status`` with 1,000 steps: our runner against flowtoy itself.

    python bench/bench_status.py              # prints the figures
    python bench/bench_status.py --record     # also rewrites its section of RESULTS.md

Ours: a run of 1,000 steps written through the run log (each started and finished with
an object output, as the executor writes them), served by ``serve_in_thread``. The peer:
flowtoy 0.4's own ``LocalRunner`` after running the same 1,000 steps (its ``env``
provider), served by its ``create_app_for_runner`` under uvicorn. Both over real HTTP on
127.0.0.1 from one httpx client, requests interleaved so load hits both alike.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import flowwidgets as fw  # noqa: E402
from flowwidgets.models import Status  # noqa: E402
from flowwidgets.runner.spec import Pipelines, PipelineSpec, StepSpec  # noqa: E402
from flowwidgets.runner.sqlite import SqliteRunLog  # noqa: E402


def pct(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def serve_app(app: Any) -> tuple[str, uvicorn.Server, threading.Thread]:
    """Serve an ASGI app on a free loopback port from a daemon thread."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    return f"http://127.0.0.1:{sock.getsockname()[1]}", server, thread


def our_runner(tmp: Path, n: int) -> Any:
    """A LocalRunner whose newest run has ``n`` finished steps with object outputs."""
    steps = tuple(StepSpec(f"s{i}", call="x:y") for i in range(n))
    runner = fw.LocalRunner(Pipelines((PipelineSpec("wide", steps=steps),), base_dir=tmp),
                            db=tmp / "runs.sqlite", data_dir=tmp)
    log = runner.store
    run_id, _ = log.create_run(pipeline="wide", kind="batch", trigger="manual",
                               steps=[(s.name, ()) for s in steps])
    log.claim_requested("bench")
    for s in steps:
        k = log.start_attempt(run_id, s.name)
        log.finish_attempt(run_id, s.name, k, status=Status.SUCCEEDED,
                           output={"rows": 1, "path": f"/data/{s.name}"})
    log.finish_run(run_id, status=Status.SUCCEEDED)
    return runner


def flowtoy_runner(n: int) -> Any:
    """flowtoy's runner after running ``n`` independent env steps."""
    from flowtoy.runner import LocalRunner

    logging.getLogger("flowtoy").setLevel(logging.WARNING)
    runner = LocalRunner({"runner": {"max_workers": 4}, "flow": [
        {"name": f"s{i}", "source": {"type": "env"},
         "output": [{"name": "rows", "type": "raw"}, {"name": "path", "type": "raw"}]}
        for i in range(n)]})
    runner.run()
    return runner


@contextmanager
def in_process(argv: list[str], port: int) -> Iterator[str]:
    """Run ``argv`` (a server on ``port``) in its own process group until the block ends;
    yields its URL once it answers."""
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(1200):
            try:
                httpx.get(url + "/status", timeout=5)
                break
            except httpx.HTTPError:
                if proc.poll() is not None:
                    raise RuntimeError(f"{argv[:3]} exited with {proc.returncode}") from None
                time.sleep(0.1)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)


def _free_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


@contextmanager
def own_processes(tmp: Path, n: int) -> Iterator[tuple[dict[str, str], Any]]:
    """Both servers each in its own process (no GIL shared with the client or each
    other): ours is ``flowwidgets serve`` of the run log :func:`our_runner` wrote, the
    peer flowtoy's app under uvicorn. Yields their /status URLs and a run log on the same
    file, for the writes (of another process, as a CLI run's would be)."""
    our_runner(tmp, n).stop()
    spec = tmp / "pipelines.yaml"
    spec.write_text("pipelines:\n  - name: wide\n    steps:\n" + "".join(
        f"      - name: s{i}\n        run: 'true'\n" for i in range(n)))
    ours_port, toy_port = _free_port(), _free_port()
    exe = Path(sys.executable).with_name("flowwidgets")
    toy = (f"import sys; sys.path.insert(0, {str(ROOT / 'bench')!r}); import uvicorn; "
           "from bench_status import flowtoy_runner; "
           "from flowtoy.runner_api import create_app_for_runner; "
           f"uvicorn.run(create_app_for_runner(flowtoy_runner({n})), host='127.0.0.1', "
           f"port={toy_port}, log_level='warning', access_log=False, lifespan='off')")
    with in_process([str(exe), "serve", str(spec), "--db", str(tmp / "runs.sqlite"),
                     "--port", str(ours_port), "--tick", "3600"], ours_port) as ours, \
            in_process([sys.executable, "-c", toy], toy_port) as peer, \
            SqliteRunLog(tmp / "runs.sqlite") as log:
        yield {"ours": f"{ours}/status", "flowtoy": f"{peer}/status"}, log


def _lean_getter(urls: dict[str, str]) -> Any:
    """``get(name, url)`` → status code, by one kept-alive ``http.client`` connection per
    server (the body is read whole, as httpx reads it)."""
    import http.client
    from urllib.parse import urlsplit

    conns = {}
    for name, url in urls.items():
        where = urlsplit(url)
        conns[name] = http.client.HTTPConnection(where.hostname or "127.0.0.1", where.port)

    def get(name: str, url: str) -> int:
        conn = conns[name]
        conn.request("GET", urlsplit(url).path)
        resp = conn.getresponse()
        resp.read()
        return resp.status

    return get


def _source_getter(urls: dict[str, str], stack: ExitStack, lean: bool) -> Any:
    """``get(name, url)`` → status code, by ``SyncHttp.send`` of the Request the flowtoy
    Source sends for ``/status`` (conditional, as the Source's cache makes it; the JSON
    decoded, the model not parsed), on the lean client or (``lean=False``) on httpx."""
    from dataclasses import replace

    from flowwidgets.sources._http import SyncHttp
    from flowwidgets.sources.flowtoy import FlowtoyFlavour

    req = replace(next(FlowtoyFlavour()._state()), parse=None)
    https = {}
    for name, url in urls.items():
        https[name] = SyncHttp(url.removesuffix("/status"), None, 30, lean=lean)
        stack.callback(https[name].close)

    def get(name: str, url: str) -> int:
        return https[name].send(req).status_code

    return get


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--requests", type=int, default=60)
    ap.add_argument("--record", action="store_true")
    ap.add_argument("--after-write", action="store_true",
                    help="bump the run log's version before each of our requests, so the "
                         "route runs every time (no kept answer)")
    ap.add_argument("--lean", action="store_true",
                    help="time the GETs by http.client (about 0.1 ms of client CPU per "
                         "120 KB, where httpx spends about 0.6 ms): the servers' share")
    ap.add_argument("--source", choices=("lean", "httpx"),
                    help="time the GETs through the Source's path (SyncHttp.send of the "
                         "flowtoy Source's /status Request, JSON decoded, not parsed) on "
                         "the lean client or on httpx")
    ap.add_argument("--processes", action="store_true",
                    help="each server in its own process (the default serves both from "
                         "threads of this one, where they share the GIL with the client)")
    ap.add_argument("--alone", action="store_true",
                    help="time our runner's GETs only (flowtoy is started and checked but "
                         "not polled): without flowtoy's 17 ms answers taking the second "
                         "core between ours")
    args = ap.parse_args()
    from flowtoy.runner_api import create_app_for_runner

    lines = [f"# bench_status  {time.strftime('%Y-%m-%d')}  nproc={os.cpu_count()}  "
             f"{args.steps} steps, {args.requests} requests each, load "
             f"{os.getloadavg()[0]:.1f} at the start"]
    if args.after_write:
        lines[0] += "; a write before each of our requests"
    if args.processes:
        lines[0] += "; each server in its own process"
    if args.lean:
        lines[0] += "; GETs by http.client"
    if args.alone:
        lines[0] += "; only our runner polled"
    if args.source:
        lines[0] += f"; GETs by SyncHttp.send on {args.source}"
    print(lines[0])
    times: dict[str, list[float]] = {"ours": [], "flowtoy": []}
    sizes: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        if args.processes:
            urls, log = stack.enter_context(own_processes(Path(tmp), args.steps))
        else:
            runner = our_runner(Path(tmp), args.steps)
            log = runner.store
            toy_url, toy_server, toy_thread = serve_app(create_app_for_runner(
                flowtoy_runner(args.steps)))
            stack.callback(toy_thread.join, 5)
            stack.callback(setattr, toy_server, "should_exit", True)
            ours = stack.enter_context(fw.serve_in_thread(runner, start_runner=False))
            urls = {"ours": f"{ours.url}/status", "flowtoy": f"{toy_url}/status"}
        http = stack.enter_context(httpx.Client())
        for name, url in urls.items():  # warm up; both answer every step
            body = http.get(url).json()
            assert len(body["steps"]) == args.steps, (name, body.get("total_steps"))
            sizes[name] = len(http.get(url).content)
        get = _lean_getter(urls) if args.lean else \
            _source_getter(urls, stack, args.source == "lean") if args.source else \
            (lambda name, url: http.get(url).status_code)
        polled = {"ours": urls["ours"]} if args.alone else urls
        for _ in range(args.requests):
            for name, url in polled.items():
                if name == "ours" and args.after_write:  # the kept answer is stale now
                    with log._pool.write() as tx:
                        tx.touch()
                t = time.perf_counter()
                code = get(name, url)
                times[name].append((time.perf_counter() - t) * 1000)
                assert code == 200
    for name, label in (("ours", "flowwidgets runner"), ("flowtoy", "flowtoy 0.4 (peer)")):
        ms = times[name]
        if not ms:
            continue
        line = (f"GET /status  {label:<20} p50 {statistics.median(ms):6.2f} ms   "
                f"p95 {pct(ms, 95):6.2f} ms   min {min(ms):6.2f} ms   body {sizes[name]:,} B")
        print(line)
        lines.append(line)
    if times["flowtoy"]:
        ratio = statistics.median(times["ours"]) / statistics.median(times["flowtoy"])
        lines.append(f"ratio ours/flowtoy at p50: {ratio:.2f}; load "
                     f"{os.getloadavg()[0]:.1f} at the end")
    else:
        lines.append(f"load {os.getloadavg()[0]:.1f} at the end")
    print(lines[-1])
    if args.record:
        from _record import record  # type: ignore[import-not-found]

        if args.after_write:
            record("bench_status_after_write", "flowtoy's /status with 1,000 steps, a write "
                   "before each poll (`python bench/bench_status.py --after-write`)",
                   "As above, but the run log's version moves before each of our requests, "
                   "so no kept answer serves it: the route's own cost.", lines)
            return
        record("bench_status",
               "flowtoy's /status with 1,000 steps (`python bench/bench_status.py`)",
               "Our runner's flowtoy-compatible /status against flowtoy's own server, same "
               "1,000 steps, requests interleaved over real HTTP on 127.0.0.1.", lines)


if __name__ == "__main__":
    main()
