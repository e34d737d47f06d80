"""A standalone PipelineCards / JobsTable opens what is clicked below itself (a RunView,
a JobsTable); inside the Dashboard the callbacks do the opening and nothing is made below."""

from __future__ import annotations

import pytest
from _widget_support import Replies

from flowwidgets.widgets import Dashboard, JobsTable, PipelineCards, RunView

pytestmark = pytest.mark.integration

VIEW = "application/vnd.jupyter.widget-view+json"


def test_a_square_click_opens_the_run_below_the_standalone_cards(served):
    run_id = served.src.run_now("orders")
    assert served.finished(run_id) == "succeeded"
    picked: list[str] = []
    cards = PipelineCards(served.src, live=False, on_select=picked.append)
    try:
        assert cards.below is None  # nothing below until it is displayed on its own
        data, _ = cards._repr_mimebundle_()
        frame = data[VIEW]["model_id"]
        assert frame != cards.model_id and cards.below is not None
        assert cards.below.children == ()
        Replies(cards).notify("select", run_id=run_id)
        assert picked == [run_id], "on_select is still called"
        [view] = cards.below.children
        assert isinstance(view, RunView) and view.run_id == run_id
        assert view.run["run"]["pipeline"] == "orders"
        second = served.src.run_now("clicks")
        served.finished(second)
        Replies(cards).notify("select", run_id=second)
        assert cards.below.children == (view,) and view.run_id == second  # same view
        assert "text/html" in data and "orders" in data["text/html"]

        Replies(cards).notify("show_jobs", pipeline="orders")
        jobs, again = cards.below.children
        assert isinstance(jobs, JobsTable) and jobs.pipeline == "orders" and again is view
        Replies(jobs).notify("select", run_id=run_id)
        assert view.run_id == run_id, "a row of the opened table opens its run below too"
    finally:
        cards.close()


def test_a_row_click_opens_the_run_below_the_standalone_table(served):
    run_id = served.src.run_now("clicks")
    assert served.finished(run_id) == "succeeded"
    table = JobsTable(served.src, live=False, background=False)
    try:
        table._repr_mimebundle_()
        Replies(table).notify("select", run_id=run_id)
        [view] = table.below.children
        assert isinstance(view, RunView) and view.run_id == run_id
    finally:
        table.close()


def test_open_below_false_and_the_dashboard_make_nothing_below(served):
    run_id = served.src.run_now("clicks")
    served.finished(run_id)
    table = JobsTable(served.src, live=False, background=False, open_below=False)
    dash = Dashboard(served.src, live=False)
    try:
        data, _ = table._repr_mimebundle_()
        assert data[VIEW]["model_id"] == table.model_id and table.below is None
        Replies(dash.cards).notify("select", run_id=run_id)
        assert dash.cards.below is None and dash.run_view.run_id == run_id
    finally:
        table.close()
        dash.close()
