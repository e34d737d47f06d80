"""Run one ``run`` step: ``sh -c CMD`` in its own session, with bounded output tails.

Each runner process has one guard (:mod:`flowwidgets.runner._supervise`) that kills the
step sessions it was told about when the runner dies, even by ``kill -9``. A step's shell
waits on its stdin until the guard has been told (so a runner killed in between leaves
nothing running), then runs the command.

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

__all__ = ["ShellResult", "guard_session", "run_shell", "unguard_session"]

SUPERVISOR = str(Path(__file__).with_name("_supervise.py"))
"""Run by path with ``python -I -S``: the standard library only, no site-packages."""

GATE = 'IFS= read -r _ || exit 137; exec /bin/sh -c "$1" </dev/null'
"""The step's first shell: wait for the runner's go (end of file: the runner died before
its guard knew the step), then become ``sh -c CMD`` with stdin from /dev/null."""

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
    to ``log``. This process's guard (:mod:`flowwidgets.runner._supervise`) kills it when
    this process dies, and after ``stopped_limit_s`` seconds of this process being stopped
    (0: never)."""
    cancels = (cancel,) if isinstance(cancel, threading.Event) else tuple(cancel)
    out, err = LogTail(), LogTail()
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    argv = ["/bin/sh", "-c", GATE, "/bin/sh", command]
    with subprocess.Popen(argv, cwd=cwd, env=env,
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, start_new_session=True) as proc:
        assert proc.stdin is not None
        try:
            _GUARD.watch(proc.pid, stopped_limit_s)
        except BaseException:
            _signal_group(proc.pid, signal.SIGKILL)
            raise
        try:
            try:
                proc.stdin.write(b"go\n")
                proc.stdin.close()
            except BrokenPipeError:  # pragma: no cover - the shell died at once
                pass
            killed = _follow(proc, cancels, deadline, out, err, log)
            returncode = proc.wait()
        finally:
            _GUARD.forget(proc.pid)
    return ShellResult(returncode, out.text(), err.text(), killed)


def _follow(proc: subprocess.Popen[bytes], cancels: Sequence[threading.Event],
            deadline: float | None, out: LogTail, err: LogTail, log: LogTail) -> str | None:
    """Read the step's output until it ended (or was killed: returns why)."""
    assert proc.stdout is not None and proc.stderr is not None
    killed: str | None = None
    killed_at = exited_at = 0.0
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
                    return killed  # done, or a background child keeps the pipes open
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


class _Guard:
    """This process's guard (:mod:`flowwidgets.runner._supervise`), started on first use
    and again if it died or this process was forked."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._pid = 0

    def watch(self, sid: int, stopped_limit_s: float) -> None:
        """Tell the guard about session ``sid`` (returns once it is in the guard's pipe)."""
        self._send(f"+{sid} {stopped_limit_s:g}\n", restart=True)

    def forget(self, sid: int) -> None:
        """Tell the guard that session ``sid``'s step ended."""
        self._send(f"-{sid}\n", restart=False)

    def _send(self, line: str, *, restart: bool) -> None:
        with self._lock:
            for attempt in (1, 2):
                proc = self._proc
                if proc is None or self._pid != os.getpid() or proc.poll() is not None:
                    if not restart:
                        return  # a new guard never knew the session
                    proc = self._start()
                assert proc.stdin is not None
                try:
                    os.write(proc.stdin.fileno(), line.encode())
                    return
                except OSError:
                    if attempt == 2:
                        raise
                    proc.kill()
                    proc.wait()

    def _start(self) -> subprocess.Popen[bytes]:
        old = self._proc
        if old is not None and self._pid == os.getpid():  # dead or broken: let it go
            old.kill()
            if old.stdin is not None:
                try:
                    old.stdin.close()
                except OSError:
                    pass
            old.wait()
        self._proc = subprocess.Popen(
            [sys.executable, "-I", "-S", SUPERVISOR, str(os.getpid())],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, start_new_session=True)
        self._pid = os.getpid()
        return self._proc

    def _after_fork(self) -> None:
        """In a forked child: let go of the parent's guard (its pipe stays the parent's)."""
        self._lock = threading.Lock()
        proc, self._proc = self._proc, None
        if proc is not None and proc.stdin is not None:
            try:
                proc.stdin.close()
            except OSError:
                pass
            proc.returncode = 0  # not ours to wait for


_GUARD = _Guard()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_GUARD._after_fork)


def guard_session(sid: int) -> None:
    """Have this process's guard kill session ``sid`` (SIGTERM, then SIGKILL) when this
    process dies, ``kill -9`` included: for a server this process started in a session of
    its own (the demo's Voilà or JupyterLab). Raises ``OSError`` if no guard can start."""
    _GUARD.watch(sid, 0.0)


def unguard_session(sid: int) -> None:
    """Tell the guard that session ``sid`` was stopped by this process itself."""
    _GUARD.forget(sid)


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass
