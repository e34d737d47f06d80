"""Bounded log tails, and per-thread capture of ``print`` output for ``call`` steps.

``sys.stdout``/``sys.stderr`` are process-wide, so a step running in a worker thread
cannot redirect them with ``contextlib.redirect_stdout`` without stealing every other
thread's output. Instead, while at least one executor is open, both are replaced by a
router that sends each write to the :class:`LogTail` registered for the *writing
thread* (see :func:`capture`) and everything else to the stream it replaced. Output from
threads a step starts itself is not captured (it goes to the original stream).
"""

from __future__ import annotations

import sys
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["LogTail", "capture", "install", "uninstall"]

TAIL_CHARS = 4096
"""How much of an attempt's output is kept (the last characters)."""


class LogTail:
    """A text sink that keeps only its last ``limit`` characters (thread-safe)."""

    def __init__(self, limit: int = TAIL_CHARS):
        self.limit = limit
        self._parts: deque[str] = deque()
        self._size = 0
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        """Append ``text``; returns its length (file-like)."""
        if not text:
            return 0
        with self._lock:
            self._parts.append(text)
            self._size += len(text)
            while len(self._parts) > 1 and self._size - len(self._parts[0]) >= self.limit:
                self._size -= len(self._parts.popleft())
        return len(text)

    def flush(self) -> None:
        """Nothing to flush (file-like)."""

    def text(self) -> str:
        """The kept tail (at most ``limit`` characters)."""
        with self._lock:
            return "".join(self._parts)[-self.limit:]


_local = threading.local()
_lock = threading.Lock()
_users = 0
_saved: tuple[Any, Any] | None = None


class _Router:
    """Stands in for ``sys.stdout``/``sys.stderr``: per-thread tail, else the original."""

    def __init__(self, wrapped: Any):
        self._wrapped = wrapped

    def write(self, text: str) -> int:
        tail = getattr(_local, "tail", None)
        if tail is not None:
            return tail.write(text)
        return self._wrapped.write(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if getattr(_local, "tail", None) is None:
            self._wrapped.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._wrapped, name)


def install() -> None:
    """Route ``sys.stdout``/``sys.stderr`` through per-thread capture (reference counted)."""
    global _users, _saved
    with _lock:
        _users += 1
        if _users == 1:
            _saved = (sys.stdout, sys.stderr)
            sys.stdout = _Router(sys.stdout)
            sys.stderr = _Router(sys.stderr)


def uninstall() -> None:
    """Undo one :func:`install`; the last one puts the original streams back (unless
    someone replaced them since, in which case theirs are left alone)."""
    global _users, _saved
    with _lock:
        if _users == 0:
            return
        _users -= 1
        if _users == 0 and _saved is not None:
            out, err = _saved
            if isinstance(sys.stdout, _Router):
                sys.stdout = out
            if isinstance(sys.stderr, _Router):
                sys.stderr = err
            _saved = None


@contextmanager
def capture(tail: LogTail) -> Iterator[LogTail]:
    """Send this thread's ``print`` output to ``tail`` while the block runs."""
    previous = getattr(_local, "tail", None)
    _local.tail = tail
    try:
        yield tail
    finally:
        _local.tail = previous
