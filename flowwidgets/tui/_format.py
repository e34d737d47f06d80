"""Pure formatting for the terminal monitor: glyphs, strips, durations, times, DAG order.

Nothing here talks to a runner or imports Textual, so every helper is tested on its own.
Every string that came from a runner goes through :func:`clean` and ends up in a
:class:`rich.text.Text` built with ``Text(...)`` (never ``Text.from_markup``), so a step
called ``"[bold red]x"`` shows literally and an escape sequence cannot reach the terminal.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from rich.text import Text

from flowwidgets._vocab import PALETTE, format_duration, to_zone, zone_name
from flowwidgets._vocab import describe_error as _describe_error
from flowwidgets.models import Pipeline, Run, Status, Step

__all__ = [
    "COLORS",
    "NO_RUN",
    "STEP_ICONS",
    "STRIP_GLYPHS",
    "STRIP_LENGTH",
    "clean",
    "dag_order",
    "dag_tree",
    "describe_error",
    "format_at",
    "format_duration",
    "format_next",
    "format_started",
    "status_color",
    "status_text",
    "step_label",
    "strip_text",
    "zone_name",
]

COLORS = {
    "ground": PALETTE["bg"],
    "panel": PALETTE["panel"],
    "text": PALETTE["text"],
    "muted": PALETTE["muted"],
    "teal": PALETTE["accent"],
    "amber": PALETTE["running"],
    "red": PALETTE["failed"],
}
"""The terminal's names for :data:`flowwidgets._vocab.PALETTE`, the widgets' theme."""

STRIP_LENGTH = 10
"""How many executions the pipelines table's strip shows."""

NO_RUN = "·"
"""Strip glyph for a slot with no run yet."""

STRIP_GLYPHS: dict[Status, str] = {
    Status.SUCCEEDED: "■",
    Status.FAILED: "✕",
    Status.RUNNING: "▶",
    Status.REQUESTED: "◇",
    Status.PAUSED: "‖",
    Status.CANCELLED: "⊘",
    Status.PENDING: "○",
    Status.SKIPPED: "»",
    Status.UNKNOWN: "?",
}
"""One distinct glyph per status, so the strip reads without colour."""

STEP_ICONS: dict[Status, str] = {
    Status.SUCCEEDED: "✓",
    Status.FAILED: "✕",
    Status.RUNNING: "▶",
    Status.PENDING: "○",
    Status.SKIPPED: "»",
    Status.REQUESTED: "◇",
    Status.PAUSED: "‖",
    Status.CANCELLED: "⊘",
    Status.UNKNOWN: "?",
}
"""The icon shown beside a status word in the runs and steps tables."""

_STATUS_COLORS: dict[Status, str] = {
    Status.SUCCEEDED: COLORS["teal"],
    Status.FAILED: COLORS["red"],
    Status.RUNNING: COLORS["amber"],
    Status.REQUESTED: COLORS["amber"],
    Status.PAUSED: COLORS["amber"],
    Status.CANCELLED: COLORS["muted"],
    Status.PENDING: COLORS["muted"],
    Status.SKIPPED: COLORS["muted"],
    Status.UNKNOWN: COLORS["muted"],
}

_MAX_INDENT = 8


def clean(value: Any, limit: int | None = None) -> str:
    """An untrusted value as one printable line, at most ``limit`` characters.

    Line breaks and tabs become spaces, other control and format characters (escape
    sequences, bidi overrides) become ``�``, and the result is cut with ``…``.
    """
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    out: list[str] = []
    for ch in text:
        if ch in "\r\n\t\v\f":
            out.append(" ")
        elif unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co"):
            out.append("\ufffd")
        else:
            out.append(ch)
    line = " ".join("".join(out).split())
    if limit is not None and len(line) > limit:
        line = line[: max(limit - 1, 0)] + "…"
    return line


def status_color(status: Status) -> str:
    """The palette colour of a status."""
    return _STATUS_COLORS.get(status, COLORS["muted"])


def status_text(status: Status, *, note: str | None = None) -> Text:
    """A status as ``icon word`` in its colour (``"✕ failed"``), optionally with a note."""
    text = Text(f"{STEP_ICONS.get(status, '?')} {status.value}", style=status_color(status))
    if note:
        text.append(f" {note}", style=COLORS["muted"])
    return text


def strip_text(runs: Sequence[Run], length: int = STRIP_LENGTH) -> Text:
    """The last ``length`` runs (given oldest first) as coloured glyphs, newest rightmost.

    Slots without a run are padded on the left with :data:`NO_RUN`, so the newest run is
    always in the last column.
    """
    recent = list(runs)[-length:] if length > 0 else []
    text = Text()
    for _ in range(length - len(recent)):
        text.append(NO_RUN, style=COLORS["muted"])
    for run in recent:
        text.append(STRIP_GLYPHS.get(run.status, "?"), style=status_color(run.status))
    return text


def format_at(value: datetime | None, zone: str, fmt: str, *, with_zone: bool = False) -> str:
    """An absolute time in ``zone`` ("UTC" or "local", the terminal's) with a ``strftime``
    format, "—" when missing; ``with_zone`` appends the zone's name ("05:30:00 IST").

    The one place the monitor turns a time into text: every cell, header and line goes
    through here, so ``--time-zone`` reaches all of them."""
    if value is None:
        return "—"
    at = to_zone(value, zone)
    text = at.strftime(fmt)
    return f"{text} {zone_name(zone, at)}" if with_zone else text


