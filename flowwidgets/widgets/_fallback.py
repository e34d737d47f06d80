"""Static HTML (and plain text) of each widget's state, for the ``text/html`` and
``text/plain`` entries of its mimebundle.

A notebook exported without widget state (``jupyter nbconvert --execute --to html
--ExecutePreprocessor.store_widget_state=False``) or viewed on GitHub shows these instead of
the live view. They are drawn from the same payloads the JS gets (and the DAG from the same
:func:`flowwidgets.layout.layout`), with every string from a runner escaped. Colours are
inline (no stylesheet is guaranteed there), in the dark theme of the live widgets.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from flowwidgets.layout import Layout, edge_path
from flowwidgets.models import parse_time

__all__ = [
    "STATUS_ICON",
    "cards_html",
    "cards_text",
    "counted",
    "format_duration",
    "format_time",
    "offline_html",
    "run_html",
    "run_text",
    "table_html",
    "table_text",
]

# Mirrors js/src/lib/status.ts: status is never told by colour alone.
STATUS_ICON = {
    "pending": "○",
    "requested": "◌",
    "running": "●",
    "paused": "‖",
    "succeeded": "✓",
    "failed": "✗",
    "cancelled": "⊘",
    "skipped": "↷",
    "unknown": "?",
}

BG, PANEL, TEXT, MUTED, RULE = "#0d1412", "#131d1a", "#cfe8dc", "#6f8f84", "#24352f"
TEAL, AMBER, RED, SKIP = "#2bb3a3", "#f2a93b", "#e5534b", "#51706a"
_COLOR = {"succeeded": TEAL, "failed": RED, "running": AMBER, "requested": AMBER,
          "paused": AMBER, "cancelled": SKIP, "skipped": SKIP}
_FONT = "ui-monospace,SFMono-Regular,'DejaVu Sans Mono',Menlo,Consolas,monospace"
_LABEL = (f"color:{MUTED};font-size:10px;letter-spacing:.09em;text-transform:uppercase")
_MAX_TABLE_ROWS = 50
MAX_STATIC_NODES = 400
"""Beyond this many steps the static view counts steps by status instead of drawing them
(a 5,000-step SVG would put megabytes into the saved notebook)."""


def esc(value: Any) -> str:
    """Escape any value for HTML text or a quoted attribute."""
    return html.escape("" if value is None else str(value), quote=True)


def status_of(value: Any) -> str:
    """A status word from a payload, ``unknown`` when it is not one of ours."""
    word = str(value or "").strip().lower()
    return word if word in STATUS_ICON else "unknown"


def color_of(status: str) -> str:
    """The colour of a status word (muted for pending and unknown)."""
    return _COLOR.get(status, MUTED)


def format_duration(ms: Any) -> str:
    """Milliseconds as "850 ms", "12.3 s", "4m 05s", "2h 03m", "3d 04h" (like the JS)."""
    if ms is None or isinstance(ms, bool):
        return "—"
    try:
        ms = float(ms)
    except (TypeError, ValueError):
        return "—"
    if ms != ms or ms < 0:
        return "—"
    if ms < 1000:
        return f"{round(ms)} ms"
    secs = ms / 1000
    if secs < 60:
        return f"{secs:.1f} s"
    total = int(secs)
    d, h, m, s = total // 86400, total % 86400 // 3600, total % 3600 // 60, total % 60
    if d:
        return f"{d}d {h:02d}h"
    if h:
        return f"{h}h {m:02d}m"
    return f"{m}m {s:02d}s"


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """``n`` and the noun in the right number: "1 run", "1,204 runs" (like the JS)."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"


