"""How the status API's figures grow with the history: 10,000, 100,000 and 1,000,000 runs.

    python bench/bench_scale.py                        # 10k, 100k, 1M
    python bench/bench_scale.py --sizes 10000 100000   # smaller
    python bench/bench_scale.py --record               # also rewrites its RESULTS.md section

Each history is a fresh SQLite file filled through the run log's import path
(``SqliteRunLog.import_runs``, records generated lazily so a million runs never sit in
memory): finished runs of eight pipelines spread over 60 days, about 8% failed, four
steps each. The API is served by ``serve_in_thread`` and read over real HTTP on
127.0.0.1. A figure that grows with the history where it need not is a defect: the
interesting column is how each row changes from one size to the next.
"""

from __future__ import annotations

import argparse
import os
import socket
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from flowwidgets.models import Status  # noqa: E402
from flowwidgets.runner._local import LocalRunner  # noqa: E402
from flowwidgets.runner.serve import serve_in_thread  # noqa: E402
from flowwidgets.runner.spec import Pipelines, PipelineSpec, StepSpec  # noqa: E402
from flowwidgets.runner.sqlite import SqliteRunLog  # noqa: E402
from flowwidgets.runner.store import RunRecord, StepRecord  # noqa: E402

STEPS = ("extract", "transform", "merge", "load")
NAMES = [f"pipeline_{i}" for i in range(8)]


def pipelines() -> Pipelines:
    """Eight four-step pipelines (the runner serves their names and schedules)."""
    return Pipelines(tuple(
        PipelineSpec(name, tuple(StepSpec(s, depends_on=(STEPS[j - 1],) if j else (),
                                          run="true") for j, s in enumerate(STEPS)),
                     schedule="0 * * * *") for name in NAMES))


def _shape(i: int, n: int, now: datetime) -> tuple[datetime, timedelta, bool]:
    """Run ``i`` of ``n``: created time, duration, failed (deterministic, no state)."""
    created = now - timedelta(seconds=60 * 86400 * (n - i) / n)
    took = timedelta(milliseconds=20_000 + (i * 7919) % 70_000)
    failed = (i * 2654435761) % 100 < 8
    return created, took, failed


def runs(n: int, now: datetime) -> Iterator[RunRecord]:
    """The ``n`` runs, oldest first."""
    for i in range(n):
        created, took, failed = _shape(i, n, now)
        yield RunRecord(
            run_id=f"bench-{i:07d}", pipeline=NAMES[i % len(NAMES)], kind="batch",
            status=Status.FAILED if failed else Status.SUCCEEDED, trigger="schedule",
            created_at=created, started_at=created, finished_at=created + took,
            failed_step="merge" if failed else None,
            error="ValueError: amount column missing in batch 47" if failed else None)


def steps(n: int, now: datetime) -> Iterator[StepRecord]:
    """Four steps per run (the failed ones stop at merge)."""
    for i in range(n):
        created, took, failed = _shape(i, n, now)
        for pos, name in enumerate(STEPS):
            status = (Status.SUCCEEDED if not failed or pos < 2
                      else Status.FAILED if pos == 2 else Status.PENDING)
            done = status is not Status.PENDING
            yield StepRecord(run_id=f"bench-{i:07d}", name=name, status=status,
                             position=pos, depends_on=(STEPS[pos - 1],) if pos else (),
                             started_at=created if done else None,
                             finished_at=created + took if done else None,
                             attempts=1 if done else 0)


def p50(client: httpx.Client, path: str, repeat: int) -> float:
    """Median milliseconds of ``repeat`` GETs of ``path`` (after one warm-up)."""
    assert client.get(path).status_code == 200, path
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        r = client.get(path)
        times.append((time.perf_counter() - t0) * 1000)
        assert r.status_code == 200, (path, r.status_code)
    return statistics.median(times)


