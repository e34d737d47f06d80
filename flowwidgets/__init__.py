"""flowwidgets: watch data pipelines from Jupyter — cards, a jobs table and run DAGs."""

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

__version__ = "0.1.0"

__all__ = [
    "Actions",
    "Attempt",
    "Pipeline",
    "Run",
    "RunDetail",
    "RunPage",
    "Status",
    "Step",
    "__version__",
    "errors",
]
