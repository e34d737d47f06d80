"""``flowwidgets tui``: a terminal monitor for any runner a Source can read.

Pipelines with their last-10 strip, next fire and median duration; the selected
pipeline's runs; the selected run's steps in DAG order; restart, rerun, resume and run-now
behind a Yes/No confirmation. Needs Textual (``pip install 'flowwidgets[tui]'``), which
is imported only when the monitor starts, so registering the subcommand costs nothing.

Command-line hook for ``flowwidgets/cli.py``::

    tui.add_parser(subparsers)      # registers `tui [URL] [--token T] [--flow F] [--interval S]
                                    #   [--time-zone {UTC,local}]`
    return args.func(args)          # the parsed namespace carries its runner
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, Any

from flowwidgets._vocab import TIME_ZONES

if TYPE_CHECKING:
    from flowwidgets.tui._app import FlowTui

__all__ = ["FlowTui", "add_parser", "main", "run_args"]

_DESCRIPTION = (
    "Watch a runner from the terminal: pipelines with their last 10 runs, the runs of "
    "the selected pipeline and the steps of the selected run, live. Keys: arrows move, "
    "tab switches table, enter opens, R restarts from the failed step, r reruns, "
    "w resumes from the watermark, n runs now (each asks Yes/No first), u refreshes, "
    "q quits."
)


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds, got {text}")
    return value


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("url", nargs="?", default=None, metavar="URL",
                        help="the runner's status API (default: $RUNNER_STATUS_URL)")
    parser.add_argument("--token", default=None,
                        help="bearer token (default: $FLOWWIDGETS_TOKEN; prefer the "
                             "variable, a flag shows in the process list)")
    parser.add_argument("--flow", default=None, metavar="FLOW.yaml",
                        help="flowtoy flow file, to know the steps' dependencies")
    parser.add_argument("--interval", type=_positive, default=2.0, metavar="S",
                        help="seconds between polls and refreshes (default: 2)")
    parser.add_argument("--time-zone", choices=TIME_ZONES, default="UTC",
                        dest="time_zone",
                        help="show every time in UTC (default) or in this terminal's "
                             "local zone (headers then name it, e.g. 'Started (IST)')")
    parser.set_defaults(func=run_args)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``tui`` subcommand on an argparse ``add_subparsers()`` object.

    The parsed namespace gets ``func=run_args``: call ``args.func(args)`` for the exit code.
    """
    parser = subparsers.add_parser("tui", help="terminal monitor for a runner",
                                   description=_DESCRIPTION)
    _add_arguments(parser)
    return parser


def run_args(args: argparse.Namespace) -> int:
    """Start the monitor from parsed arguments; returns the process exit code."""
    url = args.url or os.environ.get("RUNNER_STATUS_URL")
    if not url:
        print("flowwidgets tui: give the runner's URL (flowwidgets tui http://127.0.0.1:8005) "
              "or set RUNNER_STATUS_URL", file=sys.stderr)
        return 2
    try:
        from flowwidgets.tui._app import FlowTui
    except ImportError as exc:
        print(f"flowwidgets tui needs Textual ({exc}); install it with: "
              "pip install 'flowwidgets[tui]'", file=sys.stderr)
        return 2
    app = FlowTui(url, token=args.token, flow=args.flow, interval=args.interval,
                  time_zone=getattr(args, "time_zone", "UTC"))
    app.run()
    return app.return_code or 0


def main(argv: list[str] | None = None) -> int:
    """``flowwidgets tui`` as a function: parse ``argv`` (without the ``tui`` word) and run."""
    parser = argparse.ArgumentParser(prog="flowwidgets tui", description=_DESCRIPTION)
    _add_arguments(parser)
    return run_args(parser.parse_args(argv))


def __getattr__(name: str) -> Any:
    if name == "FlowTui":
        from flowwidgets.tui._app import FlowTui

        return FlowTui
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
