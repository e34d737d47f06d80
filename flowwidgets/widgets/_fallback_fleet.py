"""The static fallback of Timeline: the same marks as inline SVG (runner strings escaped)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from flowwidgets.widgets._static import (
    BG,
    FONT,
    MUTED,
    PANEL,
    RULE,
    TEXT,
    color_of,
    counted,
    error_html,
    esc,
    frame,
    plain,
    status_of,
    zone_name,
)

__all__ = ["fleet_html", "fleet_text"]

LABEL_W = 150
ROW_H = 22
AXIS_H = 20
PLOT_W = 700


def _clock(ms: float, span: float, zone: str = "UTC") -> str:
    t = datetime.fromtimestamp(ms / 1000, UTC)
    if zone == "local":
        t = t.astimezone()  # the kernel's zone: a static page has no browser to ask
    return t.strftime("%m-%d %H:%M") if span > 2 * 86400_000 else t.strftime("%H:%M")


def merged_note(m: Mapping[str, Any]) -> str:
    """What the axis says about merged runs ("" when none were merged)."""
    if not m.get("merged"):
        return ""
    secs = max(1, round((m.get("bucket_ms") or 0) / 1000))
    return (f"{counted(int(m['merged']), 'run')} narrower than a few pixels merged per "
            f"{secs} s bucket (the count is in each bar's tooltip)")


def fleet_html(m: Mapping[str, Any], *, error: str = "", zone: str = "UTC") -> str:
    """Rows of pipelines with their runs and ghost bars over the window, as SVG (the axis
    in ``zone``, named above it)."""
    rows = m.get("rows") or []
    if not rows:
        return frame("timeline", error_html(error) + f'<div style="color:{MUTED}">No pipelines'
                     f'</div>')
    t0, t1 = float(m["t0"]), float(m["t1"])
    span = max(1.0, t1 - t0)

    def x(v: float) -> float:
        return LABEL_W + (min(max(v, t0), t1) - t0) / span * PLOT_W

    h = AXIS_H + ROW_H * len(rows) + 4
    w = LABEL_W + PLOT_W + 10
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
             f'viewBox="0 0 {w} {h}" role="group" aria-label="pipelines timeline" '
             f'style="background:{PANEL};font-family:{FONT};font-size:10px">']
    for i in range(7):
        v = t0 + span * i / 6
        parts.append(f'<line x1="{x(v):.1f}" x2="{x(v):.1f}" y1="{AXIS_H - 4}" y2="{h}" '
                     f'stroke="{RULE}"/><text x="{x(v):.1f}" y="12" fill="{MUTED}" '
                     f'text-anchor="middle">{_clock(v, span, zone)}</text>')
    for r, row in enumerate(rows):
        y = AXIS_H + r * ROW_H
        name = str(row["pipeline"])
        parts.append(f'<text x="4" y="{y + 15}" fill="{TEXT}"><title>{esc(name)}</title>'
                     f'{esc(name if len(name) <= 20 else name[:19] + "…")}</text>')
        for g0, g1 in row.get("ghosts") or []:
            parts.append(f'<rect x="{x(g0):.1f}" y="{y + 5}" width="{max(2, x(g1) - x(g0)):.1f}" '
                         f'height="12" fill="none" stroke="{MUTED}" stroke-dasharray="3 2">'
                         f'<title>scheduled</title></rect>')
        for s, e, st, rid, n in row.get("marks") or []:
            what = f"{n:,} runs, worst {st}" if n > 1 else f"run {rid} · {st}"
            parts.append(f'<rect x="{x(s):.1f}" y="{y + 5}" width="{max(2, x(e) - x(s)):.1f}" '
                         f'height="12" rx="1" fill="{color_of(status_of(st))}">'
                         f'<title>{esc(name)}: {esc(what)}</title></rect>')
    parts.append("</svg>")
    at = datetime.fromtimestamp(t1 / 1000, UTC)
    note = " · ".join(n for n in (f"times in {zone_name(zone, at)}", merged_note(m)) if n)
    head = f'<div style="color:{MUTED};margin-bottom:4px">{esc(note)}</div>'
    return frame("timeline", error_html(error) + head +
                 f'<div style="overflow:auto;border:1px solid {RULE};background:{BG}">'
                 f'{"".join(parts)}</div>')


def fleet_text(m: Mapping[str, Any]) -> str:
    """Each pipeline's run count in the window, as text."""
    rows = m.get("rows") or []
    lines = [f"Timeline: {len(rows)} pipelines, {m.get('runs', 0)} runs in the last "
             f"{m.get('window', '?')}"]
    for row in rows:
        n = sum(mk[4] for mk in row.get("marks") or [])
        lines.append(f"  {plain(row['pipeline'])}: {n} runs, "
                     f"{len(row.get('ghosts') or [])} scheduled")
    return "\n".join(lines)
