"""Real Airflow 3 and Prefect 3 servers for tests: installed, started, stopped.

Each orchestrator lives in its own virtual environment (their pins conflict with ours),
cached under ``$FLOWWIDGETS_TEST_CACHE`` (default ``~/.cache/flowwidgets-test``) in a
folder keyed by version, so only the first run pays for the install. A marker file written
after a successful install (holding the requirement list) tells a finished venv from a
half-built one; a file lock keeps two test processes from building the same venv at once.

Servers start in their own process group (``start_new_session``) with every state folder
(home, TMPDIR, logs, databases) inside the test's folder, on free ports, and are stopped by
process group: SIGTERM, then SIGKILL after a grace period.

Run as a script to build both venvs ahead of time: ``python tests/orchestrators/_servers.py``.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from fwtest.orch_procs import Proc, start, wait_until

__all__ = ["AirflowServer", "PrefectServer", "Proc", "airflow_server", "airflow_venv",
           "cache_root", "ensure_venv", "free_port", "prefect_server", "prefect_venv", "start",
           "wait_until"]

AIRFLOW_VERSION = "3.3.2"
PREFECT_VERSION = "3.8.8"
AIRFLOW_REQUIREMENTS = (f"apache-airflow=={AIRFLOW_VERSION}",)
PREFECT_REQUIREMENTS = (f"prefect=={PREFECT_VERSION}", "fastapi<0.151", "sqlalchemy<2.1")
"""A plain ``pip install prefect`` pulls a FastAPI the 3.8.8 server crashes on, and
SQLAlchemy 2.1, on which its scheduler service fails every loop ("Can't evaluate bulk DML
statement"), so deployments with a schedule never get runs."""

HERE = Path(__file__).resolve().parents[1] / "orchestrators"
DAGS = HERE / "dags"
FLOWS = HERE / "flows"
INSTALL_TIMEOUT = 600.0


def cache_root() -> Path:
    """Where the orchestrator venvs are cached."""
    env = os.environ.get("FLOWWIDGETS_TEST_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "flowwidgets-test"


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- virtual environments --------------------------------------------------------------


def ensure_venv(name: str, version: str, requirements: tuple[str, ...],
                check: tuple[str, ...]) -> Path:
    """A venv with ``requirements`` installed, built once and reused.

    ``check`` is a command (relative to the venv's ``bin``) that must succeed before the
    venv is marked complete. Raises RuntimeError with the tail of pip's log on failure.
    """
    root = cache_root() / f"{name}-{version}"
    venv = root / "venv"
    marker = venv / ".flowwidgets-complete"
    wanted = json.dumps(sorted(requirements))
    if marker.is_file() and marker.read_text() == wanted:
        return venv
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if marker.is_file() and marker.read_text() == wanted:
                return venv
            if venv.exists():
                shutil.rmtree(venv)
            log = root / "install.log"
            started = time.monotonic()
            with open(log, "w") as out:
                _run([sys.executable, "-m", "venv", str(venv)], out)
                _run([str(venv / "bin" / "python"), "-m", "pip", "install",
                      "--disable-pip-version-check", "--no-input", *requirements], out)
                _run([str(venv / "bin" / check[0]), *check[1:]], out)
            seconds = time.monotonic() - started
            (root / "installed.json").write_text(json.dumps(
                {"requirements": list(requirements), "seconds": round(seconds, 1)}))
            marker.write_text(wanted)
        except subprocess.CalledProcessError as exc:
            tail = (root / "install.log").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"building the {name} {version} venv failed "
                               f"({exc.cmd[0]} exited {exc.returncode}):\n{tail}") from None
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return venv


def _run(cmd: list[str], out) -> None:
    out.write(f"$ {' '.join(cmd)}\n")
    out.flush()
    subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, check=True,
                   timeout=INSTALL_TIMEOUT, env=_clean_env())


def _clean_env() -> dict[str, str]:
    """Our environment without our venv leaking into theirs."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    ours = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                                  if p != ours)
    return env


def airflow_venv() -> Path:
    """The cached Airflow venv (built on first use)."""
    return ensure_venv("airflow", AIRFLOW_VERSION, AIRFLOW_REQUIREMENTS, ("airflow", "version"))


def prefect_venv() -> Path:
    """The cached Prefect venv (built on first use)."""
    return ensure_venv("prefect", PREFECT_VERSION, PREFECT_REQUIREMENTS,
                       ("python", "-c", "import prefect"))


# ---- Airflow ---------------------------------------------------------------------------


@dataclass
class AirflowServer:
    """A running ``airflow standalone``: where it answers and how to log in."""

    url: str
    username: str
    password: str
    home: Path
    dags: Path
    proc: Proc
    env: dict[str, str] = field(repr=False)
    timings: dict[str, float] = field(default_factory=dict)

    def token(self) -> str:
        """A fresh JWT from ``/auth/token``."""
        r = httpx.post(f"{self.url}/auth/token",
                       json={"username": self.username, "password": self.password}, timeout=30)
        r.raise_for_status()
        return r.json()["access_token"]

    def cli(self, *args: str, timeout: float = 120) -> str:
        """Run an ``airflow`` CLI command against this server's home; its output."""
        venv = Path(self.env["FW_VENV"])
        done = subprocess.run([str(venv / "bin" / "airflow"), *args], env=self.env,
                              capture_output=True, text=True, timeout=timeout, check=True)
        return done.stdout


