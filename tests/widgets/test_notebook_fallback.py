"""A notebook executed with nbclient and exported without widget state shows each widget's
static text/html fallback: the cards, the table page and the DAG as inline SVG."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CELLS = [
    "import flowwidgets.widgets as fww\nfrom flowwidgets.sources import connect\n"
    "src = connect()",
    "fww.PipelineCards(src, live=False)",
    "fww.JobsTable(src, live=False, background=False)",
    "rid = src.runs(pipeline='orders').runs[0].run_id\nfww.RunView(src, rid, live=False)",
]


def test_exported_notebook_shows_the_static_views(served, monkeypatch):
    import nbformat
    from nbclient import NotebookClient
    from nbconvert import HTMLExporter

    served.fail()
    served.finished(served.src.run_now("orders"))
    monkeypatch.setenv("RUNNER_STATUS_URL", served.url)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    NotebookClient(nb, timeout=120, kernel_name="python3", store_widget_state=False).execute()
    outputs = [o for cell in nb.cells for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"], outputs
    htmls = [o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    assert len(htmls) == 3
    assert "fw-static-cards" in htmls[0] and "orders" in htmls[0]
    assert "fw-static-jobs" in htmls[1] and "dedupe" in htmls[1]
    assert "fw-static-run" in htmls[2] and "<svg" in htmls[2] and "✗ FAILED" in htmls[2]
    body, _ = HTMLExporter().from_notebook_node(nb)
    assert "fw-static-run" in body and "<svg" in body
