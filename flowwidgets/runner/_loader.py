"""Read a pipelines YAML file into :class:`Pipelines` and validate it before anything runs.

Every problem is a :class:`~flowwidgets.errors.SpecError` that names the file, the line of
the offending key or step and the fix. The YAML is composed into nodes (which keep their
line) and walked, so a line is known for every key. :func:`validate` runs the same checks
on pipelines built in Python; their errors carry ``StepSpec.line``/``PipelineSpec.line``,
which is None there.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml

from flowwidgets.errors import SpecError
from flowwidgets.runner._spec_checks import PIPELINE_KEYS, STEP_KEYS, Lines, Where, check, suggest
from flowwidgets.runner.spec import Pipelines, PipelineSpec, StepSpec

__all__ = ["load_file", "validate"]

_NULL_IS_ABSENT = {"schedule", "description", "call", "run", "timeout_s"}
"""Keys whose ``null`` value means 'not given' (their default is None)."""
_YAMLLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's parser when PyYAML has it (about 10x faster); nodes keep their marks either way."""
MAX_EXPANDED_NODES = 100_000
"""Most YAML nodes a file may stand for once its aliases are expanded. A real pipelines
file has a few thousand; nested aliases ("billion laughs") multiply past this in a few
hundred bytes and are refused before anything is built from them."""


def load_file(path: Path) -> Pipelines:
    """Read, parse and validate the pipelines file at ``path``; raise SpecError on any problem."""
    path = Path(path)
    where = str(path)
    text = _read_text(path, where)
    loader = _YAMLLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            raise SpecError("the file is empty; it needs a top-level 'pipelines:' list",
                            path=where, line=1)
        _check_expansion(root, where)
        specs, pipe_lines, step_lines = _Reader(loader, where).read(root)
    except yaml.MarkedYAMLError as e:
        raise _yaml_error(e, text, where) from None
    except yaml.YAMLError as e:
        raise SpecError(f"invalid YAML: {e}", path=where) from None
    finally:
        loader.dispose()
    base_dir = path.resolve().parent
    pipelines = Pipelines(pipelines=specs, path=path.resolve(), base_dir=base_dir)
    check(pipelines, Where(where, pipe_lines, step_lines))
    return pipelines


