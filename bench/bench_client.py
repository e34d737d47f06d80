"""What each HTTP client costs the notebook per GET, against a bare uvicorn app.

    python bench/bench_client.py                  # 163 KB and 300 B answers
    python bench/bench_client.py --sizes 163000   # one size

A minimal ASGI app (no routing, no database) answers every GET with a JSON body of the
given size from uvicorn in its own process, so the figures are the client's own: CPU
time of this process and wall time per GET, by ``http.client`` (the floor), httpx
``Client.get`` (what the Sources used before session 6), the Sources' lean client
(``LeanClient.request``) and ``SyncHttp.send`` on the lean client and on httpx
(``lean=False``; the JSON decoded, no model parsed). The clients are alternated in
``--rounds`` rounds so the load hits them alike.
"""

from __future__ import annotations

import argparse
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flowwidgets.sources._http import Request, SyncHttp  # noqa: E402

APP = """
import sys, uvicorn
n = int(sys.argv[2])
body = b'{"x":"' + b'a' * max(0, n - 8) + b'"}'
head = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": head})
    await send({"type": "http.response.body", "body": body})
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="error",
            access_log=False, lifespan="off")
"""


def serve(size: int) -> tuple[subprocess.Popen[bytes], int]:
    """The bare app in its own process: (process, port)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-c", APP, str(port), str(size)],
                            start_new_session=True)
    for _ in range(200):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc, port
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("the bare app did not start")


def clients(url: str, close: list[Callable[[], object]]) -> dict[str, Callable[[], object]]:
    """name → one GET (its answer read whole)."""
    where = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(where[0], int(where[1]))
    hx = httpx.Client()
    lean, old = SyncHttp(url, None, 30), SyncHttp(url, None, 30, lean=False)
    assert lean.lean is not None and old.lean is None
    close += [conn.close, hx.close, lean.close, old.close]
    req = Request("GET", "/x", "GET /x")
    headers = lean.headers_for(req, url + "/x")

    def raw() -> bytes:
        conn.request("GET", "/x")
        return conn.getresponse().read()

    return {
        "http.client": raw,
        "httpx Client.get": lambda: hx.get(url + "/x").content,
        "LeanClient.request": lambda: lean.lean.request(  # type: ignore[union-attr]
            "GET", url + "/x", headers=headers).content,
        "SyncHttp.send, lean": lambda: lean.send(req),
        "SyncHttp.send, httpx (lean=False)": lambda: old.send(req),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[163_000, 300])
    ap.add_argument("--repeat", type=int, default=500, help="GETs per client per round")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    print(f"# bench_client  {time.strftime('%Y-%m-%d %H:%M')}  nproc={os.cpu_count()}  load "
          f"{os.getloadavg()[0]:.1f}; {args.rounds} rounds of {args.repeat} GETs per client")
    for size in args.sizes:
        proc, port = serve(size)
        close: list[Callable[[], object]] = []
        try:
            ways = clients(f"http://127.0.0.1:{port}", close)
            cpu = dict.fromkeys(ways, 0.0)
            wall = dict.fromkeys(ways, 0.0)
            for call in ways.values():
                for _ in range(50):
                    call()
            for _ in range(args.rounds):
                for name, call in ways.items():
                    c0, w0 = time.process_time(), time.perf_counter()
                    for _ in range(args.repeat):
                        call()
                    cpu[name] += time.process_time() - c0
                    wall[name] += time.perf_counter() - w0
        finally:
            for fn in close:
                fn()
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(10)
        n = args.rounds * args.repeat
        print(f"  {size:,} B answers (load {os.getloadavg()[0]:.1f}):")
        for name in ways:
            print(f"    {name:<36} CPU {cpu[name] / n * 1000:.3f} ms, wall "
                  f"{wall[name] / n * 1000:.3f} ms per GET", flush=True)


if __name__ == "__main__":
    main()
