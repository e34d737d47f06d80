"""Static HTML (and plain text) of each widget's state, for the ``text/html`` and
``text/plain`` entries of its mimebundle.

A notebook exported without widget state (``jupyter nbconvert --execute --to html
--ExecutePreprocessor.store_widget_state=False``) or viewed on GitHub shows these instead of
the live view. They are drawn from the same payloads the JS gets, with every string from a
runner escaped (:mod:`flowwidgets.widgets._static` has the building blocks; the run view's
is :mod:`flowwidgets.widgets._fallback_run`), in the dark theme of the live widgets.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from flowwidgets.widgets._fallback_run import MAX_STATIC_NODES, dag_svg, run_html, run_text
from flowwidgets.widgets._static import (
    AMBER,
    BG,
    LABEL,
    MUTED,
    PANEL,
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

__all__ = [
    "MAX_STATIC_NODES",
    "STATUS_ICON",
    "cards_html",
    "cards_text",
    "counted",
    "dag_svg",
    "format_duration",
    "format_time",
    "offline_html",
    "run_html",
    "run_text",
    "table_html",
    "table_text",
]

_MAX_TABLE_ROWS = 50


def offline_html(kind: str, reason: str) -> str:
    """The "No runner attached" panel."""
    return frame(kind, f'<div style="border:1px dashed {AMBER};color:{AMBER};padding:6px 10px">'
                        f'⚠ <b>NO RUNNER ATTACHED</b> <span style="color:{TEXT}">— '
                        f'{esc(reason or "the runner does not answer")}</span></div>')


# ---- cards ---------------------------------------------------------------------------


def _square(run: Mapping[str, Any] | None, max_ms: float, zone: str = "UTC") -> str:
    if run is None:
        return (f'<span title="no run yet" aria-hidden="true" style="display:inline-block;'
                f'width:16px;height:28px;'
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
             f"{format_time(run.get('started_at'), zone=zone, with_zone=True)} · duration "
             f"{format_duration(dur)}")
    ink = BG if fill != "transparent" else c
    return (f'<span role="img" title="{esc(title)}" aria-label="{esc(title)}" '
            f'style="display:inline-block;width:16px;height:{height}px;'
            f'background:{fill};border:1px solid {c};margin-right:3px;vertical-align:bottom;'
            f'color:{ink};font-size:9px;text-align:center;line-height:{height}px">'
            f'{STATUS_ICON[st]}</span>')


def cards_html(pipelines: Sequence[Mapping[str, Any]], *, error: str = "",
               zone: str = "UTC") -> str:
    """Cards with the last-10 strip, next fire or LIVE STREAMING, median duration; times
    in ``zone`` ("UTC" or "local": the kernel's zone), named."""
    cards = []
    for p in pipelines:
        recent = list(p.get("recent_runs") or [])[-10:]
        slots: list[Mapping[str, Any] | None] = [None] * (10 - len(recent)) + recent
        max_ms = max((r.get("duration_ms") or 0 for r in recent), default=0)
        strip = "".join(_square(r, max_ms, zone) for r in slots)
        n = len(recent)
        strip_label = (f"last {counted(n, 'run')} of {p.get('name')}, oldest first" if n
                       else f"no runs of {p.get('name')} yet")
        if p.get("kind") == "streaming":
            stats = p.get("streaming_stats") or {}
            rate = (stats.get("stats_1m") or {}).get("rows_consumed_per_sec")
            total = stats.get("rows_consumed_total")
            shown = _rate(rate) if rate is not None else (
                f"{counted(total, 'row')} so far" if isinstance(total, int) else "—")
            when = (f'<b style="color:{TEAL};letter-spacing:.1em">● LIVE STREAMING</b> '
                    f'{label("throughput")} {esc(shown)}')
        elif p.get("paused"):
            when = label("‖ paused")
        else:
            nxt = p.get("next_run_at")
            shown_next = format_time(nxt, False, zone, with_zone=True) if nxt else "—"
            when = f'{label("next")} {esc(shown_next)}'
        cards.append(
            f'<div class="fw-card" style="display:inline-block;vertical-align:top;width:280px;'
            f'margin:0 10px 10px 0;background:{PANEL};border:1px solid {RULE};border-radius:3px;'
            f'padding:10px 12px"><div><b>{esc(p.get("name"))}</b> '
            f'<span style="float:right">{label(str(p.get("kind") or "batch"))}</span></div>'
            f'<div role="group" aria-label="{esc(strip_label)}" '
            f'style="height:32px;margin:8px 0;border-bottom:1px solid {RULE}">{strip}</div>'
            f'<div>{when}</div><div>{label("median")} '
            f'{esc(format_duration(p.get("median_duration_ms")))}</div></div>')
    body = "".join(cards) or f'<div style="color:{MUTED}">No pipelines yet</div>'
    return frame("cards", error_html(error) + body)


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


def cards_text(pipelines: Sequence[Mapping[str, Any]], zone: str = "UTC") -> str:
    """One line per pipeline: name, kind, the strip as icons, next fire."""
    lines = [f"PipelineCards: {counted(len(pipelines), 'pipeline')}"]
    for p in pipelines:
        strip = "".join(STATUS_ICON[status_of(r.get("status"))]
                        for r in (p.get("recent_runs") or [])[-10:])
        nxt = ("LIVE STREAMING" if p.get("kind") == "streaming"
               else f"next {format_time(p.get('next_run_at'), False, zone, with_zone=True)}")
        lines.append(f"  {plain(p.get('name'))} [{plain(p.get('kind'))}] "
                     f"{strip or '(no runs)'} · {nxt}")
    return "\n".join(lines)


# ---- jobs table ----------------------------------------------------------------------

_TABLE_COLUMNS = ("Status", "Pipeline", "Started ({zone})", "Finished ({zone})", "Attempts",
                  "Duration", "Failed step")


def table_html(rows: Sequence[Mapping[str, Any]], *, total: int, page: int, page_size: int,
               error: str = "", zone: str = "UTC") -> str:
    """The visible page of the jobs table (times in ``zone``, named in the headers)."""
    name = esc(zone_name(zone))
    th = "".join(f'<th style="{TD};padding:4px 8px;{LABEL}">{c.format(zone=name)}</th>'
                 for c in _TABLE_COLUMNS)
    td = f'style="{TD};white-space:nowrap"'
    body = []
    for r in list(rows)[:_MAX_TABLE_ROWS]:
        failed = r.get("failed_step")
        attempts = r.get("attempts")
        body.append(
            f"<tr style=\"{ROW}\"><td {td}>{pill(r.get('status'))}</td>"
            f"<td {td}>{esc(r.get('pipeline'))}</td>"
            f"<td {td}>{esc(format_time(r.get('started_at'), zone=zone))}</td>"
            f"<td {td}>{esc(format_time(r.get('finished_at'), zone=zone))}</td>"
            f"<td {td}>{'—' if attempts is None else esc(attempts)}</td>"
            f"<td {td}>{esc(format_duration(r.get('duration_ms')))}</td>"
            f"<td {td}>{_failed_cell(failed)}</td></tr>")
    first = page * page_size + 1 if total else 0
    last = min(total, (page + 1) * page_size)
    summary = f"{first:,}–{last:,} of {counted(total, 'run')}" if total else "0 runs"
    table = (f'<table style="{TABLE};font-size:11.5px"><thead><tr style="{ROW}">{th}</tr>'
             f'</thead><tbody>{"".join(body)}</tbody></table>')
    return frame("jobs", error_html(error) + f'<div style="{LABEL};margin-bottom:6px">'
                  f'{summary}</div>' + table)


def _failed_cell(step: Any) -> str:
    return f'<span style="color:{RED}">✗ {esc(step)}</span>' if step else "—"


def table_text(rows: Sequence[Mapping[str, Any]], *, total: int, zone: str = "UTC") -> str:
    """The visible page as aligned text."""
    lines = [f"JobsTable: {counted(total, 'run')} (times {zone_name(zone)})"]
    for r in list(rows)[:_MAX_TABLE_ROWS]:
        st = status_of(r.get("status"))
        lines.append(f"  {STATUS_ICON[st]} {st:<9} {plain(r.get('pipeline')):<20} "
                     f"{format_time(r.get('started_at'), zone=zone)}  "
                     f"{format_duration(r.get('duration_ms')):>8}  "
                     f"{plain(r.get('failed_step') or '')}")
    return "\n".join(lines)


