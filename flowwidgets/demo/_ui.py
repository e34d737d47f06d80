"""The demo's front end: Voilà on the dashboard notebook, or JupyterLab on the notebooks.

Either runs as a child process of ``flowwidgets demo`` with this very Python
(``sys.executable -m voila`` / ``-m jupyterlab``) in its own process group, and its kernels
run this Python too: a ``python3`` kernelspec naming ``sys.executable`` is written to a
temporary folder put first on ``JUPYTER_PATH``, so a kernelspec of another Python
installed for the user cannot take its place. :meth:`UiServer.stop` sends SIGTERM to the
process group (the server shuts its kernels down), then SIGKILL after a grace period.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from importlib.util import find_spec
from pathlib import Path
from typing import IO, Literal

from flowwidgets.runner._shell import guard_session, unguard_session

__all__ = [
    "CULL_IDLE_S",
    "CULL_INTERVAL_S",
    "DASHBOARD",
    "STOP_GRACE_S",
    "UiError",
    "UiServer",
    "cull_args",
    "dashboard_notebook",
    "port_is_free",
    "repo_notebooks",
]

DASHBOARD = "dashboard.ipynb"
STOP_GRACE_S = 10.0
"""Seconds between SIGTERM and SIGKILL when the front end is stopped."""
READY_TIMEOUT_S = 120.0

Kind = Literal["voila", "lab"]
_LAB_OVERRIDES = {"@jupyterlab/apputils-extension:notification": {"fetchNews": "false"}}
"""JupyterLab defaults for the demo: no news popup (it would ask to fetch from the web)."""
_VOILA_DENY = '--VoilaConfiguration.extension_denylist=["@jupyter-notebook/lab-extension"]'
"""Notebook 7's lab extension fails to load in Voilà (it needs @jupyterlab/docregistry,
which Voilà does not share: a console error on every page) and adds nothing to it."""


CULL_IDLE_S = 300
"""A Voilà kernel whose page is closed (no connection) and that sent nothing for this
long is shut down: every visit starts a kernel with its own Source and poller."""
CULL_INTERVAL_S = 60
"""How often Voilà looks for such kernels."""


def cull_args(idle_s: float = CULL_IDLE_S, interval_s: float | None = None) -> list[str]:
    """Voilà (jupyter_server) options that shut down the kernels of closed pages: idle
    for ``idle_s`` seconds with no connection, checked every ``interval_s`` seconds
    (default: :data:`CULL_INTERVAL_S`, or half of ``idle_s`` when that is shorter)."""
    if interval_s is None:
        interval_s = min(CULL_INTERVAL_S, idle_s / 2)
    return [f"--MappingKernelManager.cull_idle_timeout={max(1, int(idle_s))}",
            f"--MappingKernelManager.cull_interval={max(1, int(interval_s))}",
            "--MappingKernelManager.cull_connected=False"]


class UiError(RuntimeError):
    """The front end could not be started (missing package, busy port, early exit)."""


def dashboard_notebook() -> Path:
    """The dashboard notebook shipped in the package (a copy of notebooks/dashboard.ipynb)."""
    return Path(__file__).with_name(DASHBOARD)


def repo_notebooks() -> Path | None:
    """The repository's notebooks/ folder when flowwidgets runs from a checkout, else None."""
    folder = Path(__file__).resolve().parents[2] / "notebooks"
    return folder if (folder / DASHBOARD).is_file() else None


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """True when nothing listens on ``host:port`` and it can be bound now."""
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def _write_kernelspec(jupyter_dir: Path) -> None:
    spec = jupyter_dir / "kernels" / "python3"
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (flowwidgets demo)",
        "language": "python",
        "metadata": {"debugger": True},
    }, indent=1) + "\n", encoding="utf-8")


