"""The Dagster Source on responses recorded from a real Dagster 1.13 (``recorded/dagster_*``,
made by ``record_dagster.py``), and on recorded responses bent into odd shapes.

Each test replays one cassette through ``httpx.MockTransport``; a request the recording
does not have (another operation or other variables) fails the test.
"""

from __future__ import annotations

import asyncio
import copy
import json
import threading
import time

import httpx
import pytest
from _cassette import Cassette, dagster_source, replay_client

from flowwidgets import errors
from flowwidgets.live import Poller
from flowwidgets.models import Status
from flowwidgets.sources import connect
from flowwidgets.sources._dagster_flavour import DagsterFlavour
from flowwidgets.sources.dagster import connect_dagster, connect_dagster_async, detect_dagster

BASE = "http://dagster.test"
EDGES = {"extract": (), "clean": ("extract",), "enrich": ("extract",),
         "join": ("clean", "enrich"), "publish": ("join",)}


def source(c: Cassette):  # noqa: ANN201
    return dagster_source(BASE, replay_client(c), c.clock)


def op(ex: dict) -> str:
    """The operation name of a recorded GraphQL exchange."""
    query = (ex["body"] or {}).get("query", "")
    return query.split("(")[0].split("{")[0].split()[-1] if query else ""


def calls(c: Cassette, name: str) -> list[dict]:
    """The variables of every request of operation ``name`` the test made."""
    out = []
    for r in c.seen:
        body = json.loads(r.content) if r.content else {}
        if body.get("query", "").split("(")[0].split("{")[0].split()[-1:] == [name]:
            out.append(body["variables"])
    return out


def recorded_var(c: Cassette, name: str, key: str, n: int = 0):  # noqa: ANN201
    return [ex for ex in c.exchanges if op(ex) == name][n]["body"]["variables"][key]


def test_connect_finds_dagster_after_the_other_probes():
    c = Cassette.load("dagster_connect")
    with connect(BASE, client=replay_client(c)) as src:
        assert isinstance(src._flavour, DagsterFlavour) and src._flavour.version == "1.13.28"
        assert src.flavour == "dagster"
        assert src.capabilities == {"restart", "rerun", "run_now", "cancel"}
    c.assert_all_used()
    # the webserver answers its UI page (200, HTML) to our, Airflow's and Prefect's probes
    assert c.exchanges[-1]["path"] == "/server_info"


def test_jobs_become_cards_in_two_requests():
    c = Cassette.load("dagster_pipelines")
    with source(c) as src:
        assert src._drive(detect_dagster()) == "1.13.28"
        before = src.stats.requests
        cards = {p.name: p for p in src.pipelines()}
        assert src.stats.requests - before == 2  # the jobs, then every card in one document
        assert src.health()
    c.assert_all_used()
    assert sorted(cards) == ["fw_diamond", "fw_nightly", "fw_sensed"]
    nightly = cards["fw_nightly"]
    assert (nightly.schedule, nightly.timezone) == ("30 6 * * *", "Europe/Paris")
    assert nightly.next_run_at is not None and nightly.next_run_at > c.clock
    assert nightly.next_run_at.astimezone().minute == 30 and not nightly.paused
    sensed = cards["fw_sensed"]
    assert sensed.schedule is None and sensed.next_run_at is None  # shown as manual
    assert sensed.extra["sensors"] == ["fw_sensor"]
    diamond = cards["fw_diamond"]
    assert [r.status for r in diamond.recent_runs] == [Status.FAILED, Status.SUCCEEDED]
    assert diamond.recent_runs[1].trigger == "re-execution"
    assert diamond.total_runs == 2 and diamond.failure_rate_7d == 0.5
    assert diamond.median_duration_ms is not None
    # runner strings travel as variables, never inside the document
    cards_call = calls(c, "FwCards")[0]
    assert {v["pipelineName"] for k, v in cards_call.items() if k.startswith("r")} == \
        set(cards)
    # one list of the last 7 days' finished runs serves every job's failure rate
    assert sorted(cards_call) == ["r0", "r1", "r2", "w"]
    assert cards_call["w"]["createdAfter"] == int(c.clock.timestamp()) - 7 * 86400


