"""Dashboard: top-level navigation (Pipelines / Runs tabs from SECTIONS), cards → run,
Runs → run, back, and a breadcrumb that always names what is shown (the Runs filter too,
also when the table's own controls change it), all by the messages the views send; one
poller shared and stopped on close."""

from __future__ import annotations

import ipywidgets
import pytest
from _widget_support import Replies

from flowwidgets.widgets import Dashboard
from flowwidgets.widgets._dashboard import SECTIONS, Section

pytestmark = pytest.mark.integration


def shown(dash):
    return [type(w).__name__ for w in dash.children if w.layout.display != "none"]


def labels(dash):
    return [c["label"] for c in dash.nav.crumbs]


def test_navigation(served):
    served.fail()
    failed = served.src.run_now("orders")
    served.finished(failed)
    ok = served.src.run_now("clicks")
    served.finished(ok)
    dash = Dashboard(served.src)
    try:
        assert dash.nav.tabs[:2] == [{"key": "cards", "label": "Pipelines"},
                                     {"key": "jobs", "label": "Runs"}]
        assert dash.nav.tabs == [{"key": s.key, "label": s.label} for s in SECTIONS]
        assert {"key": "history", "label": "History"} in dash.nav.tabs
        assert dash.view == "cards" and shown(dash) == ["NavBar", "PipelineCards"]
        assert dash._jobs is None and dash._run_view is None, "made on first use"
        assert labels(dash) == ["Pipelines"] and dash.nav.view == "cards"
        assert not dash.nav.can_back

        Replies(dash.cards).notify("select", run_id=failed, pipeline="orders")
        assert dash.view == "run" and shown(dash) == ["NavBar", "RunView"]
        assert dash.run_view.run["run"]["run_id"] == failed
        assert labels(dash) == ["Pipelines", f"Run {failed}"] and dash.nav.view == "cards"

        Replies(dash.nav).notify("back")
        assert dash.view == "cards"

        # the Runs tab: every run of every pipeline
        Replies(dash.nav).notify("nav", target="jobs")
        assert dash.view == "jobs" and shown(dash) == ["NavBar", "JobsTable"]
        assert dash.jobs.pipeline is None and dash.jobs.total == 2
        assert labels(dash) == ["Runs: all pipelines"] and dash.nav.view == "jobs"

        # a card's "all jobs →": Runs filtered to that pipeline
        dash.show_cards()
        Replies(dash.cards).notify("show_jobs", pipeline="orders")
        assert dash.view == "jobs" and dash.jobs.pipeline == "orders" and dash.jobs.total == 1
        assert labels(dash) == ["Runs", "orders"]
        # the table's own filter changes: the breadcrumb follows
        dash.jobs.pipeline = "clicks"
        assert labels(dash) == ["Runs", "clicks"]
        dash.jobs.status = "succeeded"
        assert labels(dash) == ["Runs", "clicks", "status succeeded"]
        dash.jobs.pipeline = None
        assert labels(dash) == ["Runs", "status succeeded"]
        dash.jobs.status = None
        assert labels(dash) == ["Runs: all pipelines"]
        dash.jobs.pipeline = "orders"

        Replies(dash.jobs).notify("select", run_id=failed)
        assert dash.view == "run" and dash.nav.view == "jobs"
        assert labels(dash) == ["Runs", "orders", f"Run {failed}"]

        # a breadcrumb goes to that view: "Runs" is every run
        Replies(dash.nav).notify("nav", target="jobs", arg="orders")
        assert dash.view == "jobs" and dash.jobs.pipeline == "orders"
        Replies(dash.nav).notify("nav", target="jobs")
        assert dash.view == "jobs" and dash.jobs.pipeline is None
        assert labels(dash) == ["Runs: all pipelines"]
        dash.back()
        assert dash.view == "jobs" and dash.jobs.pipeline == "orders"
        assert labels(dash) == ["Runs", "orders"]
        Replies(dash.nav).notify("nav", target="cards")
        assert dash.view == "cards" and dash.nav.can_back
        with pytest.raises(ValueError, match="unknown view 'nope'"):
            dash.nav._msg_nav({"target": "nope"})

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


class _Extra(Dashboard):
    sections = (*SECTIONS, Section("notes", "Notes", lambda d: ipywidgets.HTML("notes")))


def test_a_new_section_is_one_entry(served):
    dash = _Extra(served.src, live=False)
    try:
        assert [t["label"] for t in dash.nav.tabs] == [*(s.label for s in SECTIONS), "Notes"]
        Replies(dash.nav).notify("nav", target="notes")
        assert dash.view == "notes" and shown(dash) == ["NavBar", "HTML"]
        assert labels(dash) == ["Notes"] and dash.nav.view == "notes"
        with pytest.raises(ValueError, match="unknown Dashboard view"):
            dash.show("nope")
    finally:
        dash.close()


def test_time_zone_is_set_once_and_reaches_every_view(served):
    """``Dashboard(time_zone="local")`` passes the zone to each view it makes (and to the
    ones made later); a bad value is refused with what is allowed."""
    from flowwidgets.widgets import JobsTable

    dash = Dashboard(served.src, live=False, time_zone="local")
    try:
        assert dash.cards.time_zone == "local"
        assert dash.jobs.time_zone == "local" and dash.run_view.time_zone == "local"
        dash.time_zone = "UTC"
        assert {dash.cards.time_zone, dash.jobs.time_zone, dash.run_view.time_zone} == {"UTC"}
        with pytest.raises(ValueError, match="time_zone must be one of"):
            dash.time_zone = "Mars/Olympus"
    finally:
        dash.close()
    table = JobsTable(served.src, live=False)
    try:
        assert table.time_zone == "UTC"
        assert table.get_state()["time_zone"] == "UTC"
        with pytest.raises(Exception, match="time_zone must be one of"):
            table.time_zone = "PST"
    finally:
        table.close()
