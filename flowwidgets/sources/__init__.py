"""Sources: one runner, over HTTP from the kernel, as flowwidgets models.

``connect(url)`` detects the runner's API flavour (our runner, ematix-flow ``flow web``,
flowtoy) and returns a :class:`Source` whose methods return the models of
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

# Every flavour connect() detects is registered in one place: sources/_flavours.py.
from flowwidgets.sources import _flavours  # noqa: E402, F401
