"""Run one ``run`` step: ``sh -c CMD`` in its own process group, with bounded output tails.

The group's leader is a small supervisor (:mod:`flowwidgets.runner._supervise`) so the
step dies with the runner, even after ``kill -9``.

Output is read as it arrives (never buffered whole), so a chatty command costs a few KB.
A timeout or a runner stop sends SIGTERM to the whole process group, then SIGKILL a
second later if anything is left, so children the command started die with it.
"""

from __future__ import annotations

import codecs
import os
import selectors
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from flowwidgets.runner._capture import LogTail

__all__ = ["ShellResult", "run_shell"]

SUPERVISOR = str(Path(__file__).with_name("_supervise.py"))
"""Run by path with ``python -I -S``: the standard library only, no site-packages."""

KILL_GRACE_S = 1.0
"""Seconds between SIGTERM and SIGKILL of a timed-out or stopped command's group."""

DRAIN_AFTER_EXIT_S = 1.0
"""How long to keep reading after the shell exited while a background child still holds
its stdout/stderr open."""


@dataclass(frozen=True, slots=True)
class ShellResult:
    """How a command ended: ``returncode`` (negative: killed by that signal), the tails
    of its stdout and stderr, and why it was killed (``"timeout"``, ``"stopped"``) if it
    was."""

    returncode: int
    stdout_tail: str
    stderr_tail: str
    killed: str | None = None


def run_shell(command: str, *, cwd: Path, env: dict[str, str], timeout_s: float | None,
              cancel: threading.Event | Sequence[threading.Event], log: LogTail,
              stopped_limit_s: float = 0.0) -> ShellResult:
    """Run ``sh -c command`` to completion (or timeout, or until any ``cancel`` event is
    set: then ``killed == "stopped"``); stdout and stderr go, interleaved as they arrive,
    to ``log``. The command runs under :mod:`flowwidgets.runner._supervise`: it dies with
    this process, and after ``stopped_limit_s`` seconds of this process being stopped (0:
    never)."""
    cancels = (cancel,) if isinstance(cancel, threading.Event) else tuple(cancel)
    out, err = LogTail(), LogTail()
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    killed: str | None = None
    killed_at = exited_at = 0.0
    argv = [sys.executable, "-I", "-S", SUPERVISOR, str(os.getpid()), f"{stopped_limit_s:g}",
            "--", "/bin/sh", "-c", command]
    with subprocess.Popen(argv, cwd=cwd, env=env,
                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, start_new_session=True) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        decoders = {}
        with selectors.DefaultSelector() as sel:
            for stream, tail in ((proc.stdout, out), (proc.stderr, err)):
                sel.register(stream, selectors.EVENT_READ, tail)
                decoders[stream.fileno()] = codecs.getincrementaldecoder("utf-8")("replace")
            while True:
                now = time.monotonic()
                running = proc.poll() is None
                if killed is None and running:
                    if any(c.is_set() for c in cancels):
                        killed, killed_at = "stopped", now
                    elif deadline is not None and now >= deadline:
                        killed, killed_at = "timeout", now
                    if killed is not None:
                        _signal_group(proc.pid, signal.SIGTERM)
                elif killed is not None and now - killed_at >= KILL_GRACE_S:
                    _signal_group(proc.pid, signal.SIGKILL)
                    killed_at = float("inf")  # once
                if not running:
                    exited_at = exited_at or now
                    if not sel.get_map() or now - exited_at >= DRAIN_AFTER_EXIT_S:
                        break  # done, or a background child keeps the pipes open
                if not sel.get_map():  # the command closed its output but still runs
                    time.sleep(0.05)
                    continue
                for key, _ in sel.select(0.05):
                    data = os.read(key.fd, 65536)
                    if not data:
                        sel.unregister(key.fileobj)
                    text = decoders[key.fd].decode(data, final=not data)
                    key.data.write(text)
                    log.write(text)
        returncode = proc.wait()
    return ShellResult(returncode, out.text(), err.text(), killed)


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass
