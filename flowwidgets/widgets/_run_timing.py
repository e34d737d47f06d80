"""The run timeline's data (the RunView ``_timing`` trait) and its static SVG.

:func:`timing_payload` joins :func:`flowwidgets.timing.timing` (segments, waits, critical
path, slack) and, for a running run, :func:`flowwidgets.eta.estimate` (where pending steps
are expected to run, the ETA line). Times are epoch milliseconds. :func:`timeline_svg`
draws it for saved notebooks with the same geometry constants as
``js/src/lib/timeline.ts``; every runner string is escaped.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from flowwidgets.eta import HISTORY_RUNS, Eta, estimate, format_eta
from flowwidgets.models import RunDetail
from flowwidgets.timing import timing
from flowwidgets.widgets._static import (
    AMBER,
    BG,
    FONT,
    MUTED,
    PANEL,
    RULE,
    STATUS_ICON,
    TEXT,
    color_of,
    esc,
    format_duration,
    status_of,
)

__all__ = ["LABEL_WIDTH", "MAX_ETAS", "ROW_HEIGHT", "EtaTexts", "HistoryCache",
           "critical_line", "run_eta", "timeline_svg", "timing_payload"]

ROW_HEIGHT = 20
"""Height of one step's row (px); bars are 12 px inside it."""
LABEL_WIDTH = 170
"""Width of the step-name column (px)."""
AXIS_HEIGHT = 22
"""Height of the time axis above the rows (px)."""
MAX_STATIC_ROWS = 400
"""Beyond this many steps the static timeline is not drawn (it would be megabytes)."""
MAX_ETAS = 10
"""Most running runs a card set or a table page estimates per refresh."""
HISTORY_TTL_S = 60.0
"""How long a pipeline's step history is reused between polls of a running run."""


class HistoryCache:
    """A pipeline's successful step history, read at most once per :data:`HISTORY_TTL_S`."""

    def __init__(self, read: Callable[[str], list[RunDetail]]):
        self._read = read
        self._kept: dict[str, tuple[float, list[RunDetail]]] = {}

    def get(self, pipeline: str) -> list[RunDetail]:
        """The history of ``pipeline`` (newest first)."""
        hit = self._kept.get(pipeline)
        if hit is not None and time.monotonic() - hit[0] < HISTORY_TTL_S:
            return hit[1]
        hist = self._read(pipeline)
        self._kept[pipeline] = (time.monotonic(), hist)
        return hist


class EtaTexts:
    """ETA lines of running runs for the cards and the jobs table: one run read each, and
    the pipeline's history at most once a minute; a runner error leaves the line empty."""

    def __init__(self, source: Any):
        self._source = source
        self._history = HistoryCache(
            lambda p: source.step_history(p, limit=HISTORY_RUNS + 1, status="succeeded"))

    def texts(self, run_ids: list[str]) -> dict[str, str]:
        """``{run_id: "ETA 14:42:05 UTC (in 3 min, p90 in 5 min)"}`` for the first
        :data:`MAX_ETAS` ids (active runs; others get no entry)."""
        out: dict[str, str] = {}
        for rid in run_ids[:MAX_ETAS]:
            try:
                eta = run_eta(self._source.run(rid), self._history)
            except Exception:  # an ETA is a nicety: never an error in the view
                continue
            if eta is not None:
                out[rid] = format_eta(eta.to_dict())
        return out


def run_eta(detail: RunDetail, cache: HistoryCache, now: datetime | None = None) -> Eta | None:
    """The ETA of an active run from the cached history (None for a finished run, and for
    a streaming run: it has no end to estimate — its view shows the stream's live stats;
    it read "ETA partial: 1 step has no history")."""
    if not detail.run.status.is_active or detail.run.kind == "streaming":
        return None
    hist = cache.get(detail.run.pipeline)
    workers = next((w for h in hist if isinstance(w := h.extra.get("max_workers"), int)), None)
    return estimate(detail, hist, now=now, workers=workers, runs=HISTORY_RUNS)


def _ms(t: datetime | None) -> int | None:
    return None if t is None else int(round(t.timestamp() * 1000))


