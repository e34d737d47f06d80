"""The demo: six small pipelines doing real work on the files and SQLite of a data folder.

::

    from flowwidgets import demo
    data = demo.prepare()                  # seed files; merge_payments' failure switch on
    runner = LocalRunner(load_pipelines(demo.pipelines_path()), data_dir=data)
    demo.import_history(runner)            # 14 days of history, marked as imported
    demo.set_failure(False, data)          # from any process: merge_payments succeeds again

The step functions are in :mod:`flowwidgets.demo.jobs` (``call:
"flowwidgets.demo.jobs:name"``); they read and write under the runner's ``data_dir``.
"""

from __future__ import annotations

from flowwidgets.demo._data import (
    DATA_ENV,
    FAILURE_POINTS,
    default_data_dir,
    failure_enabled,
    pipelines_path,
    prepare,
    set_failure,
)
from flowwidgets.demo._history import DAYS, import_history

__all__ = [
    "DATA_ENV",
    "DAYS",
    "FAILURE_POINTS",
    "default_data_dir",
    "failure_enabled",
    "import_history",
    "pipelines_path",
    "prepare",
    "set_failure",
]