def test_cards_are_read_again_only_for_jobs_with_new_runs():
    c = Cassette.load("dagster_pipelines_again")
    with source(c) as src:
        first = {p.name: p for p in src.pipelines()}
        n = len(c.seen)
        second = {p.name: p for p in src.pipelines()}
        assert len(c.seen) - n == 2  # the job list and "which runs changed": nothing did
        third = {p.name: p for p in src.pipelines()}
    c.assert_all_used()
    assert second == first
    cards_calls = calls(c, "FwCards")
    assert len(cards_calls) == 2  # all the cards, then fw_sensed's alone
    assert cards_calls[1]["r0"] == {"pipelineName": "fw_sensed"}
    assert cards_calls[1]["w"]["pipelineName"] == "fw_sensed"
    assert third["fw_sensed"].total_runs == (first["fw_sensed"].total_runs or 0) + 1
    assert third["fw_diamond"] is first["fw_diamond"]  # reused, not read again
    touched = calls(c, "FwTouched")
    assert len(touched) == 2 and touched[0]["filter"]["updatedAfter"] > 0


def test_the_cards_after_a_poll_show_what_the_poll_read():
    c = Cassette.load("dagster_poll_then_cards")
    with source(c) as src:
        src.snapshot()
        before = {p.name: p for p in src._flavour._card_cache[1].values()}
        polled = src.snapshot()
        cards = {p.name: p for p in src.pipelines()}
    c.assert_all_used()
    new = polled.pipelines["fw_sensed"].latest_run
    assert new is not None and new.status is Status.SUCCEEDED
    assert before["fw_sensed"].latest_run != new
    # the widgets' re-query gets the card the poll read, without reading it again
    assert cards["fw_sensed"].latest_run == new
    assert [op(ex) for ex in c.exchanges][-2:] == ["FwJobs", "FwTouched"]


def test_runs_pages_filters_and_failed_steps():
    c = Cassette.load("dagster_runs")
    with source(c) as src:
        page = src.runs()
        failed = src.runs(status="failed")
        one = src.runs(pipeline="fw_diamond", limit=1, offset=1)
    c.assert_all_used()
    assert page.total == 2 and page.next_offset is None
    assert [(r.pipeline, r.status, r.failed_step, r.trigger) for r in page.runs] == [
        ("fw_diamond", Status.SUCCEEDED, None, "re-execution"),
        ("fw_diamond", Status.FAILED, "enrich", "manual")]
    newer, older = page.runs
    assert newer.extra["parent_run_id"] == older.run_id == newer.extra["root_run_id"]
    assert older.duration_ms and older.finished_at > older.started_at
    assert [r.run_id for r in failed.runs] == [older.run_id]
    assert calls(c, "FwRuns")[1]["filter"] == {"statuses": ["FAILURE"]}
    assert [r.run_id for r in one.runs] == [older.run_id] and one.next_offset is None
    assert calls(c, "FwRuns")[2] == {"filter": {"pipelineName": "fw_diamond"}, "limit": 2}


def test_failed_run_detail_error_and_logs():
    c = Cassette.load("dagster_run_failed")
    run_id = recorded_var(c, "FwRun", "runId")
    with source(c) as src:
        detail = src.run(run_id)
        log = src.step_log(run_id, "enrich")
        never = src.step_log(run_id, "join")
    c.assert_all_used()
    steps = {s.name: s for s in detail.steps}
    assert {n: s.depends_on for n, s in steps.items()} == EDGES
    assert [s.name for s in detail.steps][0] == "extract"  # dependency order
    assert {n: s.status for n, s in steps.items()} == {
        "extract": Status.SUCCEEDED, "clean": Status.SUCCEEDED, "enrich": Status.FAILED,
        "join": Status.PENDING, "publish": Status.PENDING}
    assert detail.status is Status.FAILED and detail.run.failed_step == "enrich"
    # the user's exception (error.cause), not Dagster's wrapper, with its stack
    assert detail.error.splitlines()[-1] == \
        "RuntimeError: the flag file is there: enrich fails on purpose"
    assert "Traceback" in detail.error and "fw_diamond_job.py" in detail.error
    assert "DagsterExecutionStepExecutionError" not in detail.error
    enrich = steps["enrich"]
    assert [(a.number, a.status) for a in enrich.attempts] == [(1, Status.FAILED)]
    assert enrich.attempts[0].error == detail.error and enrich.duration_ms is not None
    assert detail.actions.restart_from_step == ("enrich",) and detail.actions.rerun
    assert detail.actions.restart_steps == ("extract", "enrich")  # clean: enrich failed
    assert not detail.actions.can_cancel  # finished: Dagster's canTerminate is false
    assert "no watermarks" in detail.actions.reasons["resume_from_watermark"]
    assert 'Started execution of step "enrich"' in log
    assert "the flag file is there" in log and "enrich: checking" in log  # captured stdout
    assert "also ran extract" in log  # the in-process executor shares one capture
    assert never is None


