"""The guard of one runner process: its ``run`` steps cannot outlive it.

    python -I -S _supervise.py RUNNER_PID        (stdin: a pipe from the runner)

Started once per runner process by :mod:`flowwidgets.runner._shell` (standard library
only, run by path: no import of flowwidgets), in its own session. The runner starts each
step in a session of its own and tells the guard on its stdin, one line each:

- ``+SID LIMIT``: session ``SID`` (the step's ``sh``) runs; kill it if the runner is
  stopped for more than ``LIMIT`` seconds (0: never);
- ``-SID``: that step ended; forget it.

The guard kills a session (SIGTERM, then SIGKILL :data:`GRACE_S` later) when

- the runner dies: its stdin reaches end of file (at once, also after ``kill -9``), or
  its parent pid changes (checked every :data:`POLL_S` s, in case a forked child of the
  runner holds the pipe open). The guard then exits once every session it knew is dead;
- the runner has been stopped (SIGSTOP, Ctrl-Z; read from ``/proc``, Linux only) for
  more than the session's ``LIMIT``: a peer may declare the runner dead and run the step
  again, so the first copy must not keep running meanwhile. A line saying so is written
  to the step's stderr (best effort), which the runner reads when it resumes.

One guard per runner instead of one Python process per step: a step costs one
``sh`` start (the runner gates it until the guard knows it), not an interpreter start.
"""

from __future__ import annotations

import os
import select
import sys
import time

# the C module: ``signal`` imports ``enum``, which costs more than the rest of this file
signal = __import__("_signal" if "_signal" in sys.builtin_module_names else "signal")

GRACE_S = 1.0
POLL_S = 0.2
IDLE_POLL_S = 1.0


def _kill(sid: int, sig: int) -> bool:
    """Signal session ``sid`` (its leader's process group); False when it is gone."""
    try:
        os.killpg(sid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def proc_state(pid: int) -> bytes | None:
    """The state letter of process ``pid`` from Linux /proc (b"R", b"S", b"T", b"Z" …),
    None when there is no such process (or no /proc to tell)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    return data[data.rindex(b")") + 2:][:1]


def _stopped(pid: int) -> bool:
    """True while process ``pid`` is stopped (Linux /proc; False where it cannot tell)."""
    return proc_state(pid) in (b"T", b"t")


def _tell(sid: int, text: str) -> None:
    """Write ``text`` to the stderr of ``sid`` (the pipe the runner reads; best effort)."""
    try:
        fd = os.open(f"/proc/{sid}/fd/2", os.O_WRONLY | os.O_NONBLOCK)
    except OSError:
        return
    try:
        os.write(fd, text.encode())
    except OSError:
        pass
    finally:
        os.close(fd)


def main(argv: list[str]) -> None:
    runner = int(argv[1])
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    limits: dict[int, float] = {}   # session -> stopped limit (s)
    killing: dict[int, float] = {}  # session -> when SIGTERM was sent
    stopped_since: float | None = None
    buffered = b""
    alive = True
    while True:
        timeout = POLL_S if (limits or killing) else IDLE_POLL_S
        if alive and select.select([0], [], [], timeout)[0]:
            data = os.read(0, 65536)
            if not data:
                alive = False
            buffered += data
            *lines, buffered = buffered.split(b"\n")
            for line in lines:
                if line[:1] == b"+":
                    text_sid, text_limit = line[1:].split()
                    limits[int(text_sid)] = float(text_limit)
                elif line[:1] == b"-":
                    limits.pop(int(line[1:]), None)
        elif not alive:
            time.sleep(POLL_S)
        if alive and os.getppid() != runner:
            alive = False
        now = time.monotonic()
        doomed: list[tuple[int, str]] = []
        if not alive:
            doomed = [(sid, "") for sid in limits]
        elif any(limit > 0 for limit in limits.values()) and _stopped(runner):
            stopped_since = now if stopped_since is None else stopped_since
            doomed = [(sid, f"its runner was stopped for more than {limit:g} s "
                            "(a peer may run it)")
                      for sid, limit in limits.items() if 0 < limit < now - stopped_since]
        else:
            stopped_since = None
        for sid, why in doomed:
            del limits[sid]
            if why:
                _tell(sid, f"\n[flowwidgets: step killed: {why}]\n")
            if _kill(sid, signal.SIGTERM):
                killing[sid] = now
        for sid, since in list(killing.items()):
            if not _kill(sid, 0):  # all gone
                del killing[sid]
            elif now - since >= GRACE_S:
                _kill(sid, signal.SIGKILL)
                del killing[sid]
        if not alive and not killing:
            return


if __name__ == "__main__":
    main(sys.argv)
