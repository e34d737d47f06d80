"""``flowwidgets``: the command line.

    flowwidgets serve PIPELINES.yaml [--host 127.0.0.1] [--port 8005] [--token T] [--db PATH]
                      [--tick S] [--max-output-bytes N]
    flowwidgets run FLOW.yaml [--pipeline NAME] [--status-port 8005] [--keep-serving]
    flowwidgets demo [--port 8005] [--ui-port P] [--lab | --no-ui] [--data DIR] [--no-history]
    flowwidgets dashboard [URL] [--host H] [--port 8866] [--token T] [--cull-idle S]
    flowwidgets tui [URL]

Each subcommand is a ``_cmd_*`` function taking the parsed namespace and returning the
exit code. A pipelines file with a mistake prints ``path:line: message`` and exits 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import signal
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flowwidgets._cli_common import DEFAULT_PORT
from flowwidgets._cli_common import clean as _clean
from flowwidgets._cli_common import err as _err
from flowwidgets._cli_common import out as _out
from flowwidgets._cli_common import serve as _serve
from flowwidgets._cli_common import server_options as _server_options
from flowwidgets._extras import MissingExtra, require
from flowwidgets.errors import SpecError, UsageError

if TYPE_CHECKING:
    from flowwidgets.runner._local import LocalRunner
    from flowwidgets.runner.serve import ServerHandle
    from flowwidgets.runner.spec import Pipelines
    from flowwidgets.runner.store import RunRecord

__all__ = ["UsageError", "build_parser", "check_port", "main"]



def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code (the console script exits with it)."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (SpecError, UsageError) as exc:
        _err(str(exc))
        return 2
    except MissingExtra as exc:
        _err(f"flowwidgets {args.command}: {exc}")
        return 1


def check_port(value: int, option: str) -> int:
    """``value`` if it is a TCP port (0 picks a free one), else UsageError naming ``option``."""
    if not 0 <= value <= 65535:
        raise UsageError(f"flowwidgets: {option} {value}: not a port; use 1-65535 "
                         "(or 0 for a free one)")
    return value


def _check_options(args: argparse.Namespace) -> None:
    for option in ("port", "status_port", "ui_port"):
        value = getattr(args, option, None)
        if value is not None:
            check_port(value, "--" + option.replace("_", "-"))
    most = getattr(args, "max_output_bytes", None)
    if most is not None and most < 1:
        raise UsageError(f"flowwidgets: --max-output-bytes {most}: must be at least 1")
    tick = getattr(args, "tick", None)
    if tick is not None and not (math.isfinite(tick) and 0 < tick <= 3600):
        raise UsageError(f"flowwidgets: --tick {tick:g}: the scheduler tick must be more "
                         "than 0 and at most 3600 seconds")


def _open_runner(pipelines: Pipelines, db: str | None, **kwargs: Any) -> LocalRunner:
    """A LocalRunner, or UsageError naming the run log file and what is wrong with it."""
    from flowwidgets.errors import FlowwidgetsError
    from flowwidgets.runner._local import LocalRunner

    try:
        return LocalRunner(pipelines, db=db, **kwargs)
    except FlowwidgetsError as exc:
        raise UsageError(f"flowwidgets: --db {exc}") from None
    except OSError as exc:
        where = exc.filename or db or "the run log"
        raise UsageError(f"flowwidgets: --db {where}: {exc.strerror or exc}") from None


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser with every subcommand (``tui`` included when available)."""
    from flowwidgets import __version__

    parser = argparse.ArgumentParser(
        prog="flowwidgets",
        description="Run data pipelines locally and watch them from Jupyter.")
    parser.add_argument("--version", action="version", version=f"flowwidgets {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_serve(sub)
    _add_run(sub)
    _add_demo(sub)
    _add_dashboard(sub)
    _add_tui(sub)
    return parser


def _add_serve(sub: Any) -> None:
    p = sub.add_parser("serve", help="status API + scheduler + executor for a pipelines file",
                       description="Serve the status API and run the pipelines of a file on "
                                   "their schedules (and on request) until Ctrl-C.")
    p.add_argument("pipelines", metavar="PIPELINES.yaml")
    _server_options(p, DEFAULT_PORT)
    p.add_argument("--db", default=None,
                   help="SQLite run log (default: .flowwidgets/runs.sqlite beside the file)")
    p.add_argument("--tick", type=float, default=1.0, help="scheduler tick in seconds")
    p.add_argument("--max-output-bytes", type=int, default=None, metavar="N",
                   help="largest step output stored, as JSON (default 8 MiB); a larger "
                        "one fails its step")
    p.set_defaults(func=_cmd_serve)


def _add_run(sub: Any) -> None:
    p = sub.add_parser("run", help="run one pipeline once, serving its status while it runs",
                       description="Run one pipeline of a file once and exit 0 on success, "
                                   "1 on failure (flowtoy's workflow).")
    p.add_argument("flow", metavar="FLOW.yaml")
    p.add_argument("--pipeline", default=None,
                   help="which pipeline (needed when the file has several)")
    p.add_argument("--status-port", type=int, default=None, metavar="PORT",
                   help="serve the status API (and flowtoy's /status) on this port")
    p.add_argument("--keep-serving", action="store_true",
                   help="keep serving after the run until Ctrl-C")
    p.add_argument("--db", default=None, help="SQLite run log (default: a temporary file)")
    _server_options(p, None)
    p.set_defaults(func=_cmd_run)


def _add_demo(sub: Any) -> None:
    from flowwidgets.demo._launch import add_parser  # the demo's code lives beside its data

    add_parser(sub)


def _add_dashboard(sub: Any) -> None:
    from flowwidgets.demo._publish import add_parser  # Voilà is imported only when serving

    add_parser(sub)


def _add_tui(sub: Any) -> None:
    try:
        from flowwidgets.tui import add_parser  # imports Textual only when it starts
    except ImportError:
        return
    add_parser(sub)


# ---- serve ---------------------------------------------------------------------------


def _cmd_serve(args: argparse.Namespace) -> int:
    _check_options(args)
    require("runner", "the local runner")
    pipelines = _load(args.pipelines)
    extra = {} if args.max_output_bytes is None else {"max_output_bytes": args.max_output_bytes}
    runner = _open_runner(pipelines, args.db, tick_s=args.tick, **extra)
    handle = _serve(runner, args.host, args.port, args.token, start_runner=True)
    if handle is None:
        return 1
    _out(f"flowwidgets: serving {len(pipelines)} pipeline(s) from {args.pipelines} at "
         f"{handle.url}  (API docs: {handle.url}/api/docs)")
    _out("Ctrl-C to stop")
    _serve_until_signal(handle, [handle.stop])
    _out("flowwidgets: stopped")
    return 0


# ---- run -----------------------------------------------------------------------------


def _cmd_run(args: argparse.Namespace) -> int:
    _check_options(args)
    require("runner", "the local runner")
    pipelines = _load(args.flow)
    name = _pick(pipelines, args.pipeline, args.flow)
    if name is None:
        return 2
    one = dataclasses.replace(pipelines, pipelines=(pipelines[name],))
    with _run_log(args.db) as db:
        runner = _open_runner(one, db)
        handle = None
        if args.status_port is not None:
            handle = _serve(runner, args.host, args.status_port, args.token, start_runner=False)
            if handle is None:
                runner.stop()
                return 1
            _out(f"flowwidgets: status of {name} at {handle.url}/status "
                 f"(API: {handle.url}/api/runs)")
        try:
            with _signals_raise():
                record = runner.run_once(name)
        except KeyboardInterrupt:
            _err("flowwidgets run: interrupted")
            _stop_all(handle, runner)
            return 130
        _print_summary(runner, record)
        if handle is not None and args.keep_serving:
            _out(f"flowwidgets: still serving at {handle.url} — Ctrl-C to stop")
            _serve_until_signal(handle, [])
        _stop_all(handle, runner)
    return 0 if str(record.status) == "succeeded" else 1


def _pick(pipelines: Pipelines, wanted: str | None, path: str) -> str | None:
    names = list(pipelines.names)
    if wanted is not None:
        if wanted in pipelines:
            return wanted
        _err(f"{path}: no pipeline {wanted!r}; pipelines: {', '.join(names)}")
        return None
    if len(names) == 1:
        return names[0]
    _err(f"{path} has {len(names)} pipelines; choose one with --pipeline: {', '.join(names)}")
    return None


@contextmanager
def _run_log(db: str | None) -> Iterator[str]:
    if db is not None:
        yield db
        return
    with tempfile.TemporaryDirectory(prefix="flowwidgets-run-") as tmp:
        yield str(Path(tmp) / "runs.sqlite")


def _print_summary(runner: LocalRunner, run: RunRecord) -> None:
    seconds = f"{run.duration_ms / 1000:.2f} s" if run.duration_ms is not None else "-"
    _out(f"{_clean(run.pipeline)}: run {run.run_id} {str(run.status).upper()} in {seconds}")
    marks = {"succeeded": "ok", "failed": "FAILED", "pending": "not run",
             "running": "running", "skipped": "skipped"}
    for s in runner.store.get_steps(run.run_id):
        took = f"{s.duration_ms / 1000:.2f} s" if s.duration_ms is not None else ""
        tries = f"  ({s.attempts} attempts)" if s.attempts > 1 else ""
        reused = f"  (reused from {s.reused_from})" if s.reused_from else ""
        _out(f"  {_clean(s.name):<28} {marks.get(str(s.status), str(s.status)):<8} "
             f"{took:>9}{tries}{reused}")
    if run.error:
        last = [line for line in run.error.strip().splitlines() if line.strip()]
        where = f" in {_clean(run.failed_step)}" if run.failed_step else ""
        _out(f"error{where}: {_clean(last[-1] if last else run.error)}")


# ---- shared --------------------------------------------------------------------------


def _load(path: str) -> Pipelines:
    from flowwidgets.runner.spec import load_pipelines

    return load_pipelines(path)


def _serve_until_signal(handle: ServerHandle, stoppers: list[Callable[[], None]]) -> None:
    """Block until SIGINT or SIGTERM (or the server dies), then call ``stoppers``."""
    done = threading.Event()

    def _on_signal(signum: int, frame: object) -> None:
        done.set()

    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not done.wait(0.5):
            if not handle.running:
                _err("flowwidgets: the API server stopped unexpectedly")
                break
    finally:
        for stop in stoppers:
            stop()
        for sig, old in previous.items():
            signal.signal(sig, old)


@contextmanager
def _signals_raise() -> Iterator[None]:
    """SIGTERM behaves like Ctrl-C (KeyboardInterrupt) inside the block."""
    def _on_term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, _on_term)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _stop_all(handle: ServerHandle | None, runner: LocalRunner) -> None:
    if handle is not None:
        handle.stop()
    runner.stop()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
