"""The building blocks of the static fallback: escaping, the palette, status pills and
the formatting the JS does, so every view's ``text/html`` and ``text/plain`` look alike.

Everything from a runner goes through :func:`esc` (HTML text and quoted attributes) or
:func:`plain` (``text/plain``, where a terminal-style front end would otherwise act on
escape sequences). Colours are inline: an exported notebook guarantees no stylesheet, and
its own (JupyterLab's ``.jp-RenderedHTMLCommon``) restyles bare tables and ``<pre>``, so
those carry their colours, alignment and margins themselves (:data:`TABLE`, :data:`TD`,
:data:`PRE`).
"""

from __future__ import annotations

import html
import unicodedata
from datetime import datetime
from typing import Any

from flowwidgets._vocab import PALETTE, format_duration, to_zone
from flowwidgets._vocab import zone_name as _zone_name
from flowwidgets.models import parse_time

__all__ = [
    "AMBER",
    "BG",
    "FONT",
    "LABEL",
    "MUTED",
    "PANEL",
    "PRE",
    "RED",
    "ROW",
    "RULE",
    "SKIP",
    "STATUS_ICON",
    "TABLE",
    "TD",
    "TEAL",
    "TEXT",
    "DARK",
    "LIGHT",
    "color_of",
    "counted",
    "error_html",
    "esc",
    "format_duration",
    "format_time",
    "frame",
    "label",
    "pill",
    "plain",
    "status_of",
    "themed",
    "time_range",
    "visible",
    "zone_name",
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

DARK: dict[str, str] = {k: PALETTE[k] for k in (
    "bg", "panel", "text", "muted", "rule", "accent", "running", "failed", "skipped")}
"""The dark palette: the fallback's colours when nothing says otherwise."""
LIGHT: dict[str, str] = {
    "bg": "#ffffff", "panel": "#f6f9f8", "text": "#14201c", "muted": "#5a6f68",
    "rule": "#d5dfdb", "accent": "#137a6f", "running": "#a05f00", "failed": "#c8352d",
    "skipped": "#5e716a"}
"""The light palette: ``js/src/lib/theme.css``'s light theme, with the accent, running
and skipped colours darkened so their 10–11 px pill words reach 4.5:1 on the page, the
panel and a selected row (panel-2)."""


def _var(key: str) -> str:
    # A custom property with the dark colour as fallback: where <style> is stripped and
    # no theme is set, the fallback looks as it always did.
    return f"var(--fw-{key},{DARK[key]})"


BG, PANEL, TEXT, MUTED, RULE = (_var(k) for k in ("bg", "panel", "text", "muted", "rule"))
TEAL, AMBER, RED, SKIP = (_var(k) for k in ("accent", "running", "failed", "skipped"))
_COLOR = {"succeeded": TEAL, "failed": RED, "running": AMBER, "requested": AMBER,
          "paused": AMBER, "cancelled": SKIP, "skipped": SKIP}
FONT = "ui-monospace,SFMono-Regular,'DejaVu Sans Mono',Menlo,Consolas,monospace"
LABEL = f"color:{MUTED};font-size:10px;letter-spacing:.09em;text-transform:uppercase"
TABLE = (f"border-collapse:collapse;width:100%;margin:0;table-layout:auto;border:0;"
         f"background:{PANEL};color:{TEXT};font-family:{FONT}")
"""A table's own style (JupyterLab's export CSS centres tables and fixes their layout)."""
TD = (f"padding:3px 8px;border:0;border-bottom:1px solid {RULE};text-align:left;"
      f"vertical-align:middle;background:transparent;color:{TEXT};line-height:1.45")
"""A cell's own style (the export CSS right-aligns cells and stripes rows light)."""
PRE = (f"white-space:pre-wrap;margin:4px 0 0;padding:0;border:0;background:transparent;"
       f"color:{TEXT};font-family:{FONT};font-size:11px;line-height:1.45")
"""A ``<pre>``'s own style (the export CSS gives ``pre`` a light background)."""
ROW = "background:transparent"
"""A table row's own style (no light stripes)."""

_CONTROL = ("Cc", "Cf", "Cs", "Co")


def visible(text: str) -> str:
    """``text`` with control and format characters (escape sequences, bidi overrides such
    as U+202E, zero-width marks) replaced by ``\ufffd``; line breaks and tabs are kept.
    ``evil\u202egnp.exe`` must not read as ``evilexe.png``."""
    if text.isprintable():
        return text
    return "".join("\ufffd" if ch not in "\r\n\t" and unicodedata.category(ch) in _CONTROL
                   else ch for ch in text)


def esc(value: Any) -> str:
    """Escape any value for HTML text or a quoted attribute (control and bidi characters
    shown as ``\ufffd``, see :func:`visible`)."""
    return html.escape(visible("" if value is None else str(value)), quote=True)


def status_of(value: Any) -> str:
    """A status word from a payload, ``unknown`` when it is not one of ours."""
    word = str(value or "").strip().lower()
    return word if word in STATUS_ICON else "unknown"


def color_of(status: str) -> str:
    """The colour of a status word (muted for pending and unknown)."""
    return _COLOR.get(status, MUTED)


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """``n`` and the noun in the right number: "1 run", "1,204 runs" (like the JS)."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"


def _in_zone(value: Any, zone: str) -> datetime | None:
    try:
        dt = value if isinstance(value, datetime) else parse_time(value)
    except (TypeError, ValueError):
        return None
    # "local": the kernel's zone (a static page has no browser to ask)
    return None if dt is None else to_zone(dt, zone)


def format_time(value: Any, seconds: bool = True, zone: str = "UTC",
                with_zone: bool = False) -> str:
    """An ISO time (or datetime) as "2026-11-22 08:10:05" in UTC (``zone="local"``: the
    kernel's local time), "—" when missing; ``with_zone`` adds the zone's name."""
    dt = _in_zone(value, zone)
    if dt is None:
        return "—"
    text = dt.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")
    return f"{text} {zone_name(zone, dt)}" if with_zone else text


def zone_name(zone: str, at: Any = None) -> str:
    """"UTC", or the kernel's local zone's name at ``at`` (an ISO time or datetime; now
    when None or unreadable), e.g. "EST" (:func:`flowwidgets._vocab.zone_name`)."""
    return _zone_name(zone, _in_zone(at, zone) if at is not None else None)


def time_range(since: Any, until: Any, zone: str = "UTC") -> str:
    """"2026-11-22 08:00 – 2026-11-22 09:00 UTC" (either end "…" when open)."""
    lo = format_time(since, False, zone) if since else "…"
    hi = format_time(until, False, zone) if until else "…"
    return f"{lo} – {hi} {zone_name(zone, since or until)}"


def pill(status: Any) -> str:
    """A status pill: colour, icon and word."""
    st = status_of(status)
    c = color_of(st)
    dash = "dashed" if st in ("pending", "unknown", "requested", "paused") else "solid"
    return (f'<span class="fw-pill fw-pill--{st}" style="color:{c};border:1px {dash} {c};'
            f'border-radius:9px;padding:0 7px;font-size:10px;letter-spacing:.07em;'
            f'text-transform:uppercase;white-space:nowrap">{STATUS_ICON[st]} {st}</span>')


def label(text: str) -> str:
    """An uppercase micro-label."""
    return f'<span style="{LABEL}">{esc(text)}</span>'


def frame(kind: str, body: str) -> str:
    """The dark panel every static view sits in."""
    return (f'<div class="fw-static fw-static-{kind}" style="background:{BG};color:{TEXT};'
            f'font-family:{FONT};font-size:12px;line-height:1.45;padding:12px;'
            f'border:1px solid {RULE};border-radius:4px">{body}'
            f'<div style="{LABEL};margin-top:8px">flowwidgets · static snapshot</div></div>')


def _props(palette: dict[str, str]) -> str:
    return ";".join(f"--fw-{k}:{v}" for k, v in palette.items())


_AUTO_CSS = (
    f"@media (prefers-color-scheme: light){{.fw-theme-auto{{{_props(LIGHT)}}}}}"
    f'body[data-jp-theme-light="true"] .fw-theme-auto{{{_props(LIGHT)}}}'
    f'body[data-jp-theme-light="false"] .fw-theme-auto{{{_props(DARK)}}}')


def themed(body: str, theme: str = "auto") -> str:
    """A fallback in its theme: ``"dark"`` / ``"light"`` set the palette on the wrapper;
    ``"auto"`` follows JupyterLab's theme where there is one, else the system's
    ``prefers-color-scheme`` (a ``<style>`` block; where it is stripped, the dark palette)."""
    if theme in ("dark", "light"):
        palette = LIGHT if theme == "light" else DARK
        return (f'<div class="fw-theme fw-theme-{theme}" style="{_props(palette)}">'
                f"{body}</div>")
    return f'<div class="fw-theme fw-theme-auto"><style>{_AUTO_CSS}</style>{body}</div>'


def error_html(error: str) -> str:
    """The widget's last error, above the view ("" when there is none)."""
    if not error:
        return ""
    return (f'<div style="border:1px solid {RED};border-left-width:3px;padding:6px 10px;'
            f'margin-bottom:8px"><span style="{LABEL};color:{RED}">✗ Error</span>'
            f'<pre style="{PRE}">{esc(error)}</pre></div>')


def plain(value: Any) -> str:
    """A runner's value for ``text/plain``: one line, control and format characters
    (escape sequences, bidi overrides) shown as ``\ufffd``."""
    text = "" if value is None else str(value)
    if text.isprintable():
        return text
    return "".join(" " if ch in "\r\n\t\v\f" else "\ufffd"
                   if unicodedata.category(ch) in _CONTROL else ch for ch in text)
