"""The flavours :func:`~flowwidgets.connect` can detect, in one registry.

Every runner API flowwidgets reads (ours, ematix-flow, Airflow, Prefect, Dagster, flowtoy) is a
:class:`FlavourProbe`, and all of them are registered in one place,
:mod:`flowwidgets.sources._flavours`; another runner registers the same way with
:func:`register_flavour`. ``connect`` tries the probes by ``order`` (then registration
order) and builds the first flavour whose probe finds its runner.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flowwidgets.sources._base import Flavour, Plan
from flowwidgets.sources._http import HttpCore

__all__ = ["FlavourProbe", "probes", "register_flavour"]


@dataclass(frozen=True, slots=True)
class FlavourProbe:
    """How :func:`~flowwidgets.connect` recognises one runner API.

    ``detect()`` is a plan of probe requests returning something truthy (a version, say)
    when its runner answers, else None (a probe's GETs are sent once per ``connect``
    however many probes ask); ``make(http, found, options)`` builds the flavour
    (``options`` holds the keywords of ``connect`` named in ``options``, e.g. username);
    ``start(flavour)``, if given, is a plan run once before the Source is returned (a
    login, a check of the first answer). ``order`` places the probe: ours 0, ematix-flow
    10, others 50 (the default), flowtoy 100 (it answers a bare ``/status``, so it goes
    last).
    """

    name: str
    detect: Callable[[], Plan[Any]]
    make: Callable[[HttpCore, Any, dict[str, Any]], Flavour]
    start: Callable[[Flavour], Plan[None]] | None = None
    options: frozenset[str] = frozenset()
    order: int = 50


_PROBES: list[FlavourProbe] = []


def register_flavour(probe: FlavourProbe) -> None:
    """Let :func:`~flowwidgets.connect` detect a runner API; registering a name again
    replaces it."""
    _PROBES[:] = [p for p in _PROBES if p.name != probe.name]
    _PROBES.append(probe)


def probes() -> list[FlavourProbe]:
    """The registered probes in the order ``connect`` tries them."""
    return sorted(_PROBES, key=lambda p: p.order)
