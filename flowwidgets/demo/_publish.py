"""``flowwidgets dashboard [URL]``: publish the packaged dashboard for any runner.

    flowwidgets dashboard http://runner:8005 --host 0.0.0.0 --port 8866 --token T

Serves the dashboard notebook shipped in the package through Voilà on ``--host:--port``
for the runner at ``URL`` (default ``$RUNNER_STATUS_URL``): ours, ematix-flow, flowtoy,
Airflow or Prefect, whatever :func:`flowwidgets.connect` detects. Each page's kernel
reads ``RUNNER_STATUS_URL`` and the token (``--token`` or ``$FLOWWIDGETS_TOKEN``; Airflow's
``$AIRFLOW_USERNAME``/``$AIRFLOW_PASSWORD`` pass through) from its environment: the token
never reaches the page. Kernels of closed pages are culled (see :func:`._ui.cull_args`).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from importlib.util import find_spec
from typing import Any

from flowwidgets._cli_common import err as _err
from flowwidgets._cli_common import out as _out
from flowwidgets.cli import check_port
from flowwidgets.demo._ui import CULL_IDLE_S, UiError, UiServer, cull_args
from flowwidgets.errors import UsageError

__all__ = ["DEFAULT_DASHBOARD_PORT", "add_parser", "cmd_dashboard"]

DEFAULT_DASHBOARD_PORT = 8866
URL_ENV = "RUNNER_STATUS_URL"


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Add the ``dashboard`` subcommand to the CLI's subparsers."""
    p = sub.add_parser("dashboard", help="publish the dashboard for a runner through Voilà",
                       description="Serve the packaged dashboard notebook through Voilà for "
                                   "the runner at URL (any runner flowwidgets reads) until "
                                   "Ctrl-C. Needs the 'demo' extra: "
                                   "pip install 'flowwidgets[demo]'.")
    p.add_argument("url", nargs="?", default=None, metavar="URL",
                   help=f"the runner's status API (default: ${URL_ENV})")
    p.add_argument("--host", default="127.0.0.1", help="address Voilà binds (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=DEFAULT_DASHBOARD_PORT,
                   help=f"Voilà's port (default {DEFAULT_DASHBOARD_PORT})")
    p.add_argument("--token", default=None,
                   help="the runner's API token, given to the kernels by environment "
                        "(default: $FLOWWIDGETS_TOKEN)")
    p.add_argument("--cull-idle", type=float, default=CULL_IDLE_S, metavar="SECONDS",
                   help=f"shut down the kernel of a closed page after this long idle "
                        f"(default {CULL_IDLE_S}; 0: never)")
    p.set_defaults(func=cmd_dashboard)
    return p


def cmd_dashboard(args: argparse.Namespace) -> int:
    """Run ``flowwidgets dashboard`` from parsed arguments; returns the exit code."""
    url = args.url or os.environ.get(URL_ENV)
    if not url:
        raise UsageError(f"flowwidgets dashboard: which runner? Give its URL "
                         f"(flowwidgets dashboard http://127.0.0.1:8005) or set ${URL_ENV}")
    check_port(args.port, "--port")
    if args.cull_idle < 0:
        raise UsageError(f"flowwidgets dashboard: --cull-idle {args.cull_idle:g}: must be "
                         "0 (never) or more seconds")
    missing = [m for m in ("voila", "ipykernel") if find_spec(m) is None]
    if missing:
        raise UsageError(f"flowwidgets dashboard needs {' and '.join(missing)} (Voilà) in "
                         f"this Python ({sys.executable}); install the extra: "
                         "pip install 'flowwidgets[demo]'")
    env = {URL_ENV: url}
    token = args.token if args.token is not None else os.environ.get("FLOWWIDGETS_TOKEN")
    if token:
        env["FLOWWIDGETS_TOKEN"] = token
    ui = UiServer("voila", args.port, env=env, host=args.host,
                  args=cull_args(args.cull_idle) if args.cull_idle else
                  ["--MappingKernelManager.cull_idle_timeout=0"])
    stop = threading.Event()


    previous = {sig: signal.signal(sig, lambda *_: stop.set())
                for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        ui.start()
        if not ui.wait_ready(cancelled=stop.is_set):
            return 0
        _out(f"flowwidgets dashboard: {ui.url}  (runner: {url}; kernels of closed pages "
             f"culled after {args.cull_idle:g} s idle)")
        _out("Ctrl-C to stop")
        while not stop.wait(0.5):
            if not ui.running:
                _err(f"flowwidgets dashboard: Voilà exited with code {ui.returncode}; its "
                     f"log:\n{ui.log_tail()}")
                return 1
        return 0
    except UiError as exc:
        _err(f"flowwidgets dashboard: {exc}")
        return 1
    finally:
        ui.stop()
        for sig, old in previous.items():
            signal.signal(sig, old)
        _out("flowwidgets dashboard: stopped")