def format_time(value: Any, seconds: bool = True) -> str:
    """An ISO time (or datetime) as "2026-11-22 08:10:05" in UTC, "—" when missing."""
    try:
        dt = value if isinstance(value, datetime) else parse_time(value)
    except (TypeError, ValueError):
        return "—"
    if dt is None:
        return "—"
    return dt.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def pill(status: Any) -> str:
    """A status pill: colour, icon and word."""
    st = status_of(status)
    c = color_of(st)
    dash = "dashed" if st in ("pending", "unknown", "requested", "paused") else "solid"
    return (f'<span class="fw-pill fw-pill--{st}" style="color:{c};border:1px {dash} {c};'
            f'border-radius:9px;padding:0 7px;font-size:10px;letter-spacing:.07em;'
            f'text-transform:uppercase;white-space:nowrap">{STATUS_ICON[st]} {st}</span>')


def _label(text: str) -> str:
    return f'<span style="{_LABEL}">{esc(text)}</span>'


def _frame(kind: str, body: str) -> str:
    return (f'<div class="fw-static fw-static-{kind}" style="background:{BG};color:{TEXT};'
            f'font-family:{_FONT};font-size:12px;line-height:1.45;padding:12px;'
            f'border:1px solid {RULE};border-radius:4px">{body}'
            f'<div style="{_LABEL};margin-top:8px">flowwidgets · static snapshot</div></div>')


def offline_html(kind: str, reason: str) -> str:
    """The "No runner attached" panel."""
    return _frame(kind, f'<div style="border:1px dashed {AMBER};color:{AMBER};padding:6px 10px">'
                        f'⚠ <b>NO RUNNER ATTACHED</b> <span style="color:{TEXT}">— '
                        f'{esc(reason or "the runner does not answer")}</span></div>')


def _error_html(error: str) -> str:
    if not error:
        return ""
    return (f'<div style="border:1px solid {RED};border-left-width:3px;padding:6px 10px;'
            f'margin-bottom:8px"><span style="{_LABEL};color:{RED}">✗ Error</span>'
            f'<pre style="margin:4px 0 0;white-space:pre-wrap">{esc(error)}</pre></div>')


# ---- cards ---------------------------------------------------------------------------


def _square(run: Mapping[str, Any] | None, max_ms: float) -> str:
    if run is None:
        return (f'<span title="no run yet" style="display:inline-block;width:16px;height:28px;'
                f'border:1px dashed {RULE};margin-right:3px;vertical-align:bottom"></span>')
    st = status_of(run.get("status"))
    dur = run.get("duration_ms")
    if isinstance(dur, int | float) and max_ms > 0:
        height = round(10 + 20 * (max(0.0, min(1.0, dur / max_ms)) ** 0.5))
    else:
        height = 30
    c = color_of(st)
    fill = "transparent" if st in ("pending", "unknown", "requested", "paused") else c
    title = (f"{STATUS_ICON[st]} {st} · run {run.get('run_id')} · started "
             f"{format_time(run.get('started_at'))} UTC · duration {format_duration(dur)}")
    ink = BG if fill != "transparent" else c
    return (f'<span title="{esc(title)}" style="display:inline-block;width:16px;height:{height}px;'
            f'background:{fill};border:1px solid {c};margin-right:3px;vertical-align:bottom;'
            f'color:{ink};font-size:9px;text-align:center;line-height:{height}px">'
            f'{STATUS_ICON[st]}</span>')


