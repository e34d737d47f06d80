"""The anywidget views: one module per widget, each with a TypeScript twin in js/src/widgets/."""

from __future__ import annotations

from flowwidgets.widgets._cards import PipelineCards
from flowwidgets.widgets._dashboard import Dashboard
from flowwidgets.widgets._history_view import HistoryView
from flowwidgets.widgets._jobs_table import JobsTable
from flowwidgets.widgets._run_compare import RunCompare
from flowwidgets.widgets._run_view import RunView
from flowwidgets.widgets._timeline import Timeline

__all__ = ["Dashboard", "HistoryView", "JobsTable", "PipelineCards", "RunCompare",
           "RunView", "Timeline"]
