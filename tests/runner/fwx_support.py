"""Helpers shared by the runner engine tests (executor, scheduler, LocalRunner)."""

from __future__ import annotations

from pathlib import Path

from flowwidgets.runner.executor import Executor
from flowwidgets.runner.spec import Pipelines, PipelineSpec, StepSpec
from flowwidgets.runner.store import RunLog, RunRecord

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def call(name: str, fn: str, deps: tuple[str, ...] | list[str] = (), **kw) -> StepSpec:
    """A ``call`` step running ``fwx_jobs.<fn>``."""
    return StepSpec(name, depends_on=tuple(deps), call=f"fwx_jobs:{fn}", **kw)


def shell(name: str, cmd: str, deps: tuple[str, ...] | list[str] = (), **kw) -> StepSpec:
    """A ``run`` step."""
    return StepSpec(name, depends_on=tuple(deps), run=cmd, **kw)


def pipelines(*specs: PipelineSpec) -> Pipelines:
    """Pipelines whose calls import from tests/runner/fixtures."""
    return Pipelines(pipelines=tuple(specs), base_dir=FIXTURES)


def executions(data_dir: Path) -> list[str]:
    """Step names in the order the fixtures' jobs ran (and cleared, for the next count)."""
    path = data_dir / "executions.log"
    if not path.exists():
        return []
    names = path.read_text().split()
    path.unlink()
    return names


def execute(store: RunLog, executor: Executor, spec: PipelineSpec, **create) -> RunRecord:
    """Create a run of ``spec``, claim it and execute it; the terminal record."""
    run_id, _ = store.create_run(pipeline=spec.name, kind=spec.kind,
                                 steps=[(s.name, s.depends_on) for s in spec.steps],
                                 trigger=create.pop("trigger", "manual"), **create)
    run = store.claim_requested("test-worker", pipelines=[spec.name])
    assert run is not None and run.run_id == run_id
    return executor.execute(run)
