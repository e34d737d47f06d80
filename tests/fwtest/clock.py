"""Tests that start a runner over scheduled pipelines but do not test the scheduler.

A cron time passing while such a test runs (``0 * * * *`` at every full hour, ``*/15`` every
quarter-hour, a daily fire at 14:00 UTC) makes the runner create and execute a scheduled
run, which breaks counts of runs, squares, executed steps or "the latest run" once a day or
once an hour. :func:`no_cron_fires` keeps the scheduler ticking (heartbeats, claiming
requested runs, next fires still computed and shown) but creates no run from a cron fire.
The scheduler's own tests (tests/runner/test_scheduler.py) drive it with an injected ``now``.
To check that a test does not depend on the time of day, run it with the scheduler's clock
moved just before a cron time: ``scripts/clockshift/sitecustomize.py`` says how.
"""

from __future__ import annotations

from flowwidgets.runner._local import LocalRunner

__all__ = ["no_cron_fires"]


def no_cron_fires(runner: LocalRunner) -> LocalRunner:
    """``runner`` with cron fires switched off (before or after it started); returned."""
    runner._scheduler.fire_due = lambda now: []  # type: ignore[method-assign]
    return runner
