"""Exported notebooks, opened offline in chromium: ``jupyter nbconvert --execute --to html
--ExecutePreprocessor.store_widget_state=False`` shows each view's static fallback (cards,
jobs table, the DAG as SVG); with the default flags the widget state is embedded instead,
the page needs the widget manager from a CDN, and offline the views are blank."""

from __future__ import annotations

import subprocess
import sys

import nbformat
import pytest
from _compat_harness import ARTIFACTS
from _compat_servers import isolated_env

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

CELLS = [
    "import os\nimport flowwidgets as fw\n\nsrc = fw.connect(os.environ['RUNNER_STATUS_URL'])",
    "fw.PipelineCards(src)",
    "fw.JobsTable(src)",
    "fw.RunView(src, os.environ['COMPAT_RUN_ID'])",
    "fw.Dashboard(src)",
]
EXPORTS = {"fallback": ["--ExecutePreprocessor.store_widget_state=False"], "default": []}
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def test_html_export_shows_the_fallback_only_without_widget_state(page, demo_runner,
                                                                   tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, tmp_path / "export.ipynb")
    env = isolated_env(tmp_path / "env", RUNNER_STATUS_URL=demo_runner.url,
                       COMPAT_RUN_ID=demo_runner.failed_run)
    procs = {  # both exports at once: each waits mostly on its kernel
        label: subprocess.Popen(
            [sys.executable, "-m", "jupyter", "nbconvert", "--execute", "--to", "html",
             *flags, "--output", f"export-{label}", "export.ipynb"],
            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True)
        for label, flags in EXPORTS.items()}
    logs = {}
    for label, proc in procs.items():
        try:
            logs[label], _ = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    for label, proc in procs.items():
        assert proc.returncode == 0, f"nbconvert ({label}) failed:\n{logs[label]}"

    fallback = tmp_path / "export-fallback.html"
    assert WIDGET_STATE not in fallback.read_text(encoding="utf-8")
    page.goto(fallback.as_uri())
    statics = page.locator(".jp-OutputArea-output .fw-static")
    kinds = statics.evaluate_all(
        "els => els.map(e => [...e.classList].find(c => c.startsWith('fw-static-')))")
    assert kinds == ["fw-static-cards", "fw-static-jobs", "fw-static-run", "fw-static-cards"]
    assert all(statics.nth(i).is_visible() for i in range(len(kinds)))
    assert "warehouse_etl" in statics.nth(0).inner_text()
    assert "merge_payments" in statics.nth(1).inner_text()
    dag = page.locator(".fw-static-run svg.fw-dag")
    assert dag.is_visible() and "merge_payments" in dag.text_content()

    default = tmp_path / "export-default.html"
    html = default.read_text(encoding="utf-8")
    assert WIDGET_STATE in html and "fw-static" not in html
    page.goto(default.as_uri())
    page.wait_for_load_state("load")
    assert any("@jupyter-widgets/html-manager" in url for url in page.blocked), page.blocked
    outputs = page.locator(".jp-Cell-outputWrapper .jp-OutputArea-output")
    assert outputs.count() == 4  # one per widget cell, all blank without the CDN
    assert [t.strip() for t in outputs.all_inner_texts()] == ["", "", "", ""]
    page.goto(fallback.as_uri())  # the screenshot shows what a reader of the export sees


DARK_PALETTE = """els => els.flatMap(e => {
    const lum = c => { const [r, g, b, a = 1] = c.match(/[\\d.]+/g).map(Number);
                       return a === 0 ? null : (0.299 * r + 0.587 * g + 0.114 * b) / 255; };
    const s = getComputedStyle(e);
    const bg = lum(s.backgroundColor), fg = lum(s.color);
    return (bg !== null && bg > 0.4) || fg < 0.5
        ? [`${e.closest('.fw-static').className} ${e.tagName}: ${s.backgroundColor} / ${s.color}`]
        : [];
})"""
"""Elements of a fallback drawn light-on-light or dark-on-light (a visible background
that is not dark, or text that is not light) inside the dark panel."""

LIGHT_PALETTE = DARK_PALETTE.replace("(bg !== null && bg > 0.4) || fg < 0.5",
                                     "(bg !== null && bg < 0.6) || fg > 0.5")
"""The same check for the light variant: a visible background that is not light, or text
that is not dark."""


def _export(views, path):
    from nbconvert import HTMLExporter

    try:  # what --ExecutePreprocessor.store_widget_state=False writes: no widget state
        outputs = [nbformat.v4.new_output("display_data", data=v._repr_mimebundle_()[0])
                   for v in views]
    finally:
        for v in views:
            v.close()
    cell = nbformat.v4.new_code_cell("fw.JobsTable(src); fw.RunView(src, run_id)",
                                     outputs=outputs)
    body, _ = HTMLExporter().from_notebook_node(nbformat.v4.new_notebook(cells=[cell]))
    path.write_text(body, encoding="utf-8")
    return outputs


def test_exported_fallback_keeps_its_palette_in_each_theme(page, demo_runner, tmp_path):
    """theme="dark" stays dark against the export's light CSS; "auto" follows the page:
    nbconvert's (light) JupyterLab template says light, whatever the system prefers."""
    from flowwidgets import JobsTable, RunView

    src = demo_runner.source
    for theme, check in (("dark", DARK_PALETTE), ("auto", LIGHT_PALETTE)):
        export = tmp_path / f"fallback-{theme}.html"
        _export([JobsTable(src, live=False, background=False, theme=theme),
                 RunView(src, demo_runner.failed_run, live=False, theme=theme)], export)
        page.emulate_media(color_scheme="dark")
        page.goto(export.as_uri())
        cells = page.locator(".fw-static-jobs, .fw-static-run").locator("tr, td, pre")
        assert cells.count() > 10
        assert cells.evaluate_all(check) == [], theme


def test_auto_fallback_follows_the_system_colour_scheme_outside_jupyterlab(
        page, demo_runner, tmp_path):
    """A page with no JupyterLab theme (VS Code, Colab, a bare HTML viewer): the "auto"
    fallback is light under a light system scheme and dark under a dark one."""
    from flowwidgets import RunView

    view = RunView(demo_runner.source, demo_runner.failed_run, live=False)
    try:
        html = view._repr_mimebundle_()[0]["text/html"]
    finally:
        view.close()
    plain_page = tmp_path / "plain.html"
    plain_page.write_text(f"<!doctype html><meta charset=utf-8><body>{html}</body>",
                          encoding="utf-8")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for scheme, check, ground in (("light", LIGHT_PALETTE, "rgb(255, 255, 255)"),
                                  ("dark", DARK_PALETTE, "rgb(13, 20, 18)")):
        page.emulate_media(color_scheme=scheme)
        page.goto(plain_page.as_uri())
        panel = page.locator(".fw-static-run")
        assert panel.evaluate("e => getComputedStyle(e).backgroundColor") == ground, scheme
        cells = panel.locator("tr, td, pre")
        assert cells.count() > 5
        assert cells.evaluate_all(check) == [], scheme
        node = panel.locator("svg.fw-dag rect").first
        assert node.evaluate("e => getComputedStyle(e).fill") == ground, scheme
        panel.screenshot(path=str(ARTIFACTS / f"fallback-auto-{scheme}.png"))
