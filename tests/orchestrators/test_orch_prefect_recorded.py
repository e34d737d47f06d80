"""The Prefect Source on responses recorded from a real Prefect 3.8.8 (``recorded/``).

Each test replays one cassette through ``httpx.MockTransport``; a request the recording
does not have (another path, query or JSON body) fails the test.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import httpx
import pytest
from _cassette import Cassette, prefect_source, replay_client

from flowwidgets import errors
from flowwidgets.models import Status
from flowwidgets.sources.prefect import detect_prefect

BASE = "http://prefect.test"


def source(c: Cassette):  # noqa: ANN201
    return prefect_source(BASE, replay_client(c), c.clock)


def flow_run_id(c: Cassette) -> str:
    """The id of the first flow run the recording reads."""
    return c.find("GET", "/api/flow_runs/")["path"].split("/")[3]


def posted(c: Cassette, path_end: str) -> list[dict]:
    return [json.loads(r.content) for r in c.seen
            if r.method == "POST" and r.url.path.endswith(path_end)]


def test_deployments_and_a_flow_without_one_become_cards():
    c = Cassette.load("prefect_pipelines")
    with source(c) as src:
        assert src._drive(detect_prefect()) == "3.8.8"
        cards = {p.name: p for p in src.pipelines()}
        assert src.health()
    c.assert_all_used()
    # "fw-diamond" alone is no card: every run of that flow came from a deployment
    assert sorted(cards) == ["fw-diamond/diamond", "fw-diamond/nightly", "fw-diamond/paused",
                             "fw-diamond/unserved", "fw-mapped"]
    nightly = cards["fw-diamond/nightly"]
    assert nightly.schedule == "30 6 * * *"
    at_630 = c.clock.replace(hour=6, minute=30, second=0, microsecond=0)
    assert nightly.next_run_at == (at_630 if at_630 > c.clock else at_630 + timedelta(days=1))
    assert nightly.total_runs == 0 and nightly.recent_runs == ()  # future runs: no history
    paused = cards["fw-diamond/paused"]
    assert paused.paused and paused.schedule == "0 5 * * *" and paused.next_run_at is None
    diamond = cards["fw-diamond/diamond"]
    assert [r.status for r in diamond.recent_runs] == [Status.FAILED]
    assert diamond.failure_rate_7d == 1.0 and diamond.median_duration_ms is not None
    assert cards["fw-diamond/unserved"].latest_run.status is Status.REQUESTED
    assert cards["fw-diamond/unserved"].failure_rate_7d is None
    mapped = cards["fw-mapped"]
    assert mapped.latest_run.trigger == "direct" and mapped.total_runs == 1
    # history is cut at "now": auto-scheduled runs ahead are not runs yet
    recent = [b for b in posted(c, "/flow_runs/filter") if b.get("sort", "").endswith("DESC")]
    assert all("before_" in b["flow_runs"]["expected_start_time"] for b in recent)


def test_runs_pages_filters_and_failed_steps():
    c = Cassette.load("prefect_runs")
    with source(c) as src:
        page = src.runs()
        failed = src.runs(status="failed")
        one = src.runs(pipeline="fw-diamond/diamond")
        direct = src.runs(pipeline="fw-mapped")
    c.assert_all_used()
    assert page.total == 3 and page.next_offset is None
    assert [(r.pipeline, r.status, r.failed_step) for r in page.runs] == [
        ("fw-diamond/unserved", Status.REQUESTED, None),
        ("fw-diamond/diamond", Status.FAILED, "enrich"),
        ("fw-mapped", Status.FAILED, "square")]
    assert {r.pipeline for r in failed.runs} == {"fw-diamond/diamond", "fw-mapped"}
    assert posted(c, "/flow_runs/filter")[1]["flow_runs"]["state"] == {
        "type": {"any_": ["FAILED", "CRASHED"]}}
    assert [r.pipeline for r in one.runs] == ["fw-diamond/diamond"]
    assert [r.pipeline for r in direct.runs] == ["fw-mapped"]
    assert direct.runs[0].extra["deployment_id"] is None


def test_failed_diamond_detail_edges_error_actions_and_log():
    c = Cassette.load("prefect_run_failed")
    run_id = flow_run_id(c)
    with source(c) as src:
        detail = src.run(run_id)
        log = src.step_log(run_id, "enrich")
        assert src.step_log(run_id, "join") is None  # never ran: no log request
    steps = {s.name: s for s in detail.steps}
    assert [s.name for s in detail.steps] == ["extract", "clean", "enrich", "join", "publish"]
    assert {n: s.depends_on for n, s in steps.items()} == {
        "extract": (), "clean": ("extract",), "enrich": ("extract",),
        "join": ("clean", "enrich"), "publish": ("join",)}
    assert steps["enrich"].status is Status.FAILED
    assert steps["join"].status is Status.PENDING
    assert steps["join"].extra["state_name"] == "NotReady" and not steps["join"].attempts
    assert "RuntimeError: enrich failed" in detail.error
    assert detail.run.failed_step == "enrich" and detail.run.pipeline == "fw-diamond/diamond"
    acts = detail.actions
    assert acts.rerun and not acts.restart_from_step and not acts.restart_steps
    assert "result persistence" in acts.reasons["restart"]
    assert "watermark" in acts.reasons["resume_from_watermark"]
    assert "Traceback" in log and log.index("ERROR Task run failed") < log.index(
        "ERROR Finished in state Failed")  # oldest line first


def test_mapped_task_items_are_one_step_and_a_direct_run_cannot_be_retried():
    c = Cassette.load("prefect_run_mapped")
    with source(c) as src:
        detail = src.run(flow_run_id(c))
    (square,) = detail.steps
    assert square.name == "square" and square.status is Status.FAILED
    assert square.extra["mapped"] == 3
    assert [(a.extra["map_index"], a.number, a.status) for a in square.attempts] == [
        (0, 1, Status.SUCCEEDED), (1, 1, Status.SUCCEEDED), (2, 1, Status.FAILED)]
    assert "three is not allowed" in detail.error
    assert not detail.actions.rerun and "deployment" in detail.actions.reasons["rerun"]


def test_queued_run_of_an_unserved_deployment():
    c = Cassette.load("prefect_run_queued")
    with source(c) as src:
        detail = src.run(flow_run_id(c))
    assert detail.status is Status.REQUESTED and detail.steps == ()
    assert detail.run.pipeline == "fw-diamond/unserved"
    assert detail.actions.can_cancel and not detail.actions.rerun
    assert "Scheduled" in detail.actions.reasons["rerun"]


def test_not_found_keeps_the_servers_detail():
    c = Cassette.load("prefect_not_found")
    with source(c) as src:
        with pytest.raises(errors.NotFound, match="Flow run not found"):
            src.run("00000000-0000-0000-0000-000000000000")
        with pytest.raises(errors.NotFound):
            src.run("no-such-run")
        with pytest.raises(errors.NotFound, match="Deployment not found"):
            src.run_now("fw-diamond/no-such-deployment")


def test_retry_refusals_send_no_state_change():
    c = Cassette.load("prefect_rerun_refused")
    ids = [e["path"].split("/")[3] for e in c.exchanges]
    with source(c) as src:
        with pytest.raises(errors.ActionNotSupported, match="not from a deployment"):
            src.rerun(ids[0])
        with pytest.raises(errors.RunConflict, match="Scheduled"):
            src.rerun(ids[1])
        with pytest.raises(errors.ActionNotSupported, match="no restart from a chosen task"):
            src.restart(ids[0], "square")
        with pytest.raises(errors.ActionNotSupported, match="flow without a deployment"):
            src.run_now("fw-mapped")
    assert not posted(c, "/set_state")


def test_retry_sets_awaiting_retry_like_prefects_ui():
    c = Cassette.load("prefect_rerun")
    run_id = flow_run_id(c)
    with source(c) as src:
        assert src.rerun(run_id, idempotency_key="k") == run_id  # retried in place
        assert src.rerun(run_id, idempotency_key="k") == run_id  # same key: not sent again
    c.assert_all_used()
    (body,) = posted(c, "/set_state")
    assert body["force"] is True
    assert (body["state"]["type"], body["state"]["name"]) == ("SCHEDULED", "AwaitingRetry")


def test_retried_run_collapses_task_runs_newest_first():
    c = Cassette.load("prefect_run_retried")
    run_id = flow_run_id(c)
    with source(c) as src:
        detail = src.run(run_id)
        first = src.step_log(run_id, "enrich", 1)
    assert detail.status is Status.SUCCEEDED and detail.run.attempts == 2
    tries = {s.name: [(a.number, a.status) for a in s.attempts] for s in detail.steps}
    assert tries == {
        "extract": [(1, Status.SUCCEEDED), (2, Status.SUCCEEDED)],
        "clean": [(1, Status.SUCCEEDED), (2, Status.SUCCEEDED)],
        "enrich": [(1, Status.FAILED), (2, Status.SUCCEEDED)],
        "join": [(1, Status.SUCCEEDED)], "publish": [(1, Status.SUCCEEDED)]}
    assert all(s.extra["task_runs"] == 2 for s in detail.steps)
    assert detail.step("join").depends_on == ("clean", "enrich")
    assert "the flag file is there" in first
    # the run's timeline: a segment per task run, the retried flow's path ends at publish
    from flowwidgets.timing import timing
    from flowwidgets.widgets._run_timing import timeline_svg, timing_payload

    t = timing(detail)
    assert t.critical_path[0] == "extract" and t.critical_path[-1] == "publish"
    assert len(t.step("enrich").segments) == 2 and t.step("enrich").segments[0].end
    assert 'aria-label="run timeline, 5 steps"' in timeline_svg(timing_payload(detail))


def test_run_now_passes_the_key_to_prefect():
    c = Cassette.load("prefect_run_now_idempotent")
    with source(c) as src:
        first = src.run_now("fw-diamond/diamond", idempotency_key="rec-1")
        again = src.run_now("fw-diamond/diamond", idempotency_key="rec-1")
    assert first == again
    assert posted(c, "/create_flow_run") == [{"idempotency_key": "rec-1"}] * 2


def test_run_now_without_a_key_makes_one_so_a_busy_503_is_retried_without_a_second_run():
    """Prefect answers 503 while its database is locked. A run started without a key
    gets one, so the Source may send it again: the same key both times (Prefect would
    return the run the first one made, never a second run)."""
    c = Cassette.load("prefect_run_now_idempotent")
    deployment, created = c.exchanges[0], c.exchanges[1]
    sent: list[dict] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            assert request.url.path == deployment["path"]
            return httpx.Response(200, json=deployment["response"])
        assert request.url.path == created["path"]
        sent.append(json.loads(request.content))
        if len(sent) == 1:
            return httpx.Response(503, json={"exception_message": "Service Unavailable"})
        return httpx.Response(201, json=created["response"])

    client = httpx.Client(transport=httpx.MockTransport(handler))
    with prefect_source(BASE, client, c.clock) as src:
        run_id = src.run_now("fw-diamond/diamond")
        src.run_now("fw-diamond/diamond")
    assert run_id == created["response"]["id"]
    keys = [b["idempotency_key"] for b in sent]
    assert len(keys) == 3 and keys[0] == keys[1] != keys[2]  # one key per call, kept on retry
    assert all(len(k) == 32 for k in keys)


def test_polls_cost_two_requests_when_idle_and_reread_only_the_changed_deployment():
    c = Cassette.load("prefect_poll")
    costs = []
    with source(c) as src:
        for step in range(4):
            if step == 2:
                new_run = src.run_now("fw-diamond/unserved", idempotency_key="poll-1")
            before = len(c.seen)
            snap = src.snapshot()
            costs.append(c.seen[before:])
    c.assert_all_used()
    first, idle, changed, idle_again = costs
    paths = [[f"{r.method} {r.url.path}" for r in step] for step in costs]
    assert len(first) > 5 and "POST /api/events/filter" not in paths[0]
    # the cards cost two requests (events; runs started, ended or due), whatever the
    # number of deployments; the rest of an idle poll re-reads runs that ended in the
    # last 30 s (their task runs are still being recorded)
    detail = ("GET /api/flow_runs/", "POST /api/task_runs/filter", "GET /api/task_run_states")
    assert [p for p in paths[3] if not p.startswith(detail)] == [
        "POST /api/events/filter", "POST /api/flow_runs/filter"]
    moved = json.loads(idle_again[1].content)["flow_runs"]
    assert moved["operator"] == "or_" and set(moved) == {
        "operator", "start_time", "end_time", "expected_start_time"}
    assert paths[1][:2] == ["POST /api/events/filter", "POST /api/flow_runs/filter"]
    unserved = snap.pipelines["fw-diamond/unserved"].extra["deployment_id"]
    counts = [json.loads(r.content) for r in changed if r.url.path == "/api/flow_runs/count"]
    card_reads = {tuple(b["deployments"]["id"]["any_"]) for b in counts if "deployments" in b}
    assert card_reads == {(unserved,)}  # only the deployment whose run changed
    card = snap.pipelines["fw-diamond/unserved"]
    assert card.latest_run.run_id == new_run and card.latest_run.status is Status.REQUESTED
    assert new_run in snap.runs


def test_each_events_window_starts_the_overlap_before_the_servers_previous_answer():
    from email.utils import parsedate_to_datetime

    from flowwidgets.sources._prefect_cards import OVERLAP
    c = Cassette.load("prefect_poll")
    with source(c) as src:
        src.snapshot()
        src.snapshot()
    windows = [(n, datetime.fromisoformat(ex["body"]["filter"]["occurred"]["since"]))
               for n, ex in enumerate(c.exchanges) if ex["path"] == "/api/events/filter"]
    first_list = next(n for n, ex in enumerate(c.exchanges)
                      if ex["path"] == "/api/flows/filter")
    assert windows
    assert windows[0][1] == parsedate_to_datetime(c.exchanges[first_list]["date"]) - OVERLAP
    for (n, _), (_, start) in zip(windows, windows[1:], strict=False):
        assert start == parsedate_to_datetime(c.exchanges[n]["date"]) - OVERLAP
    for n, start in windows:  # the direct read of moved runs uses the same window
        moved = c.exchanges[n + 1]["body"]["flow_runs"]
        assert datetime.fromisoformat(moved["start_time"]["after_"]) == start
