"""Dashboard: navigation cards → run, cards → jobs → run, back and breadcrumbs, all by the
messages the views send; one poller shared and stopped on close."""

from __future__ import annotations

import pytest
from _widget_support import Replies

from flowwidgets.widgets import Dashboard

pytestmark = pytest.mark.integration


def shown(dash):
    return [type(w).__name__ for w in dash.children if w.layout.display != "none"]


def test_navigation(served):
    served.fail()
    failed = served.src.run_now("orders")
    served.finished(failed)
    dash = Dashboard(served.src)
    try:
        assert dash.view == "cards" and shown(dash) == ["NavBar", "PipelineCards"]
        assert dash._jobs is None and dash._run_view is None, "made on first use"
        assert dash.nav.crumbs == [{"label": "Pipelines", "target": "cards"}]
        assert not dash.nav.can_back

        Replies(dash.cards).notify("select", run_id=failed, pipeline="orders")
        assert dash.view == "run" and shown(dash) == ["NavBar", "RunView"]
        assert dash.run_view.run["run"]["run_id"] == failed
        assert [c["target"] for c in dash.nav.crumbs] == ["cards", "run"]

        Replies(dash.nav).notify("back")
        assert dash.view == "cards"

        Replies(dash.cards).notify("show_jobs", pipeline="orders")
        assert dash.view == "jobs" and dash.jobs.pipeline == "orders" and dash.jobs.total == 1
        assert dash.nav.crumbs[1] == {"label": "Jobs: orders", "target": "jobs"}
        Replies(dash.jobs).notify("select", run_id=failed)
        assert dash.view == "run"
        assert [c["target"] for c in dash.nav.crumbs] == ["cards", "jobs", "run"]

        # a breadcrumb goes back to that view
        Replies(dash.nav).notify("nav", target="jobs")
        assert dash.view == "jobs" and dash.jobs.pipeline == "orders"
        Replies(dash.nav).notify("nav", target="cards")
        assert dash.view == "cards" and not dash.nav.can_back

        # an action in the run view opens the new run and keeps the path
        dash.show_run(failed)
        served.fail(False)
        new = Replies(dash.run_view).click("rerun", run_id=failed)["response"]["new_run_id"]
        assert dash.view == "run" and dash.nav.crumbs[-1]["label"] == f"Run {new}"
        dash.back()
        assert dash.run_view.run_id == failed

        bundle = dash._repr_mimebundle_()
        data = bundle[0] if isinstance(bundle, tuple) else bundle
        assert failed in data["text/html"], "the static fallback shows the current view"
        assert dash.source.poller().running
    finally:
        dash.close()
    assert not served.src.poller().running, "closing the dashboard stops the shared poller"