def test_reexecution_shows_reused_steps_on_the_whole_graph():
    c = Cassette.load("dagster_run_reexecuted")
    run_id = recorded_var(c, "FwRun", "runId")
    with source(c) as src:
        detail = src.run(run_id)
    c.assert_all_used()
    parent = detail.parent_run_id
    assert parent and parent != run_id
    steps = {s.name: s for s in detail.steps}
    assert {n: s.depends_on for n, s in steps.items()} == EDGES
    assert {n: (s.status, s.reused_from) for n, s in steps.items()} == {
        "extract": (Status.SUCCEEDED, parent), "clean": (Status.SUCCEEDED, parent),
        "enrich": (Status.SUCCEEDED, None), "join": (Status.SUCCEEDED, None),
        "publish": (Status.SUCCEEDED, None)}
    assert steps["extract"].attempts == () and len(steps["enrich"].attempts) == 1
    assert detail.extra["step_keys_to_execute"] == ["enrich", "join", "publish"]
    assert detail.actions.restart_from_step == () and detail.actions.rerun
    assert set(detail.actions.restart_steps) == set(EDGES)


def test_the_idle_poll_is_one_request():
    c = Cassette.load("dagster_poll")
    with source(c) as src:
        first = src.snapshot()
        before = src.stats.requests
        second = src.snapshot()
        assert src.stats.requests - before == 1
    c.assert_all_used()
    assert second == first
    assert set(first.pipelines) == {"fw_diamond", "fw_nightly", "fw_sensed"}
    assert {r.status for r in first.runs.values()} == {Status.FAILED, Status.SUCCEEDED}
    polls = calls(c, "FwPoll")
    assert polls[0] == {"filter": {}, "limit": 50}
    newest = max(r.extra["created_at"] for r in first.runs.values())
    assert polls[1]["filter"]["updatedAfter"] >= newest.timestamp() - 5.0


def test_dagster_errors_become_typed_errors_with_its_message():
    c = Cassette.load("dagster_errors")
    with source(c) as src:
        with pytest.raises(errors.NotFound, match="RunNotFoundError: Pipeline run 0000"):
            src.run("00000000-0000-0000-0000-000000000000")
        with pytest.raises(errors.PipelineNotFound, match="no job 'no_such_job'.*fw_diamond"):
            src.run_now("no_such_job")
        from flowwidgets.sources._dagster_gql import gql
        with pytest.raises(errors.Unprocessable, match="Cannot query field 'bogus'"):
            src._drive(gql("FwBogus", "{ bogus }"))
        from record_dagster import python_error
        with pytest.raises(errors.ServerError, match="PythonError: .*no-such-run") as info:
            src._drive(python_error())
        detail = info.value.detail
        assert isinstance(detail, dict) and "launch_execution.py" in detail["stack"]
        assert "Traceback" not in str(info.value)
    c.assert_all_used()
    assert [ex["status"] for ex in c.exchanges][-1] == 500  # a PythonError, HTTP 500


