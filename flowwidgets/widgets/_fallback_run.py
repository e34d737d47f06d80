"""The static fallback of RunView: header, the DAG as inline SVG from the same
:func:`flowwidgets.layout.layout` the live view draws, legend, failure and attempts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flowwidgets.layout import Layout, edge_path
from flowwidgets.widgets._static import (
    AMBER,
    BG,
    FONT,
    MUTED,
    PANEL,
    PRE,
    RED,
    ROW,
    RULE,
    STATUS_ICON,
    TABLE,
    TD,
    TEAL,
    TEXT,
    color_of,
    counted,
    error_html,
    esc,
    format_duration,
    format_time,
    frame,
    label,
    pill,
    plain,
    status_of,
    zone_name,
)

__all__ = ["MAX_STATIC_NODES", "dag_svg", "run_html", "run_text"]

MAX_ATTEMPT_ROWS = 50
MAX_STATIC_NODES = 400
"""Beyond this many steps the static view counts steps by status instead of drawing them
(a 5,000-step SVG would put megabytes into the saved notebook)."""


def dag_svg(lay: Layout, steps: Mapping[str, Mapping[str, Any]]) -> str:
    """The DAG as inline SVG from the same layout the live view draws."""
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="fw-dag" width="{lay.width:g}" '
             f'height="{lay.height:g}" viewBox="0 0 {lay.width:g} {lay.height:g}" '
             f'role="group" aria-label="task graph, {counted(len(lay.nodes), "step")}" '
             f'style="background:{PANEL};font-family:{FONT}">'
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
        label = f"step {n.name}: {meta[2:].lower()}"
        parts.append(
            f'<g transform="translate({n.x:g},{n.y:g})" role="img" aria-label="{esc(label)}"'
            f'{opacity}><title>{esc(n.name)} — {esc(word)}</title>'
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


def run_html(payload: Mapping[str, Any], lay: Layout | None, *, error: str = "",
             timing: Mapping[str, Any] | None = None, zone: str = "UTC") -> str:
    """The run: header, DAG, legend, timeline, failure and attempt history (times in
    ``zone``, named)."""
    if not payload or "run" not in payload:
        return frame("run", error_html(error) + f'<div style="color:{MUTED}">No run selected'
                      f'</div>')
    run = payload["run"]
    steps = {s["name"]: s for s in payload.get("steps") or []}
    head = (f'<div style="margin-bottom:8px">{label("run")} <b>{esc(run.get("run_id"))}</b> '
            f'{pill(run.get("status"))} {label("pipeline")} {esc(run.get("pipeline"))} '
            f'{label("started")} '
            f'{esc(format_time(run.get("started_at"), zone=zone, with_zone=True))} '
            f'{label("duration")} {esc(format_duration(run.get("duration_ms")))}</div>')
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
    if timing and timing.get("steps"):
        from flowwidgets.widgets._run_timing import timeline_svg

        tl = timeline_svg(dict(timing))
        body += f'<div style="margin-top:10px">{label("timeline")}{tl}</div>'
    failed = [s for s in steps.values() if status_of(s.get("status")) == "failed"]
    if status_of(run.get("status")) == "failed" or failed:
        text = payload.get("error") or next((s.get("error") for s in failed if s.get("error")),
                                            None)
        step = run.get("failed_step") or (failed[0]["name"] if failed else "—")
        body += (f'<div style="margin-top:10px;border-left:3px solid {RED};padding:4px 10px">'
                 f'{label("failed step")} <b style="color:{RED}">✗ {esc(step)}</b>'
                 f'<pre style="{PRE}">{esc(text or "")}</pre></div>')
    attempts = payload.get("attempts") or []
    if attempts:
        td = f'<td style="{TD}">'
        rows = "".join(
            f'<tr style="{ROW}">{td}{esc(a.get("number"))}</td>{td}{esc(a.get("step") or "—")}'
            f'</td>{td}{pill(a.get("status"))}</td>'
            f'{td}{esc(format_time(a.get("started_at"), zone=zone))}'
            f'</td>{td}{esc(_last_line(a.get("error")))}</td></tr>'
            for a in attempts[:MAX_ATTEMPT_ROWS])
        head_a = f"attempts ({len(attempts)}) · started, {zone_name(zone)}"
        body += (f'<div style="margin-top:10px">{label(head_a)}'
                 f'<table style="{TABLE};width:auto;font-size:11px">{rows}</table></div>')
    return frame("run", error_html(error) + body)


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
    lines = [f"RunView: run {plain(run.get('run_id'))} of {plain(run.get('pipeline'))}: "
             f"{STATUS_ICON[st]} {st}"]
    for s in payload.get("steps") or []:
        sst = status_of(s.get("status"))
        lines.append(f"  {STATUS_ICON[sst]} {plain(s.get('name'))} {sst} "
                     f"{format_duration(s.get('duration_ms'))}")
    return "\n".join(lines)
