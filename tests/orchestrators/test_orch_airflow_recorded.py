"""The Airflow Source on responses recorded from a real Airflow 3.3.2 (``recorded/``).

Each test replays one cassette through ``httpx.MockTransport``: a request the recording
does not have fails the test, and so does a request carrying another bearer token than the
one the real server saw. See ``record.py`` for how the scenarios were made.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from datetime import time as dtime
from email.utils import parsedate_to_datetime
from urllib.parse import parse_qs, urlsplit

import pytest
from _cassette import PASSWORD, Cassette, airflow_source, replay_client

from flowwidgets import errors
from flowwidgets.models import Status
from flowwidgets.sources.airflow import detect_airflow

BASE = "http://airflow.test"


def source(c: Cassette, **kw):  # noqa: ANN201
    kw.setdefault("username", "admin")
    kw.setdefault("password", PASSWORD)
    return airflow_source(BASE, replay_client(c), c.clock, **kw)


def run_id_of(c: Cassette, dag: str) -> str:
    """The widget-facing id of the first recorded run of ``dag``."""
    ex = c.find("GET", f"/api/v2/dags/{dag}/dagRuns/")
    return f"{dag}/{ex['response']['dag_run_id']}"


def posted(c: Cassette, path_end: str) -> list[dict]:
    return [json.loads(r.content) for r in c.seen
            if r.method == "POST" and r.url.path.endswith(path_end)]


def test_dags_become_cards_with_schedule_next_run_paused_and_statistics():
    c = Cassette.load("airflow_pipelines")
    with source(c, start=False) as src:
        assert src._drive(detect_airflow()) == "3.3.2"
        src._drive(src._flavour.start())
        cards = {p.name: p for p in src.pipelines()}
        assert src.health()
    c.assert_all_used()
    assert posted(c, "/auth/token") == [{"username": "admin", "password": PASSWORD}]
    assert sorted(cards) == ["fw_diamond", "fw_mapped", "fw_paused"]
    paused = cards["fw_paused"]
    assert paused.paused and paused.schedule == "30 6 * * *"
    assert paused.next_run_at is None  # a paused DAG will not fire
    assert paused.extra["next_dagrun_run_after"] is not None
    assert paused.latest_run.status is Status.REQUESTED
    mapped = cards["fw_mapped"]
    assert mapped.schedule == "0 0 * * *"
    midnight = datetime.combine(c.clock.date() + timedelta(days=1), dtime(), UTC)
    assert mapped.next_run_at == midnight  # @daily: the next midnight after the recording
    diamond = cards["fw_diamond"]
    assert diamond.schedule is None and diamond.total_runs == 1
    assert [r.status for r in diamond.recent_runs] == [Status.FAILED]
    assert diamond.failure_rate_7d == 1.0 and mapped.failure_rate_7d == 0.0
    assert paused.failure_rate_7d is None  # nothing finished this week
    assert diamond.median_duration_ms == diamond.latest_run.duration_ms > 0
    assert diamond.extra["tags"] == ("flowwidgets", "test")


def test_runs_pages_filters_and_failed_steps():
    c = Cassette.load("airflow_runs")
    with source(c) as src:
        page = src.runs()
        failed = src.runs(status="failed")
        one = src.runs(pipeline="fw_diamond", limit=1)
        assert src.runs(status="cancelled").total == 0  # no dag run state: no request
    c.assert_all_used()
    by_dag = {r.pipeline: r for r in page.runs}
    # two queued runs of the paused DAG (the setup's and the poll recording's), 2 others
    assert page.total == 4 and page.next_offset is None
    assert by_dag["fw_paused"].status is Status.REQUESTED
    assert by_dag["fw_mapped"].status is Status.SUCCEEDED
    assert by_dag["fw_diamond"].status is Status.FAILED
    assert by_dag["fw_diamond"].failed_step == "enrich"
    assert by_dag["fw_diamond"].run_id.startswith("fw_diamond/manual__")
    assert [r.pipeline for r in failed.runs] == ["fw_diamond"]
    assert failed.runs[0].failed_step == "enrich"
    assert [r.pipeline for r in one.runs] == ["fw_diamond"]
    # the failed-task lookup names the runs it asks about, never a whole DAG
    (body,) = posted(c, "/taskInstances/list")[:1]
    assert body["state"] == ["failed"] and body["dag_run_ids"]


def test_failed_diamond_detail_edges_error_actions_and_log():
    c = Cassette.load("airflow_run_failed")
    run_id = run_id_of(c, "fw_diamond")
    with source(c) as src:
        detail = src.run(run_id)
        log = src.step_log(run_id, "enrich")
        assert src.step_log(run_id, "join") is None  # never started: no log request
    c.assert_all_used()
    paths = [r.url.raw_path.decode() for r in c.seen]
    assert any("%3A" in p and "%2B" in p for p in paths)  # ':' and '+' are encoded
    steps = {s.name: s for s in detail.steps}
    assert [s.name for s in detail.steps] == ["extract", "clean", "enrich", "join", "publish"]
    assert {n: s.depends_on for n, s in steps.items()} == {
        "extract": (), "clean": ("extract",), "enrich": ("extract",),
        "join": ("clean", "enrich"), "publish": ("join",)}
    assert steps["enrich"].status is Status.FAILED
    assert steps["join"].status is Status.PENDING
    assert steps["join"].extra["state"] == "upstream_failed"
    assert steps["join"].started_at is None and steps["join"].attempts == ()
    assert detail.error == steps["enrich"].error == (
        "RuntimeError: enrich failed: the flag file is there")
    assert detail.run.failed_step == "enrich" and detail.run.attempts == 1
    (failed_try,) = steps["enrich"].attempts  # the attempts table shows the try's error
    assert failed_try.status is Status.FAILED and failed_try.error == detail.error
    assert all(a.error is None for n, s in steps.items() if n != "enrich" for a in s.attempts)
    acts = detail.actions
    assert acts.restart_from_step == ("enrich",) and acts.rerun
    assert set(acts.restart_steps) == set(steps)
    assert "watermark" in acts.reasons["resume_from_watermark"]
    assert "in place" in acts.reasons["restart"]
    assert "RuntimeError: enrich failed" in log and "ERROR Task failed" in log
    # the run's timeline: the tasks' own times, the path that ended it
    from flowwidgets.timing import timing
    from flowwidgets.widgets._run_timing import timeline_svg, timing_payload

    t = timing(detail)
    assert t.critical_path[0] == "extract" and t.critical_path[-1] in ("clean", "enrich")
    assert [len(s.segments) for s in t.steps] == [1, 1, 1, 0, 0] and not t.untimed
    assert 'aria-label="run timeline, 5 steps"' in timeline_svg(timing_payload(detail))


def test_mapped_task_folds_into_one_step_with_one_attempt_per_item():
    c = Cassette.load("airflow_run_mapped")
    run_id = run_id_of(c, "fw_mapped")
    with source(c) as src:
        detail = src.run(run_id)
        log = src.step_log(run_id, "square")
    c.assert_all_used()
    square = detail.step("square")
    assert square.status is Status.FAILED  # one item of three failed
    assert square.extra["mapped"] == 3
    assert square.extra["map_states"] == {"failed": 1, "success": 2}
    assert sorted(a.extra["map_index"] for a in square.attempts) == [0, 1, 2]
    assert square.error == "ValueError: three is not allowed"
    assert detail.step("total").depends_on == ("square",)
    # the run itself succeeded: `total` runs with trigger_rule all_done
    assert detail.status is Status.SUCCEEDED and detail.run.failed_step == "square"
    assert "three is not allowed" in log
    assert any("map_index=2" in str(r.url) for r in c.seen)  # the failed item's log


def test_queued_run_of_a_paused_dag():
    c = Cassette.load("airflow_run_queued")
    with source(c) as src:
        detail = src.run(run_id_of(c, "fw_paused"))
    assert detail.status is Status.REQUESTED
    assert [(s.name, s.status, s.attempts) for s in detail.steps] == [
        ("only", Status.PENDING, ())]
    assert detail.actions.can_cancel and not detail.actions.rerun  # queued: only cancel
    assert "queued" in detail.actions.reasons["restart"]


def test_not_found_keeps_the_servers_detail():
    c = Cassette.load("airflow_not_found")
    with source(c) as src:
        with pytest.raises(errors.NotFound, match="was not found") as e:
            src.run("fw_diamond/no_such_run")
        assert e.value.status_code == 404 and "no_such_run" in str(e.value.detail)
        with pytest.raises(errors.NotFound, match="no_such_dag"):
            src.run("no_such_dag/x")
        with pytest.raises(errors.NotFound, match="no_such_dag"):
            src.runs(pipeline="no_such_dag")
    with pytest.raises(ValueError, match="<dag_id>/<dag_run_id>"):
        src.run("just-a-run-id")


def test_bad_credentials_fail_at_login():
    c = Cassette.load("airflow_bad_credentials")
    with pytest.raises(errors.Unauthorized, match="refused the username and password of "
                                                  "'admin'.*401") as e:
        source(c, password=PASSWORD)
    assert e.value.status_code == 401 and e.value.detail


def test_expired_token_logs_in_again_once_and_repeats_the_call():
    c = Cassette.load("airflow_expired_token")
    with source(c, token="recorded-token-expired") as src:
        cards = src.pipelines()
        assert src._http.token == "recorded-token-2"
    c.assert_all_used()
    assert c.exchanges[0]["status"] == 401 and c.exchanges[0]["response"] == {
        "detail": "Token Expired"}
    assert [r.url.path for r in c.seen[:3]] == ["/api/v2/dags", "/auth/token", "/api/v2/dags"]
    assert len(cards) == 3


def test_expired_token_without_credentials_says_how_to_fix_it():
    c = Cassette.load("airflow_expired_token_only")
    with pytest.raises(errors.Unauthorized, match="Token Expired.*AIRFLOW_USERNAME"):
        source(c, token="recorded-token-expired", username=None, password=None)


def test_a_second_refusal_after_logging_in_again_is_raised():
    c = Cassette.load("airflow_expired_token")
    refusal = c.exchanges[0]
    c.exchanges[2] = {**c.exchanges[2], "status": 401, "response": refusal["response"]}
    with pytest.raises(errors.Unauthorized, match="Token Expired"):
        source(c, token="recorded-token-expired")
    assert [r.url.path for r in c.seen] == ["/api/v2/dags", "/auth/token", "/api/v2/dags"]


def test_restart_clears_the_task_and_its_downstream_in_that_one_run():
    c = Cassette.load("airflow_restart")
    run_id = run_id_of(c, "fw_diamond")
    with source(c) as src:
        assert src.restart(run_id, "enrich", idempotency_key="k") == run_id
        assert "fw_diamond" in src._flavour._cards._dirty  # the next poll reads it again
        assert src.restart(run_id, "enrich", idempotency_key="k") == run_id  # no 2nd clear
    c.assert_all_used()
    (body,) = posted(c, "/clearTaskInstances")
    assert body == {"dry_run": False, "dag_run_id": run_id.partition("/")[2],
                    "task_ids": ["enrich"], "include_downstream": True,
                    "include_upstream": False, "include_future": False,
                    "include_past": False, "only_failed": False, "reset_dag_runs": True}
    cleared = c.find("POST", "/api/v2/dags/fw_diamond/clearTaskInstances")["response"]
    assert {t["task_id"] for t in cleared["task_instances"]} == {"enrich", "join", "publish"}
    assert {t["dag_run_id"] for t in cleared["task_instances"]} == {body["dag_run_id"]}


def test_restart_refuses_unknown_tasks_and_unfinished_runs_without_clearing():
    c = Cassette.load("airflow_restart_refused")
    diamond, queued = run_id_of(c, "fw_diamond"), run_id_of(c, "fw_paused")
    with source(c) as src:
        with pytest.raises(errors.InvalidAction, match="no task 'no_such_task'.*enrich"):
            src.restart(diamond, "no_such_task")
        with pytest.raises(errors.RunConflict, match="queued"):
            src.restart(queued, "only")
        with pytest.raises(errors.ActionNotSupported, match="no watermarks"):
            src.resume(diamond)
    assert not [r for r in c.seen if r.method == "POST" and "auth" not in r.url.path]


def test_restarted_run_shows_both_tries_of_the_restarted_task_only():
    c = Cassette.load("airflow_run_restarted")
    run_id = run_id_of(c, "fw_diamond")
    with source(c) as src:
        detail = src.run(run_id)
        first_try = src.step_log(run_id, "enrich", 1)
    tries = {s.name: [(a.number, a.status) for a in s.attempts] for s in detail.steps}
    assert tries == {
        "extract": [(1, Status.SUCCEEDED)], "clean": [(1, Status.SUCCEEDED)],
        "enrich": [(1, Status.FAILED), (2, Status.SUCCEEDED)],
        "join": [(1, Status.SUCCEEDED)], "publish": [(1, Status.SUCCEEDED)]}
    assert detail.status is Status.SUCCEEDED and detail.run.attempts == 2
    assert detail.run.failed_step is None and detail.error is None
    assert [a.step for a in detail.attempts][-3:] == ["enrich", "join", "publish"]
    assert "the flag file is there" in first_try


def test_rerun_clears_the_whole_run_in_place():
    c = Cassette.load("airflow_rerun")
    run_id = run_id_of(c, "fw_mapped")
    with source(c) as src:
        assert src.rerun(run_id) == run_id
    assert posted(c, "/clear") == [{"dry_run": False, "only_failed": False}]


def test_run_now_with_a_key_is_idempotent_in_airflow_itself():
    c = Cassette.load("airflow_run_now_idempotent")
    with source(c) as src:
        first = src.run_now("fw_diamond", idempotency_key="rec-1")
        again = src.run_now("fw_diamond", idempotency_key="rec-1")  # Airflow answers 409
    assert first == again == "fw_diamond/flowwidgets__rec-1"
    assert [b["logical_date"] for b in posted(c, "/dagRuns")] == [None, None]
    c.assert_all_used()


def _changed_queries(c: Cassette) -> list[tuple[int, datetime]]:
    """(index in the recording, updated_at_gte) of every changed-runs window asked for."""
    out = []
    for n, ex in enumerate(c.exchanges):
        q = parse_qs(urlsplit(ex["path"]).query)
        if ex["path"].startswith("/api/v2/dags/~/dagRuns?") and "updated_at_gte" in q:
            out.append((n, datetime.fromisoformat(q["updated_at_gte"][0])))
    return out


def test_polls_cost_one_request_when_idle_and_reread_only_the_changed_dag():
    c = Cassette.load("airflow_poll")
    costs = []
    with source(c) as src:
        for step in range(4):
            before = len(c.seen)
            if step == 2:
                new_run = src.run_now("fw_paused")
                before = len(c.seen)
            snap = src.snapshot()
            costs.append([f"{r.method} {r.url.path}" for r in c.seen[before:]])
    c.assert_all_used()
    first, idle, changed, idle_again = costs
    dags = {"fw_diamond", "fw_mapped", "fw_paused"}
    assert {p for p in first if p.endswith("/dagRuns")} >= {
        f"GET /api/v2/dags/{d}/dagRuns" for d in dags}  # each DAG's own page, once
    assert idle == idle_again == ["GET /api/v2/dags/~/dagRuns"]  # one request, any DAG count
    reread = {p.split("/")[4] for p in changed if p.startswith("GET /api/v2/dags/fw_")}
    assert reread == {"fw_paused"}  # only the DAG whose run changed
    assert changed.count("GET /api/v2/dags/fw_paused/dagRuns") == 1
    card = snap.pipelines["fw_paused"]
    assert card.latest_run.run_id == new_run and card.latest_run.status is Status.REQUESTED
    assert snap.runs[new_run].status is Status.REQUESTED  # the runs page was read again


def test_each_window_starts_the_overlap_before_the_servers_previous_answer():
    from flowwidgets.sources._airflow_cards import OVERLAP
    c = Cassette.load("airflow_poll")
    with source(c) as src:
        for _ in range(3):
            src.snapshot()
    windows = _changed_queries(c)
    assert len(windows) >= 2
    dates = {n: parsedate_to_datetime(ex["date"]) for n, ex in enumerate(c.exchanges)
             if ex.get("date")}
    first_dag_list = next(n for n, ex in enumerate(c.exchanges)
                          if ex["path"].startswith("/api/v2/dags?limit=100"))
    previous = dates[first_dag_list]
    for n, start in windows:
        assert start == previous - OVERLAP  # never later: a late commit is still read
        previous = dates[n]


def test_week_counts_follow_the_changed_rows_and_age_out_without_a_request():
    c = Cassette.load("airflow_poll")
    with source(c) as src:
        src.snapshot()
        cards = src._flavour._cards
        row = next(r for runs, _ in cards._recent.values() for r in runs
                   if r.pipeline == "fw_diamond")
        assert cards._week_counts("fw_diamond", c.clock - timedelta(days=7)) == (1, 1)
        with cards._lock:  # the same run seen again in a window, now succeeded
            cards._note_week(replace(row, status=Status.SUCCEEDED,
                                     extra={**row.extra, "state": "success"}))
        assert cards._week_counts("fw_diamond", c.clock - timedelta(days=7)) == (0, 1)
        assert cards._week_counts("fw_diamond", c.clock + timedelta(days=8)) == (0, 0)


def test_the_dag_list_read_again_unchanged_is_no_news():
    c = Cassette.load("airflow_poll")
    listing = next(ex for ex in c.exchanges if ex["path"].startswith("/api/v2/dags?limit=100"))
    c.exchanges.append(dict(listing))  # the same answer, read again when the list is due
    c.used.append(False)
    with source(c) as src:
        src.snapshot()
        cards = src._flavour._cards
        generation = cards.generation
        cards._dags_read = 0.0  # the DAG list is due (every DAG_LIST_TTL s)
        before = len(c.seen)
        src.snapshot()
    assert [r.url.path for r in c.seen[before:]] == ["/api/v2/dags", "/api/v2/dags/~/dagRuns"]
    assert cards.generation == generation  # so the newest-runs page was not read again
