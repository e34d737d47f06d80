"""A marimo app showing the flowwidgets views, served by tests/compat/test_marimo.py with
``marimo run``: the three anywidgets through ``mo.ui.anywidget`` (live), a cell that
echoes the square Python saw clicked, and the Dashboard (an ipywidgets VBox, which marimo
does not render live). Reads ``RUNNER_STATUS_URL`` and ``COMPAT_RUN_ID``."""

import marimo

app = marimo.App()


@app.cell
def _():
    import html
    import os

    import marimo as mo

    import flowwidgets as fw
    return fw, html, mo, os


@app.cell
def _(fw, mo, os):
    src = fw.connect(os.environ["RUNNER_STATUS_URL"])
    cards = mo.ui.anywidget(fw.PipelineCards(src))
    cards  # noqa: B018 (marimo shows a cell's last expression)
    return cards, src


@app.cell
def _(cards, html, mo):
    _seen = html.escape(cards.widget.selected_run_id or "")
    mo.Html(f'<p class="compat-selected" data-run-id="{_seen}">Python saw: {_seen}</p>')
    return


@app.cell
def _(fw, mo, src):
    jobs = mo.ui.anywidget(fw.JobsTable(src))
    jobs  # noqa: B018
    return


@app.cell
def _(fw, mo, os, src):
    run = mo.ui.anywidget(fw.RunView(src, os.environ["COMPAT_RUN_ID"]))
    run  # noqa: B018
    return


@app.cell
def _(fw, src):
    fw.Dashboard(src)
    return


if __name__ == "__main__":
    app.run()
