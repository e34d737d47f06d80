"""Start a front-end server (Jupyter Notebook 7, JupyterLab 4, marimo) for a compat test:
this venv's Python, its own process group, a log file, temporary Jupyter dirs and a
``python3`` kernelspec naming this interpreter first on ``JUPYTER_PATH``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path

from _compat_harness import free_port, stop_process, wait_for_port

MACHINE_VARS = ("RUNNER_STATUS_URL", "FLOWWIDGETS_TOKEN", "FLOWWIDGETS_DEMO_DATA", "JUPYTER_PATH",
                "JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR")
"""Settings of the machine that must not leak into a test's server."""


def isolated_env(root: Path, **extra: str) -> dict[str, str]:
    """This process's environment with Jupyter's config, data and runtime dirs under
    ``root``, a kernelspec of this Python first on ``JUPYTER_PATH``, HOME and the XDG
    dirs under ``root`` (marimo keeps its config there), plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in MACHINE_VARS}
    spec = root / "jupyter-path" / "kernels" / "python3"
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (flowwidgets compat)", "language": "python",
    }), encoding="utf-8")
    for name in ("config", "data", "runtime", "home", "xdg-config", "xdg-cache", "xdg-state"):
        (root / name).mkdir(exist_ok=True)
    env.update({
        "JUPYTER_PLATFORM_DIRS": "1",
        "JUPYTER_PATH": str(root / "jupyter-path"),
        "JUPYTER_CONFIG_DIR": str(root / "config"),
        "JUPYTER_DATA_DIR": str(root / "data"),
        "JUPYTER_RUNTIME_DIR": str(root / "runtime"),
        "HOME": str(root / "home"),
        "XDG_CONFIG_HOME": str(root / "xdg-config"),
        "XDG_CACHE_HOME": str(root / "xdg-cache"),
        "XDG_STATE_HOME": str(root / "xdg-state"),
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
        "MARIMO_SKIP_UPDATE_CHECK": "1",
    })
    env.update(extra)
    return env


def start_server(args: list[str], *, cwd: Path, env: dict[str, str], log: Path,
                 cleanup: ExitStack, port: int | None = None, timeout: float = 90) -> int:
    """Run ``python -m <args>`` (``{port}`` in an argument is replaced by a free port),
    wait until it accepts TCP connections and return the port. ``cleanup`` stops it
    (SIGTERM to its process group, then SIGKILL) and closes the log. A server that exits
    or does not listen fails with the tail of its log."""
    port = port or free_port()
    cmd = [sys.executable, "-m", *(a.replace("{port}", str(port)) for a in args)]
    out = cleanup.enter_context(open(log, "w", encoding="utf-8"))  # noqa: SIM115
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out,
                            stderr=subprocess.STDOUT, start_new_session=True)
    cleanup.callback(stop_process, proc)
    try:
        wait_for_port(port, timeout=timeout, proc=proc)
    except (RuntimeError, TimeoutError) as exc:
        out.flush()
        tail = "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-30:])
        raise AssertionError(f"{' '.join(cmd)}: {exc}; its log:\n{tail}") from None
    return port