def timing_payload(detail: RunDetail, eta: Eta | None = None,
                   now: datetime | None = None) -> dict[str, Any]:
    """What the timeline draws: :meth:`Timing.to_dict` plus ``now``, ``planned`` slots of
    unfinished steps, ``eta`` (its dict) and ``eta_text``."""
    now = now or datetime.now(UTC)
    out = timing(detail, now).to_dict()
    # a finished run's payload must not change between polls: its "now" is its end
    out["now"] = out["end"] if detail.run.status.is_terminal else _ms(now)
    out["planned"] = {n: [_ms(a), _ms(b)] for n, (a, b) in eta.planned.items()} if eta else {}
    out["eta"] = eta.to_dict() if eta else None
    out["eta_text"] = format_eta(out["eta"])
    return out


def _x(t: float, t0: float, span: float, width: float) -> float:
    return LABEL_WIDTH + (t - t0) / span * width


TICK_STEPS = (10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 15_000, 30_000, 60_000,
              120_000, 300_000, 600_000, 900_000, 1_800_000, 3_600_000, 7_200_000, 21_600_000,
              43_200_000, 86_400_000)
"""The round tick steps (ms) of the time axes (the JS twin is ``TICK_STEPS`` in
js/src/lib/timeline.ts, checked equal by tests/timing)."""


def tick_step(span_ms: float, target: int = 6) -> int:
    """A tick step (ms) giving about ``target`` ticks over ``span_ms``, on round values."""
    want = span_ms / max(1, target)
    return next((s for s in TICK_STEPS if s >= want), TICK_STEPS[-1])


def _rel(ms: float, step_ms: float = 1000) -> str:
    """"+0:12", "+1:02:03"; tenths ("+0:00.2") when ticks are under a second apart,
    hundredths under 0.1 s (the JS twin is ``relLabel`` in js/src/lib/timeline.ts)."""
    if step_ms < 1000 and ms < 60_000:  # hundredths when ticks are under 0.1 s apart
        return f"+0:{ms / 1000:05.2f}" if step_ms < 100 else f"+0:{ms / 1000:04.1f}"
    s = int(round(ms / 1000))
    h, rest = divmod(s, 3600)
    m, sec = divmod(rest, 60)
    return f"+{h}:{m:02d}:{sec:02d}" if h else f"+{m}:{sec:02d}"


def critical_line(tl: dict[str, Any]) -> str:
    """"Critical path: a → b → c · 1.1 s · 100 % of the run" (or why there is none)."""
    path = tl.get("critical_path") or []
    if not path:
        return "Critical path: the runner gave no step times" if tl.get("untimed") else ""
    share = tl.get("critical_share")
    tail = f" · {share * 100:.0f} % of the run" if share is not None else ""
    head = "Critical path" if tl.get("end") else "Critical path so far"
    return (f"{head}: {' → '.join(str(p) for p in path)} · "
            f"{format_duration(tl.get('critical_ms'))}{tail}")


