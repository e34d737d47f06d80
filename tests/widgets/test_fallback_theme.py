"""The static fallback's light variant: "auto" carries both palettes and follows the
system's prefers-color-scheme (and JupyterLab's theme where there is one); "light" and
"dark" set one palette on the view; every colour is a custom property whose fallback is
the dark palette, so a page that strips <style> still shows the dark view it always did."""

from __future__ import annotations

import re

import pytest

from flowwidgets import JobsTable, PipelineCards, RunView
from flowwidgets.widgets._static import DARK, LIGHT, themed


def _props(palette: dict[str, str]) -> str:
    return ";".join(f"--fw-{k}:{v}" for k, v in palette.items())


def test_auto_carries_both_palettes_under_a_color_scheme_query():
    html = themed("<p>x</p>")
    style = re.search(r"<style>(.*)</style>", html)
    assert style is not None
    css = style.group(1)
    assert css.startswith("@media (prefers-color-scheme: light){.fw-theme-auto{"
                          + _props(LIGHT) + "}}")
    assert 'body[data-jp-theme-light="true"] .fw-theme-auto{' + _props(LIGHT) + "}" in css
    assert 'body[data-jp-theme-light="false"] .fw-theme-auto{' + _props(DARK) + "}" in css
    assert html.startswith('<div class="fw-theme fw-theme-auto">')


@pytest.mark.parametrize("theme, palette", [("light", LIGHT), ("dark", DARK)])
def test_an_explicit_theme_sets_its_palette_on_the_view(theme, palette):
    html = themed("<p>x</p>", theme)
    assert html == (f'<div class="fw-theme fw-theme-{theme}" style="{_props(palette)}">'
                    "<p>x</p></div>")
    assert "<style>" not in html


def test_light_text_meets_contrast_on_the_light_ground():
    def lum(hex_colour: str) -> float:
        rgb = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
        lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    for ground in (lum(LIGHT["bg"]), lum(LIGHT["panel"])):
        for key in ("text", "muted", "accent", "running", "failed", "skipped"):
            ratio = (ground + 0.05) / (lum(LIGHT[key]) + 0.05)
            assert ratio >= 4.5, (key, round(ratio, 2))


def test_every_view_wraps_its_fallback_in_its_theme(served):
    run_id = served.runner.run_now("orders")
    served.runner.wait(run_id, 20)
    views = [PipelineCards(served.src, live=False, theme="light"),
             JobsTable(served.src, live=False, background=False),
             RunView(served.src, run_id, live=False, theme="dark")]
    try:
        htmls = [v._repr_mimebundle_()[0]["text/html"] for v in views]
    finally:
        for v in views:
            v.close()
    assert htmls[0].startswith('<div class="fw-theme fw-theme-light" style="--fw-bg:#ffffff')
    assert htmls[1].startswith('<div class="fw-theme fw-theme-auto"><style>@media')
    assert htmls[2].startswith('<div class="fw-theme fw-theme-dark" style="--fw-bg:#0d1412')
    for html in htmls:
        assert "fw-static" in html and "var(--fw-bg,#0d1412)" in html
        # no colour is left hard-coded in a style: each one follows the theme
        assert not re.search(r'(?:color|background|fill|stroke)[:=]"?#[0-9a-f]{6}', html)
