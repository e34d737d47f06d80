"""The checks behind :func:`flowwidgets.runner._loader.validate`, shared by files and Python.

Each check raises :class:`~flowwidgets.errors.SpecError` with the line a :class:`Where`
finds: the exact key's line for a file, the spec's ``line`` (None) for pipelines built in
Python. ``call`` targets are imported (with the pipelines' folder on ``sys.path``) only
after every other check passed, so nothing of the user's runs for an invalid file.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import math
import re
import reprlib
import sys
import threading
import traceback
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from croniter import croniter

from flowwidgets.errors import SpecError
from flowwidgets.runner.spec import KINDS, Pipelines, PipelineSpec, StepSpec

__all__ = ["PIPELINE_KEYS", "STEP_KEYS", "Where", "check", "suggest"]

PIPELINE_KEYS = ("name", "kind", "schedule", "timezone", "description", "steps")
STEP_KEYS = ("name", "depends_on", "call", "run", "retries", "retry_delay_s", "timeout_s")
NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}\Z")
_DOTTED = r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*"
CALL_RE = re.compile(rf"({_DOTTED}):({_DOTTED})\Z")
MAX_RETRIES = 100
MAX_DELAY_S = 86400.0
CRON_ALIASES = {"@hourly": "0 * * * *", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
                "@weekly": "0 0 * * 0", "@monthly": "0 0 1 * *", "@yearly": "0 0 1 1 *",
                "@annually": "0 0 1 1 *"}
_IMPORT_LOCK = threading.Lock()

Lines = dict[str | None, int]
"""Line of a mapping (key None) and of each of its keys."""


class Where:
    """Finds the line of a pipeline or step (or one of its keys) for an error message."""

    def __init__(self, path: str | None, pipes: dict[int, Lines],
                 steps: dict[tuple[int, int], Lines]):
        self.path = path
        self.pipes = pipes
        self.steps = steps

    def pipe(self, i: int, spec: Any, key: str | None = None) -> int | None:
        lines = self.pipes.get(i)
        if lines is None:
            return getattr(spec, "line", None)
        return lines.get(key, lines[None])

    def step(self, i: int, j: int, spec: Any, key: str | None = None) -> int | None:
        lines = self.steps.get((i, j))
        if lines is None:
            return getattr(spec, "line", None)
        return lines.get(key, lines[None])

    def fail(self, message: str, line: int | None) -> SpecError:
        return SpecError(message, path=self.path, line=line)


def check(pipelines: Pipelines, where: Where) -> None:
    """Raise SpecError for the first problem of ``pipelines``, imports of ``call`` last."""
    specs = pipelines.pipelines
    if not specs:
        raise where.fail("there are no pipelines; declare at least one", None)
    first_line: dict[str, int | None] = {}
    for i, p in enumerate(specs):
        if not isinstance(p, PipelineSpec):
            raise where.fail(f"pipeline #{i + 1} is a {type(p).__name__}, not a PipelineSpec",
                             None)
        _check_name(p.name, f"pipeline #{i + 1}", where, where.pipe(i, p, "name"))
        if p.name in first_line:
            at = f" (first on line {first_line[p.name]})" if first_line[p.name] else ""
            raise where.fail(f"pipeline name {p.name!r} is used twice{at}; pipeline names "
                             "must be unique", where.pipe(i, p, "name"))
        first_line[p.name] = where.pipe(i, p, "name")
        _check_pipeline(i, p, where)
    for i, p in enumerate(specs):
        for j, s in enumerate(p.steps):
            if s.call is not None:
                _check_call(s, p, pipelines.base_dir, where, where.step(i, j, s, "call"))


def _check_pipeline(i: int, p: PipelineSpec, where: Where) -> None:
    label = f"pipeline {p.name!r}"
    if p.kind not in KINDS:
        raise where.fail(f"kind of {label} must be 'batch' or 'streaming', got "
                         f"{_show(p.kind)}", where.pipe(i, p, "kind"))
    if p.schedule is not None:
        line = where.pipe(i, p, "schedule")
        if p.kind == "streaming":
            raise where.fail(f"{label} is streaming: it runs until stopped and has no "
                             "schedule; remove 'schedule' and start it with run-now", line)
        _check_cron(p.schedule, label, where, line)
    if not isinstance(p.timezone, str) or not p.timezone:
        raise where.fail(f"timezone of {label} must be an IANA name such as "
                         f"'America/Chicago', got {_show(p.timezone)}",
                         where.pipe(i, p, "timezone"))
    try:
        ZoneInfo(p.timezone)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: 'America' is a folder
        hint = suggest(p.timezone, sorted(available_timezones()))
        raise where.fail(f"unknown timezone {p.timezone!r} in {label}{hint}; use an IANA "
                         "name such as 'UTC' or 'Europe/Berlin'",
                         where.pipe(i, p, "timezone")) from None
    if p.description is not None and not isinstance(p.description, str):
        raise where.fail(f"description of {label} must be text, got {_show(p.description)}",
                         where.pipe(i, p, "description"))
    if not isinstance(p.steps, tuple | list) or not p.steps:
        raise where.fail(f"{label} has no steps; add 'steps:' with at least one step",
                         where.pipe(i, p, "steps"))
    index: dict[str, int] = {}
    for j, s in enumerate(p.steps):
        if not isinstance(s, StepSpec):
            raise where.fail(f"step #{j + 1} of {label} is a {type(s).__name__}, not a "
                             "StepSpec", where.pipe(i, p, "steps"))
        _check_name(s.name, f"step #{j + 1} of {label}", where, where.step(i, j, s, "name"))
        if s.name in index:
            k = index[s.name]
            first = where.step(i, k, p.steps[k], "name")
            at = f" (first on line {first})" if first else ""
            raise where.fail(f"step {s.name!r} appears twice in {label}{at}; step names must "
                             "be unique within a pipeline", where.step(i, j, s, "name"))
        index[s.name] = j
        def line_of(key: str | None, j: int = j, s: StepSpec = s) -> int | None:
            return where.step(i, j, s, key)

        _check_step(s, label, where, line_of)
    for j, s in enumerate(p.steps):
        for d in s.depends_on:
            if d not in index:
                raise where.fail(f"step {s.name!r} depends on {d!r}, which is not a step "
                                 f"of {label}{suggest(str(d), list(index))}; steps are: "
                                 f"{', '.join(index)}", where.step(i, j, s, "depends_on"))
    cycle = _find_cycle(p.steps, index)
    if cycle:
        head = p.steps[cycle[0]]
        names = [p.steps[k].name for k in cycle]
        raise where.fail(f"dependency cycle in {label}: {' → '.join(names + names[:1])}; a "
                         f"step cannot wait for itself: remove {names[-1]!r} from the "
                         f"depends_on of {names[0]!r} (or break another link)",
                         where.step(i, cycle[0], head, "depends_on"))


def _check_step(s: StepSpec, pipe: str, where: Where,
                line: Callable[[str | None], Any]) -> None:
    label = f"step {s.name!r} of {pipe}"
    if not isinstance(s.depends_on, tuple | list):
        raise where.fail(f"depends_on of {label} must be a list of step names, got "
                         f"{_show(s.depends_on)}", line("depends_on"))
    seen: set[Any] = set()
    for d in s.depends_on:
        if not isinstance(d, str):
            raise where.fail(f"depends_on of {label} must list step names (text), got "
                             f"{_show(d)}", line("depends_on"))
        if d in seen:
            raise where.fail(f"{label} lists {d!r} twice in depends_on; list it once",
                             line("depends_on"))
        seen.add(d)
    if (s.call is None) == (s.run is None):
        what = "both 'call' and 'run'" if s.call is not None else "neither 'call' nor 'run'"
        raise where.fail(f"{label} has {what}; give exactly one: call: \"package.module:"
                         "function\" or run: \"shell command\"",
                         line("run" if s.call is not None else None))
    if s.run is not None and (not isinstance(s.run, str) or not s.run.strip()):
        raise where.fail(f"run of {label} must be a non-empty shell command, got "
                         f"{_show(s.run)}", line("run"))
    if s.call is not None and (not isinstance(s.call, str) or not CALL_RE.match(s.call)):
        raise where.fail(f"call of {label} must look like 'package.module:function', got "
                         f"{_show(s.call)}", line("call"))
    if isinstance(s.retries, bool) or not isinstance(s.retries, int) or not (
            0 <= s.retries <= MAX_RETRIES):
        raise where.fail(f"retries of {label} must be a whole number from 0 to {MAX_RETRIES}"
                         f" (extra attempts after a failure), got {_show(s.retries)}",
                         line("retries"))
    if not _number_in(s.retry_delay_s, 0, MAX_DELAY_S):
        raise where.fail(f"retry_delay_s of {label} must be a number of seconds from 0 to "
                         f"{MAX_DELAY_S:g}, got {_show(s.retry_delay_s)}", line("retry_delay_s"))
    if s.timeout_s is not None and not (_number_in(s.timeout_s, 0, math.inf)
                                        and s.timeout_s > 0):
        raise where.fail(f"timeout_s of {label} must be a number of seconds above 0 (or "
                         f"left out for no timeout), got {_show(s.timeout_s)}", line("timeout_s"))


def _check_name(name: Any, label: str, where: Where, line: int | None) -> None:
    if name is None or name == "":
        raise where.fail(f"{label} has no name; add 'name: ...' (letters, digits, '_', '-', "
                         "'.')", line)
    if not isinstance(name, str):
        raise where.fail(f"name of {label} must be text, got {_show(name)}; in YAML quote "
                         "it, e.g. name: \"2024\"", line)
    if not NAME_RE.match(name):
        raise where.fail(f"name {name[:80]!r} of {label} may use only letters, digits, '_', "
                         "'-' and '.' (no spaces; not starting with '-' or '.'; at most 128 "
                         "characters)", line)


def _check_cron(expr: Any, label: str, where: Where, line: int | None) -> None:
    if not isinstance(expr, str):
        raise where.fail(f"schedule of {label} must be a quoted cron expression such as "
                         f"\"30 2 * * *\", got {_show(expr)}", line)
    if expr.strip() in CRON_ALIASES:
        raise where.fail(f"schedule of {label}: write {expr.strip()!r} as 5 fields: "
                         f"\"{CRON_ALIASES[expr.strip()]}\"", line)
    fields = expr.split()
    if len(fields) != 5:
        raise where.fail(f"schedule {expr!r} of {label} has {len(fields)} fields; a cron "
                         "expression has exactly 5: minute hour day-of-month month "
                         "day-of-week, e.g. \"30 2 * * *\"", line)
    if not croniter.is_valid(expr):
        raise where.fail(f"schedule {expr!r} of {label} is not a valid cron expression "
                         "(minute 0-59, hour 0-23, day 1-31, month 1-12, weekday 0-6)", line)
    try:
        croniter(expr, datetime.now(UTC)).get_next(datetime)
    except (ValueError, KeyError):
        raise where.fail(f"schedule {expr!r} of {label} never fires (no such date); check "
                         "the day and month fields", line) from None


def _find_cycle(steps: Sequence[StepSpec], index: dict[str, int]) -> list[int] | None:
    """Indices of a dependency cycle in flow order, starting at its first-declared step."""
    state: dict[int, int] = {}  # 1 on the current path, 2 finished
    for root in range(len(steps)):
        if root in state:
            continue
        path = [root]
        stack = [iter(steps[root].depends_on)]
        state[root] = 1
        while stack:
            dep = next(stack[-1], None)
            if dep is None:
                state[path.pop()] = 2
                stack.pop()
                continue
            k = index[dep]
            if state.get(k) == 1:  # path[n] depends on path[n + 1]; the last depends on k
                cyc = path[path.index(k):][::-1]  # flow order: each feeds the next
                start = cyc.index(min(cyc))
                return cyc[start:] + cyc[:start]
            if k not in state:
                state[k] = 1
                path.append(k)
                stack.append(iter(steps[k].depends_on))
    return None


def _check_call(s: StepSpec, p: PipelineSpec, base_dir: Path, where: Where,
                line: int | None) -> None:
    label = f"step {s.name!r} of pipeline {p.name!r}"
    match = CALL_RE.match(s.call or "")
    assert match is not None  # checked by _check_step before any import
    module_name, attr = match.groups()
    module = _import(module_name, Path(base_dir), lambda msg: where.fail(
        f"call {s.call!r} of {label}: {msg}", line))
    target: Any = module
    for part in attr.split("."):
        if not hasattr(target, part):
            names = [n for n in dir(target) if not n.startswith("_")]
            raise where.fail(f"call {s.call!r} of {label}: {module_name!r} has no attribute "
                             f"{part!r}{suggest(part, names)}", line)
        target = getattr(target, part)
    if not callable(target):
        raise where.fail(f"call {s.call!r} of {label} names a {type(target).__name__}, not a "
                         "function", line)
    try:
        params = inspect.signature(target).parameters.values()
    except (TypeError, ValueError):  # some builtins have no signature; nothing to check
        return
    given = {"ctx", *s.depends_on}
    for prm in params:
        if prm.default is not prm.empty or prm.kind in (prm.VAR_POSITIONAL, prm.VAR_KEYWORD):
            continue
        if prm.kind is prm.POSITIONAL_ONLY or prm.name not in given:
            ups = ", ".join(s.depends_on) or "none"
            raise where.fail(f"call {s.call!r} of {label} requires parameter {prm.name!r}, "
                             "but a step function only receives 'ctx' and its upstream "
                             f"steps' outputs by name (upstream: {ups}); give it a default or "
                             "rename it", line)


def _import(name: str, base_dir: Path, fail: Callable[[str], SpecError]) -> Any:
    """Import ``name`` with ``base_dir`` first on sys.path, restoring sys.path afterwards."""
    entry = str(base_dir)
    with _IMPORT_LOCK:
        added = entry not in sys.path
        if added:
            sys.path.insert(0, entry)
        try:
            importlib.invalidate_caches()
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:
            raise fail(f"cannot import {name!r}: {e} (looked in {entry} and on the Python "
                       "path)") from None
        except (Exception, SystemExit) as e:
            frames = traceback.extract_tb(e.__traceback__)
            at = f" at {frames[-1].filename}:{frames[-1].lineno}" if frames else ""
            raise fail(f"importing {name!r} raised {type(e).__name__}: {e}{at}") from None
        finally:
            if added and entry in sys.path:
                sys.path.remove(entry)
    top = name.split(".")[0]
    local = base_dir / top
    if local.with_suffix(".py").is_file() or local.is_dir():
        origins = [getattr(sys.modules[top], "__file__", None),
                   *getattr(sys.modules[top], "__path__", [])]
        found = [Path(o).resolve() for o in origins if o]
        if found and not any(f.is_relative_to(base_dir.resolve()) for f in found):
            raise fail(f"module {top!r} is already imported from {found[0]}, so {local} would "
                       "be ignored; give the module a name no other package uses")
    return module


def _number_in(value: Any, lo: float, hi: float) -> bool:
    return (isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(value) and lo <= value <= hi)


def suggest(word: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


_REPR = reprlib.Repr()
"""Bounded repr: a value from a file is shown, never expanded whole (alias bombs)."""
_REPR.maxlevel, _REPR.maxlist, _REPR.maxtuple, _REPR.maxdict = 3, 4, 4, 4
_REPR.maxstring = _REPR.maxother = 60


def _show(value: Any) -> str:
    text = _REPR.repr(value)
    text = text if len(text) <= 80 else text[:77] + "..."
    return f"{text} ({type(value).__name__})"
