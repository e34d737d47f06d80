"""What ``flowwidgets serve | run`` (cli.py) and ``flowwidgets demo`` (demo/_launch.py)
share: the server options, starting the API server, and terminal output."""

from __future__ import annotations

import argparse
import re
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flowwidgets.runner._local import LocalRunner
    from flowwidgets.runner.serve import ServerHandle

__all__ = ["DEFAULT_PORT", "clean", "err", "out", "serve", "server_options"]

DEFAULT_PORT = 8005
"""The status API's port unless --port says otherwise."""


def server_options(p: argparse.ArgumentParser, port: int | None) -> None:
    """Add ``--host``, ``--token`` (and ``--port`` with this default unless None)."""
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default 127.0.0.1; others need --token)")
    p.add_argument("--token", default=None,
                   help="require Authorization: Bearer T on the API (default: "
                        "$FLOWWIDGETS_TOKEN)")
    if port is not None:
        p.add_argument("--port", type=int, default=port, help=f"port (default {port})")


def serve(runner: LocalRunner, host: str, port: int, token: str | None, *,
          start_runner: bool) -> ServerHandle | None:
    """Serve ``runner``'s API in a thread; None (after saying why) when it cannot listen."""
    from flowwidgets.runner.serve import serve_in_thread

    try:
        return serve_in_thread(runner, host, port, token=token, start_runner=start_runner)
    except OSError as exc:
        err(f"flowwidgets: cannot listen on {host}:{port}: {exc.strerror or exc}")
        return None


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\x9b]")


def clean(text: str | None) -> str:
    """A string from a pipeline, safe for a terminal (control characters removed)."""
    return _CONTROL.sub("", text or "")


def out(text: str) -> None:
    """A line to stdout, flushed."""
    print(text, flush=True)


def err(text: str) -> None:
    """A line to stderr, flushed."""
    print(text, file=sys.stderr, flush=True)