class UiServer:
    """A Voilà (``kind="voila"``) or JupyterLab (``kind="lab"``) server for the demo.

    ``UiServer(kind, port, env=...)`` prepares a temporary folder (kernelspec, the
    dashboard notebook for Voilà); :meth:`start` spawns the server, :meth:`wait_ready`
    waits until it accepts connections, :attr:`url` is what to open, :meth:`stop` ends it
    and removes the folder. ``env`` is added to this process's environment (for example
    ``RUNNER_STATUS_URL``); ``notebooks`` is JupyterLab's root folder (default: the
    repository's notebooks/, else a folder with the dashboard notebook); ``args`` are
    added to the server's command line. The server's output goes to :attr:`log_path`.
    JupyterLab gets a random token and its news notification turned off (an
    ``overrides.json`` in a temporary app settings folder; the user's settings apply).
    """

    def __init__(self, kind: Kind, port: int, *, env: dict[str, str] | None = None,
                 notebooks: Path | None = None, log_path: Path | None = None,
                 args: Sequence[str] = (), host: str = "127.0.0.1") -> None:
        if kind not in ("voila", "lab"):
            raise ValueError(f"kind must be 'voila' or 'lab', got {kind!r}")
        self.kind: Kind = kind
        self.port = port
        self.host = host
        self.token = secrets.token_urlsafe(18) if kind == "lab" else ""
        self._tmp = Path(tempfile.mkdtemp(prefix=f"flowwidgets-demo-{kind}-"))
        self.log_path = log_path or self._tmp / f"{kind}.log"
        self._extra_env = dict(env or {})
        self._notebooks = notebooks
        self._args = list(args)
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[str] | None = None
        self._lock = threading.Lock()

    # ---- what to open --------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The page to open: Voilà's dashboard, or JupyterLab on the dashboard notebook."""
        shown = f"[{self.host}]" if ":" in self.host else self.host
        base = f"http://{shown}:{self.port}"
        if self.kind == "voila":
            return f"{base}/"
        return f"{base}/lab/tree/{DASHBOARD}?token={self.token}"

    @property
    def pid(self) -> int | None:
        """The server's process id (None before :meth:`start`)."""
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        """True while the server process is alive."""
        return self._proc is not None and self._proc.poll() is None

    @property
    def returncode(self) -> int | None:
        """The server's exit code once it has exited."""
        return self._proc.poll() if self._proc is not None else None

    # ---- life cycle ----------------------------------------------------------------------

    def start(self) -> None:
        """Spawn the server (returns at once; see :meth:`wait_ready`). Raises
        :class:`UiError` when its package is missing or the port is taken."""
        module = "voila" if self.kind == "voila" else "jupyterlab"
        missing = [m for m in (module, "ipykernel") if find_spec(m) is None]
        if missing:
            how = "'flowwidgets[lab]'" if self.kind == "lab" else "'flowwidgets[demo]'"
            raise UiError(f"the demo's {self._what} needs {' and '.join(missing)} in this "
                          f"Python ({sys.executable}); install with: pip install {how}")
        if not port_is_free(self.port, self.host):
            raise UiError(f"cannot listen on {self.host}:{self.port} for the {self._what}: "
                          "the port is in use (choose another with --ui-port)")
        jupyter = self._tmp / "jupyter"
        _write_kernelspec(jupyter)
        env = dict(os.environ)
        env.update(self._extra_env)
        env["JUPYTER_PLATFORM_DIRS"] = "1"
        env["JUPYTER_PATH"] = os.pathsep.join(
            p for p in (str(jupyter), os.environ.get("JUPYTER_PATH", "")) if p)
        env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
        cmd, cwd = self._command()
        self._log = open(self.log_path, "w", encoding="utf-8")  # noqa: SIM115 (closed in stop)
        try:
            self._proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                          stdout=self._log, stderr=subprocess.STDOUT,
                                          start_new_session=True)
        except BaseException:
            self._close_log()
            raise
        try:  # a demo killed outright (kill -9, the OOM killer) takes its server along
            guard_session(self._proc.pid)
        except OSError:  # pragma: no cover - no guard: a normal stop still stops it
            pass

    @property
    def _what(self) -> str:
        return "dashboard (Voilà)" if self.kind == "voila" else "JupyterLab"

    def _command(self) -> tuple[list[str], Path]:
        port = f"--port={self.port}"
        if self.kind == "voila":
            notebook = self._tmp / DASHBOARD
            shutil.copyfile(dashboard_notebook(), notebook)
            # dark unless the args choose a theme (Voilà takes one --theme only)
            theme = [] if any(a.startswith("--theme") for a in self._args) else ["--theme=dark"]
            return ([sys.executable, "-m", "voila", str(notebook), "--no-browser", port,
                     f"--Voila.ip={self.host}", "--Voila.port_retries=0", *theme,
                     "--show_tracebacks=True", _VOILA_DENY, *self._culling(), *self._args],
                    self._tmp)
        root = self._notebooks or repo_notebooks()
        if root is None:  # an installed wheel: serve a folder with the dashboard notebook
            root = self._tmp / "notebooks"
            root.mkdir()
            shutil.copyfile(dashboard_notebook(), root / DASHBOARD)
        settings = self._tmp / "lab-settings"
        settings.mkdir()
        (settings / "overrides.json").write_text(json.dumps(_LAB_OVERRIDES, indent=1) + "\n",
                                                 encoding="utf-8")
        return ([sys.executable, "-m", "jupyterlab", "--no-browser", port,
                 "--ServerApp.ip=127.0.0.1", "--ServerApp.port_retries=0",
                 f"--ServerApp.token={self.token}", f"--ServerApp.root_dir={root}",
                 f"--LabApp.app_settings_dir={settings}", "--LabApp.news_url=None",
                 *self._args], root)

    def _culling(self) -> list[str]:
        """Default kernel culling for Voilà unless ``args`` configure their own."""
        own = any("cull_idle_timeout" in a for a in self._args)
        return [] if own else cull_args()

    def wait_ready(self, timeout: float = READY_TIMEOUT_S,
                   cancelled: Callable[[], bool] = lambda: False) -> bool:
        """Wait until the server accepts TCP connections (a connect, not a GET: a GET on
        Voilà starts a kernel). False if ``cancelled()`` turned true first; raises
        :class:`UiError` if the server exits or ``timeout`` passes."""
        if self._proc is None:
            raise UiError(f"the {self._what} was not started")
        deadline = time.monotonic() + timeout
        while True:
            if self._proc.poll() is not None:
                raise UiError(f"the {self._what} exited with code {self._proc.returncode} "
                              f"before listening; its log:\n{self.log_tail()}")
            with socket.socket() as s:
                s.settimeout(0.5)
                if s.connect_ex((_connectable(self.host), self.port)) == 0:
                    return True
            if cancelled():
                return False
            if time.monotonic() > deadline:
                raise UiError(f"the {self._what} did not listen on 127.0.0.1:{self.port} "
                              f"within {timeout:g} s; its log:\n{self.log_tail()}")
            time.sleep(0.1)

    def log_tail(self, lines: int = 20) -> str:
        """The last ``lines`` lines the server wrote."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, grace: float = STOP_GRACE_S) -> None:
        """SIGTERM the server's process group, SIGKILL it after ``grace`` s, remove the
        temporary folder. Idempotent."""
        with self._lock:
            proc = self._proc
            if proc is not None and proc.poll() is None:
                _signal_group(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(grace)
                except subprocess.TimeoutExpired:
                    _signal_group(proc.pid, signal.SIGKILL)
                    proc.wait(5)
            if proc is not None:
                # the group may outlive its leader (a child that ignored SIGTERM)
                _signal_group(proc.pid, signal.SIGKILL)
                unguard_session(proc.pid)
            self._close_log()
            if self.log_path.is_relative_to(self._tmp):
                self.log_path = Path(os.devnull)
            shutil.rmtree(self._tmp, ignore_errors=True)

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


def _connectable(host: str) -> str:
    """Where to check that a server bound to ``host`` listens (an any-address: loopback)."""
    return {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass
