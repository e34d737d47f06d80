"""PipelineCards against a real runner over HTTP: the strip, selection, Run now, errors."""

from __future__ import annotations

import logging

import pytest
from _widget_support import EVIL, Replies, wait_until

from flowwidgets.widgets import PipelineCards

pytestmark = pytest.mark.integration


def test_cards_show_every_pipeline_and_its_strip(served):
    served.fail()
    first = served.src.run_now("orders")
    assert served.finished(first) == "failed"
    served.fail(False)
    second = served.src.run_now("orders")
    assert served.finished(second) == "succeeded"
    cards = PipelineCards(served.src, live=False)
    try:
        by_name = {p["name"]: p for p in cards.pipelines}
        assert set(by_name) == {"orders", "clicks", "stream"}
        assert by_name["stream"]["kind"] == "streaming"
        orders = by_name["orders"]
        assert [r["run_id"] for r in orders["recent_runs"]] == [first, second]  # oldest first
        assert [r["status"] for r in orders["recent_runs"]] == ["failed", "succeeded"]
        assert orders["kind"] == "batch" and orders["total_runs"] == 2
        assert by_name["clicks"]["recent_runs"] == []
        data, _ = cards._repr_mimebundle_()
        assert "application/vnd.jupyter.widget-view+json" in data
        assert "orders" in data["text/html"] and "✗" in data["text/html"]
        assert "orders [batch] ✗✓" in data["text/plain"]
        assert data["text/plain"].startswith("PipelineCards: 3 pipelines\n")
    finally:
        cards.close()


def test_click_a_square_selects_the_run_and_calls_back(served):
    run_id = served.src.run_now("clicks")
    served.finished(run_id)
    picked: list[str] = []
    jobs_for: list[str] = []
    cards = PipelineCards(served.src, live=False, on_select=picked.append,
                          on_show_jobs=jobs_for.append)
    view = Replies(cards)
    try:
        view.notify("select", run_id=run_id, pipeline="clicks")
        view.notify("select", run_id=run_id, pipeline="clicks")  # a repeat click counts
        assert cards.selected_run_id == run_id and picked == [run_id, run_id]
        view.notify("show_jobs", pipeline="clicks")
        assert jobs_for == ["clicks"]
        assert view.messages == []  # no id, no reply
    finally:
        cards.close()


def test_run_now_reaches_the_runner_and_replies_with_the_new_run(served):
    cards = PipelineCards(served.src, live=False)
    view = Replies(cards)
    try:
        reply = view.click("run_now", pipeline="clicks")
        new = reply["response"]["new_run_id"]
        assert reply["kind"] == "run_now" and "error" not in reply
        assert served.src.run(new).run.pipeline == "clicks"  # the POST really happened
        assert cards.last_action["new_run_id"] == new and cards.last_action["error"] is None
        served.finished(new)
        cards.refresh()
        clicks = next(p for p in cards.pipelines if p["name"] == "clicks")
        assert clicks["recent_runs"][-1]["run_id"] == new
    finally:
        cards.close()


def test_a_refusal_replies_with_the_servers_detail(served, caplog):
    cards = PipelineCards(served.src, live=False)
    view = Replies(cards)
    try:
        reply = view.click("run_now", pipeline=EVIL)
        assert "response" not in reply
        assert "HTTP 404" in reply["error"] and EVIL in reply["error"]
        assert cards.last_action["error"] == reply["error"]
        assert cards.error == ""  # a refusal is an outcome, not a crash
        assert view.click("launch_rockets")["error"] == "unknown message kind 'launch_rockets'"
    finally:
        cards.close()


def test_a_failing_callback_shows_under_the_widget_not_as_a_traceback(served, caplog):
    def broken(run_id):
        raise RuntimeError(f"callback broke on {run_id}")

    cards = PipelineCards(served.src, live=False, on_select=broken)
    try:
        with caplog.at_level(logging.ERROR, logger="flowwidgets.widgets"):
            Replies(cards).notify("select", run_id="r1")
        assert "callback broke on r1" in cards.error
        assert any("callback broke" in r.getMessage() for r in caplog.records)
        assert "callback broke on r1" in cards._repr_mimebundle_()[0]["text/html"]
    finally:
        cards.close()


def test_cards_follow_the_poller(served):
    cards = PipelineCards(served.src)
    try:
        poller = served.src.poller()
        assert poller.running
        run_id = served.src.run_now("clicks")  # started outside the widget
        wait_until(lambda: any(r["run_id"] == run_id and r["status"] == "succeeded"
                               for p in cards.pipelines for r in p["recent_runs"]),
                   15, "the card to show the new run")
    finally:
        cards.close()
    assert not served.src.poller().running, "closing the only view stops the poller"


def test_an_unchanged_poll_sends_nothing(served):
    from _widget_support import WireRecorder

    cards = PipelineCards(served.src, live=False)
    wire = WireRecorder(cards)
    try:
        cards.refresh()
        assert wire.messages == []
        run_id = served.src.run_now("clicks")
        served.finished(run_id)
        cards.refresh()
        assert wire.updated == ["pipelines"]
    finally:
        cards.close()