def test_refusals_are_checked_before_anything_is_launched():
    c = Cassette.load("dagster_refused")
    failed = recorded_var(c, "FwRun", "runId")
    healed = recorded_var(c, "FwRun", "runId", 2)
    with source(c) as src:
        with pytest.raises(errors.InvalidAction, match="no step 'no_such_step'"):
            src.restart(failed, "no_such_step")
        with pytest.raises(errors.InvalidAction, match="from 'clean'.*upstream"):
            src.restart(failed, "clean")
        with pytest.raises(errors.InvalidAction, match="no failed step"):
            src.restart(healed)
        with pytest.raises(errors.Conflict, match="could not be terminated.*FAILURE"):
            src.cancel(failed)
    c.assert_all_used()
    assert not calls(c, "FwReexecute")


def test_restart_from_failure_is_dagsters_from_failure():
    c = Cassette.load("dagster_restart")
    failed = recorded_var(c, "FwRun", "runId")
    with source(c) as src:
        new = src.restart(failed)
    c.assert_all_used()
    assert new and new != failed
    assert calls(c, "FwReexecute") == [{"re": {"parentRunId": failed,
                                               "strategy": "FROM_FAILURE"}}]


def test_restart_from_a_step_selects_it_and_its_downstream():
    c = Cassette.load("dagster_restart_step")
    parent = recorded_var(c, "FwRun", "runId")
    with source(c) as src:
        new = src.restart(parent, "join")
    c.assert_all_used()
    (sent,) = calls(c, "FwReexecute")
    params = sent["exec"]
    assert params["stepKeys"] == ["join", "publish"]
    assert params["selector"] == {"repositoryLocationName": "fw",
                                  "repositoryName": "__repository__", "jobName": "fw_diamond"}
    meta = params["executionMetadata"]
    assert meta["parentRunId"] == parent and meta["rootRunId"] != parent
    assert {"key": "dagster/root_run_id", "value": meta["rootRunId"]} in meta["tags"]
    assert {"key": "dagster/parent_run_id", "value": parent} in meta["tags"]
    assert new not in (parent, meta["rootRunId"])


def test_rerun_is_all_steps():
    c = Cassette.load("dagster_rerun")
    failed = recorded_var(c, "FwRun", "runId")
    with source(c) as src:
        assert src.rerun(failed) != failed
    c.assert_all_used()
    assert calls(c, "FwReexecute") == [{"re": {"parentRunId": failed, "strategy": "ALL_STEPS"}}]


def test_run_now_once_per_key_then_terminate():
    c = Cassette.load("dagster_run_now_cancel")
    with source(c) as src:
        first = src.run_now("fw_diamond", idempotency_key="k")
        assert src.run_now("fw_diamond", idempotency_key="k") == first  # not launched again
        assert src.cancel(first) in ("cancelled", "running", "requested")
    c.assert_all_used()
    assert calls(c, "FwLaunchRun") == [{"params": {"selector": {
        "repositoryLocationName": "fw", "repositoryName": "__repository__",
        "jobName": "fw_diamond"}, "runConfigData": {}}}]
    assert calls(c, "FwTerminate") == [{"runId": first}]


def test_a_read_only_webserver_refuses_with_unauthorized():
    c = Cassette.load("dagster_read_only")
    failed = recorded_var(c, "FwRun", "runId")
    with source(c) as src:
        with pytest.raises(errors.Unauthorized, match="UnauthorizedError: Authorization failed"):
            src.run_now("fw_diamond")
        with pytest.raises(errors.Unauthorized, match="hasReExecutePermission"):
            src.rerun(failed)
    c.assert_all_used()


# ---- odd shapes: recorded answers, bent ----------------------------------------------


def bent(scenario: str, operation: str, change) -> Cassette:  # noqa: ANN001
    """``scenario`` with the first answer to ``operation`` passed through ``change``."""
    c = Cassette.load(scenario)
    ex = next(e for e in c.exchanges if op(e) == operation)
    ex["response"] = change(copy.deepcopy(ex["response"]))
    return c


def _drop_run_id(body: dict) -> dict:
    del body["data"]["runOrError"]["runId"]
    return body


def _step_stats_text(body: dict) -> dict:
    body["data"]["runOrError"]["stepStats"] = "extract,clean"
    return body


def _alien_union(body: dict) -> dict:
    body["data"]["runOrError"] = {"__typename": "SomethingNew", "message": "?"}
    return body


def _bad_time(body: dict) -> dict:
    body["data"]["runsOrError"]["results"][0]["startTime"] = "yesterday"
    return body