def _read_text(path: Path, where: str) -> str:
    """The file's text, or a SpecError naming the file and why it cannot be read."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise SpecError("cannot read the pipelines file: no such file", path=where) from None
    except IsADirectoryError:
        raise SpecError("cannot read the pipelines file: it is a directory; name the YAML "
                        "file inside it", path=where) from None
    except PermissionError:
        raise SpecError("cannot read the pipelines file: permission denied",
                        path=where) from None
    except OSError as e:
        raise SpecError(f"cannot read the pipelines file: {e.strerror or e}",
                        path=where) from None
    nul = data.find(b"\0")
    if nul >= 0:
        raise SpecError("cannot read the pipelines file: it is binary (a NUL byte at offset "
                        f"{nul}), not YAML text", path=where)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        raise SpecError(f"cannot read the pipelines file: it is not UTF-8 text (byte "
                        f"0x{data[e.start]:02x} at offset {e.start}); save it as UTF-8",
                        path=where, line=line) from None


def validate(pipelines: Pipelines | Sequence[PipelineSpec]) -> None:
    """Check pipelines built in Python the way a file is checked; raise SpecError if invalid.

    ``call`` targets are imported with ``pipelines.base_dir`` on ``sys.path``. Errors carry
    the specs' ``line`` (None for pipelines built in Python).
    """
    if not isinstance(pipelines, Pipelines):
        pipelines = Pipelines(pipelines=tuple(pipelines))
    where = str(pipelines.path) if pipelines.path is not None else None
    check(pipelines, Where(where, {}, {}))


# ---------------------------------------------------------------------------- YAML → specs


def _yaml_error(e: yaml.MarkedYAMLError, text: str, where: str) -> SpecError:
    mark = e.problem_mark or e.context_mark
    line = mark.line + 1 if mark is not None else None
    problem = str(e.problem or e.context)
    if e.context and e.problem:
        started = e.context_mark.line + 1 if e.context_mark is not None else line
        problem += f" ({e.context}" + (f" that starts on line {started})"
                                       if started != line else ")")
    hint = ""
    src = text.splitlines()[line - 1] if line and line <= len(text.splitlines()) else ""
    if "*" in src or "alias" in problem:
        hint = '; quote values that contain "*", e.g. schedule: "*/15 * * * *"'
    elif "\t" in src:
        hint = "; YAML indents with spaces, not tabs"
    return SpecError(f"invalid YAML: {problem}{hint}", path=where, line=line)


class _Reader:
    """Walks composed YAML nodes into specs, recording the line of every key."""

    def __init__(self, loader: Any, where: str):
        self.loader = loader
        self.where = where

    def fail(self, message: str, line: int | None) -> SpecError:
        return SpecError(message, path=self.where, line=line)

    def read(self, root: yaml.Node
             ) -> tuple[tuple[PipelineSpec, ...], dict[int, Lines], dict[tuple[int, int], Lines]]:
        if not isinstance(root, yaml.MappingNode):
            fix = ("; put 'pipelines:' on the first line and indent the list under it"
                   if isinstance(root, yaml.SequenceNode) else "")
            raise self.fail(f"the file must be a mapping with a 'pipelines' list{fix}",
                            _line(root))
        top, unknown = self.mapping(root, ("pipelines",), extra_ok=lambda k: k.startswith("x-"))
        for key, line in unknown:
            raise self.fail(f"unknown top-level key {key!r}{suggest(key, ('pipelines',))}; "
                            "the file has one key, 'pipelines' (keys starting with 'x-' "
                            "may hold YAML anchors)", line)
        if "pipelines" not in top:
            raise self.fail("the file has no 'pipelines' key; add 'pipelines:' with a list "
                            "of pipelines under it", _line(root))
        node, line = top["pipelines"]
        if not isinstance(node, yaml.SequenceNode) or not node.value:
            raise self.fail("'pipelines' must be a non-empty list, one '- name: ...' entry "
                            "per pipeline", line)
        specs: list[PipelineSpec] = []
        pipe_lines: dict[int, Lines] = {}
        step_lines: dict[tuple[int, int], Lines] = {}
        for i, pnode in enumerate(node.value):
            spec, lines, slines = self.pipeline(i, pnode)
            specs.append(spec)
            pipe_lines[i] = lines
            step_lines.update({(i, j): sl for j, sl in enumerate(slines)})
        return tuple(specs), pipe_lines, step_lines

    def pipeline(self, i: int, node: yaml.Node) -> tuple[PipelineSpec, Lines, list[Lines]]:
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(f"pipeline #{i + 1} must be a mapping (name:, steps:, ...)",
                            _line(node))
        keys, unknown = self.mapping(node, PIPELINE_KEYS)
        label = f"pipeline {self._name(keys) or f'#{i + 1}'}"
        for key, line in unknown:
            fix = (f"{key!r} is a step key; move it under a step of {label}"
                   if key in STEP_KEYS else f"keys of a pipeline: {', '.join(PIPELINE_KEYS)}")
            raise self.fail(f"unknown key {key!r} in {label}{suggest(key, PIPELINE_KEYS)}; "
                            f"{fix}", line)
        values = self.values(keys, exclude=("steps",))
        values.setdefault("name", None)
        steps: list[StepSpec] = []
        step_lines: list[Lines] = []
        if "steps" in keys:  # a missing 'steps' is reported by the checks, at the pipeline
            snode, sline = keys["steps"]
            if not isinstance(snode, yaml.SequenceNode) or not snode.value:
                raise self.fail(f"'steps' of {label} must be a non-empty list, one "
                                "'- name: ...' entry per step", sline)
            for j, st in enumerate(snode.value):
                step, sl = self.step(label, j, st)
                steps.append(step)
                step_lines.append(sl)
        lines: Lines = {k: ln for k, (_, ln) in keys.items()} | {None: _line(node)}
        return PipelineSpec(steps=tuple(steps), line=_line(node), **values), lines, step_lines

    def step(self, label: str, j: int, node: yaml.Node) -> tuple[StepSpec, Lines]:
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(f"step #{j + 1} of {label} must be a mapping (name:, call: or "
                            "run:, ...)", _line(node))
        keys, unknown = self.mapping(node, STEP_KEYS)
        slabel = f"step {self._name(keys) or f'#{j + 1}'} of {label}"
        for key, line in unknown:
            fix = (f"{key!r} is a pipeline key; move it up to {label}"
                   if key in PIPELINE_KEYS else f"keys of a step: {', '.join(STEP_KEYS)}")
            raise self.fail(f"unknown key {key!r} in {slabel}{suggest(key, STEP_KEYS)}; "
                            f"{fix}", line)
        values = self.values(keys, exclude=("depends_on",))
        if "depends_on" in keys:
            dnode, dline = keys["depends_on"]
            if not isinstance(dnode, yaml.SequenceNode):
                raise self.fail(f"'depends_on' of {slabel} must be a list of step names, "
                                "e.g. depends_on: [fetch]", dline)
            values["depends_on"] = tuple(self.loader.construct_object(d, deep=True)
                                         for d in dnode.value)
        lines: Lines = {k: ln for k, (_, ln) in keys.items()} | {None: _line(node)}
        values.setdefault("name", None)
        return StepSpec(line=_line(node), **values), lines

    def mapping(self, node: yaml.MappingNode, allowed: Sequence[str],
                extra_ok: Callable[[str], bool] = lambda k: False
                ) -> tuple[dict[str, tuple[yaml.Node, int]], list[tuple[str, int]]]:
        """Keys of ``node`` → (value node, line); unknown keys listed apart, in file order."""
        seen: dict[str, int] = {}
        for knode, _ in node.value:  # duplicates among the mapping's own keys are mistakes
            if not isinstance(knode, yaml.ScalarNode):
                raise self.fail("a key must be a plain word, not a list or mapping",
                                _line(knode))
            if knode.tag == "tag:yaml.org,2002:merge":
                continue
            if knode.value in seen:
                raise self.fail(f"key {knode.value!r} appears twice in the same mapping (first "
                                f"on line {seen[knode.value]}); keep one", _line(knode))
            seen[knode.value] = _line(knode)
        self.loader.flatten_mapping(node)  # '<<: *anchor' merges; own keys override merged
        out: dict[str, tuple[yaml.Node, int]] = {}
        unknown: list[tuple[str, int]] = []
        for knode, vnode in node.value:
            key = knode.value
            if key in allowed:
                out[key] = (vnode, _line(knode))
            elif not extra_ok(key) and key not in dict(unknown):
                unknown.append((key, _line(knode)))
        return out, unknown

    def values(self, keys: dict[str, tuple[yaml.Node, int]],
               exclude: Sequence[str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, (vnode, _) in keys.items():
            if key in exclude:
                continue
            value = self.loader.construct_object(vnode, deep=True)
            if value is None and key in _NULL_IS_ABSENT:
                continue
            out[key] = value
        return out

    def _name(self, keys: dict[str, tuple[yaml.Node, int]]) -> str | None:
        node = keys.get("name", (None, 0))[0]
        if isinstance(node, yaml.ScalarNode) and node.value:
            return repr(node.value)
        return None


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _check_expansion(root: yaml.Node, where: str) -> None:
    """Refuse a document whose aliases expand past :data:`MAX_EXPANDED_NODES` nodes, or
    refer to themselves. Linear in the distinct nodes: a shared (anchored) node's
    expanded size is computed once."""
    sizes: dict[int, int] = {}
    open_: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            open_.discard(key)
            children = _children(node)
            size = 1 + sum(sizes[id(c)] for c in children)
            if size > MAX_EXPANDED_NODES:
                raise SpecError(
                    f"YAML aliases expand to more than {MAX_EXPANDED_NODES:,} values "
                    "(nested anchors, a 'billion laughs' file); refused before expanding it",
                    path=where, line=_line(node))
            sizes[key] = size
            continue
        if key in sizes:
            continue
        if key in open_:
            raise SpecError("a YAML anchor refers to itself (a recursive alias); remove it",
                            path=where, line=_line(node))
        open_.add(key)
        stack.append((node, True))
        stack.extend((c, False) for c in _children(node) if id(c) not in sizes)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []


