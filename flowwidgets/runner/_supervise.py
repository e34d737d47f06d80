"""The supervisor of one ``run`` step: the step cannot outlive its runner.

    python -I -S _supervise.py RUNNER_PID STOPPED_LIMIT_S -- /bin/sh -c CMD

Started by :func:`flowwidgets.runner._shell.run_shell` as the leader of the step's own
session (standard library only, run by path: no import of flowwidgets). It starts the
command in its session and waits for it, and kills the whole session (SIGTERM, then
SIGKILL a second later) when

- the runner dies (its parent pid changes; checked every :data:`POLL_S` seconds, and at
  once on SIGUSR1): a ``kill -9`` of the runner no longer leaves steps running that a
  restart would run again. ``PR_SET_PDEATHSIG`` would need ``ctypes``, whose import
  costs more than the polling (50-150 ms per step here), so it is not used;
- the runner has been stopped (SIGSTOP, Ctrl-Z) for more than ``STOPPED_LIMIT_S``
  seconds (0: never): a peer may declare it dead and run the step again, so the first
  copy must not keep running meanwhile.

It ignores SIGTERM/SIGINT/SIGHUP sent to the session (they are for the command; the
supervisor stays to report how the command ended) and exits as the command did: its
exit status, or killed by the same signal.
"""

from __future__ import annotations

import os
import sys
import time

# the C module: ``signal`` imports ``enum``, which costs more than the rest of this file
signal = __import__("_signal" if "_signal" in sys.builtin_module_names else "signal")

GRACE_S = 1.0
POLL_S = 0.2


def _kill_session(sig: int) -> None:
    try:
        os.killpg(0, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _stopped(pid: int) -> bool:
    """True while process ``pid`` is stopped (Linux /proc; False where it cannot tell)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return False
    return data[data.rindex(b")") + 2:][:1] in (b"T", b"t")


def main(argv: list[str]) -> None:
    parent, limit = int(argv[1]), float(argv[2])
    command = argv[argv.index("--") + 1:]
    watched = {signal.SIGCHLD, signal.SIGUSR1, signal.SIGTERM, signal.SIGINT, signal.SIGHUP}
    before = signal.pthread_sigmask(signal.SIG_BLOCK, watched)
    if os.getppid() != parent:  # the runner died before we could ask to be told
        sys.exit(137)
    child = os.fork()
    if child == 0:  # pragma: no cover - replaced by exec
        try:
            signal.pthread_sigmask(signal.SIG_SETMASK, before)
            os.execv(command[0], command)
        finally:
            os._exit(127)
    stopped_since: float | None = None
    killing_since: float | None = None
    while True:
        got = signal.sigtimedwait(watched, POLL_S)
        done, status = os.waitpid(child, os.WNOHANG)
        if done:
            break
        now = time.monotonic()
        why = None
        if (got is not None and got.si_signo == signal.SIGUSR1) or os.getppid() != parent:
            why = "its runner died"
        elif limit > 0 and _stopped(parent):
            stopped_since = stopped_since if stopped_since is not None else now
            if now - stopped_since > limit:
                why = f"its runner was stopped for more than {limit:g} s (a peer may run it)"
        else:
            stopped_since = None
        if why is not None and killing_since is None:
            killing_since = now
            _kill_session(signal.SIGTERM)
            try:  # the runner's end of the pipe may be gone
                print(f"\n[flowwidgets: step killed: {why}]", file=sys.stderr, flush=True)
            except OSError:
                pass
        elif killing_since is not None and now - killing_since >= GRACE_S:
            _kill_session(signal.SIGKILL)
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        signal.signal(sig, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {sig})
        os.kill(os.getpid(), sig)
    sys.exit(os.waitstatus_to_exitcode(status) if not os.WIFSIGNALED(status) else 128)


if __name__ == "__main__":
    main(sys.argv)
