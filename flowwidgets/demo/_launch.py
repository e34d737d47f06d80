"""``flowwidgets demo``: the demo runner with real history, and its dashboard.

    flowwidgets demo [--port 8005] [--ui-port P] [--lab | --no-ui] [--data DIR] [--no-history]

Prepares the demo data folder, imports two weeks of made-up history through the run
log's import path (marked as imported; see :mod:`flowwidgets.demo._history`), starts the
runner on the demo pipelines and serves its status API, starts the streaming pipeline,
runs every batch pipeline a few times for real (the warehouse's last run fails at
merge_payments) and serves the dashboard notebook with
Voilà (``--lab``: JupyterLab on the notebooks) with ``RUNNER_STATUS_URL`` set, then prints
both URLs. SIGINT (Ctrl-C) or SIGTERM stops everything and exits 0.
"""

from __future__ import annotations

import argparse
import dataclasses
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, Literal

from flowwidgets._cli_common import DEFAULT_PORT, clean, err, out, serve, server_options
from flowwidgets.demo._ui import UiError, UiServer, port_is_free

if TYPE_CHECKING:
    from flowwidgets.runner._local import LocalRunner
    from flowwidgets.runner.serve import ServerHandle
    from flowwidgets.runner.store import RunRecord

__all__ = [
    "DEFAULT_LAB_PORT",
    "DEFAULT_UI_PORT",
    "DEMO_ROUNDS",
    "DemoSession",
    "add_parser",
    "cmd_demo",
    "create_history",
    "start_streams",
]

DEMO_ROUNDS = 3
"""Runs of each batch pipeline the demo creates; the last warehouse run fails."""
DEMO_WAIT_S = 120.0
"""How long one history run may take before the demo stops waiting for it."""
DEFAULT_UI_PORT = 8866
"""Voilà's port unless --ui-port says otherwise."""
DEFAULT_LAB_PORT = 8888
"""JupyterLab's port (--lab) unless --ui-port says otherwise."""
_WILDCARDS = ("0.0.0.0", "::", "[::]", "")


@dataclasses.dataclass
class DemoSession:
    """What ``flowwidgets demo`` started: the data folder, the runner, the API server and
    the front end (None with ``--no-ui``)."""

    data: Path
    runner: LocalRunner
    server: ServerHandle
    ui: UiServer | None = None

    @property
    def runner_url(self) -> str:
        """The API's URL as a local client reaches it (loopback for a wildcard bind)."""
        if self.server.host in _WILDCARDS:
            return f"http://127.0.0.1:{self.server.port}"
        return self.server.url


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Register the ``demo`` subcommand on an argparse ``add_subparsers()`` object."""
    p = sub.add_parser(
        "demo", help="the demo pipelines with real history and their dashboard",
        description="Prepare the demo data, start the runner on the demo pipelines, create "
                    "some real history, serve the API and the dashboard notebook (Voilà, "
                    "or JupyterLab with --lab) on 127.0.0.1 until Ctrl-C.")
    p.add_argument("--data", default=None, metavar="DIR",
                   help="demo data folder (default: $FLOWWIDGETS_DEMO_DATA or "
                        "~/.local/share/flowwidgets/demo)")
    p.add_argument("--no-history", action="store_true",
                   help="neither import two weeks of history nor run the batch pipelines "
                        "before serving")
    server_options(p, DEFAULT_PORT)
    ui = p.add_mutually_exclusive_group()
    ui.add_argument("--lab", action="store_true",
                    help="serve JupyterLab on the notebooks instead of the Voilà dashboard")
    ui.add_argument("--no-ui", action="store_true", help="the runner only, no dashboard")
    p.add_argument("--ui-port", type=int, default=None, metavar="PORT",
                   help=f"port of the dashboard (default {DEFAULT_UI_PORT}; "
                        f"{DEFAULT_LAB_PORT} with --lab)")
    p.set_defaults(func=cmd_demo)
    return p


class _StopOnSignal:
    """Inside the block, SIGINT and SIGTERM set :attr:`event` instead of raising."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self._previous: dict[int, Any] = {}

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.event.set()

    def __enter__(self) -> _StopOnSignal:
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, self._on_signal)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, old in self._previous.items():
            signal.signal(sig, old)


def cmd_demo(args: argparse.Namespace) -> int:
    """Run ``flowwidgets demo`` from parsed arguments; returns the exit code."""
    from flowwidgets._extras import require

    require("runner", "the demo's runner")
    kind: Literal["voila", "lab"] | None = (
        None if args.no_ui else ("lab" if args.lab else "voila"))
    ui_port = args.ui_port if args.ui_port is not None else (
        DEFAULT_LAB_PORT if kind == "lab" else DEFAULT_UI_PORT)
    if kind is not None and not port_is_free(ui_port):
        err(f"flowwidgets: cannot listen on 127.0.0.1:{ui_port} for the dashboard: the "
             "port is in use (choose another with --ui-port, or --no-ui)")
        return 1
    with _StopOnSignal() as stop:
        session = _start_runner(args)
        if session is None:
            return 1
        try:
            start_streams(session.runner)
            if kind is not None:
                session.ui = UiServer(kind, ui_port, env=_ui_env(session, args.token),
                                      log_path=session.data / f"{kind}.log")
                session.ui.start()  # it boots while the history is made
            if not args.no_history:
                create_history(session.runner, session.data, cancelled=stop.event.is_set)
            if session.ui is not None and not session.ui.wait_ready(
                    cancelled=stop.event.is_set):
                return 0
            if stop.event.is_set():
                return 0
            out(_ready_text(session))
            return _serve_until_stopped(session, stop.event)
        except UiError as exc:
            err(f"flowwidgets demo: {exc}")
            return 1
        finally:
            if session.ui is not None:
                session.ui.stop()
            session.server.stop()
            out("flowwidgets demo: stopped")