def cards_html(pipelines: Sequence[Mapping[str, Any]], *, error: str = "") -> str:
    """Cards with the last-10 strip, next fire or LIVE STREAMING, median duration."""
    cards = []
    for p in pipelines:
        recent = list(p.get("recent_runs") or [])[-10:]
        slots: list[Mapping[str, Any] | None] = [None] * (10 - len(recent)) + recent
        max_ms = max((r.get("duration_ms") or 0 for r in recent), default=0)
        strip = "".join(_square(r, max_ms) for r in slots)
        if p.get("kind") == "streaming":
            stats = p.get("streaming_stats") or {}
            rate = (stats.get("stats_1m") or {}).get("rows_consumed_per_sec")
            total = stats.get("rows_consumed_total")
            shown = _rate(rate) if rate is not None else (
                f"{counted(total, 'row')} so far" if isinstance(total, int) else "—")
            when = (f'<b style="color:{TEAL};letter-spacing:.1em">● LIVE STREAMING</b> '
                    f'{_label("throughput")} {esc(shown)}')
        elif p.get("paused"):
            when = _label("‖ paused")
        else:
            nxt = p.get("next_run_at")
            when = (f'{_label("next")} {esc(format_time(nxt, False)) + " UTC" if nxt else "—"}')
        cards.append(
            f'<div class="fw-card" style="display:inline-block;vertical-align:top;width:280px;'
            f'margin:0 10px 10px 0;background:{PANEL};border:1px solid {RULE};border-radius:3px;'
            f'padding:10px 12px"><div><b>{esc(p.get("name"))}</b> '
            f'<span style="float:right">{_label(str(p.get("kind") or "batch"))}</span></div>'
            f'<div style="height:32px;margin:8px 0;border-bottom:1px solid {RULE}">{strip}</div>'
            f'<div>{when}</div><div>{_label("median")} '
            f'{esc(format_duration(p.get("median_duration_ms")))}</div></div>')
    body = "".join(cards) or f'<div style="color:{MUTED}">No pipelines yet</div>'
    return _frame("cards", _error_html(error) + body)


def _rate(value: Any) -> str:
    if not isinstance(value, int | float):
        return "—"
    if value >= 1e6:
        return f"{value / 1e6:.1f}M rows/s"
    if value >= 1e4:
        return f"{round(value / 1e3)}k rows/s"
    if value >= 1e3:
        return f"{value / 1e3:.1f}k rows/s"
    return f"{round(value) if value >= 10 else round(value, 1)} rows/s"


def cards_text(pipelines: Sequence[Mapping[str, Any]]) -> str:
    """One line per pipeline: name, kind, the strip as icons, next fire."""
    lines = [f"PipelineCards: {counted(len(pipelines), 'pipeline')}"]
    for p in pipelines:
        strip = "".join(STATUS_ICON[status_of(r.get("status"))]
                        for r in (p.get("recent_runs") or [])[-10:])
        nxt = ("LIVE STREAMING" if p.get("kind") == "streaming"
               else f"next {format_time(p.get('next_run_at'), False)} UTC")
        lines.append(f"  {p.get('name')} [{p.get('kind')}] {strip or '(no runs)'} · {nxt}")
    return "\n".join(lines)


# ---- jobs table ----------------------------------------------------------------------

_TABLE_COLUMNS = ("Status", "Pipeline", "Started (UTC)", "Finished (UTC)", "Attempts",
                  "Duration", "Failed step")


def table_html(rows: Sequence[Mapping[str, Any]], *, total: int, page: int, page_size: int,
               error: str = "") -> str:
    """The visible page of the jobs table."""
    th = "".join(f'<th style="text-align:left;padding:4px 8px;border-bottom:1px solid {RULE};'
                 f'{_LABEL}">{c}</th>' for c in _TABLE_COLUMNS)
    td = f'style="padding:3px 8px;border-bottom:1px solid {RULE};white-space:nowrap"'
    body = []
    for r in list(rows)[:_MAX_TABLE_ROWS]:
        failed = r.get("failed_step")
        attempts = r.get("attempts")
        body.append(
            f"<tr><td {td}>{pill(r.get('status'))}</td><td {td}>{esc(r.get('pipeline'))}</td>"
            f"<td {td}>{esc(format_time(r.get('started_at')))}</td>"
            f"<td {td}>{esc(format_time(r.get('finished_at')))}</td>"
            f"<td {td}>{'—' if attempts is None else esc(attempts)}</td>"
            f"<td {td}>{esc(format_duration(r.get('duration_ms')))}</td>"
            f"<td {td}>{_failed_cell(failed)}</td></tr>")
    first = page * page_size + 1 if total else 0
    last = min(total, (page + 1) * page_size)
    summary = f"{first:,}–{last:,} of {counted(total, 'run')}" if total else "0 runs"
    table = (f'<table style="border-collapse:collapse;width:100%;background:{PANEL};'
             f'font-size:11.5px"><thead><tr>{th}</tr></thead><tbody>{"".join(body)}</tbody>'
             f'</table>')
    return _frame("jobs", _error_html(error) + f'<div style="{_LABEL};margin-bottom:6px">'
                  f'{summary}</div>' + table)


