"""The words and colours every view shares, defined once.

The notebook widgets' static fallbacks, the terminal monitor and the JS views say a
duration, an error and a status colour the same way. The JS twins live in
``js/src/lib/format.ts`` and ``js/src/lib/theme.css``; ``tests/test_vocabulary.py`` checks
them equal to these (durations through the shared table ``js/test/vocabulary.json``, which
``js/test/format.test.ts`` runs too), as ``status.ts`` is checked against
:class:`flowwidgets.models.Status`.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from flowwidgets import errors

__all__ = ["PALETTE", "TIME_ZONES", "describe_error", "format_duration", "to_zone", "zone_name"]

PALETTE: dict[str, str] = {
    "bg": "#0d1412",
    "panel": "#131d1a",
    "panel-2": "#18241f",
    "text": "#cfe8dc",
    "muted": "#6f8f84",
    "rule": "#24352f",
    "accent": "#2bb3a3",
    "running": "#f2a93b",
    "failed": "#e5534b",
    "skipped": "#51706a",
}
"""The dark theme: each ``--fw-<key>`` colour of ``js/src/lib/theme.css`` (the seeds'
Pip-Boy ground and Carolina-teal accent; succeeded is the accent, pending the muted)."""


TIME_ZONES = ("UTC", "local")
"""The values of every view's ``time_zone`` and of ``flowwidgets tui --time-zone``."""


def to_zone(dt: datetime, zone: str) -> datetime:
    """``dt`` (naive means UTC) in UTC, or with ``zone="local"`` in this machine's zone
    (the kernel's for the static fallbacks, the terminal's for the TUI)."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone() if zone == "local" else dt.astimezone(UTC)


def zone_name(zone: str, at: datetime | None = None) -> str:
    """"UTC", or this machine's zone's short name at ``at`` (now when None), e.g. "IST",
    "EST"; "UTC+05:30" when the zone has no abbreviation."""
    if zone != "local":
        return "UTC"
    dt = to_zone(at, zone) if at is not None else datetime.now().astimezone()
    name = dt.tzname() or ""
    if name and name[0] not in "+-":
        return name
    off = dt.utcoffset()
    minutes = int(off.total_seconds() // 60) if off is not None else 0
    sign = "+" if minutes >= 0 else "-"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def format_duration(ms: Any) -> str:
    """Milliseconds as "850 ms", "12.3 s", "4m 05s", "2h 03m", "3d 04h"; "—" when unknown
    or negative (JS: ``formatDuration``)."""
    if ms is None or isinstance(ms, bool):
        return "—"
    try:
        ms = float(ms)
    except (TypeError, ValueError):
        return "—"
    if ms != ms or ms < 0 or ms == float("inf"):
        return "—"
    if ms < 1000:
        return f"{math.floor(ms + 0.5)} ms"  # JS Math.round: halves go up
    secs = ms / 1000
    if secs < 60:  # JS toFixed(1): the exact binary value, a tie goes up
        return f"{Decimal(secs).quantize(Decimal('0.1'), ROUND_HALF_UP)} s"
    total = int(secs)
    d, h, m, s = total // 86400, total % 86400 // 3600, total % 3600 // 60, total % 60
    if d:
        return f"{d}d {h:02d}h"
    if h:
        return f"{h}h {m:02d}m"
    return f"{m}m {s:02d}s"


def describe_error(exc: BaseException) -> str:
    """What went wrong, for a person: a runner's own ``detail``, with the HTTP status when
    it answered over HTTP ("run r1 is still running (HTTP 409)"); our errors' messages as
    they are; anything else as "Type: message"."""
    if isinstance(exc, errors.APIError) and exc.response is not None:
        detail = exc.detail
        if detail is None or detail == "":
            text = str(exc)
        elif isinstance(detail, str):
            text = detail
        else:
            try:
                text = json.dumps(detail, ensure_ascii=False, default=str)
            except (TypeError, ValueError):
                text = repr(detail)
        return f"{text} (HTTP {exc.status_code})"
    if isinstance(exc, errors.FlowwidgetsError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"
