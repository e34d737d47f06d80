"""RunCompare's static fallback: the comparison table, every runner string escaped."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flowwidgets.widgets._static import (
    MUTED,
    PRE,
    RED,
    ROW,
    STATUS_ICON,
    TABLE,
    TD,
    TEAL,
    error_html,
    esc,
    format_duration,
    frame,
    label,
    plain,
    status_of,
)

__all__ = ["compare_html", "compare_text", "format_delta"]

_WORD = {"new_failure": "✗ new failure", "fixed": "✓ fixed", "slower": "▲ slower",
         "faster": "▼ faster", "same": "= same", "reused": "↺ reused",
         "only_a": "only in A", "only_b": "only in B",
         "not_run": "○ not run in B"}


def format_delta(ms: Any) -> str:
    """"+12.0 s", "−850 ms" or "—" (as js/src/lib/compare.ts)."""
    if ms is None:
        return "—"
    return ("+" if ms >= 0 else "−") + format_duration(abs(ms))


def _side(x: Mapping[str, Any]) -> str:
    if not x.get("status"):
        return "—"
    st = status_of(x["status"])
    what = (f"reused from {esc(x['reused_from'])}" if x.get("reused_from")
            else format_duration(x.get("duration_ms")))
    return f"{STATUS_ICON[st]} {st} {what}"


def compare_html(c: Mapping[str, Any], *, error: str = "") -> str:
    """The comparison as static HTML."""
    if not c:
        return frame("compare", error_html(error) + f'<span style="color:{MUTED}">Nothing '
                     "to compare.</span>")
    a, b = c["a"], c["b"]
    head = (f'<div>{label("Compare")} A {esc(a["run_id"])} → B {esc(b["run_id"])} '
            f'· run {esc(format_delta(c.get("delta_ms")))}</div>')
    rows = []
    for r in c.get("steps", []):
        colour = RED if r["change"] in ("new_failure", "slower") else (
            TEAL if r["change"] in ("fixed", "faster") else MUTED)
        cells = [esc(r["step"]), f'<span style="color:{colour}">{_WORD.get(r["change"], "")}'
                 "</span>", _side(r["a"]), _side(r["b"]), esc(format_delta(r["delta_ms"])),
                 "—" if r["ratio"] is None else f'{r["ratio"]:.2f}×']
        rows.append(f'<tr style="{ROW}">' + "".join(f'<td style="{TD}">{x}</td>'
                                                    for x in cells) + "</tr>")
    diff = ""
    if c.get("first_error_diff"):
        row = next(r for r in c["steps"] if r["step"] == c["first_error_diff"])
        diff = (f'<div style="border-left:3px solid {RED};padding:2px 8px;margin:6px 0">'
                f'{label("First differing error · " + str(row["step"]))}'
                f'<pre style="{PRE}">A: {esc(row["a"]["error"] or "—")}\n'
                f'B: {esc(row["b"]["error"] or "—")}</pre></div>')
    return frame("compare", error_html(error) + head + diff +
                 f'<table style="{TABLE}">{"".join(rows)}</table>')


def compare_text(c: Mapping[str, Any]) -> str:
    """The comparison as plain text, a line per step."""
    if not c:
        return "Nothing to compare."
    lines = [f"A {plain(c['a']['run_id'])} → B {plain(c['b']['run_id'])}"]
    for r in c.get("steps", []):
        lines.append(f"  {plain(r['step'])}: {_WORD.get(r['change'], r['change'])} "
                     f"{format_delta(r['delta_ms'])}")
    return "\n".join(lines)