def airflow_env(venv: Path, home: Path, dags: Path, port: int,
                extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment that makes ``airflow standalone`` clean and quick (ORCHESTRATORS.md)."""
    tmp = home / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    env = _clean_env()
    env.update({
        "FW_VENV": str(venv),
        "PATH": f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        "AIRFLOW_HOME": str(home),
        "TMPDIR": str(tmp),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "5",
        "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_STORAGE_PATH": str(home / "bundles"),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        "NO_COLOR": "1",
    })
    env.update(extra or {})
    return env


@contextmanager
def airflow_server(workdir: Path, dag_files: tuple[Path, ...] = (),
                   extra_env: dict[str, str] | None = None,
                   timeout: float = 180.0) -> Iterator[AirflowServer]:
    """Start ``airflow standalone`` in ``workdir`` with copies of ``dag_files``; stop it
    (the whole process group) on exit."""
    timings: dict[str, float] = {}
    t0 = time.monotonic()
    venv = airflow_venv()
    timings["venv"] = time.monotonic() - t0
    home = workdir / "airflow-home"
    dags = workdir / "dags"
    home.mkdir(parents=True, exist_ok=True)
    dags.mkdir(parents=True, exist_ok=True)
    for f in dag_files:
        shutil.copy(f, dags / f.name)
    password = secrets.token_urlsafe(12)
    (home / "passwords.json").write_text(json.dumps({"admin": password}))
    port = free_port()
    env = airflow_env(venv, home, dags, port, extra_env)
    url = f"http://127.0.0.1:{port}"
    t1 = time.monotonic()
    proc = start("airflow standalone", [str(venv / "bin" / "airflow"), "standalone"], env,
                 home, workdir / "airflow.log")
    server = AirflowServer(url, "admin", password, home, dags, proc, env, timings)
    try:
        wait_until("the Airflow API", lambda: _airflow_up(url), timeout, (proc,))
        timings["start"] = time.monotonic() - t1
        yield server
    finally:
        timings["stop"] = proc.stop()


def _airflow_up(url: str) -> bool:
    r = httpx.get(f"{url}/api/v2/monitor/health", timeout=5)
    if r.status_code != 200:
        return False
    health = r.json()
    return all(health.get(part, {}).get("status") == "healthy"
               for part in ("metadatabase", "scheduler", "dag_processor"))


# ---- Prefect ---------------------------------------------------------------------------


@dataclass
class PrefectServer:
    """A running ``prefect server start`` and the environment its clients need."""

    url: str
    """The server root; the API is below ``/api``."""
    home: Path
    proc: Proc
    env: dict[str, str] = field(repr=False)
    timings: dict[str, float] = field(default_factory=dict)
    served: list[Proc] = field(default_factory=list)

    def serve(self, flow_file: Path, *args: str, log_name: str | None = None) -> Proc:
        """Run ``flow_file`` (which calls ``flow.serve``) beside the server; stopped with it."""
        venv = Path(self.env["FW_VENV"])
        name = log_name or flow_file.stem
        proc = start(f"prefect serve {name}", [str(venv / "bin" / "python"), str(flow_file),
                                               *args],
                     self.env, self.home, self.home / f"{name}.log")
        self.served.append(proc)
        return proc


def prefect_env(venv: Path, home: Path, port: int,
                extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for the Prefect server and the flows that talk to it."""
    tmp = home / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    env = _clean_env()
    env.update({
        "FW_VENV": str(venv),
        "PATH": f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        "PREFECT_HOME": str(home),
        "TMPDIR": str(tmp),
        "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_RUNNER_POLL_FREQUENCY": "2",
        "PREFECT_UI_ENABLED": "false",
        "PREFECT_LOGGING_LEVEL": "INFO",
        "NO_COLOR": "1",
    })
    env.update(extra or {})
    return env


@contextmanager
def prefect_server(workdir: Path, extra_env: dict[str, str] | None = None,
                   timeout: float = 120.0) -> Iterator[PrefectServer]:
    """Start ``prefect server start`` in ``workdir``; stop it and every served flow on exit."""
    timings: dict[str, float] = {}
    t0 = time.monotonic()
    venv = prefect_venv()
    timings["venv"] = time.monotonic() - t0
    home = workdir / "prefect-home"
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = prefect_env(venv, home, port, extra_env)
    url = f"http://127.0.0.1:{port}"
    t1 = time.monotonic()
    proc = start("prefect server", [str(venv / "bin" / "prefect"), "server", "start",
                                    "--host", "127.0.0.1", "--port", str(port)],
                 env, home, workdir / "prefect-server.log")
    server = PrefectServer(url, home, proc, env, timings)
    try:
        wait_until("the Prefect API", lambda: _prefect_up(url), timeout, (proc,))
        timings["start"] = time.monotonic() - t1
        yield server
    finally:
        for p in server.served:
            p.stop(grace=10)
        timings["stop"] = proc.stop()


def _prefect_up(url: str) -> bool:
    r = httpx.get(f"{url}/api/health", timeout=5)
    return r.status_code == 200 and r.json() is True


if __name__ == "__main__":
    for build in (airflow_venv, prefect_venv):
        t = time.monotonic()
        print(build(), f"{time.monotonic() - t:.1f} s")
