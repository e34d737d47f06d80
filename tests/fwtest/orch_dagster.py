"""A real Dagster 1.13 for tests: ``dagster dev`` (webserver + daemon) in its own cached venv.

The code location is ``tests/orchestrators/dagster/fw_diamond_job.py`` (the diamond job,
a scheduled job, a sensed job), loaded by a ``workspace.yaml`` written into the test's
folder; ``DAGSTER_HOME`` (SQLite storage, telemetry off, the queued run coordinator
dequeuing every second) and TMPDIR live there too. The daemon is required: without it runs
stay QUEUED. Stopped with SIGINT to ``dagster dev`` (it shuts its webserver, daemon and code
server down), then the process group is TERMed/KILLed after a grace period.

Run as a script to build the venv ahead of time: ``python -m fwtest.orch_dagster`` (from
``tests/``).
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from fwtest.orch_servers import _clean_env, ensure_venv, free_port, start, wait_until

__all__ = ["DAGSTER_VERSION", "DagsterServer", "dagster_server", "dagster_venv"]

DAGSTER_VERSION = "1.13.28"
DAGSTER_REQUIREMENTS = (f"dagster=={DAGSTER_VERSION}", f"dagster-webserver=={DAGSTER_VERSION}",
                        f"dagster-graphql=={DAGSTER_VERSION}")
CODE = Path(__file__).resolve().parents[1] / "orchestrators" / "dagster" / "fw_diamond_job.py"


def dagster_venv() -> Path:
    """The cached Dagster venv (built on first use, about 25 s)."""
    return ensure_venv("dagster", DAGSTER_VERSION, DAGSTER_REQUIREMENTS,
                       ("dagster", "--version"))


@dataclass
class DagsterServer:
    """A running ``dagster dev``: where its webserver answers."""

    url: str
    home: Path
    proc: object
    env: dict[str, str] = field(repr=False)
    timings: dict[str, float] = field(default_factory=dict)

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        """POST a GraphQL document straight to the server (test set-up); its ``data``."""
        r = httpx.post(f"{self.url}/graphql", json={"query": query,
                                                     "variables": variables or {}}, timeout=30)
        body = r.json()
        assert body.get("data") is not None, body
        return body["data"]


def _write_config(work: Path, home: Path, code: Path) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(
        "telemetry:\n  enabled: false\n"
        "run_coordinator:\n  module: dagster._core.run_coordinator\n"
        "  class: QueuedRunCoordinator\n  config:\n    dequeue_interval_seconds: 1\n")
    workspace = work / "workspace.yaml"
    workspace.write_text("load_from:\n  - python_file:\n"
                         f"      relative_path: {code}\n      location_name: fw\n")
    return workspace


def _up(url: str) -> bool:
    r = httpx.post(f"{url}/graphql", json={"query": "{ repositoriesOrError { __typename } }"},
                   timeout=5)
    return r.status_code == 200 and \
        r.json()["data"]["repositoriesOrError"]["__typename"] == "RepositoryConnection"


@contextmanager
def dagster_server(workdir: Path, extra_env: dict[str, str] | None = None,
                   timeout: float = 120.0, code: Path = CODE) -> Iterator[DagsterServer]:
    """Start ``dagster dev`` in ``workdir`` on a free port; stop it on exit."""
    timings: dict[str, float] = {}
    t0 = time.monotonic()
    venv = dagster_venv()
    timings["venv"] = time.monotonic() - t0
    home = workdir / "dagster-home"
    workspace = _write_config(workdir, home, code)
    tmp = workdir / "tmp"
    tmp.mkdir(exist_ok=True)
    port = free_port()
    env = _clean_env()
    env.update({"PATH": f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
                "DAGSTER_HOME": str(home), "TMPDIR": str(tmp), "NO_COLOR": "1",
                "DAGSTER_DISABLE_TELEMETRY": "1"})
    env.update(extra_env or {})
    url = f"http://127.0.0.1:{port}"
    t1 = time.monotonic()
    proc = start("dagster dev", [str(venv / "bin" / "dagster"), "dev", "-w", str(workspace),
                                 "-h", "127.0.0.1", "-p", str(port)],
                 env, workdir, workdir / "dagster.log")
    server = DagsterServer(url, home, proc, env, timings)
    try:
        wait_until("the Dagster webserver", lambda: _up(url), timeout, (proc,))
        timings["start"] = time.monotonic() - t1
        yield server
    finally:
        timings["stop"] = _stop(proc)


def _stop(proc) -> float:  # noqa: ANN001 - a _procs.Proc
    """SIGINT to ``dagster dev`` (it stops its daemon, webserver and code server), then,
    once it says its services are down (it lingers seconds after), TERM/KILL the group."""
    started = time.monotonic()
    try:
        os.kill(proc.popen.pid, signal.SIGINT)
    except ProcessLookupError:
        pass
    deadline = started + 6  # its state lives in the test's folder: nothing to lose after
    while proc.alive() and time.monotonic() < deadline:
        if "Dagster services shut down" in proc.tail(2000):
            break
        time.sleep(0.2)
    proc.stop(grace=3)
    return time.monotonic() - started


if __name__ == "__main__":
    t = time.monotonic()
    print(dagster_venv(), f"{time.monotonic() - t:.1f} s")
