"""The flowtoy flavour over recorded /status payloads, and the flow file's dependencies."""

from __future__ import annotations

import httpx
import pytest
from fwtest.http import BASE, PAYLOADS, mock_client, payload

from flowwidgets import errors
from flowwidgets.models import Status
from flowwidgets.sources import connect
from flowwidgets.sources.flowtoy import read_flow_dependencies

FLOW = PAYLOADS / "flowtoy_flow.yaml"


def flowtoy(status: object, outputs: object = None):
    routes = {"GET /status": status}
    if outputs is not None:
        routes["GET /outputs"] = outputs
    return mock_client(routes)


def test_dependencies_are_read_as_flowtoy_infers_them(tmp_path):
    assert read_flow_dependencies(FLOW) == {
        "extract": (), "clean": ("extract",), "enrich": ("extract",),
        "report": ("clean", "enrich")}
    extra = tmp_path / "extra.yaml"
    extra.write_text("flow:\n  - name: a\n  - name: b\n    depends_on: [a, ghost]\n"
                     "    input: '{{ flows.a.x }} {{ flows.nope.y }}'\n")
    assert read_flow_dependencies([extra]) == {"a": (), "b": ("a",)}


def test_a_finished_failed_run_as_models():
    with flowtoy(payload("flowtoy_status_failed.json"), payload("flowtoy_outputs.json")
                 ) as client:
        src = connect(BASE, client=client, flow=FLOW)
        (pipe,) = src.pipelines()
        assert pipe.name == "flowtoy_flow" and pipe.total_runs == 1
        page = src.runs()
        (run,) = page.runs
        assert run.run_id == "1795335363375" and run.status is Status.FAILED
        assert run.failed_step == "report" and run.duration_ms == 3097
        assert run.started_at is not None and run.started_at.tzinfo is not None
        detail = src.run(run.run_id)
        assert [s.name for s in detail.steps] == ["extract", "clean", "enrich", "report"]
        assert detail.step("report").depends_on == ("clean", "enrich")
        assert detail.step("report").error == "process exited with code 3"
        assert detail.error == "process exited with code 3"
        assert detail.step("extract").extra["outputs"] == ["data"]
        assert detail.extra["outputs"]["extract"]["data"] == {"rows": 3}
        assert not detail.actions.any and "flowtoy" in detail.actions.reasons["restart"]
        assert src.runs(status="succeeded").total == 0
        assert src.runs(pipeline="other").total == 0


def test_a_running_run():
    with flowtoy(payload("flowtoy_status_running.json")) as client:
        src = connect(BASE, client=client)
        (run,) = src.runs().runs
        assert run.status is Status.RUNNING and run.pipeline == "flowtoy"
        detail = src.run(run.run_id)
        states = {s.name: s.status for s in detail.steps}
        assert Status.RUNNING in states.values() and Status.PENDING in states.values()
        assert all(s.depends_on == () for s in detail.steps)  # no flow file, no edges


def test_no_runner_yet_is_an_empty_history():
    with flowtoy({"status": "no-runner"}) as client:
        src = connect(BASE, client=client)
        assert src.runs().total == 0 and src.pipelines()[0].latest_run is None
        with pytest.raises(errors.NotFound, match="none yet"):
            src.run("123")


@pytest.mark.parametrize("action", ["restart", "rerun", "resume"])
def test_actions_are_not_supported_and_say_why(action):
    with flowtoy(payload("flowtoy_status_failed.json")) as client:
        src = connect(BASE, client=client)
        with pytest.raises(errors.ActionNotSupported, match="flowtoy runs its flow once"):
            getattr(src, action)("1795335363375")
        with pytest.raises(errors.ActionNotSupported):
            src.run_now("flowtoy")


def test_its_500_error_shape_is_a_server_error_with_detail():
    calls = [payload("flowtoy_status_failed.json")]

    def status(request: httpx.Request) -> httpx.Response:
        if calls:
            return httpx.Response(200, json=calls.pop())
        return httpx.Response(500, json={"error": "dictionary changed size"})

    with mock_client({"GET /status": status}) as client:
        src = connect(BASE, client=client)
        with pytest.raises(errors.ServerError) as info:
            src.runs()
    assert info.value.detail == "dictionary changed size"


def test_wrong_types_in_status_name_the_field():
    bad = payload("flowtoy_status_failed.json")
    bad["steps"]["clean"]["started_at"] = "yesterday"
    with flowtoy(bad) as client:
        src = connect(BASE, client=client)
        with pytest.raises(errors.SchemaError) as info:
            src.runs()
    assert info.value.endpoint == "GET /status" and info.value.field == "steps.clean.started_at"


def test_step_log_is_none_for_a_known_step_and_404_otherwise():
    with flowtoy(payload("flowtoy_status_failed.json"), {}) as client:
        src = connect(BASE, client=client)
        assert src.step_logs is False, "flowtoy keeps no step logs: the Source says so"
        assert src.step_log("1795335363375", "report") is None
        with pytest.raises(errors.NotFound, match="no step 'ghost'"):
            src.step_log("1795335363375", "ghost")
