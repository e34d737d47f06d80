"""Pipeline specifications: what a pipelines file (or Python code) declares.

The model is plain frozen dataclasses so the same pipelines can be built from Python::

    PipelineSpec("orders", steps=(StepSpec("fetch", call="shop.jobs:fetch"),
                                  StepSpec("dedupe", depends_on=("fetch",), run="echo hi")))

``load_pipelines(path)`` reads the YAML form and validates it before anything runs; every
problem is a :class:`~flowwidgets.errors.SpecError` naming the file, the line and the fix.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["PipelineSpec", "Pipelines", "StepSpec", "load_pipelines"]

KINDS = ("batch", "streaming")


@dataclass(frozen=True, slots=True)
class StepSpec:
    """One step: what it runs, what it waits for, how it is retried.

    Exactly one of ``call`` (``"package.module:function"``) or ``run`` (a shell command)
    is set. A ``call`` target receives its upstream steps' outputs as keyword arguments
    named after those steps (or all of them through ``**inputs``), and a
    :class:`~flowwidgets.runner.executor.StepContext` as ``ctx`` if it has a parameter of
    that name; it returns a JSON-serialisable output.
    """

    name: str
    depends_on: tuple[str, ...] = ()
    call: str | None = None
    run: str | None = None
    retries: int = 0
    retry_delay_s: float = 0.0
    timeout_s: float | None = None
    line: int | None = None
    """Line of the step in its pipelines file, for error messages (None when built in Python)."""


@dataclass(frozen=True, slots=True)
class PipelineSpec:
    """A named DAG of steps, batch or streaming, optionally on a cron schedule."""

    name: str
    steps: tuple[StepSpec, ...]
    kind: str = "batch"
    schedule: str | None = None
    timezone: str = "UTC"
    description: str | None = None
    line: int | None = None

    def step(self, name: str) -> StepSpec:
        """The step called ``name`` (``KeyError`` if there is none)."""
        for s in self.steps:
            if s.name == name:
                return s
        raise KeyError(name)

    @property
    def step_names(self) -> tuple[str, ...]:
        """Step names in declaration order."""
        return tuple(s.name for s in self.steps)

    def downstream_of(self, name: str) -> set[str]:
        """Every step that depends, directly or transitively, on ``name`` (not ``name``)."""
        children: dict[str, list[str]] = {s.name: [] for s in self.steps}
        for s in self.steps:
            for d in s.depends_on:
                children.setdefault(d, []).append(s.name)
        out: set[str] = set()
        todo = list(children.get(name, ()))
        while todo:
            n = todo.pop()
            if n not in out:
                out.add(n)
                todo.extend(children.get(n, ()))
        return out


@dataclass(frozen=True, slots=True)
class Pipelines:
    """The pipelines of one file (or built in Python), in declaration order."""

    pipelines: tuple[PipelineSpec, ...]
    path: Path | None = None
    """The pipelines file, when loaded from one; its folder goes on ``sys.path`` for calls."""
    base_dir: Path = field(default_factory=Path.cwd)
    """Working directory for ``run`` steps and import root for ``call`` steps."""

    def __iter__(self) -> Iterator[PipelineSpec]:
        return iter(self.pipelines)

    def __len__(self) -> int:
        return len(self.pipelines)

    def __getitem__(self, name: str) -> PipelineSpec:
        for p in self.pipelines:
            if p.name == name:
                return p
        raise KeyError(name)

    def __contains__(self, name: object) -> bool:
        return any(p.name == name for p in self.pipelines)

    @property
    def names(self) -> tuple[str, ...]:
        """Pipeline names in declaration order."""
        return tuple(p.name for p in self.pipelines)


def load_pipelines(path: str | Path) -> Pipelines:
    """Read and validate a pipelines YAML file; raises SpecError with file and line."""
    from flowwidgets.runner._loader import load_file

    return load_file(Path(path))