@pytest.mark.parametrize(("scenario", "operation", "change", "field", "call"), [
    ("dagster_run_failed", "FwRun", _drop_run_id, "data.runOrError.runId", "run"),
    ("dagster_run_failed", "FwRun", _step_stats_text, "data.runOrError.stepStats", "run"),
    ("dagster_run_failed", "FwRun", _alien_union, "data.runOrError.__typename", "run"),
    ("dagster_runs", "FwRuns", _bad_time, "data.runsOrError.results[0].startTime", "runs"),
    ("dagster_run_failed", "FwRun", lambda b: {"data": None}, "data", "run"),
    ("dagster_run_failed", "FwRun", lambda b: [1, 2], "<body>", "run"),
])
def test_malformed_answers_are_schema_errors_naming_the_field(scenario, operation, change,
                                                              field, call):
    c = bent(scenario, operation, change)
    run_id = recorded_var(c, "FwRun", "runId") if call == "run" else None
    with source(c) as src, pytest.raises(errors.SchemaError) as info:
        src.run(run_id) if call == "run" else src.runs()
    assert info.value.field == field, str(info.value)
    assert info.value.endpoint.startswith("POST /graphql Fw")


def test_an_html_page_or_a_proxy_refusal_is_not_taken_for_an_answer():
    def handler(status: int, body: str, ctype: str):  # noqa: ANN202
        return httpx.Client(transport=httpx.MockTransport(
            lambda r: httpx.Response(status, text=body, headers={"content-type": ctype})))
    html = dagster_source(BASE, handler(200, "<html>dagster</html>", "text/html"), None)
    with pytest.raises(errors.SchemaError, match="'<body>'.*GraphQL answer"):
        html.run("x")
    proxy = dagster_source(BASE, handler(401, "login first", "text/plain"), None)
    with pytest.raises(errors.Unauthorized, match="answered 401"):
        proxy.pipelines()
    down = dagster_source(BASE, handler(502, "bad gateway", "text/plain"), None)
    with pytest.raises(errors.ServerError, match="answered 502"):
        down.runs()
    assert not html.health()


def test_connect_dagster_and_its_async_twin():
    c = Cassette.load("dagster_pipelines")
    with connect_dagster(BASE + "/graphql", client=replay_client(c)) as src:
        assert src.url == BASE and src.flavour == "dagster"
    c2 = Cassette.load("dagster_pipelines")

    async def go() -> tuple[str, bool]:
        client = httpx.AsyncClient(transport=httpx.MockTransport(c2.handler))
        src = await connect_dagster_async(BASE, client=client)
        try:
            return src.flavour, await src.health()
        finally:
            await src.close()
            await client.aclose()
    assert asyncio.run(go()) == ("dagster", True)
    with pytest.raises(errors.RunnerUnavailable, match="no Dagster webserver"):
        connect_dagster(BASE, client=httpx.Client(transport=httpx.MockTransport(
            lambda r: httpx.Response(404, text="nothing"))))


def test_the_poller_goes_quiet_when_idle_and_reports_a_dagster_that_went_away():
    c = Cassette.load("dagster_poll")
    gone = threading.Event()

    def handler(request: httpx.Request) -> httpx.Response:
        if all(c.used):  # both recorded polls answered: the server goes away
            gone.set()
            raise httpx.ConnectError("connection refused", request=request)
        return c.handler(request)

    src = dagster_source(BASE, httpx.Client(transport=httpx.MockTransport(handler)), c.clock)
    events: list = []
    poller = Poller(src, interval=0.05, min_backoff=0.05, max_backoff=0.1)
    unsubscribe = poller.subscribe(events.append)
    try:
        deadline = time.monotonic() + 10
        while not any(e.kind == "disconnected" for e in events):
            assert time.monotonic() < deadline, events
            time.sleep(0.02)
    finally:
        unsubscribe()
        src.close()
    kinds = [e.kind for e in events]
    # connected, changed (everything is new), the idle poll says nothing, then the outage
    assert kinds == ["connected", "changed", "disconnected"], kinds
    assert gone.is_set() and "connection" in events[-1].error
    assert not poller.connected
