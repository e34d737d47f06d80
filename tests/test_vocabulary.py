"""One vocabulary, checked equal on both sides: durations (the table in
js/test/vocabulary.json, which js/test/format.test.ts runs too), the palette (theme.css),
error wording (the widgets and the terminal monitor), the median of durations."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest

from flowwidgets import _vocab
from flowwidgets.errors import ActionNotSupported, Conflict, RunnerUnavailable, Unprocessable
from flowwidgets.sources import _airflow_parse, _prefect_parse
from flowwidgets.sources._fields import median_ms
from flowwidgets.tui import _format as tui
from flowwidgets.widgets import _base, _static

ROOT = Path(__file__).resolve().parents[1]
CASES = json.loads((ROOT / "js" / "test" / "vocabulary.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize(("ms", "shown"), CASES["format_duration"])
def test_format_duration_matches_the_shared_table(ms: float | None, shown: str) -> None:
    assert _vocab.format_duration(ms) == shown


def test_every_view_uses_the_one_format_duration() -> None:
    assert _static.format_duration is _vocab.format_duration
    assert tui.format_duration is _vocab.format_duration


def test_palette_is_the_dark_theme_of_theme_css() -> None:
    css = (ROOT / "js" / "src" / "lib" / "theme.css").read_text(encoding="utf-8")
    dark = css[css.index(".fw-root {"):]
    dark = dark[:dark.index("}")]
    colours = dict(re.findall(r"--fw-([\w-]+):\s*(#[0-9a-fA-F]{6})\s*;", dark))
    colours.pop("accent-ink")  # text on the accent: the JS buttons only
    assert colours == _vocab.PALETTE


def test_light_theme_of_theme_css_is_the_fallback_light_palette() -> None:
    """One light palette for the JS views and the static fallback (both blocks of
    theme.css: JupyterLab's light theme and prefers-color-scheme light), its pill colours
    at WCAG AA on the light panel."""
    css = (ROOT / "js" / "src" / "lib" / "theme.css").read_text(encoding="utf-8")
    blocks = [css[i:css.index("}", i)] for i in
              (css.index(".fw-root.fw-theme-light {"),
               css.index("body:not([data-jp-theme-light]) .fw-root:not(.fw-theme-dark) {"))]
    for block in blocks:
        colours = dict(re.findall(r"--fw-([\w-]+):\s*(?:var\([^,]+,\s*)?(#[0-9a-fA-F]{6})\)?\s*;",
                                  block))
        colours.pop("accent-ink")
        assert {k: colours[k] for k in _static.LIGHT} == _static.LIGHT

    def luminance(hex_colour: str) -> float:
        def channel(c: int) -> float:
            v = c / 255
            return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4
        r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
        return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)

    # every status colour used as text, on every light ground it sits on: the page, the
    # panel, and panel-2 (a hovered / selected table row, the confirmation box)
    panel_2 = re.search(r"--fw-panel-2:\s*var\([^,]+,\s*(#[0-9a-fA-F]{6})\)", blocks[0])
    assert panel_2 is not None
    for ground in (_static.LIGHT["bg"], _static.LIGHT["panel"], panel_2.group(1)):
        for key in ("text", "accent", "running", "failed", "skipped", "muted"):
            ratio = (luminance(ground) + 0.05) / (luminance(_static.LIGHT[key]) + 0.05)
            assert ratio >= 4.5, (ground, key, round(ratio, 2))


def test_fallback_and_terminal_colours_come_from_the_palette() -> None:
    p = _vocab.PALETTE
    # the fallback's colours are custom properties (light variant) whose fallback is the
    # dark palette
    assert (_static.BG, _static.TEXT, _static.TEAL, _static.AMBER, _static.RED) == tuple(
        f"var(--fw-{k},{p[k]})" for k in ("bg", "text", "accent", "running", "failed"))
    assert _static.DARK == {k: p[k] for k in _static.DARK}
    assert set(tui.COLORS.values()) <= set(p.values())


def test_describe_error_says_the_same_in_the_widgets_and_the_terminal() -> None:
    conflict = Conflict("409 from POST /api/runs/r1/restart", status_code=409,
                        detail="run r1 is still running", response=httpx.Response(409))
    invalid = Unprocessable("422", status_code=422, response=httpx.Response(422),
                            detail=[{"loc": ["body", "from_step"], "msg": "bad step"}])
    cases = [
        (Conflict("dag run r1 is still running"), "dag run r1 is still running"),
        (conflict, "run r1 is still running (HTTP 409)"),
        (invalid, '[{"loc": ["body", "from_step"], "msg": "bad step"}] (HTTP 422)'),
        (ActionNotSupported("restart", "flowtoy runs one flow"),
         "restart is not available: flowtoy runs one flow"),
        (RunnerUnavailable("http://x", "connection refused"),
         "no runner reachable at http://x: connection refused"),
        (ValueError("boom"), "ValueError: boom"),
    ]
    for exc, text in cases:
        assert _base.describe_error(exc) == text
        assert tui.describe_error(exc) == text


def test_one_median_for_the_orchestrator_parsers() -> None:
    assert vars(_airflow_parse)["median_ms"] is median_ms is vars(_prefect_parse)["median_ms"]
    assert median_ms([]) is None
    assert median_ms([30, 10, 20]) == 20
    assert median_ms([10, 20, 30, 41]) == 25