def _failed_cell(step: Any) -> str:
    return f'<span style="color:{RED}">✗ {esc(step)}</span>' if step else "—"


def table_text(rows: Sequence[Mapping[str, Any]], *, total: int) -> str:
    """The visible page as aligned text."""
    lines = [f"JobsTable: {counted(total, 'run')}"]
    for r in list(rows)[:_MAX_TABLE_ROWS]:
        st = status_of(r.get("status"))
        lines.append(f"  {STATUS_ICON[st]} {st:<9} {r.get('pipeline')!s:<20} "
                     f"{format_time(r.get('started_at'))}  "
                     f"{format_duration(r.get('duration_ms')):>8}  {r.get('failed_step') or ''}")
    return "\n".join(lines)


# ---- run detail and DAG ---------------------------------------------------------------


def dag_svg(lay: Layout, steps: Mapping[str, Mapping[str, Any]]) -> str:
    """The DAG as inline SVG from the same layout the live view draws."""
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="fw-dag" width="{lay.width:g}" '
             f'height="{lay.height:g}" viewBox="0 0 {lay.width:g} {lay.height:g}" '
             f'role="img" aria-label="task graph, {counted(len(lay.nodes), "step")}" '
             f'style="background:{PANEL};font-family:{_FONT}">'
             f'<defs><marker id="fw-static-arrow" viewBox="0 0 10 10" refX="9" refY="5" '
             f'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
             f'<path d="M 0 0 L 10 5 L 0 10 z" fill="{MUTED}"/></marker></defs>']
    for e in lay.edges:
        src_done = status_of((steps.get(e.source) or {}).get("status")) == "succeeded"
        stroke = RED if e.cyclic else (TEAL if src_done else MUTED)
        dash = ' stroke-dasharray="3 3"' if e.cyclic else ""
        parts.append(f'<path d="{edge_path(e.points)}" fill="none" stroke="{stroke}" '
                     f'stroke-width="1.3"{dash} marker-end="url(#fw-static-arrow)"/>')
    for n in lay.nodes:
        step = steps.get(n.name) or {}
        st = status_of(step.get("status") or "pending")
        c = color_of(st)
        dim = st in ("pending", "requested", "unknown")
        word = "reused" if st == "succeeded" and step.get("reused_from") else st
        dur = step.get("duration_ms")
        meta = f"{STATUS_ICON[st]} {word.upper()}" + (
            f" · {format_duration(dur)}" if dur is not None else "")
        name = n.name if len(n.name) <= 21 else n.name[:20] + "…"
        opacity = ' opacity="0.6"' if dim else ""
        dashed = ' stroke-dasharray="4 3"' if dim else ""
        width = 1.8 if st in ("failed", "running") else 1.2
        parts.append(
            f'<g transform="translate({n.x:g},{n.y:g})"{opacity}>'
            f'<title>{esc(n.name)} — {esc(word)}</title>'
            f'<rect width="{n.width:g}" height="{n.height:g}" rx="3" fill="{BG}" stroke="{c}" '
            f'stroke-width="{width}"{dashed}/>'
            f'<rect width="3" height="{n.height:g}" fill="{c}"/>'
            f'<text x="10" y="{n.height / 2 - 4:g}" fill="{TEXT}" font-size="12" '
            f'font-weight="700">{esc(name)}</text>'
            f'<text x="10" y="{n.height / 2 + 13:g}" fill="{c}" font-size="10">{esc(meta)}</text>'
            f'</g>')
    parts.append("</svg>")
    return "".join(parts)


def _legend() -> str:
    style = "font-size:10px;letter-spacing:.09em;text-transform:uppercase;margin-right:10px"
    return " ".join(f'<span style="color:{color_of(s)};{style}">{STATUS_ICON[s]} {s}</span>'
                    for s in ("succeeded", "running", "failed", "pending", "skipped"))


