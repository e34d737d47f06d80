"""A step's detail panel (Enter on a step): every attempt (number, status, start,
duration, error line), then the selected attempt's (the newest by default; ``[`` / ``]``
pick another) whole traceback and log tail, as the run view shows them. Pure text building
plus one blocking read for a worker thread."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any

from rich.text import Text

from flowwidgets.models import Attempt, RunDetail
from flowwidgets.tui._format import (
    COLORS,
    STEP_ICONS,
    describe_error,
    format_at,
    format_duration,
    status_color,
)

__all__ = ["LOG_TAIL_LINES", "StepLog", "clean_block", "read_step_log", "step_attempts",
           "step_detail_text"]

LOG_TAIL_LINES = 40
"""How many of the log's last lines the panel shows."""

_LINE_LIMIT = 400


@dataclass(frozen=True, slots=True)
class StepLog:
    """What the panel shows for one step of one run."""

    run_id: str
    step: str
    attempt: int | None
    """The attempt shown (its number; None when the step has none)."""
    error: str | None
    """That attempt's error (a traceback where the runner keeps one)."""
    log: str | None
    note: str | None
    """Why there is no log ("this step has not run", "keeps no step logs", …)."""
    attempts: tuple[Attempt, ...] = ()
    """Every attempt of the step, oldest first."""


def clean_block(value: str, max_lines: int | None = None) -> list[str]:
    """Untrusted multi-line text as printable lines (indentation kept, tabs as 4 spaces,
    control characters as ``�``, long lines cut with ``…``), the last ``max_lines``."""
    lines = value.replace("\r\n", "\n").replace("\r", "\n").rstrip("\n").split("\n")
    if max_lines is not None:
        lines = lines[-max_lines:] if max_lines > 0 else []
    out = []
    for line in lines:
        chars = ["\ufffd" if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co") else ch
                 for ch in line.replace("\t", "    ").rstrip()]
        text = "".join(chars)
        out.append(text if len(text) <= _LINE_LIMIT else text[: _LINE_LIMIT - 1] + "…")
    return out


def step_attempts(detail: RunDetail, step: str) -> tuple[Attempt, ...]:
    """Every attempt of ``step``, oldest first: its own history, else the run's attempts
    that name it (as the run view's ``latest_attempt`` reads them)."""
    own = next((s.attempts for s in detail.steps if s.name == step), ())
    tries = own or [a for a in detail.attempts
                    if a.step == step or (a.step is None and a.extra.get("failed_step") == step)]
    return tuple(sorted(tries, key=lambda a: a.number))


def read_step_log(source: Any, detail: RunDetail, step: str,
                  attempt: int | None = None) -> StepLog:
    """The step's attempts, and the error and log tail of attempt number ``attempt`` (the
    newest when None or unknown). Blocking: call from a worker thread. An unreadable log
    becomes the note, never an exception."""
    from flowwidgets.widgets._run_view import no_log_note, step_error

    tries = step_attempts(detail, step)
    latest = tries[-1] if tries else None
    shown = next((a for a in tries if a.number == attempt), latest)
    newest = shown is latest
    text: str | None = None
    if not getattr(source, "step_logs", True):
        note: str | None = f"the {source.flavour} runner keeps no step logs"
    else:
        try:
            # the newest attempt's log as before (None: the runner's default); an older
            # attempt's by its number
            number = None if newest or shown is None else shown.number
            text = source.step_log(detail.run_id, step, number) or None
        except Exception as exc:  # said in the panel
            note = f"the log could not be read: {describe_error(exc)}"
        else:
            note = None if text else no_log_note(detail, step)
    error = step_error(detail, step, latest) if newest else (shown.error if shown else None)
    return StepLog(detail.run_id, step, shown.number if shown else None, error, text, note,
                   tries)


def _attempt_line(a: Attempt, selected: bool, zone: str) -> Text:
    """"▸ #2 ✗ failed     23:30:29 UTC     90 ms  ValueError: bad row 7"."""
    muted = COLORS["muted"]
    line = Text("▸ " if selected else "  ", style=f"bold {COLORS['teal']}")
    line.append(f"#{a.number:<3}", style="bold" if selected else "")
    icon = STEP_ICONS.get(a.status, "?")
    line.append(f"{icon} {a.status.value:<10}", style=status_color(a.status))
    when = (format_at(a.started_at, zone, "%Y-%m-%d %H:%M:%S", with_zone=True)
            if a.started_at else "not started")
    line.append(f"{when:<23} ", style=muted)
    dur = ("running" if a.status.is_active and a.duration_ms is None
           else format_duration(a.duration_ms))
    line.append(f"{dur:>9}  ")
    last = next((ln.strip() for ln in reversed(clean_block(a.error or ""))
                 if ln.strip()), "")
    if last:
        line.append(last[:160], style=COLORS["red"])
    return line


def step_detail_text(found: StepLog | None, *, tail: int = LOG_TAIL_LINES,
                     zone: str = "UTC") -> Text:
    """The panel: ``ATTEMPTS`` (starts in ``zone``), ``TRACEBACK`` (whole, in red) then
    ``LOG (last N lines)`` or why none."""
    muted = COLORS["muted"]
    text = Text()
    if found is None:
        text.append("Reading the step's log…", style=muted)
        return text
    attempt = f" · attempt {found.attempt}" if found.attempt else ""
    if found.attempts:
        n = len(found.attempts)
        pick = " · [ ] pick one" if n > 1 else ""
        text.append(f"ATTEMPTS ({n}){pick}\n", style=f"bold {muted}")
        for a in found.attempts:
            text.append_text(_attempt_line(a, a.number == found.attempt and n > 1, zone))
            text.append("\n")
        text.append("\n")
    if found.error and found.error.strip():
        text.append(f"TRACEBACK{attempt}\n", style=f"bold {muted}")
        text.append("\n".join(clean_block(found.error)), style=COLORS["red"])
        text.append("\n\n")
    if found.log:
        lines = clean_block(found.log)
        shown = lines[-tail:]
        what = f"last {len(shown)} of {len(lines)} lines" if len(lines) > len(shown) else (
            f"{len(lines)} line{'s' if len(lines) != 1 else ''}")
        text.append(f"LOG{attempt} ({what})\n", style=f"bold {muted}")
        text.append("\n".join(shown))
    else:
        text.append(f"LOG{attempt}: ", style=f"bold {muted}")
        text.append(found.note or "no output was captured", style=muted)
    return text
