"""flowwidgets: watch data pipelines from Jupyter — cards, a jobs table and run DAGs.

    import flowwidgets as fw
    src = fw.connect("http://127.0.0.1:8005")   # default: $RUNNER_STATUS_URL
    fw.Dashboard(src)
    fw.runs_frame(src)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from flowwidgets import errors
from flowwidgets.models import (
    Actions,
    Attempt,
    Pipeline,
    Run,
    RunDetail,
    RunPage,
    Status,
    Step,
)

# Heavier parts (pandas, FastAPI/uvicorn, anywidget) load on first use, so
# `flowwidgets --help` and `import flowwidgets` stay quick.
_LAZY = {
    "failure_groups": "flowwidgets.history",
    "failure_signature": "flowwidgets.history",
    "step_grid": "flowwidgets.history",
    "pipeline_summary": "flowwidgets.frames",
    "runs_frame": "flowwidgets.frames",
    "runs_to_frame": "flowwidgets.frames",
    "step_failures": "flowwidgets.frames",
    "steps_frame": "flowwidgets.frames",
    "LocalRunner": "flowwidgets.runner",
    "serve_in_thread": "flowwidgets.runner",
    "load_pipelines": "flowwidgets.runner",
    "AsyncSource": "flowwidgets.sources",
    "Source": "flowwidgets.sources",
    "StubModeWarning": "flowwidgets.sources",
    "connect": "flowwidgets.sources",
    "connect_async": "flowwidgets.sources",
    "Dashboard": "flowwidgets.widgets",
    "HistoryView": "flowwidgets.widgets",
    "JobsTable": "flowwidgets.widgets",
    "PipelineCards": "flowwidgets.widgets",
    "RunCompare": "flowwidgets.widgets",
    "RunView": "flowwidgets.widgets",
    "Timeline": "flowwidgets.widgets",
}

if TYPE_CHECKING:
    from flowwidgets.frames import (
        pipeline_summary,
        runs_frame,
        runs_to_frame,
        step_failures,
        steps_frame,
    )
    from flowwidgets.history import failure_groups, failure_signature, step_grid
    from flowwidgets.runner import LocalRunner, load_pipelines, serve_in_thread
    from flowwidgets.sources import (
        AsyncSource,
        Source,
        StubModeWarning,
        connect,
        connect_async,
    )
    from flowwidgets.widgets import (
        Dashboard,
        HistoryView,
        JobsTable,
        PipelineCards,
        RunCompare,
        RunView,
        Timeline,
    )


_MOVED = {
    "LiveEvent": "flowwidgets.live",
    "Poller": "flowwidgets.live",
    "ServerHandle": "flowwidgets.runner",
    "PipelineSpec": "flowwidgets.runner",
    "Pipelines": "flowwidgets.runner",
    "StepSpec": "flowwidgets.runner",
    "FlavourProbe": "flowwidgets.sources",
    "register_flavour": "flowwidgets.sources",
}
"""Plumbing that was top-level once: still found, with a DeprecationWarning naming its home."""


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None and name in _MOVED:
        import warnings

        warnings.warn(f"flowwidgets.{name} moved: from {_MOVED[name]} import {name}",
                      DeprecationWarning, stacklevel=2)
        return getattr(importlib.import_module(_MOVED[name]), name)
    if module is None:
        raise AttributeError(f"module 'flowwidgets' has no attribute {name!r}")
    try:
        value = getattr(importlib.import_module(module), name)
    except ModuleNotFoundError as exc:
        from flowwidgets._extras import MissingExtra, extra_of

        extra = extra_of(exc.name)
        if extra is None:
            raise
        raise MissingExtra(f"flowwidgets.{name}", extra, [str(exc.name)]) from None
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__version__ = "0.1.0"

__all__ = [
    "Actions",
    "AsyncSource",
    "Attempt",
    "Dashboard",
    "HistoryView",
    "JobsTable",
    "LocalRunner",
    "Pipeline",
    "PipelineCards",
    "Run",
    "RunCompare",
    "RunDetail",
    "RunPage",
    "RunView",
    "Source",
    "Status",
    "Step",
    "StubModeWarning",
    "Timeline",
    "__version__",
    "connect",
    "connect_async",
    "errors",
    "failure_groups",
    "failure_signature",
    "load_pipelines",
    "pipeline_summary",
    "runs_frame",
    "runs_to_frame",
    "serve_in_thread",
    "step_failures",
    "step_grid",
    "steps_frame",
]
