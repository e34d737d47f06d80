"""Move the runner's scheduler clock, to prove (or rule out) a time-of-day flake.

With ``FW_FAKE_NOW`` set (ISO time, UTC), every Python process that imports this module at
start-up sees the scheduler's clock (``flowwidgets.runner.scheduler``) start at that time
on its first reading and then advance in real time; nothing else is changed. So a test run
as::

    FW_FAKE_NOW=2026-12-07T13:59:59.5 PYTHONPATH=scripts/clockshift \\
        .venv/bin/python -m pytest tests/runner/test_local_runner.py

has a 14:00 UTC cron time pass half a second after its runner's first tick. Subprocesses
that keep ``PYTHONPATH`` (kernels, ``flowwidgets serve``) are shifted too; for those that
replace it (tests/integration/test_cli.py), copy this file into the venv's site-packages
for the run and remove it afterwards. Without ``FW_FAKE_NOW`` it does nothing.
"""

import os

if os.environ.get("FW_FAKE_NOW"):
    import time
    from datetime import UTC, datetime, timedelta, tzinfo

    _base = datetime.fromisoformat(os.environ["FW_FAKE_NOW"]).replace(tzinfo=UTC)
    _t0: list[float] = []

    class _Shifted(datetime):
        @classmethod
        def now(cls, tz: tzinfo | None = None) -> datetime:  # type: ignore[override]
            if not _t0:
                _t0.append(time.monotonic())
            shifted = _base + timedelta(seconds=time.monotonic() - _t0[0])
            return shifted.astimezone(tz) if tz else shifted.replace(tzinfo=None)

    import flowwidgets.runner.scheduler as _scheduler

    setattr(_scheduler, "datetime", _Shifted)  # noqa: B010 (a module attribute, on purpose)
