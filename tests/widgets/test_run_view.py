"""RunView against a real runner: the DAG and its layout, step logs, and the actions as
messages — the POST reaches the runner, the reply carries the new run id, refusals carry
the server's detail, and the view opens the new run."""

from __future__ import annotations

import pytest
from _widget_support import Replies, wait_until

from flowwidgets.widgets import RunView

pytestmark = pytest.mark.integration


@pytest.fixture
def failed_run(served):
    served.fail()
    run_id = served.src.run_now("orders")
    assert served.finished(run_id) == "failed"
    return run_id


def test_the_run_its_dag_and_what_it_allows(served, failed_run):
    view = RunView(served.src, failed_run, live=False)
    try:
        run = view.run
        assert run["run"]["run_id"] == failed_run and run["run"]["status"] == "failed"
        assert run["run"]["failed_step"] == "dedupe"
        steps = {s["name"]: s for s in run["steps"]}
        assert steps["dedupe"]["status"] == "failed" and steps["load"]["status"] == "pending"
        assert steps["load"]["depends_on"] == ["dedupe", "enrich"]
        assert run["actions"]["restart_from_step"] and run["actions"]["rerun"] is True
        assert [a["step"] for a in run["attempts"]].count("dedupe") == 1
        # the layout: every node right of its dependencies, siblings stacked
        nodes = {n["name"]: n for n in view._layout["nodes"]}
        assert nodes["dedupe"]["x"] == nodes["enrich"]["x"] > nodes["fetch"]["x"]
        assert nodes["load"]["x"] > nodes["dedupe"]["x"]
        assert nodes["dedupe"]["y"] != nodes["enrich"]["y"]
        assert len(view._layout["edges"]) == 4
        bundle = view._repr_mimebundle_()[0]
        assert "<svg" in bundle["text/html"] and "✗ FAILED" in bundle["text/html"]
        assert bundle["text/plain"].startswith(f"RunView: run {failed_run} of orders: ✗ failed")
    finally:
        view.close()


def test_clicking_a_step_shows_its_log_tail(served, failed_run):
    view = RunView(served.src, failed_run, live=False)
    try:
        view.selected_step = "dedupe"
        log = view._step_log
        assert log["step"] == "dedupe" and log["attempt"] == 1
        assert "dup key 42" in log["text"]
        view.selected_step = None
        assert view._step_log == {}
    finally:
        view.close()


def test_restart_from_the_failed_step_reaches_the_runner_and_opens_the_new_run(served,
                                                                                 failed_run):
    opened: list[str] = []
    view = RunView(served.src, failed_run, on_open=opened.append)
    replies = Replies(view)
    try:
        layout_before = view._layout
        served.fail(False)
        reply = replies.click("restart", run_id=failed_run, from_step="dedupe")
        assert reply["kind"] == "restart" and "error" not in reply
        new = reply["response"]["new_run_id"]
        # the POST reached the runner: the new run exists there, child of the failed one
        assert served.src.run(new).parent_run_id == failed_run
        assert view.last_action["kind"] == "restart"
        assert view.last_action["from_step"] == "dedupe"
        assert view.last_action["new_run_id"] == new and view.last_action["error"] is None
        assert view.run_id == new and opened == [new]
        # the poller keeps the view current until the new run succeeds
        wait_until(lambda: view.run.get("run", {}).get("status") == "succeeded", 15,
                   "the restarted run to succeed in the view")
        steps = {s["name"]: s for s in view.run["steps"]}
        assert steps["fetch"]["reused_from"] == failed_run
        assert view._layout == layout_before, "same graph shape: the layout is not resent"
    finally:
        view.close()


def test_rerun_through_the_view(served, failed_run):
    view = RunView(served.src, failed_run, live=False)
    try:
        reply = Replies(view).click("rerun", run_id=failed_run)
        new = reply["response"]["new_run_id"]
        assert new != failed_run and view.run_id == new
        assert served.src.run(new).run.pipeline == "orders"
    finally:
        view.close()


def test_resume_a_failed_stream_from_its_watermark(served):
    failed = served.src.run_now("stream")
    assert served.finished(failed) == "failed"
    view = RunView(served.src, failed, live=False)
    try:
        assert view.run["run"]["kind"] == "streaming"
        assert view.run["actions"]["resume_from_watermark"] is True
        reply = Replies(view).click("resume", run_id=failed)
        new = reply["response"]["new_run_id"]
        resumed = served.src.run(new)
        assert resumed.parent_run_id == failed and view.run_id == new
        assert view.last_action["kind"] == "resume" and view.last_action["error"] is None
    finally:
        view.close()


def test_refusals_carry_the_servers_detail(served, failed_run):
    view = RunView(served.src, failed_run, live=False)
    replies = Replies(view)
    try:
        reply = replies.click("restart", run_id=failed_run, from_step="no_such_step")
        assert "response" not in reply
        assert "no_such_step" in reply["error"] and "HTTP 4" in reply["error"]
        assert view.last_action["error"] == reply["error"]
        assert view.run_id == failed_run, "a refused action opens nothing"
        assert view.error == ""
        # a click aimed at a run the view no longer shows is refused before any POST
        stale = replies.click("rerun", run_id="some-other-run")
        assert "now shows run" in stale["error"]
    finally:
        view.close()


def test_switching_runs_and_an_unknown_run(served, failed_run):
    served.fail(False)
    other = served.src.run_now("clicks")
    served.finished(other)
    view = RunView(served.src, failed_run, live=False)
    try:
        view.selected_step = "dedupe"
        view.run_id = other
        assert view.run["run"]["pipeline"] == "clicks" and view.selected_step is None
        assert [n["name"] for n in view._layout["nodes"]] == ["count"]
        Replies(view).notify("open_run", run_id=failed_run)
        assert view.run["run"]["run_id"] == failed_run
        view.run_id = "no-such-run"
        assert "no-such-run" in view.error and view.run == {}
        view.run_id = None
        assert view.run == {} and view._layout == {}
        assert "No run selected" in view._repr_mimebundle_()[0]["text/html"]
    finally:
        view.close()


def test_only_what_changed_is_sent_and_the_layout_only_for_a_new_shape(served):
    from _widget_support import WireRecorder

    served.fail(False)
    first = served.src.run_now("orders")
    served.finished(first)
    view = RunView(served.src, first, live=False)
    wire = WireRecorder(view)
    try:
        view.refresh()
        view.refresh()
        assert wire.messages == [], "an unchanged run sends nothing"
        second = served.src.run_now("orders")
        served.finished(second)
        view.run_id = second  # same graph shape: new statuses, no new layout
        assert "run" in wire.updated and "_layout" not in wire.updated
        wire.clear()
        other = served.src.run_now("clicks")
        served.finished(other)
        view.run_id = other
        assert "_layout" in wire.updated
    finally:
        view.close()


def test_timeline_trait_critical_path_and_view_switch(served):
    served.fail(False)
    rid = served.src.run_now("orders")
    served.finished(rid)
    view = RunView(served.src, rid, live=False)
    try:
        tl = view._timing
        assert [s["name"] for s in tl["steps"]] == [s["name"] for s in view.run["steps"]]
        assert tl["critical_path"] and tl["critical_path"] == view.run["critical_path"]
        assert tl["critical_path"][-1] == "load" and tl["eta"] is None
        assert all(s["segments"] for s in tl["steps"])
        assert view.view == "dag"
        view.view = "timeline"
        with pytest.raises(Exception, match="view must be 'dag' or 'timeline'"):
            view.view = "gantt"
        html = view._repr_mimebundle_()[0]["text/html"]
        assert "Critical path: " in html and 'aria-label="run timeline' in html
    finally:
        view.close()


def test_static_timeline_says_a_finished_runs_step_did_not_run(served):
    """As the JS view: after the dedupe failure, load never ran — its row says so (it was an
    empty row); while a run goes on, a step without attempts is not "did not run"."""
    from flowwidgets.widgets._run_timing import timeline_svg

    served.fail(True)
    rid = served.src.run_now("orders")
    served.finished(rid)
    view = RunView(served.src, rid, live=False)
    try:
        view.view = "timeline"
        html = view._repr_mimebundle_()[0]["text/html"]
        assert html.count(": did not run</text>") == 1
        assert "○ pending: did not run" in html
        steps = {s["name"]: s for s in view._timing["steps"]}
        assert not steps["load"]["segments"] and steps["dedupe"]["segments"]
        assert "did not run" not in timeline_svg(dict(view._timing, end=None))
    finally:
        view.close()


def test_cancel_a_running_run_through_the_view(tmp_path):
    from flowwidgets.runner._local import LocalRunner
    from flowwidgets.runner.serve import serve_in_thread
    from flowwidgets.runner.spec import PipelineSpec, StepSpec
    from flowwidgets.sources import connect

    hold = PipelineSpec("hold", (StepSpec("wait", run="echo $$ > wait.pid; exec sleep 300"),))
    runner = LocalRunner([hold], db=tmp_path / "runs.sqlite", tick_s=0.05, data_dir=tmp_path)
    with serve_in_thread(runner) as server, connect(server.url) as src:
        run_id = src.run_now("hold")
        wait_until(lambda: (tmp_path / "wait.pid").exists(), 15)
        view = RunView(src, run_id, live=False)
        try:
            view.refresh()
            assert view.run["actions"]["can_cancel"] is True
            reply = Replies(view).click("cancel", run_id=run_id)
            assert reply["response"] == {"status": "cancelled"}
            assert view.run_id == run_id, "a cancel opens no other run"
            assert view.run["run"]["status"] == "cancelled"
            assert view.run["actions"]["can_cancel"] is False
            assert view.last_action["kind"] == "cancel"
            assert view.last_action["status"] == "cancelled" and view.last_action["error"] is None
            again = Replies(view).click("cancel", run_id=run_id)
            assert "cancelled; only requested or running" in again["error"]
            assert "only requested or running" in view.last_action["error"]
        finally:
            view.close()


def test_lineage_both_ways_and_an_outcome_that_follows_the_new_run(served, failed_run):
    view = RunView(served.src, failed_run, live=False)
    try:
        assert view.run["lineage"] == {"from_step": None, "children": []}
        # the fail switch is still on: the restart fails again, and the line must say so
        new = Replies(view).click("restart", run_id=failed_run)["response"]["new_run_id"]
        assert view.run_id == new and view.last_action["new_run_id"] == new
        assert served.finished(new) == "failed"
        view.refresh()
        assert view.last_action["new_status"] == "failed"
        assert view.run["parent_run_id"] == failed_run
        assert view.run["lineage"]["from_step"] == "dedupe"
        assert view.run["run"]["trigger"] == "restart"

        served.fail(False)
        view.run_id = failed_run  # back to the first run: it lists its restart
        kids = view.run["lineage"]["children"]
        assert [(k["run_id"], k["status"], k["trigger"], k["from_step"]) for k in kids] == [
            (new, "failed", "restart", "dedupe")]
        second = view.restart()
        assert served.finished(second) == "succeeded"
        view.refresh()
        assert view.last_action["new_status"] == "succeeded"
        view.run_id = failed_run
        assert [k["status"] for k in view.run["lineage"]["children"]] == ["failed", "succeeded"]
    finally:
        view.close()


def test_a_live_stream_shows_its_figures_and_an_old_run_does_not(served, tmp_path):
    """A streaming run that keeps committing: the view carries its throughput, rows so far,
    last watermark and commit time (the figures of the pipeline's card); the earlier,
    failed run of the same stream shows none of them."""
    from flowwidgets.runner._local import LocalRunner
    from flowwidgets.runner.serve import serve_in_thread
    from flowwidgets.runner.spec import PipelineSpec, StepSpec
    from flowwidgets.sources import connect

    live = PipelineSpec("live", (StepSpec("consume", call="_widget_support:stream_until_stopped"),),
                        kind="streaming")
    runner = LocalRunner([live], db=tmp_path / "live.sqlite", tick_s=0.05, data_dir=tmp_path)
    with serve_in_thread(runner) as server, connect(server.url) as src:
        first = src.run_now("live")
        wait_until(lambda: src.run(first).status.value == "running", 15, "the stream to run")
        view = RunView(src, first, live=False)
        try:
            def has_rate():
                view.refresh()
                s = view.run.get("stream") or {}
                return s.get("rows_per_sec") and s
            stream = wait_until(has_rate, 15, "a throughput")
            card = next(p for p in src.pipelines() if p.name == "live").streaming_stats
            assert stream["rows_total"] > 0 and int(stream["watermark"]) >= stream["rows_total"]
            assert 10 < stream["rows_per_sec"] < 200, stream  # 10 rows every 0.1 s ≈ 100/s
            assert stream["committed_at"].endswith("Z")
            assert card["run_id"] == first
            assert view.run["run"]["kind"] == "streaming" and view.run["run"]["status"] == "running"
            src.cancel(first)
            second = src.run_now("live")
            wait_until(lambda: (next(p for p in src.pipelines() if p.name == "live")
                                .streaming_stats or {}).get("run_id") == second, 15,
                       "the new run to commit")
            view.refresh()
            assert view.run["stream"] is None, "the old run must not show the new run's figures"
            view.run_id = second
            stream = view.run["stream"]
            assert stream and stream.get("watermark")
            src.cancel(second)
        finally:
            view.close()


def test_a_batch_run_has_no_stream_line(served, failed_run):
    view = RunView(served.src, failed_run, live=False)
    try:
        assert view.run["stream"] is None
    finally:
        view.close()
