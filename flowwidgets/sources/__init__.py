"""Sources: one runner, over HTTP from the kernel, as flowwidgets models.

``connect(url)`` detects the runner's API flavour (our runner, ematix-flow ``flow web``,
flowtoy, Airflow, Prefect, Dagster) and returns a :class:`Source` whose methods return the models of
:mod:`flowwidgets.models` whatever the runner is; ``connect_async`` returns the async twin.
"""

from __future__ import annotations

from flowwidgets.sources._base import AsyncSource, Source, StubModeWarning
from flowwidgets.sources._connect import FlavourProbe, connect, connect_async, register_flavour

__all__ = [
    "AsyncSource",
    "FlavourProbe",
    "Source",
    "StubModeWarning",
    "connect",
    "connect_async",
    "register_flavour",
]

# Importing the orchestrator flavours registers their probes with connect().
from flowwidgets.sources import airflow as _airflow  # noqa: E402, F401
from flowwidgets.sources import dagster as _dagster  # noqa: E402, F401
from flowwidgets.sources import prefect as _prefect  # noqa: E402, F401