def best(fn: Callable[[], object], repeat: int = 7) -> float:
    """Best milliseconds of ``repeat`` calls (in process: less noise than HTTP)."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return min(times)


def offset_medians(path: Path) -> None:
    """What the medians cost before schema v6: one ``ORDER BY duration_ms LIMIT/OFFSET``
    per pipeline, walking half of its runs in the index (kept to show the curve)."""
    conn = sqlite3.connect(path)
    try:
        for name, n in conn.execute("SELECT pipeline, with_duration FROM pipeline_totals"
                                    ).fetchall():
            conn.execute("SELECT duration_ms FROM runs WHERE pipeline = ? AND duration_ms "
                         "IS NOT NULL ORDER BY duration_ms LIMIT ? OFFSET ?",
                         (name, 2 - n % 2, (n - 1) // 2)).fetchall()
    finally:
        conn.close()


def history(n: int, tmp: str, cache: Path | None) -> tuple[Path, datetime, float]:
    """The ``n``-run history: imported into ``tmp`` (the import's seconds), or reused from
    ``cache`` (built there once, with its ``now`` beside it; the benchmark only reads)."""
    if cache is not None:
        path, stamp = cache / f"runs-{n}.sqlite", cache / f"runs-{n}.now"
        if stamp.exists():
            return path, datetime.fromisoformat(stamp.read_text()), float("nan")
        cache.mkdir(parents=True, exist_ok=True)
        for stale in cache.glob(f"runs-{n}.sqlite*"):  # a build that did not finish
            stale.unlink()
    else:
        path, stamp = Path(tmp) / "runs.sqlite", None
    now = datetime.now(UTC)
    store = SqliteRunLog(path)
    t0 = time.perf_counter()
    store.import_runs(runs(n, now), steps(n, now))
    took = time.perf_counter() - t0
    store.close()
    if stamp is not None:
        stamp.write_text(now.isoformat())
    return path, now, took


@contextmanager
def served(db: Path, tmp: Path) -> Iterator[tuple[str, int]]:
    """``flowwidgets serve`` of ``db`` in its own process (as a notebook meets the
    runner): its URL and pid, stopped on exit."""
    import signal
    import subprocess

    spec = tmp / "pipelines.yaml"
    spec.write_text("pipelines:\n" + "".join(
        f"  - name: {name}\n    steps:\n      - name: load\n        run: 'true'\n"
        for name in NAMES))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    exe = Path(sys.executable).with_name("flowwidgets")
    proc = subprocess.Popen([str(exe), "serve", str(spec), "--port", str(port), "--db",
                             str(db), "--tick", "3600"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(600):
            try:
                if httpx.get(url + "/api/health").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield url, proc.pid
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)


def frame_seconds(db: Path, n: int, tmp: Path, lean: bool = True) -> float:
    """Seconds ``runs_frame`` takes to read every run of ``db`` through a Source, over
    HTTP from ``flowwidgets serve`` in its own process; prints the client's and the
    server's CPU time too. ``lean=False``: the Source talks httpx (as before session 6)."""
    from unittest import mock

    from flowwidgets.frames import runs_frame
    from flowwidgets.sources import _http, connect

    with served(db, tmp) as (url, pid), \
            mock.patch.object(_http, "lean_fits", _http.lean_fits if lean else
                              (lambda *a: False)), \
            connect(url, timeout=120) as src:
        server0 = _cpu_seconds(pid)
        t0, cpu0 = time.perf_counter(), time.process_time()
        df = runs_frame(src, progress=False, eta=False)
        took, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        server = _cpu_seconds(pid) - server0
    assert len(df) == n, (len(df), n)
    print(f"  runs_frame {n:,} runs{'' if lean else ' (httpx)'}: wall {took:.2f} s, "
          f"client CPU {cpu:.2f} s, server CPU {server:.2f} s "
          f"(load {os.getloadavg()[0]:.1f})", flush=True)
    return took


def deep_page(db: Path, n: int, tmp: Path, repeat: int, rounds: int = 4) -> None:
    """The last page (``limit=500``) by its cursor, over HTTP from ``flowwidgets serve``
    in its own process, by each client in turn (``rounds`` rounds of ``repeat // rounds``
    GETs each, alternated): p50, best, the client's and the server's CPU per GET.

    The clients: ``http.client`` (the floor); ``httpx.Client.get(...).content`` (what the
    Sources used before session 6); the lean client alone (``SyncHttp.lean.request``: what
    ``SyncHttp.send`` does before decoding); and ``SyncHttp.send`` of the Request the
    API Source sends for a cursor page (``runs_columns``: the JSON decoded by orjson and
    the paging fields read; the rows' columns are parsed later by ``ColumnsPage.columns``,
    not timed here), once on the lean client and once on httpx (``lean=False``)."""
    from flowwidgets.sources._http import SyncHttp
    from flowwidgets.sources.api import FlowwidgetsFlavour

    with served(db, tmp) as (url, pid), ExitStack() as stack:
        client = stack.enter_context(httpx.Client(base_url=url, timeout=120))
        near_end = client.get(f"/api/runs?limit=500&offset={max(0, n - 1000)}").json()
        cursor = near_end["next_cursor"]
        path = f"/api/runs?limit=500&cursor={cursor}"
        req = next(FlowwidgetsFlavour().runs_columns(None, None, 500, 0, cursor))
        lean, old = SyncHttp(url, None, 120), SyncHttp(url, None, 120, lean=False)
        stack.callback(lean.close)
        stack.callback(old.close)
        assert lean.lean is not None and old.lean is None
        full = lean.url_for(req)
        headers = lean.headers_for(req, full)
        ways: dict[str, Callable[[], object]] = {
            "http.client": _lean_get(stack, url, path),
            "httpx Client.get": lambda: client.get(path).content,
            "lean client alone": lambda: lean.lean.request(  # type: ignore[union-attr]
                "GET", full, headers=headers).content,
            "Source path, lean (SyncHttp.send)": lambda: lean.send(req),
            "Source path, httpx (SyncHttp.send, lean=False)": lambda: old.send(req),
        }
        times: dict[str, list[float]] = {name: [] for name in ways}
        cpu = dict.fromkeys(ways, 0.0)
        server = dict.fromkeys(ways, 0.0)
        for call in ways.values():
            for _ in range(20):
                call()
        size = len(client.get(path).content)
        for _ in range(rounds):
            for name, call in ways.items():
                s0, c0 = _cpu_seconds(pid), time.process_time()
                for _ in range(max(1, repeat // rounds)):
                    t0 = time.perf_counter()
                    call()
                    times[name].append((time.perf_counter() - t0) * 1000)
                cpu[name] += time.process_time() - c0
                server[name] += _cpu_seconds(pid) - s0
    print(f"  last page by cursor, {n:,} runs, {size:,} B, {rounds} alternated rounds "
          f"(load {os.getloadavg()[0]:.1f}):", flush=True)
    for name, ms in times.items():
        print(f"    {name:<48} p50 {statistics.median(ms):5.2f} ms, best {min(ms):5.2f} ms;"
              f" CPU per GET: client {cpu[name] / len(ms) * 1000:.2f} ms, server "
              f"{server[name] / len(ms) * 1000:.2f} ms", flush=True)


def _lean_get(stack: ExitStack, url: str, path: str) -> Callable[[], object]:
    """One GET of ``path`` by the standard library's client, on one kept-alive
    connection (closed with ``stack``)."""
    import http.client
    from urllib.parse import urlsplit

    where = urlsplit(url)
    conn = http.client.HTTPConnection(where.hostname or "127.0.0.1", where.port)
    stack.callback(conn.close)

    def get() -> bytes:
        conn.request("GET", path)
        resp = conn.getresponse()
        body = resp.read()
        assert resp.status == 200
        return body

    return get


def pipelines_after_write(db: Path, n: int, tmp: Path, repeat: int) -> None:
    """``/api/pipelines`` with a write (of another process, as a CLI run would) before
    each GET, so no kept answer serves it: p50 and best, and the server's CPU per GET."""
    with served(db, tmp) as (url, pid), httpx.Client(base_url=url, timeout=120) as client, \
            SqliteRunLog(db) as log:
        for _ in range(10):
            assert client.get("/api/pipelines").status_code == 200
        times, server = [], 0.0
        for _ in range(repeat):
            with log._pool.write() as tx:
                tx.touch()
            server0 = _cpu_seconds(pid)
            t0 = time.perf_counter()
            r = client.get("/api/pipelines")
            times.append((time.perf_counter() - t0) * 1000)
            server += _cpu_seconds(pid) - server0
            assert r.status_code == 200
    print(f"  /api/pipelines after a write, {n:,} runs: p50 {statistics.median(times):.2f} "
          f"ms, best {min(times):.2f} ms, server CPU {server / repeat * 1000:.2f} ms per GET "
          f"(load {os.getloadavg()[0]:.1f})", flush=True)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (Linux /proc; NaN elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(n: int, repeat: int, cache: Path | None = None, frame: bool = False
            ) -> dict[str, float]:
    """Import an ``n``-run history (or reuse it from ``cache``) and time the API on it."""
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        path, now, took = history(n, tmp, cache)
        store = SqliteRunLog(path)
        out["import (s), blank when reused from --cache"] = took
        out["file (MB)"] = path.stat().st_size / 1e6
        out["pipeline_stats in process, best (ms)"] = best(
            lambda: store.pipeline_stats(NAMES, now=now))
        out["  the old OFFSET medians alone, best (ms)"] = best(lambda: offset_medians(path))
        runner = LocalRunner(pipelines(), db=store)
        try:
            with serve_in_thread(runner, start_runner=False) as server, \
                    httpx.Client(base_url=server.url, timeout=120) as client:
                last = f"bench-{n - 1:07d}"
                for label, url in (
                        ("/api/pipelines", "/api/pipelines"),
                        ("/api/runs?limit=50", "/api/runs?limit=50"),
                        ("/api/runs?limit=500, last page (offset)",
                         f"/api/runs?limit=500&offset={n - 500}"),
                        ("/api/runs?pipeline=…&status=failed", "/api/runs?pipeline="
                         "pipeline_3&status=failed&limit=50"),
                        ("/api/runs/{id}", f"/api/runs/{last}")):
                    out[label + " (ms)"] = p50(client, url, repeat)
                near_end = client.get(f"/api/runs?limit=500&offset={max(0, n - 1000)}")
                cursor = near_end.json().get("next_cursor")
                if cursor:  # the same last page, reached by its cursor (keyset)
                    out["/api/runs?limit=500, last page (cursor) (ms)"] = p50(
                        client, f"/api/runs?limit=500&cursor={cursor}", repeat)
        finally:
            runner.stop()
            store.close()
        if frame:
            out["runs_frame, every run (s)"] = frame_seconds(path, n, Path(tmp))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--record", action="store_true")
    ap.add_argument("--frame", action="store_true",
                    help="also time runs_frame over every run (a Source over HTTP)")
    ap.add_argument("--only", choices=("frame", "deep-page", "pipelines-after-write"),
                    help="only this, from `flowwidgets serve` in its own process: "
                         "runs_frame, the last page by cursor, or /api/pipelines with a "
                         "write before each GET")
    ap.add_argument("--rounds", type=int, default=1,
                    help="with --only frame: this many rounds, each the Source on the "
                         "lean client then on httpx (one round: the lean client only)")
    ap.add_argument("--cache", type=Path, default=None,
                    help="reuse (or build once) the histories in this folder")
    args = ap.parse_args()
    head = (f"# bench_scale  {time.strftime('%Y-%m-%d')}  nproc={os.cpu_count()}  load "
            f"{os.getloadavg()[0]:.1f} at the start; p50 of {args.repeat} requests")
    print(head, flush=True)
    if args.only:
        for n in args.sizes:
            with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
                path, _, _ = history(n, tmp, args.cache)
                if args.only == "frame":
                    for _ in range(args.rounds):  # the lean client and httpx alternated
                        frame_seconds(path, n, Path(tmp))
                        if args.rounds > 1:
                            frame_seconds(path, n, Path(tmp), lean=False)
                elif args.only == "deep-page":
                    deep_page(path, n, Path(tmp), args.repeat)
                else:
                    pipelines_after_write(path, n, Path(tmp), args.repeat)
        return
    results = {}
    for n in args.sizes:
        results[n] = measure(n, args.repeat, args.cache, args.frame)
        print(f"{n:>9,} runs: " + ", ".join(f"{k} {v:.1f}" for k, v in results[n].items()),
              flush=True)
    rows = list(next(iter(results.values())))
    lines = [head, f"{'runs':<44}" + "".join(f"{n:>12,}" for n in args.sizes)]
    for row in rows:
        lines.append(f"{row:<44}" + "".join(
            f"{results[n][row]:>12.1f}" if results[n][row] == results[n][row] else " " * 12
            for n in args.sizes))  # NaN (an import not timed): blank
    lines.append(f"# load {os.getloadavg()[0]:.1f} at the end")
    print("\n".join(lines))
    if args.record:
        from _record import record  # type: ignore[import-not-found]

        record("bench_scale", "Growth with the history (`python bench/bench_scale.py`)",
               "The same API figures on 10k, 100k and 1M-run histories (imported through "
               "`SqliteRunLog.import_runs`), p50 over real HTTP on 127.0.0.1.", lines)


if __name__ == "__main__":
    main()
