"""Many real browser pages on one published dashboard: what they cost, how fast they see a change.

    python bench/bench_browsers.py                     # 5, 15, 30 pages
    python bench/bench_browsers.py --pages 5 15 30 --idle 20 --changes 6 --record

The real stack a team publishes: ``flowwidgets serve`` (the runner) in its own process,
``flowwidgets dashboard URL`` (Voilà: one kernel per page, each with its own Source and
push stream) and ONE Chromium (Debian's, via Playwright) with one browser context per
page, each page viewing the dashboard over Voilà's websockets. Pages are added in steps
(5, then up to 15, then up to 30); at each step, measured:

- the runner's CPU and bytes written (``/proc/<pid>/io`` wchar: sockets and SQLite WAL)
  while every page is idle, and the bytes per idle page over the no-page baseline;
- the websocket bytes each idle page receives from Voilà (Playwright frame events);
- Voilà's CPU (its server and all kernels) idle, and the mean kernel memory;
- the time from a run's creation (the POST returning) to its square being drawn in
  every page (a MutationObserver in each page notes when a ``data-run-id`` first
  appears; browser and runner share this machine's clock): p50 / p95 / max, and missed.

A benchmark, not a test: on a 2-core shared machine a page takes seconds to start (its
kernel executes the notebook). Needs the ``demo`` extra and ``/usr/bin/chromium``.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_viewers import PIPELINES, _proc_stat  # noqa: E402

SECTION = "## Many browser pages (`python bench/bench_browsers.py`)"
CHROMIUM = os.environ.get("FLOWWIDGETS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-dev-shm-usage"]
LOCAL = ("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:")
READY = '.fw-root.fw-cards[data-ready="1"] article.fw-card'
SEEN = """
window.__seen = {};
const scan = () => {
  for (const el of document.querySelectorAll('[data-run-id]')) {
    const id = el.getAttribute('data-run-id');
    if (!(id in window.__seen)) window.__seen[id] = Date.now();
  }
};
new MutationObserver(scan).observe(document, {subtree: true, childList: true,
                                              attributes: true,
                                              attributeFilter: ['data-run-id']});
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tree(pid: int) -> list[int]:
    """``pid`` and every live descendant."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_bytes()
            except OSError:
                continue
            fields = stat[stat.rindex(b")") + 2:].split()
            if fields[0] not in (b"Z", b"X"):
                children.setdefault(int(fields[1]), []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children.get(p, [])
    return out


def _tree_cpu(pid: int) -> tuple[float, list[int]]:
    """(CPU seconds of ``pid``'s tree, RSS bytes of each process in it)."""
    cpu, rss = 0.0, []
    for p in _tree(pid):
        try:
            c, r, _ = _proc_stat(p)
        except (OSError, KeyError):
            continue
        cpu += c
        rss.append(r)
    return cpu, rss


@dataclass
class Page:
    """One viewer: its context, page, websocket bytes received, load time."""

    context: Any
    page: Any
    load_s: float
    ws_bytes: list[int] = field(default_factory=lambda: [0])


def _open(browser: Any, url: str) -> Page:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.route(lambda u: not u.startswith(LOCAL), lambda route: route.abort())
    context.add_init_script(SEEN)
    page = context.new_page()
    counter = [0]

    def on_ws(ws: Any) -> None:
        ws.on("framereceived", lambda payload: counter.__setitem__(
            0, counter[0] + len(payload)))

    page.on("websocket", on_ws)
    started = time.monotonic()
    page.goto(url, timeout=300_000)
    page.locator(READY).first.wait_for(timeout=300_000)
    return Page(context, page, time.monotonic() - started, counter)


def measure(sizes: list[int], idle_s: float, changes: int, every_s: float) -> list[dict]:
    """Run the benchmark; one dict of figures per page count."""
    import httpx
    from playwright.sync_api import sync_playwright

    tmp = Path(tempfile.mkdtemp(prefix="fw-browsers-"))
    (tmp / "p.yaml").write_text(PIPELINES)
    port, dash_port = _free_port(), _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "JUPYTER_PLATFORM_DIRS": "1",
           "PYTHONUNBUFFERED": "1"}
    env.pop("FLOWWIDGETS_TOKEN", None)
    runner = subprocess.Popen([sys.executable, "-m", "flowwidgets.cli", "serve",
                               str(tmp / "p.yaml"), "--port", str(port), "--db",
                               str(tmp / "runs.sqlite")], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True)
    url = f"http://127.0.0.1:{port}"
    out_path = tmp / "dashboard.txt"
    with open(out_path, "w") as out:
        dash = subprocess.Popen([sys.executable, "-m", "flowwidgets.cli", "dashboard", url,
                                 "--port", str(dash_port), "--cull-idle", "0"], cwd=tmp,
                                env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    results: list[dict] = []
    pages: list[Page] = []
    try:
        assert runner.stdout is not None and "serving" in runner.stdout.readline()
        deadline = time.monotonic() + 180
        while "Ctrl-C to stop" not in out_path.read_text():
            assert dash.poll() is None and time.monotonic() < deadline, out_path.read_text()
            time.sleep(0.2)
        (dash_url,) = re.findall(rf"(http://127\.0\.0\.1:{dash_port}/\S*)",
                                 out_path.read_text())
        httpx.post(f"{url}/api/jobs/pulse/run-now", timeout=30).raise_for_status()
        time.sleep(2)
        cpu_a, _, w_a = _proc_stat(runner.pid)  # baseline: no page
        time.sleep(idle_s)
        cpu_b, _, w_b = _proc_stat(runner.pid)
        base_bytes_s = (w_b - w_a) / idle_s
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            for n in sizes:
                while len(pages) < n:
                    pages.append(_open(browser, dash_url))
                driver = pages[0].page
                driver.wait_for_timeout(3000)  # every stream open and settled
                cpu0, _, w0 = _proc_stat(runner.pid)
                v0, _ = _tree_cpu(dash.pid)
                ws0 = sum(pg.ws_bytes[0] for pg in pages)
                driver.wait_for_timeout(idle_s * 1000)
                cpu1, rss1, w1 = _proc_stat(runner.pid)
                v1, rss = _tree_cpu(dash.pid)
                ws1 = sum(pg.ws_bytes[0] for pg in pages)
                created: list[tuple[str, float]] = []
                for _ in range(changes):
                    r = httpx.post(f"{url}/api/jobs/pulse/run-now", timeout=30)
                    created.append((r.json()["new_run_id"], time.time() * 1000))
                    driver.wait_for_timeout(every_s * 1000)
                driver.wait_for_timeout(5000)
                cpu2, _, w2 = _proc_stat(runner.pid)
                ws2 = sum(pg.ws_bytes[0] for pg in pages)
                latencies: list[float] = []
                for pg in pages:
                    seen = pg.page.evaluate("window.__seen")
                    latencies += [seen[rid] - t0 for rid, t0 in created if rid in seen]
                kernels = sorted(rss, reverse=True)[:n]  # the server is one of the others
                lat = sorted(latencies)
                busy_s = changes * every_s + 5
                results.append({
                    "pages": n, "idle_s": idle_s, "changes": changes,
                    "load_s_p50": statistics.median(pg.load_s for pg in pages),
                    "base_bytes_s": base_bytes_s,
                    "idle_cpu_pct": 100 * (cpu1 - cpu0) / idle_s,
                    "idle_bytes_s": (w1 - w0) / idle_s,
                    "idle_bytes_per_page_s": ((w1 - w0) / idle_s - base_bytes_s) / n,
                    "ws_bytes_per_page_s": (ws1 - ws0) / idle_s / n,
                    "voila_idle_cpu_pct": 100 * (v1 - v0) / idle_s,
                    "kernel_rss_mb": statistics.mean(kernels) / 2**20,
                    "busy_cpu_pct": 100 * (cpu2 - cpu1) / busy_s,
                    "ws_bytes_per_page_run": (ws2 - ws1) / n / changes,
                    "runner_rss_mb": rss1 / 2**20,
                    "p50_ms": lat[len(lat) // 2] if lat else float("nan"),
                    "p95_ms": lat[min(len(lat) - 1, int(0.95 * len(lat)))] if lat else
                    float("nan"),
                    "max_ms": lat[-1] if lat else float("nan"),
                    "missed": n * changes - len(lat),
                })
                print(_line(results[-1]), flush=True)
            for pg in pages:
                pg.context.close()
            browser.close()
    finally:
        if dash.poll() is None:
            dash.send_signal(signal.SIGINT)
            try:
                dash.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(dash.pid, signal.SIGKILL)
                dash.wait(10)
        runner.terminate()
        runner.wait(30)
    return results


def _line(f: dict) -> str:
    return (f"{f['pages']:>5} | {f['load_s_p50']:6.1f} s | {f['idle_cpu_pct']:5.1f} % | "
            f"{f['idle_bytes_per_page_s']:7.1f} B/s | {f['ws_bytes_per_page_s']:7.1f} B/s | "
            f"{f['voila_idle_cpu_pct']:6.1f} % | {f['kernel_rss_mb']:5.0f} MB | "
            f"{f['busy_cpu_pct']:5.1f} % | {f['ws_bytes_per_page_run']:6.0f} B | "
            f"{f['p50_ms']:6.0f} / {f['p95_ms']:6.0f} / "
            f"{f['max_ms']:6.0f} ms | {f['missed']}")


HEADER = ("pages | page load p50 | runner CPU idle | runner B/s per idle page | "
          "ws B/s per idle page | Voilà+kernels CPU idle | kernel RSS | runner CPU busy | "
          "ws bytes per page per run | "
          "run created -> drawn in every page p50 / p95 / max | missed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, nargs="+", default=[5, 15, 30])
    parser.add_argument("--idle", type=float, default=20.0)
    parser.add_argument("--changes", type=int, default=6)
    parser.add_argument("--every", type=float, default=3.0, help="seconds between runs")
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    load0 = os.getloadavg()[0]
    print(HEADER, flush=True)
    results = measure(sorted(args.pages), args.idle, args.changes, args.every)
    head = (f"# bench_browsers  {datetime.now(UTC):%Y-%m-%d %H:%M} UTC  nproc={os.cpu_count()}"
            f"  Python {platform.python_version()}  load {load0:.1f} at the start, "
            f"{os.getloadavg()[0]:.1f} at the end; idle {args.idle:g} s, {args.changes} runs "
            f"{args.every:g} s apart per step; no-page baseline "
            f"{results[0]['base_bytes_s']:.0f} B/s written (heartbeats: WAL)")
    text = "\n".join([head, HEADER, *(_line(f) for f in results)])
    if args.record:
        body = (f"{SECTION}\n\nReal pages: one Debian Chromium (Playwright), one context per "
                "page, each viewing `flowwidgets dashboard` (Voilà, one kernel per page with "
                "its own push stream) of one `flowwidgets serve`. Pages are added in steps; "
                "at each step the pages idle, then runs are created; a MutationObserver in "
                "each page notes when the new run's square appears.\n\n```\n" + text +
                "\n```\n\nRead: \"runner B/s per idle page\" over the no-page baseline is "
                "one push stream's keep-alive per kernel (O(1) per viewer, no polling); "
                "\"ws B/s per idle page\" is what Voilà sends an idle browser; the latency "
                "includes Chromium drawing 5-30 pages on the same 2 cores as the runner, "
                "Voilà and every kernel.\n")
        from _record import replace_heading  # type: ignore[import-not-found]

        replace_heading(SECTION, body)
        print("recorded in RESULTS.md")


if __name__ == "__main__":
    main()
