"""Sources: one runner, over HTTP from the kernel, as flowwidgets models.

``connect(url)`` detects the runner's API flavour (our runner, ematix-flow ``flow web``,
Airflow 3, Prefect 3, Dagster, flowtoy) and returns a :class:`Source` whose methods return the
models of :mod:`flowwidgets.models` whatever the runner is; ``connect_async`` returns the
async twin. ``connect``, ``Source`` and ``AsyncSource`` are also at the top level.

Plumbing for another runner API: a :class:`FlavourProbe` (how to recognise it and build
its flavour) passed to :func:`register_flavour`; the six built in are registered the same
way, together, in ``sources/_flavours.py``. ``flowwidgets.sources.airflow``,
``.prefect`` and ``.dagster`` add ``connect_airflow`` … with their own options. The
poller that keeps views live is :class:`flowwidgets.live.Poller` (one per Source,
``src.poller()``), reporting :class:`flowwidgets.live.LiveEvent`.
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

# Every flavour connect() detects is registered in one place: sources/_flavours.py.
from flowwidgets.sources import _flavours  # noqa: E402, F401
