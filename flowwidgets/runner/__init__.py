"""The local runner: pipelines file, SQLite run log, executor, scheduler and status API.

Needs ``pip install 'flowwidgets[runner]'``. What a program (or a notebook that runs its
own pipelines) uses::

    from flowwidgets.runner import LocalRunner, load_pipelines, serve_in_thread
    runner = LocalRunner(load_pipelines("pipelines.yaml"))   # or [PipelineSpec(...), ...]
    handle = serve_in_thread(runner, port=0)                 # a ServerHandle: .url, .stop()

- :class:`LocalRunner`: runs pipelines on their schedules and on request, keeps every run
  in a :class:`RunLog` (:class:`SqliteRunLog` by default).
- :func:`load_pipelines` reads a pipelines file into :class:`Pipelines` of
  :class:`PipelineSpec` / :class:`StepSpec` (``path:line: message`` on a mistake).
- :func:`serve_in_thread` serves the status API (:func:`create_app`) with uvicorn and
  returns a :class:`ServerHandle`.

The names load on first use, so importing one submodule (``flowwidgets.runner.spec``)
does not start FastAPI. ``LocalRunner``, ``load_pipelines`` and ``serve_in_thread`` are
also at the top level (``fw.LocalRunner``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flowwidgets.runner._local import LocalRunner
    from flowwidgets.runner.api import create_app
    from flowwidgets.runner.serve import ServerHandle, serve_in_thread
    from flowwidgets.runner.spec import Pipelines, PipelineSpec, StepSpec, load_pipelines
    from flowwidgets.runner.sqlite import SqliteRunLog
    from flowwidgets.runner.store import RunLog, RunRecord, StepRecord

_LAZY = {
    "LocalRunner": "flowwidgets.runner._local",
    "PipelineSpec": "flowwidgets.runner.spec",
    "Pipelines": "flowwidgets.runner.spec",
    "RunLog": "flowwidgets.runner.store",
    "RunRecord": "flowwidgets.runner.store",
    "ServerHandle": "flowwidgets.runner.serve",
    "SqliteRunLog": "flowwidgets.runner.sqlite",
    "StepRecord": "flowwidgets.runner.store",
    "StepSpec": "flowwidgets.runner.spec",
    "create_app": "flowwidgets.runner.api",
    "load_pipelines": "flowwidgets.runner.spec",
    "serve_in_thread": "flowwidgets.runner.serve",
}

__all__ = [
    "LocalRunner",
    "PipelineSpec",
    "Pipelines",
    "RunLog",
    "RunRecord",
    "ServerHandle",
    "SqliteRunLog",
    "StepRecord",
    "StepSpec",
    "create_app",
    "load_pipelines",
    "serve_in_thread",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'flowwidgets.runner' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