def _start_runner(args: argparse.Namespace) -> DemoSession | None:
    from flowwidgets import demo
    from flowwidgets.runner._local import LocalRunner
    from flowwidgets.runner.spec import load_pipelines

    data = demo.prepare(args.data)
    runner = LocalRunner(load_pipelines(demo.pipelines_path()), db=data / "runs.sqlite",
                         data_dir=data)
    if not args.no_history:
        n = demo.import_history(runner)
        if n:
            out(f"flowwidgets demo: imported {n} runs of {demo.DAYS} days of history "
                 "(marked as imported)")
    handle = serve(runner, args.host, args.port, args.token, start_runner=True)
    if handle is None:
        runner.stop()
        return None
    out(f"flowwidgets demo: runner API at {handle.url}  (data: {data})")
    return DemoSession(data=data, runner=runner, server=handle)


def _ui_env(session: DemoSession, token: str | None) -> dict[str, str]:
    from flowwidgets import demo
    from flowwidgets.runner.api import TOKEN_ENV

    env = {"RUNNER_STATUS_URL": session.runner_url, demo.DATA_ENV: str(session.data)}
    if token:
        env[TOKEN_ENV] = token
    return env


def start_streams(runner: LocalRunner) -> list[str]:
    """Start every streaming pipeline that is not already running (they run until the
    runner stops; their runs are then cancelled); returns the new run ids."""
    from flowwidgets.errors import Conflict

    started = []
    for p in runner.pipelines:
        if p.kind == "streaming":
            try:
                started.append(runner.run_now(p.name))
            except Conflict:
                continue  # already live (another process on the same data folder)
            out(f"flowwidgets demo: {clean(p.name)} is live")
    return started


def create_history(runner: LocalRunner, data: Path, rounds: int = DEMO_ROUNDS, *,
                   cancelled: Callable[[], bool] = lambda: False,
                   report: Callable[[str], None] = out) -> list[RunRecord]:
    """Run every batch pipeline ``rounds`` times for real; the warehouse's last run fails
    at merge_payments (its failure switch on for the last round, off before). Stops early
    when ``cancelled()`` turns true; returns the finished runs, oldest first."""
    from flowwidgets import demo

    batch = [p.name for p in runner.pipelines if p.kind != "streaming"]
    report(f"flowwidgets demo: creating history ({rounds} runs of {len(batch)} pipelines)")
    done: list[RunRecord] = []
    for round_no in range(1, rounds + 1):
        demo.set_failure(round_no == rounds, data)
        for run_id in [runner.run_now(name) for name in batch]:
            run = _wait_run(runner, run_id, cancelled)
            if run is None:
                return done
            done.append(run)
            where = f"at {clean(run.failed_step)}" if run.failed_step else ""
            report(f"  {clean(run.pipeline):<24} {str(run.status):<10} {where}".rstrip())
    return done


def _wait_run(runner: LocalRunner, run_id: str,
              cancelled: Callable[[], bool]) -> RunRecord | None:
    deadline = time.monotonic() + DEMO_WAIT_S
    while not cancelled():
        try:
            return runner.wait(run_id, timeout=0.25)
        except TimeoutError:
            if time.monotonic() > deadline:
                err(f"flowwidgets demo: run {run_id} is still going after {DEMO_WAIT_S:g} s; "
                     "serving anyway")
                return None
    return None


def _ready_text(session: DemoSession) -> str:
    api = session.server.url
    lines = ["", "flowwidgets demo is ready:",
             f"  runner API  {api}   (docs: {api}/api/docs)"]
    if session.ui is not None:
        what = "dashboard " if session.ui.kind == "voila" else "JupyterLab"
        lines.append(f"  {what}  {session.ui.url}   (log: {session.ui.log_path})")
    lines += [
        "",
        "In a notebook (RUNNER_STATUS_URL is set for the dashboard's kernels):",
        "    import flowwidgets as fw",
        f"    src = fw.connect({session.runner_url!r})",
        "    fw.Dashboard(src)",
        "The failed warehouse_etl run can be restarted from merge_payments once its failure "
        "switch is off:",
        f"    from flowwidgets import demo; demo.set_failure(False, {str(session.data)!r})",
        "Ctrl-C stops the demo.",
    ]
    return "\n".join(lines)


def _serve_until_stopped(session: DemoSession, stop: threading.Event) -> int:
    """Block until a signal (0) or until the API server or the front end dies (1)."""
    while not stop.wait(0.5):
        if not session.server.running:
            err("flowwidgets demo: the API server stopped unexpectedly")
            return 1
        ui = session.ui
        if ui is not None and not ui.running:
            err(f"flowwidgets demo: the {ui.kind} server exited with code {ui.returncode}; "
                 f"the end of its log ({ui.log_path}):\n{ui.log_tail()}")
            return 1
    return 0
