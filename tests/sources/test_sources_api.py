"""The /api flavour: recorded ematix-flow payloads and our runner's additions → models;
HTTP errors, bad payloads, idempotent retries, the ETag / body-hash cache."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest
from fwtest.http import BASE, mock_client, payload

from flowwidgets import errors
from flowwidgets.models import Status
from flowwidgets.sources import connect

OUR_HEALTH = {"status": "ok", "runner": "flowwidgets", "version": "0.1.0"}
EMATIX_HEALTH = {"status": "ok"}


def ematix(routes: dict, seen: list | None = None):
    base = {"GET /api/health": EMATIX_HEALTH,
            "GET /api/pipelines": payload("ematix_pipelines.json")}
    return mock_client({**base, **routes}, seen=seen)


def ours(routes: dict, seen: list | None = None):
    return mock_client({"GET /api/health": OUR_HEALTH, **routes}, seen=seen)


OUR_DETAIL = {
    "run_id": "r9", "pipeline": "orders", "status": "failed",
    "started_at": "2026-11-20T10:00:00.000Z", "finished_at": "2026-11-20T10:00:03.500Z",
    "duration_ms": 3500, "attempt": 2, "failed_step": "dedupe", "kind": "batch",
    "created_at": "2026-11-20T09:59:59.000Z", "trigger": "restart", "parent_run_id": "r8",
    "failed_watermark": None, "error_summary": "ValueError: dup", "extras": {},
    "error": "Traceback...\nValueError: dup", "from_step": "dedupe",
    "attempts": [
        {"attempt": 1, "step": "dedupe", "status": "failed", "error_stack": "E1",
         "started_at": "2026-11-20T10:00:01.000Z", "finished_at": "2026-11-20T10:00:02.000Z"},
        {"attempt": 2, "step": "dedupe", "status": "failed", "error_stack": "E2",
         "error_summary": "ValueError: dup",
         "started_at": "2026-11-20T10:00:02.500Z", "finished_at": "2026-11-20T10:00:03.500Z"},
    ],
    "steps": [
        {"name": "fetch", "status": "succeeded", "depends_on": [], "duration_ms": 900,
         "started_at": None, "finished_at": None, "error": None, "attempts": 0,
         "reused_from": "r8"},
        {"name": "dedupe", "status": "failed", "depends_on": ["fetch"], "duration_ms": 2500,
         "started_at": "2026-11-20T10:00:01.000Z", "finished_at": "2026-11-20T10:00:03.500Z",
         "error": "ValueError: dup", "attempts": 2, "reused_from": None},
        {"name": "load", "status": "pending", "depends_on": ["dedupe"], "attempts": 0},
    ],
    "actions": {"pause": False, "resume": False, "restart_from_step": ["dedupe"],
                "rerun_full": True, "resume_from_watermark": False,
                "restart_steps": ["fetch", "dedupe", "load"]},
}


def test_ematix_pipelines_runs_and_details_become_models():
    with ematix({"GET /api/runs": payload("ematix_runs.json"),
                 "GET /api/runs/run-etl-2": payload("ematix_run_failed.json"),
                 "GET /api/runs/run-ev-1": payload("ematix_run_streaming.json")}) as client:
        src = connect(BASE, client=client)
        pipes = {p.name: p for p in src.pipelines()}
        etl = pipes["warehouse_etl"]
        assert etl.latest_run is not None and etl.latest_run.run_id == "run-etl-2"
        assert [r.run_id for r in etl.recent_runs] == ["run-etl-1", "run-etl-2"]
        assert etl.median_duration_ms == 38000
        assert pipes["events_stream"].is_streaming
        page = src.runs()
        assert page.total == 3 and page.next_offset is None
        assert [r.status for r in page.runs] == [Status.FAILED, Status.FAILED, Status.SUCCEEDED]
        first = page.runs[-1]
        assert first.started_at == datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
        assert first.duration_ms == 41000 and first.attempts == 1
        detail = src.run("run-etl-2")
        assert detail.error == "KeyError: 'amount'"
        assert [s.name for s in detail.steps] == ["extract", "merge_payments", "publish"]
        assert detail.step("publish").depends_on == ("merge_payments",)
        assert detail.actions.restart_from_step == ("merge_payments",) and detail.actions.rerun
        assert detail.attempts[0].number == 2 and detail.attempts[0].error == "KeyError: 'amount'"
        stream = src.run("run-ev-1")
        assert stream.failed_watermark == "offset=1042" and stream.actions.resume_from_watermark


def test_our_detail_fields_and_step_attempt_history():
    with ours({"GET /api/runs/r9": OUR_DETAIL}) as client:
        d = connect(BASE, client=client).run("r9")
    assert d.parent_run_id == "r8" and d.run.trigger == "restart"
    assert d.run.extra["created_at"] == datetime(2026, 11, 20, 9, 59, 59, tzinfo=UTC)
    assert d.error.endswith("ValueError: dup") and d.extra["from_step"] == "dedupe"
    dedupe = d.step("dedupe")
    assert [a.number for a in dedupe.attempts] == [1, 2]
    assert [a.error for a in dedupe.attempts] == ["E1", "E2"]
    assert d.step("fetch").reused_from == "r8" and d.step("fetch").attempts == ()
    assert d.actions.restart_steps == ("fetch", "dedupe", "load")
    assert d.to_dict()["steps"][1]["attempts"][1]["error"] == "E2"


def test_unknown_status_word_is_unknown_and_kept():
    runs = {"runs": [{"run_id": "a", "pipeline": "p", "status": "exploded"}], "total": 1}
    with ours({"GET /api/runs": runs}) as client:
        run = connect(BASE, client=client).runs().runs[0]
    assert run.status is Status.UNKNOWN and run.extra["raw_status"] == "exploded"


@pytest.mark.parametrize(("body", "field", "problem"), [
    ({"runs": "nope", "total": 1}, "runs", "must be an array"),
    ({"total": 1}, "runs", "is missing"),
    ({"runs": [{"pipeline": "p", "status": "failed"}], "total": 1}, "runs[0].run_id", "missing"),
    ({"runs": [{"run_id": "a", "pipeline": "p", "status": 3}], "total": 1}, "runs[0].status",
     "must be a string"),
    ({"runs": [{"run_id": "a", "pipeline": "p", "status": "failed", "started_at": "soon"}],
      "total": 1}, "runs[0].started_at", "is not a time"),
    ({"runs": [{"run_id": "a", "pipeline": "p", "status": "failed", "attempt": "two"}],
      "total": 1}, "runs[0].attempt", "must be an integer"),
    ({"runs": [], "total": "many"}, "total", "must be an integer"),
    (["a", "list"], "<body>", "must be an object"),
])
def test_bad_payloads_name_endpoint_and_field(body, field, problem):
    with ours({"GET /api/runs": body}) as client:
        src = connect(BASE, client=client)
        with pytest.raises(errors.SchemaError) as info:
            src.runs()
    assert info.value.endpoint == "GET /api/runs"
    assert info.value.field == field and problem in info.value.problem
    assert not isinstance(info.value, KeyError)


def test_bad_nested_detail_field_is_named():
    broken = json.loads(json.dumps(OUR_DETAIL))
    broken["steps"][1]["depends_on"] = ["fetch", 7]
    with ours({"GET /api/runs/r9": broken}) as client:
        with pytest.raises(errors.SchemaError, match=r"steps\[1\]\.depends_on\[1\]"):
            connect(BASE, client=client).run("r9")


@pytest.mark.parametrize(("code", "cls"), [
    (401, errors.Unauthorized), (403, errors.Unauthorized), (404, errors.NotFound),
    (409, errors.Conflict), (400, errors.Unprocessable), (422, errors.Unprocessable),
    (500, errors.ServerError), (503, errors.ServerError),
])
def test_http_errors_map_to_classes_with_detail_request_and_response(code, cls):
    detail = f"the server says no ({code})"
    with ours({"POST /api/runs/r9/rerun": httpx.Response(code, json={"detail": detail})}
              ) as client:
        with pytest.raises(cls) as info:
            connect(BASE, client=client).rerun("r9")
    exc = info.value
    assert exc.status_code == code and exc.detail == detail and detail in str(exc)
    assert exc.request.url.path == "/api/runs/r9/rerun" and exc.response.status_code == code
    assert "POST /api/runs/{id}/rerun" in str(exc)


def test_fastapi_validation_detail_reads_as_one_line():
    detail = [{"loc": ["body", "from_step"], "msg": "Input should be a valid string"}]
    with ours({"POST /api/runs/r9/restart": httpx.Response(422, json={"detail": detail})}
              ) as client:
        with pytest.raises(errors.Unprocessable, match="from_step: Input should be a valid"):
            connect(BASE, client=client).restart("r9", "x")


def test_ematix_500_on_an_action_explains_the_sqlite_store():
    with ematix({"POST /api/runs/run-etl-2/restart": httpx.Response(
            500, text="Internal Server Error")}) as client:
        with pytest.raises(errors.ServerError) as info:
            connect(BASE, client=client).restart("run-etl-2", "merge_payments")
    assert "SQLite run log" in str(info.value) and "Nothing was started" in str(info.value)
    assert info.value.detail == "Internal Server Error"


def test_actions_send_body_and_idempotency_key_only_where_supported():
    seen: list[httpx.Request] = []
    ok = {"new_run_id": "new-1"}
    with ours({"POST /api/runs/r9/restart": ok, "POST /api/runs/r9/resume-from-watermark": ok,
               "POST /api/jobs/orders/run-now": ok}, seen=seen) as client:
        src = connect(BASE, client=client)
        assert src.restart("r9", "dedupe") == "new-1"
        assert src.resume("r9", idempotency_key="k-1") == "new-1"
        assert src.run_now("orders") == "new-1"
    posts = [r for r in seen if r.method == "POST"]
    assert json.loads(posts[0].content) == {"from_step": "dedupe"}
    keys = [r.headers.get("idempotency-key") for r in posts]
    assert keys[1] == "k-1" and len(keys[0]) == 32 and keys[0] != keys[2]
    seen.clear()
    with ematix({"POST /api/runs/run-etl-2/rerun": ok}, seen=seen) as client:
        connect(BASE, client=client).rerun("run-etl-2")
    assert "idempotency-key" not in seen[-1].headers


def test_a_post_whose_answer_was_lost_is_retried_with_the_same_key():
    calls: list[httpx.Request] = []

    def flaky(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) == 1:
            raise httpx.ConnectError("connection refused", request=request)
        if len(calls) == 2:
            raise httpx.ReadError("connection reset", request=request)
        return httpx.Response(200, json={"new_run_id": "only-one"})

    with ours({"POST /api/runs/r9/rerun": flaky}) as client:
        assert connect(BASE, client=client).rerun("r9") == "only-one"
    assert len(calls) == 3
    assert len({c.headers["idempotency-key"] for c in calls}) == 1


def test_without_idempotency_a_lost_answer_is_not_retried():
    calls: list[httpx.Request] = []

    def lost(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        raise httpx.ReadError("connection reset", request=request)

    with ematix({"POST /api/runs/run-etl-2/rerun": lost}) as client:
        with pytest.raises(errors.RunnerUnavailable, match="ReadError"):
            connect(BASE, client=client).rerun("run-etl-2")
    assert len(calls) == 1


def test_etag_304_returns_the_cached_model_without_reparsing():
    seen: list[httpx.Request] = []
    body = payload("ematix_runs.json")

    def runs(request: httpx.Request) -> httpx.Response:
        if request.headers.get("if-none-match") == 'W/"7"':
            return httpx.Response(304, headers={"ETag": 'W/"7"'})
        return httpx.Response(200, json=body, headers={"ETag": 'W/"7"'})

    with ours({"GET /api/runs": runs}, seen=seen) as client:
        src = connect(BASE, client=client)
        first, second = src.runs(), src.runs()
        assert second is first
        assert seen[-1].headers["if-none-match"] == 'W/"7"'
        assert src.stats.not_modified == 1
        assert src.runs(offset=1) is not src.runs(offset=1)  # deeper pages are not cached


def test_servers_without_etags_are_compared_by_body_hash():
    bodies = [payload("ematix_runs.json")] * 2 + [{"runs": [], "total": 0}]

    with ematix({"GET /api/runs": lambda r: httpx.Response(200, json=bodies.pop(0))}) as client:
        src = connect(BASE, client=client)
        a, b, c = src.runs(), src.runs(), src.runs()
    assert b is a and c.total == 0 and src.stats.unchanged == 1


def test_step_log_and_missing_logs():
    log = {"run_id": "r9", "step": "dedupe", "attempt": 1, "status": "failed",
           "log_tail": "line 1\nline 2", "error": "E1"}
    seen: list[httpx.Request] = []
    with ours({"GET /api/runs/r9/steps/dedupe/log": log}, seen=seen) as client:
        src = connect(BASE, client=client)
        assert src.step_logs is True
        assert src.step_log("r9", "dedupe", 1) == "line 1\nline 2"
    assert seen[-1].url.params["attempt"] == "1"
    with ematix({}) as client:
        src = connect(BASE, client=client)
        assert src.step_logs is False, "ematix-flow keeps no step logs: the Source says so"
        assert src.step_log("run-etl-2", "extract") is None


def test_run_ids_are_escaped_in_paths():
    seen: list[httpx.Request] = []
    with ours({}, seen=seen) as client:
        src = connect(BASE, client=client)
        with pytest.raises(errors.NotFound):
            src.run("../health?x=1")
    assert seen[-1].url.raw_path == b"/api/runs/..%2Fhealth%3Fx%3D1"


def test_status_filter_is_checked_before_asking():
    with ours({}) as client:
        src = connect(BASE, client=client)
        with pytest.raises(ValueError, match="unknown status 'done'"):
            src.runs(status="done")
        with pytest.raises(ValueError, match="limit"):
            src.runs(limit=0)


def test_health_is_a_bool_and_never_raises():
    with ours({}) as client:
        src = connect(BASE, client=client)
        assert src.health() is True
    with mock_client({}) as client:
        from flowwidgets.sources._base import Source
        from flowwidgets.sources._http import SyncHttp
        from flowwidgets.sources.api import FlowwidgetsFlavour

        assert Source(BASE, FlowwidgetsFlavour(), SyncHttp(BASE, None, 1, client)).health() is False


def test_bodies_decode_as_json_does_even_where_orjson_refuses() -> None:
    """``decode_json`` tries orjson first; what only ``json`` takes (NaN, UTF-16) still
    decodes the same, and what is not JSON is a SchemaError. An integer past 64 bits
    arrives as the nearest float, as JavaScript's ``JSON.parse`` (the widgets) reads it."""
    import math

    import httpx
    import pytest

    from flowwidgets.errors import SchemaError
    from flowwidgets.sources._http import Request
    from flowwidgets.sources._http_answers import decode_json

    req = Request("GET", "/api/runs", "GET /api/runs")

    def body(content: bytes, ctype: str = "application/json") -> object:
        return decode_json(req, httpx.Response(200, content=content,
                                               headers={"content-type": ctype}))

    assert body(b'{"runs": [], "total": 0, "x": "\\u00e9"}') == {"runs": [], "total": 0,
                                                                 "x": "é"}
    assert math.isnan(body(b'{"v": NaN}')["v"])  # type: ignore[index]
    assert body(b'{"v": 123456789012345678901234567890}') == {"v": 1.2345678901234568e29}
    assert body('{"é": 1}'.encode("utf-16")) == {"é": 1}
    with pytest.raises(SchemaError, match="is not JSON"):
        body(b"<html>busy</html>", "text/html")
