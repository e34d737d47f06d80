"""Many dashboard viewers on one runner: what each costs the runner, idle and busy.

    python bench/bench_viewers.py                 # 30 viewers, 30 s idle, 10 changes
    python bench/bench_viewers.py --record        # also rewrites its section of RESULTS.md

The runner is ``flowwidgets serve`` in its own process. Each viewer is a process of its
own standing in for a Voilà kernel: ``fw.Dashboard(fw.connect(url))`` with its live
poller (push: one server-sent events stream per viewer), no browser. Measured: the
runner's CPU and bytes written (``/proc/<pid>/io`` wchar: sockets and the SQLite WAL)
while every viewer is idle, then while runs change; each viewer's resident memory; and
the time from a run's creation (the POST returning) to each viewer's Dashboard holding
it (its cards trait updated: what the page would draw next). Not measured here: Chromium
pages and Voilà's own websocket relay (the browser tests cover drawing).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SECTION = "## Many viewers (`python bench/bench_viewers.py`)"
PIPELINES = """\
pipelines:
  - name: pulse
    steps:
      - name: beat
        run: "true"
  - name: nightly
    schedule: "0 3 * * *"
    steps:
      - name: extract
        run: "true"
"""


def viewer(url: str) -> None:
    """One viewer: a live Dashboard; prints 'seen <t> <run ids>' on each cards update."""
    import flowwidgets as fw

    board = fw.Dashboard(fw.connect(url))
    cards = board.cards

    def show(change: object = None) -> None:
        ids = [r.get("run_id") for p in cards.pipelines if p.get("name") == "pulse"
               for r in p.get("recent_runs") or []]
        print(f"seen {time.time():.4f} {' '.join(str(i) for i in ids)}", flush=True)

    cards.observe(show, names=["pipelines"])
    show()
    rss = int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    print(f"ready {rss}", flush=True)
    while True:
        time.sleep(3600)


def _proc_stat(pid: int) -> tuple[float, int, int]:
    """(CPU seconds, RSS bytes, bytes written) of process ``pid``."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2:].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks
    rss = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
    io = dict(line.split(": ") for line in Path(f"/proc/{pid}/io").read_text().splitlines())
    return cpu, rss, int(io["wchar"])