def run_html(payload: Mapping[str, Any], lay: Layout | None, *, error: str = "") -> str:
    """The run: header, DAG, legend, failure and attempt history."""
    if not payload or "run" not in payload:
        return _frame("run", _error_html(error) + f'<div style="color:{MUTED}">No run selected'
                      f'</div>')
    run = payload["run"]
    steps = {s["name"]: s for s in payload.get("steps") or []}
    head = (f'<div style="margin-bottom:8px">{_label("run")} <b>{esc(run.get("run_id"))}</b> '
            f'{pill(run.get("status"))} {_label("pipeline")} {esc(run.get("pipeline"))} '
            f'{_label("started")} {esc(format_time(run.get("started_at")))} UTC '
            f'{_label("duration")} {esc(format_duration(run.get("duration_ms")))}</div>')
    if lay is None or not lay.nodes:
        dag = f'<div style="color:{MUTED}">No steps</div>'
    elif len(lay.nodes) > MAX_STATIC_NODES:
        counts: dict[str, int] = {}
        for s in steps.values():
            st = status_of(s.get("status"))
            counts[st] = counts.get(st, 0) + 1
        dag = (f'<div style="color:{MUTED}">{counted(len(lay.nodes), "step")} — too many to draw '
               f'here; open the live view. ' + " ".join(
                   f'<span style="color:{color_of(k)}">{STATUS_ICON[k]} {v:,} {k}</span>'
                   for k, v in sorted(counts.items())) + '</div>')
    else:
        dag = f'<div style="overflow:auto;border:1px solid {RULE}">{dag_svg(lay, steps)}</div>'
    body = head + dag + f'<div style="margin-top:6px">{_legend()}</div>'
    if lay is not None and lay.problems:
        body += f'<div style="color:{AMBER}">⚠ {esc("; ".join(lay.problems))}</div>'
    failed = [s for s in steps.values() if status_of(s.get("status")) == "failed"]
    if status_of(run.get("status")) == "failed" or failed:
        text = payload.get("error") or next((s.get("error") for s in failed if s.get("error")),
                                            None)
        step = run.get("failed_step") or (failed[0]["name"] if failed else "—")
        body += (f'<div style="margin-top:10px;border-left:3px solid {RED};padding:4px 10px">'
                 f'{_label("failed step")} <b style="color:{RED}">✗ {esc(step)}</b>'
                 f'<pre style="white-space:pre-wrap;margin:4px 0 0">{esc(text or "")}</pre></div>')
    attempts = payload.get("attempts") or []
    if attempts:
        rows = "".join(
            f"<tr><td>{esc(a.get('number'))}</td><td>{esc(a.get('step') or '—')}</td>"
            f"<td>{pill(a.get('status'))}</td><td>{esc(format_time(a.get('started_at')))}</td>"
            f"<td>{esc(_last_line(a.get('error')))}</td></tr>" for a in attempts[:_MAX_TABLE_ROWS])
        body += (f'<div style="margin-top:10px">{_label(f"attempts ({len(attempts)})")}'
                 f'<table style="border-collapse:collapse;font-size:11px">{rows}</table></div>')
    return _frame("run", _error_html(error) + body)


def _last_line(text: Any) -> str:
    if not text:
        return "—"
    lines = str(text).strip().splitlines()
    return lines[-1] if lines else "—"


def run_text(payload: Mapping[str, Any]) -> str:
    """The run and each step's status as text."""
    if not payload or "run" not in payload:
        return "RunView: no run selected"
    run = payload["run"]
    st = status_of(run.get("status"))
    lines = [f"RunView: run {run.get('run_id')} of {run.get('pipeline')}: {STATUS_ICON[st]} {st}"]
    for s in payload.get("steps") or []:
        sst = status_of(s.get("status"))
        lines.append(f"  {STATUS_ICON[sst]} {s.get('name')} {sst} "
                     f"{format_duration(s.get('duration_ms'))}")
    return "\n".join(lines)