def timeline_svg(tl: dict[str, Any], width: int = 560) -> str:
    """The run timeline as inline SVG (static fallback): one row per step, a bar per
    attempt, waits hatched, the critical path outlined, pending steps dashed (a finished
    run's step that never ran: "did not run")."""
    steps = tl.get("steps") or []
    if not steps:
        return f'<div style="color:{MUTED}">No steps</div>'
    if len(steps) > MAX_STATIC_ROWS:
        return (f'<div style="color:{MUTED}">{len(steps):,} steps — too many to draw here; '
                f'open the live view.</div>')
    now = float(tl.get("now") or 0)
    planned = tl.get("planned") or {}
    times = [float(v) for s in steps for g in s["segments"] for v in (g["start"], g["end"])
             if v is not None]
    times += [float(v) for pair in planned.values() for v in pair if v is not None]
    times += [float(s["ready_at"]) for s in steps if s.get("ready_at") is not None]
    if tl.get("start") is not None:
        times.append(float(tl["start"]))
    if not times:
        return f'<div style="color:{MUTED}">The runner gave no step times for this run.</div>'
    t0 = min(times)
    t1 = max(times + ([float(tl["end"])] if tl.get("end") else [now]))
    span = max(t1 - t0, 1.0)
    h = AXIS_HEIGHT + ROW_HEIGHT * len(steps) + 4
    total_w = LABEL_WIDTH + width + 10
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="fw-timeline" width="{total_w}" '
             f'height="{h}" viewBox="0 0 {total_w} {h}" role="group" '
             f'aria-label="run timeline, {len(steps)} steps" '
             f'style="background:{PANEL};font-family:{FONT};font-size:10px">'
             f'<defs><pattern id="fw-static-hatch" width="4" height="4" '
             f'patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
             f'<rect width="2" height="4" fill="{MUTED}" opacity="0.6"/></pattern></defs>']
    step = tick_step(span)  # round values after the first time, as the JS view's axis
    right = LABEL_WIDTH + width
    for k in range(int(span // step) + 1):
        x = _x(t0 + k * step, t0, span, width)
        anchor = "end" if x > right - 24 else "middle"  # the last label stays inside
        parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{AXIS_HEIGHT - 4}" y2="{h}" '
                     f'stroke="{RULE}"/><text x="{x:.1f}" y="12" fill="{MUTED}" '
                     f'text-anchor="{anchor}">{_rel(k * step, step)}</text>')
    for row, s in enumerate(steps):
        y = AXIS_HEIGHT + row * ROW_HEIGHT
        name = str(s["name"])
        short = name if len(name) <= 22 else name[:21] + "…"
        crit = bool(s.get("critical"))
        weight = ' font-weight="700"' if crit else ""
        parts.append(f'<text x="4" y="{y + 14}" fill="{TEXT}"{weight}><title>{esc(name)}'
                     f'</title>{esc(short)}</text>')
        if s.get("reused_from"):
            parts.append(f'<text x="{LABEL_WIDTH + 4}" y="{y + 14}" fill="{MUTED}">↺ reused '
                         f'from run {esc(s["reused_from"])}</text>')
            continue
        ready, first = s.get("ready_at"), (s["segments"][0]["start"] if s["segments"] else None)
        if s.get("wait_ms") and ready is not None and first is not None:
            x0, x1 = _x(ready, t0, span, width), _x(first, t0, span, width)
            parts.append(f'<rect x="{x0:.1f}" y="{y + 4}" width="{max(x1 - x0, 1):.1f}" '
                         f'height="12" fill="url(#fw-static-hatch)"><title>ready, started '
                         f'{esc(format_duration(s["wait_ms"]))} later</title></rect>')
        for g in s["segments"]:
            end = g["end"] if g["end"] is not None else now
            x0, x1 = _x(g["start"], t0, span, width), _x(end, t0, span, width)
            st = status_of(g["status"])
            stroke = f' stroke="{TEXT}" stroke-width="2"' if crit else ""
            slack = (f", could take {format_duration(s['slack_ms'])} longer without delaying "
                     f"the run" if s.get("slack_ms") is not None else "")
            tip = (f"{name} · attempt {g['attempt']} · {st} · "
                   f"{format_duration(end - g['start'])}{slack}")
            parts.append(f'<rect x="{x0:.1f}" y="{y + 4}" width="{max(x1 - x0, 2):.1f}" '
                         f'height="12" rx="2" fill="{color_of(st)}"{stroke}>'
                         f'<title>{esc(tip)}</title></rect>')
        if tl.get("end") is not None and not s["segments"]:
            # a finished run's step that never ran (after a failure or a cancel): as the JS
            st = status_of(s.get("status"))
            parts.append(f'<text x="{LABEL_WIDTH + 4}" y="{y + 14}" fill="{MUTED}" '
                         f'class="fw-tl-notrun">{STATUS_ICON[st]} {st}: did not run</text>')
            continue
        slot = planned.get(name)
        if not s["segments"] and slot and slot[0] is not None and slot[1] is not None:
            x0, x1 = _x(slot[0], t0, span, width), _x(slot[1], t0, span, width)
            parts.append(f'<rect x="{x0:.1f}" y="{y + 4}" width="{max(x1 - x0, 2):.1f}" '
                         f'height="12" rx="2" fill="none" stroke="{MUTED}" '
                         f'stroke-dasharray="3 2"><title>{esc(name)} · expected '
                         f'{esc(format_duration(slot[1] - slot[0]))}</title></rect>')
    if not tl.get("end") and now:
        x = _x(now, t0, span, width)
        parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{AXIS_HEIGHT - 4}" y2="{h}" '
                     f'stroke="{AMBER}" stroke-dasharray="2 2"/>')
    parts.append("</svg>")
    line = critical_line(tl)
    eta = tl.get("eta_text") or ""
    head = "".join(f'<div style="margin:4px 0;color:{TEXT}">{esc(t)}</div>'
                   for t in (line, eta) if t)
    return f'{head}<div style="overflow:auto;border:1px solid {RULE};background:{BG}">' \
           f'{"".join(parts)}</div>'