def format_started(value: datetime | None, now: datetime, zone: str = "UTC") -> str:
    """A time in ``zone``: ``HH:MM:SS`` today, ``MM-DD HH:MM`` this year, else
    ``YYYY-MM-DD`` ("today" is the zone's calendar day)."""
    if value is None:
        return "—"
    at, today = to_zone(value, zone), to_zone(now, zone)
    if at.date() == today.date():
        return format_at(at, zone, "%H:%M:%S")
    if at.year == today.year:
        return format_at(at, zone, "%m-%d %H:%M")
    return format_at(at, zone, "%Y-%m-%d")


def format_next(pipeline: Pipeline, zone: str = "UTC") -> Text:
    """The pipelines table's "Next (UTC)" cell: ``LIVE``, the next fire in ``zone``, paused
    or manual."""
    if pipeline.is_streaming:
        running = pipeline.latest_run is not None and pipeline.latest_run.status.is_active
        return Text("LIVE", style=f"bold {COLORS['amber']}" if running else COLORS["muted"])
    if pipeline.paused:
        return Text("paused", style=COLORS["muted"])
    if pipeline.next_run_at is not None:
        return Text(format_at(pipeline.next_run_at, zone, "%Y-%m-%d %H:%M"),
                    style=COLORS["text"])
    return Text("manual", style=COLORS["muted"])


def dag_order(steps: Iterable[Step]) -> list[tuple[Step, int]]:
    """Steps in topological order with their longest-path rank.

    A step's rank is 0 without dependencies, else one more than its deepest dependency;
    steps are sorted by rank, then by the order the runner listed them. Dependencies on
    steps the run does not have are ignored; steps caught in a cycle (a runner bug, shown
    rather than hidden) come last, one rank below everything else, in listed order.
    """
    items = list(steps)
    names = {s.name for s in items}
    index = {s.name: i for i, s in enumerate(items)}
    deps = {s.name: {d for d in s.depends_on if d in names and d != s.name} for s in items}
    children: dict[str, list[str]] = {s.name: [] for s in items}
    for name, ds in deps.items():
        for d in ds:
            children[d].append(name)
    waiting = {name: len(ds) for name, ds in deps.items()}
    rank: dict[str, int] = {}
    ready = [name for name, n in waiting.items() if n == 0]
    while ready:
        name = ready.pop()
        rank[name] = max((rank[d] + 1 for d in deps[name]), default=0)
        for child in children[name]:
            waiting[child] -= 1
            if waiting[child] == 0:
                ready.append(child)
    tail = max(rank.values(), default=-1) + 1
    for s in items:
        rank.setdefault(s.name, tail)
    # Duplicate names (another runner bug) keep every row; the rank is the name's.
    ordered = sorted(enumerate(items), key=lambda p: (rank[p[1].name], index[p[1].name], p[0]))
    return [(s, rank[s.name]) for _, s in ordered]


def dag_tree(steps: Iterable[Step]) -> list[tuple[Step, int, bool]]:
    """The steps as a tree drawn from the roots: ``(step, depth, is_reference)``.

    A step is drawn in full under the last of its parents to be drawn (so it still comes
    after all of them), and as a *reference* row (``True``) under each earlier parent: a
    fan-in such as ``merge`` after ``a`` and ``b`` shows under both. Children keep
    :func:`dag_order`'s order; steps it cannot place (cycles, repeated names) follow at the
    end, each drawn once.
    """
    ordered = dag_order(steps)
    first: dict[str, Step] = {}
    for s, _ in ordered:
        first.setdefault(s.name, s)
    deps = {n: [d for d in dict.fromkeys(s.depends_on) if d in first and d != n]
            for n, s in first.items()}
    children: dict[str, list[str]] = {n: [] for n in first}
    for s, _ in ordered:
        if first[s.name] is s:
            for d in deps[s.name]:
                children[d].append(s.name)
    out: list[tuple[Step, int, bool]] = []
    drawn: set[str] = set()

    def draw(name: str, depth: int) -> None:
        out.append((first[name], depth, False))
        drawn.add(name)
        for child in children[name]:
            if child in drawn:
                continue
            if all(d in drawn for d in deps[child]):
                draw(child, depth + 1)
            else:
                out.append((first[child], depth + 1, True))

    for s, _ in ordered:
        if first[s.name] is s and not deps[s.name] and s.name not in drawn:
            draw(s.name, 0)
    placed = {id(s) for s, _, ref in out if not ref}
    tail = max((d for _, d, _ in out), default=-1) + 1
    out.extend((s, tail, False) for s, _ in ordered if id(s) not in placed)
    return out


def step_label(name: str, rank: int, *, limit: int = 40) -> Text:
    """A step name indented by its rank (``"    └ merge"``), as literal text."""
    depth = min(rank, _MAX_INDENT)
    prefix = "  " * depth + ("└ " if depth else "")
    text = Text()
    text.append(prefix, style=COLORS["muted"])
    text.append(clean(name, limit))
    return text


def describe_error(exc: BaseException, limit: int = 300) -> str:
    """What went wrong, in one clean line (:func:`flowwidgets._vocab.describe_error`)."""
    return clean(_describe_error(exc), limit)
