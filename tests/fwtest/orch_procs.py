"""Processes for the orchestrator servers: started in their own session with output to a
log file, waited for, and stopped by process group (SIGTERM, then SIGKILL)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

__all__ = ["Proc", "start", "wait_until"]


@dataclass
class Proc:
    """A process started in its own group, its output going to a log file."""

    popen: subprocess.Popen
    log: Path
    name: str

    def tail(self, n: int = 4000) -> str:
        """The end of the process's output (for failure messages)."""
        try:
            return self.log.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def alive(self) -> bool:
        """True while the process runs."""
        return self.popen.poll() is None

    def stop(self, grace: float = 15.0) -> float:
        """SIGTERM the process group, SIGKILL it after ``grace`` s; the seconds it took."""
        started = time.monotonic()
        pgid = self.popen.pid
        _signal_group(pgid, signal.SIGTERM)
        try:
            self.popen.wait(grace)
        except subprocess.TimeoutExpired:
            _signal_group(pgid, signal.SIGKILL)
            self.popen.wait(10)
        # children that outlived the leader still belong to the group
        deadline = time.monotonic() + grace
        while _group_alive(pgid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if _group_alive(pgid):
            _signal_group(pgid, signal.SIGKILL)
        return time.monotonic() - started


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def start(name: str, cmd: list[str], env: dict[str, str], cwd: Path, log: Path) -> Proc:
    """Start ``cmd`` in a new session with its output in ``log``."""
    out = open(log, "wb")  # noqa: SIM115 - the child owns it; closed below once handed over
    try:
        popen = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL, start_new_session=True)
    finally:
        out.close()
    return Proc(popen, log, name)


def wait_until(what: str, ready: Callable[[], bool], timeout: float,
               procs: tuple[Proc, ...] = ()) -> float:
    """Poll ``ready`` until it is true; the seconds it took. Fails early when a process
    died, with the end of its log."""
    started = time.monotonic()
    while True:
        for p in procs:
            if not p.alive():
                raise RuntimeError(f"{p.name} exited with {p.popen.returncode} while waiting "
                                   f"for {what}:\n{p.tail()}")
        try:
            if ready():
                return time.monotonic() - started
        except httpx.HTTPError:
            pass
        if time.monotonic() - started > timeout:
            logs = "\n".join(f"--- {p.name}:\n{p.tail()}" for p in procs)
            raise TimeoutError(f"{what} not ready after {timeout:.0f} s\n{logs}")
        time.sleep(0.5)
