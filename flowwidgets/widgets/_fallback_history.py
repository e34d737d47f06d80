"""The History view's static fallback (``text/html`` and ``text/plain``): the summary
rows, a small duration chart as SVG, the failure groups and the grid, drawn from the same
payloads the JS gets. Every runner string goes through :func:`esc` / :func:`plain`."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from flowwidgets.widgets._static import (
    LABEL,
    MUTED,
    PRE,
    RED,
    ROW,
    RULE,
    STATUS_ICON,
    TABLE,
    TD,
    TEAL,
    color_of,
    counted,
    error_html,
    esc,
    format_duration,
    format_time,
    frame,
    label,
    plain,
    status_of,
)

__all__ = ["history_html", "history_text", "trend_text"]

_W, _H = 640, 140
_MAX_GROUPS = 12


def trend_text(trend: float | None) -> str:
    """"+12% slower", "8% faster", "3.2× faster" (under half the time), "steady" or "—"
    (the JS says the same)."""
    if trend is None or (isinstance(trend, float) and math.isnan(trend)):
        return "—"
    if -1 < trend < -0.5:
        times = 1 / (1 + trend)
        return f"{times:.1f}× faster" if times < 10 else f"{round(times)}× faster"
    pct = round(trend * 100)
    if abs(pct) < 3:
        return "steady"
    return f"+{pct}% slower" if pct > 0 else f"{-pct}% faster"


def _chart_svg(chart: Mapping[str, Any]) -> str:
    marks = chart.get("marks") or []
    if not marks:
        return f'<div style="color:{MUTED}">No finished runs in this window.</div>'
    t0, t1 = chart.get("start", 0), chart.get("end", 1)
    span = max(t1 - t0, 1)
    top = max(m[1] for m in marks) or 1
    lo = max(min(m[1] for m in marks), 1)

    def y(ms: float) -> float:
        if top <= lo:
            return _H / 2
        return _H - 8 - (math.log(max(ms, lo)) - math.log(lo)) / (
            math.log(top) - math.log(lo)) * (_H - 16)

    dots = []
    for m in marks[:3000]:
        x = 4 + (m[0] - t0) / span * (_W - 8)
        c = color_of(status_of(m[2]))
        if m[4]:  # a restart: hollow
            dots.append(f'<circle cx="{x:.1f}" cy="{y(m[1]):.1f}" r="2.5" fill="none" '
                        f'stroke="{c}"/>')
        else:
            dots.append(f'<circle cx="{x:.1f}" cy="{y(m[1]):.1f}" r="2" fill="{c}"/>')
    return (f'<svg width="{_W}" height="{_H}" viewBox="0 0 {_W} {_H}" role="img" '
            f'aria-label="durations over time" style="display:block;margin:6px 0;'
            f'border-bottom:1px solid {RULE}">{"".join(dots)}</svg>')


def _summary_table(rows: Sequence[Mapping[str, Any]]) -> str:
    head = "".join(f'<th style="{TD};{LABEL}">{h}</th>' for h in
                   ("Pipeline", "Runs", "Success", "p50", "p90", "Trend (7 d vs 7 before)"))
    body = []
    for r in rows:
        rate = r.get("success_rate")
        trend = r.get("trend")
        colour = RED if trend is not None and trend >= 0.03 else (
            TEAL if trend is not None and trend <= -0.03 else MUTED)
        cells = [esc(r.get("pipeline")), f"{r.get('runs', 0):,}",
                 "—" if rate is None else f"{round(rate * 100)}%",
                 format_duration(r.get("p50_ms")), format_duration(r.get("p90_ms")),
                 f'<span style="color:{colour}">{esc(trend_text(trend))}</span>']
        body.append(f'<tr style="{ROW}">' + "".join(f'<td style="{TD}">{c}</td>'
                                                     for c in cells) + "</tr>")
    return f'<table style="{TABLE}"><tr style="{ROW}">{head}</tr>{"".join(body)}</table>'


def _failures(groups: Sequence[Mapping[str, Any]], zone: str = "UTC") -> str:
    if not groups:
        return f'<div style="color:{MUTED}">No failures in this window.</div>'
    out = []
    for g in groups[:_MAX_GROUPS]:
        out.append(
            f'<div style="border-left:3px solid {RED};padding:3px 8px;margin:4px 0">'
            f'<b style="color:{RED}">{STATUS_ICON["failed"]} {g.get("count", 0)}×</b> '
            f'{esc(g.get("pipeline"))} · {esc(g.get("step") or "—")} '
            f'<span style="color:{MUTED}">first '
            f'{esc(format_time(g.get("first_seen"), zone=zone))}, last '
            f'{esc(format_time(g.get("last_seen"), zone=zone, with_zone=True))}</span>'
            f'<pre style="{PRE}">{esc(g.get("signature"))}</pre></div>')
    return "".join(out)


def _grid(grid: Mapping[str, Any]) -> str:
    steps, runs, cells = grid.get("steps") or [], grid.get("runs") or [], grid.get("cells") or []
    if not steps or not runs:
        return ""
    rows = []
    for i, step in enumerate(steps):
        tds = []
        for j, _run in enumerate(runs):
            cell = cells[j][i] if j < len(cells) and i < len(cells[j]) else None
            st = status_of(cell[0]) if cell else "pending"
            from_run = cell[3] if cell and len(cell) > 3 else None
            what = f"reused from run {esc(from_run)}" if from_run else st
            icon = "↺" if from_run else STATUS_ICON[st]
            tds.append(f'<td title="{esc(step)} · {what}" style="padding:0 1px;border:0;'
                       f'color:{color_of(st)};font-size:10px">{icon}</td>')
        rows.append(f'<tr style="{ROW}"><td style="{TD};white-space:nowrap">{esc(step)}</td>'
                    f'{"".join(tds)}</tr>')
    return (f'<div style="margin-top:8px">{label("Runs × steps (oldest left)")}</div>'
            f'<table style="{TABLE};width:auto">{"".join(rows)}</table>')


def history_html(pipeline: str | None, window: str, chart: Mapping[str, Any],
                 rows: Sequence[Mapping[str, Any]], groups: Sequence[Mapping[str, Any]],
                 grid: Mapping[str, Any], *, error: str = "", zone: str = "UTC") -> str:
    """The History view as static HTML (times in ``zone``, named)."""
    n = chart.get("runs", 0)
    what = esc(pipeline) if pipeline else "every pipeline"
    note = " (bucketed per pixel column)" if chart.get("bucketed") else ""
    imported = chart.get("imported") or 0
    extra = f", {counted(imported, 'imported run')}" if imported else ""
    body = (error_html(error)
            + f'<div>{label("History")} <b>{what}</b> · last {esc(window)} · '
            f'{counted(n, "run")}{extra}{note}</div>'
            + _chart_svg(chart) + _summary_table(rows)
            + f'<div style="margin-top:8px">{label("Failures by cause")}</div>'
            + _failures(groups, zone) + _grid(grid))
    return frame("history", body)


def history_text(pipeline: str | None, window: str, rows: Sequence[Mapping[str, Any]],
                 groups: Sequence[Mapping[str, Any]]) -> str:
    """The History view as plain text: a line per pipeline and per failure group."""
    lines = [f"History of {plain(pipeline) if pipeline else 'every pipeline'} "
             f"(last {plain(window)})"]
    for r in rows:
        rate = r.get("success_rate")
        lines.append(f"  {plain(r.get('pipeline'))}: {r.get('runs', 0)} runs, "
                     f"{'—' if rate is None else f'{round(rate * 100)}%'} ok, "
                     f"p50 {format_duration(r.get('p50_ms'))}, "
                     f"trend {trend_text(r.get('trend'))}")
    for g in groups[:_MAX_GROUPS]:
        lines.append(f"  ✗ {g.get('count', 0)}× {plain(g.get('pipeline'))}·"
                     f"{plain(g.get('step') or '—')}: {plain(g.get('signature'))}")
    return "\n".join(lines)
