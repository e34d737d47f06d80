"""``call`` steps: the context they receive, resolving ``"pkg.module:function"``, calling.

Targets are imported with the pipelines' ``base_dir`` on ``sys.path`` (prepended once
and left there) and cached by the executor: edit a jobs module, restart the runner.
"""

from __future__ import annotations

import importlib
import inspect
import sys
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flowwidgets.runner import _capture
from flowwidgets.runner._capture import LogTail
from flowwidgets.runner._pool import RunState
from flowwidgets.runner.store import RunLog

__all__ = ["CallTarget", "StepContext", "clip", "invoke", "resolve"]

ERROR_CHARS = 8192
"""Longest error text stored (the end is kept: its last line is the summary)."""


class StepContext:
    """What a ``call`` step receives as ``ctx`` (when it declares that parameter)."""

    __slots__ = ("run_id", "pipeline", "step", "attempt", "inputs", "data_dir", "watermark",
                 "_store", "_tail", "_run", "_abandoned")

    def __init__(self, *, run_id: str, pipeline: str, step: str, attempt: int,
                 inputs: dict[str, Any], data_dir: Path, watermark: str | None,
                 store: RunLog, tail: LogTail, run: RunState, abandoned: threading.Event):
        self.run_id = run_id
        self.pipeline = pipeline
        self.step = step
        self.attempt = attempt
        """1-based attempt number."""
        self.inputs = inputs
        """Outputs of the upstream steps, by step name."""
        self.data_dir = data_dir
        """The runner's working directory."""
        self.watermark = watermark
        """The last committed watermark (streaming): where a resumed run continues."""
        self._store = store
        self._tail = tail
        self._run = run
        self._abandoned = abandoned

    def log(self, msg: object) -> None:
        """Append a line to this attempt's log tail."""
        self._tail.write(f"{msg}\n")

    def commit(self, watermark: str, rows: int = 0) -> None:
        """Record progress: the pipeline's new watermark and the rows since the last one."""
        value = str(watermark)
        self._store.commit_watermark(self.run_id, self.pipeline, value, rows)
        self.watermark = value
        self._run.watermark = value

    def should_stop(self) -> bool:
        """True once the runner is stopping, the run was cancelled or given up (a peer
        recovered it, or the runner was cut off from its run log) or this attempt timed
        out: finish the current batch, commit, and return (after a cancel, what the
        function returns is discarded)."""
        return (self._run.stop_event.is_set() or self._run.cancel_event.is_set()
                or self._run.lost.is_set() or self._abandoned.is_set())

    def __repr__(self) -> str:
        return (f"StepContext(run_id={self.run_id!r}, step={self.step!r}, "
                f"attempt={self.attempt})")


@dataclass(frozen=True, slots=True)
class CallTarget:
    """A resolved ``call`` target and which keyword arguments it accepts."""

    fn: Callable[..., Any]
    takes_ctx: bool
    takes_all: bool
    """It has ``**kwargs``: every upstream output is passed."""
    names: frozenset[str]

    def kwargs(self, inputs: dict[str, Any], ctx: StepContext) -> dict[str, Any]:
        """The keyword arguments for one call."""
        out = {k: v for k, v in inputs.items() if self.takes_all or k in self.names}
        if self.takes_ctx:
            out["ctx"] = ctx
        return out


def resolve(spec: str, base_dir: Path) -> CallTarget:
    """Import ``"pkg.module:function"`` (``base_dir`` on ``sys.path``)."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ValueError(f"call target {spec!r} must look like 'package.module:function'")
    base = str(base_dir)
    if base not in sys.path:
        sys.path.insert(0, base)
    importlib.invalidate_caches()  # modules written since the last import are found
    obj: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    if not callable(obj):
        raise TypeError(f"{spec} is a {type(obj).__name__}, not a function")
    params = inspect.signature(obj).parameters.values()
    keyword = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    names = frozenset(p.name for p in params if p.kind in keyword)
    return CallTarget(obj, "ctx" in names,
                      any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params),
                      names - {"ctx"})


def invoke(fn: Callable[..., Any], kwargs: dict[str, Any], tail: LogTail
           ) -> tuple[bool, Any, str | None]:
    """Call ``fn`` with this thread's output captured; (succeeded, output, error). The
    error is the formatted traceback without this frame; its last line is the summary."""
    with _capture.capture(tail):
        try:
            return True, fn(**kwargs), None
        except BaseException as exc:  # a step may raise anything, SystemExit included
            tb = exc.__traceback__.tb_next if exc.__traceback__ is not None else None
            text = "".join(traceback.format_exception(type(exc), exc, tb)).rstrip()
            return False, None, clip(text)


def clip(text: str) -> str:
    """Keep the end of a long error (its last line says what went wrong)."""
    if len(text) <= ERROR_CHARS:
        return text
    return "…" + text[-(ERROR_CHARS - 1):]
