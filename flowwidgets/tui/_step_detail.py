"""A step's detail panel (Enter on a step): its traceback and its log tail, as the run
view shows them. Pure text building plus one blocking read for a worker thread."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any

from rich.text import Text

from flowwidgets.models import RunDetail
from flowwidgets.tui._format import COLORS, describe_error

__all__ = ["LOG_TAIL_LINES", "StepLog", "clean_block", "read_step_log", "step_detail_text"]

LOG_TAIL_LINES = 40
"""How many of the log's last lines the panel shows."""

_LINE_LIMIT = 400


@dataclass(frozen=True, slots=True)
class StepLog:
    """What the panel shows for one step of one run."""

    run_id: str
    step: str
    attempt: int | None
    error: str | None
    """The newest attempt's error (a traceback where the runner keeps one)."""
    log: str | None
    note: str | None
    """Why there is no log ("this step has not run", "keeps no step logs", …)."""


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


def read_step_log(source: Any, detail: RunDetail, step: str) -> StepLog:
    """The step's error and log tail (blocking: call from a worker thread). An unreadable
    log becomes the note, never an exception."""
    from flowwidgets.widgets._run_view import latest_attempt, no_log_note, step_error

    latest = latest_attempt(detail, step)
    text: str | None = None
    if not getattr(source, "step_logs", True):
        note: str | None = f"the {source.flavour} runner keeps no step logs"
    else:
        try:
            text = source.step_log(detail.run_id, step) or None
        except Exception as exc:  # said in the panel
            note = f"the log could not be read: {describe_error(exc)}"
        else:
            note = None if text else no_log_note(detail, step)
    return StepLog(detail.run_id, step, latest.number if latest else None,
                   step_error(detail, step, latest), text, note)


def step_detail_text(found: StepLog | None, *, tail: int = LOG_TAIL_LINES) -> Text:
    """The panel: ``TRACEBACK`` (whole, in red) then ``LOG (last N lines)`` or why none."""
    muted = COLORS["muted"]
    text = Text()
    if found is None:
        text.append("Reading the step's log…", style=muted)
        return text
    attempt = f" · attempt {found.attempt}" if found.attempt else ""
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
