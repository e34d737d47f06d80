"""flowwidgets: watch data pipelines from Jupyter — cards, a jobs table and run DAGs.

    import flowwidgets as fw
    src = fw.connect("http://127.0.0.1:8005")   # default: $RUNNER_STATUS_URL
    fw.Dashboard(src)
    fw.runs_frame(src)
"""

from flowwidgets import errors
from flowwidgets.frames import pipeline_summary, runs_frame, step_failures, steps_frame
from flowwidgets.live import LiveEvent, Poller
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
from flowwidgets.runner._local import LocalRunner
from flowwidgets.runner.serve import ServerHandle, serve_in_thread
from flowwidgets.runner.spec import PipelineSpec, Pipelines, StepSpec, load_pipelines
from flowwidgets.sources import (
    AsyncSource,
    FlavourProbe,
    Source,
    StubModeWarning,
    connect,
    connect_async,
    register_flavour,
)
from flowwidgets.widgets import Dashboard, JobsTable, PipelineCards, RunView

__version__ = "0.1.0"

__all__ = [
    "Actions",
    "AsyncSource",
    "Attempt",
    "Dashboard",
    "FlavourProbe",
    "JobsTable",
    "LiveEvent",
    "LocalRunner",
    "Pipeline",
    "PipelineCards",
    "PipelineSpec",
    "Pipelines",
    "Poller",
    "Run",
    "RunDetail",
    "RunPage",
    "RunView",
    "ServerHandle",
    "Source",
    "Status",
    "Step",
    "StepSpec",
    "StubModeWarning",
    "__version__",
    "connect",
    "connect_async",
    "errors",
    "load_pipelines",
    "pipeline_summary",
    "register_flavour",
    "runs_frame",
    "serve_in_thread",
    "step_failures",
    "steps_frame",
]