def measure(n: int, idle_s: float, changes: int) -> dict[str, float]:
    """Run the benchmark; the figures."""
    import httpx

    tmp = Path(tempfile.mkdtemp(prefix="fw-viewers-"))
    (tmp / "p.yaml").write_text(PIPELINES)
    with __import__("socket").socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("FLOWWIDGETS_TOKEN", None)
    runner = subprocess.Popen([sys.executable, "-m", "flowwidgets.cli", "serve",
                               str(tmp / "p.yaml"), "--port", str(port), "--db",
                               str(tmp / "runs.sqlite")], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True)
    url = f"http://127.0.0.1:{port}"
    viewers: list[subprocess.Popen[str]] = []
    try:
        assert runner.stdout is not None and "serving" in runner.stdout.readline()
        httpx.post(f"{url}/api/jobs/pulse/run-now", timeout=30).raise_for_status()
        time.sleep(2)
        cpu_a, _, w_a = _proc_stat(runner.pid)  # baseline: no viewer
        time.sleep(idle_s)
        cpu_b, _, w_b = _proc_stat(runner.pid)
        rss = []
        for _ in range(n):
            v = subprocess.Popen([sys.executable, __file__, "--viewer", url], env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            viewers.append(v)
        for v in viewers:
            assert v.stdout is not None
            line = v.stdout.readline()
            while not line.startswith("ready"):
                line = v.stdout.readline()
                assert line, "a viewer died"
            rss.append(int(line.split()[1]))
        time.sleep(3)  # every stream open and settled
        cpu0, rss0, w0 = _proc_stat(runner.pid)
        time.sleep(idle_s)
        cpu1, rss1, w1 = _proc_stat(runner.pid)
        created: list[tuple[str, float]] = []
        for _ in range(changes):
            r = httpx.post(f"{url}/api/jobs/pulse/run-now", timeout=30)
            created.append((r.json()["new_run_id"], time.time()))
            time.sleep(2.0)
        time.sleep(3)
        cpu2, _, w2 = _proc_stat(runner.pid)
        for v in viewers:
            v.kill()
        latencies = []
        for v in viewers:
            out = v.communicate(timeout=30)[0]
            seen: dict[str, float] = {}
            for line in out.splitlines():
                parts = line.split()
                if parts and parts[0] == "seen":
                    for run_id in parts[2:]:
                        seen.setdefault(run_id, float(parts[1]))
            latencies += [seen[rid] - t0 for rid, t0 in created if rid in seen]
        missed = n * changes - len(latencies)
    finally:
        for v in viewers:
            if v.poll() is None:
                v.kill()
        runner.terminate()
        runner.wait(30)
    busy_s = changes * 2.0 + 3
    return {"viewers": n, "idle_s": idle_s, "changes": changes,
            "base_cpu_pct": 100 * (cpu_b - cpu_a) / idle_s,
            "base_bytes_s": (w_b - w_a) / idle_s,
            "idle_cpu_pct": 100 * (cpu1 - cpu0) / idle_s,
            "idle_bytes_s": (w1 - w0) / idle_s,
            "idle_bytes_per_viewer_s": ((w1 - w0) - (w_b - w_a)) / idle_s / n,
            "busy_cpu_pct": 100 * (cpu2 - cpu1) / busy_s,
            "busy_bytes_per_viewer_change": (w2 - w1) / n / changes,
            "runner_rss_mb": rss1 / 2**20,
            "viewer_rss_mb": statistics.mean(rss) / 2**20,
            "p50_ms": 1000 * statistics.median(latencies) if latencies else float("nan"),
            "max_ms": 1000 * max(latencies) if latencies else float("nan"),
            "missed": missed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--viewers", type=int, default=30)
    parser.add_argument("--idle", type=float, default=30.0)
    parser.add_argument("--changes", type=int, default=10)
    parser.add_argument("--record", action="store_true")
    parser.add_argument("--viewer", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.viewer:
        viewer(args.viewer)
        return
    f = measure(args.viewers, args.idle, args.changes)
    text = "\n".join([
        f"# bench_viewers  {datetime.now(UTC):%Y-%m-%d}  nproc={os.cpu_count()}  "
        f"Python {platform.python_version()}  load {os.getloadavg()[0]:.1f}",
        f"viewers                          {f['viewers']:>8}",
        f"runner CPU, no viewer            {f['base_cpu_pct']:8.1f} %",
        f"runner bytes written, no viewer  {f['base_bytes_s']:8.0f} B/s (heartbeats: WAL)",
        f"runner CPU, viewers idle         {f['idle_cpu_pct']:8.1f} %",
        f"runner bytes written, idle       {f['idle_bytes_s']:8.0f} B/s, "
        f"{f['idle_bytes_per_viewer_s']:.1f} B/s per viewer over the baseline",
        f"runner CPU, a run every 2 s      {f['busy_cpu_pct']:8.1f} %",
        f"runner bytes per viewer per run  {f['busy_bytes_per_viewer_change']:8.0f} B",
        f"runner RSS                       {f['runner_rss_mb']:8.1f} MB",
        f"viewer process RSS (mean)        {f['viewer_rss_mb']:8.1f} MB",
        f"run created -> in every viewer   p50 {f['p50_ms']:.0f} ms, max {f['max_ms']:.0f} ms "
        f"({f['missed']:.0f} of {f['viewers'] * f['changes']:.0f} missed)",
    ])
    print(text)
    if args.record:
        body = (f"{SECTION}\n\nEach viewer is a process with a live `fw.Dashboard` (what a Voilà "
                "kernel holds), on one `flowwidgets serve`; push mode, one event stream per "
                "viewer. Bytes written include the SQLite WAL. No browser: drawing is covered "
                "by the browser tests.\n\n```\n" + text + "\n```\n")
        from _record import replace_heading  # type: ignore[import-not-found]

        replace_heading(SECTION, body)


if __name__ == "__main__":
    main()
