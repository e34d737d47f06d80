"""Schemathesis over /api/openapi.json: every GET and POST operation, generated inputs,
no 5xx, and answers that match the documented schemas and status codes. Bounded: a few
examples per operation, in-process (ASGI), a few seconds in all."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from fwtest.api import make_runner
from hypothesis import HealthCheck, given, settings

from flowwidgets.runner._local import LocalRunner
from flowwidgets.runner.api import create_app

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    import schemathesis
    from schemathesis.checks import (
        content_type_conformance,
        not_a_server_error,
        response_schema_conformance,
        status_code_conformance,
    )

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


@pytest.fixture(scope="module")
def runner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRunner]:
    tmp: Path = tmp_path_factory.mktemp("api-schema")
    r = make_runner(tmp)
    r.run_once("adhoc")
    (tmp / "fail-merge").touch()
    r.run_once("orders")
    yield r
    r.stop()


@pytest.fixture(scope="module")
def api_schema(runner: LocalRunner):
    app = create_app(runner, token=None)
    app.state.stopping.set()  # /api/events answers its preamble and ends at once
    return schemathesis.openapi.from_asgi("/api/openapi.json", app)


OPERATIONS = {
    "GET /api/health", "GET /api/pipelines", "GET /api/runs", "GET /api/runs/{run_id}",
    "GET /api/runs/{run_id}/steps/{step}/log", "GET /api/events", "GET /status",
    "GET /outputs", "POST /api/runs/{run_id}/restart", "POST /api/runs/{run_id}/rerun",
    "POST /api/runs/{run_id}/resume-from-watermark", "POST /api/jobs/{name}/run-now",
    "POST /api/pipelines/{name}/run-now", "GET /api/pipelines/{name}/step_history",
    "POST /api/runs/{run_id}/cancel",
}


def test_api_conforms_to_its_schema(api_schema, runner: LocalRunner) -> None:
    """Generated inputs everywhere; a second pass pins path parameters to things that
    exist (the failed run, its failed step, a pipeline) so bodies and queries reach the
    runner instead of a 404."""
    failed = runner.store.list_runs(pipeline="orders", limit=1)[0][0].run_id
    real = {"run_id": failed, "step": "merge", "name": "orders"}
    tested = set()
    for result in api_schema.get_all_operations():
        operation = result.ok()
        label = f"{operation.method.upper()} {operation.path}"
        if operation.method.upper() not in ("GET", "POST"):
            continue
        passes = [False, True] if "{" in operation.path else [False]
        for pin in passes:
            try:
                _run_operation(operation, real if pin else None)
            except BaseException as exc:
                exc.add_note(f"operation: {label}{' (real path parameters)' if pin else ''}")
                raise
        tested.add(label)
    assert tested == OPERATIONS


def _run_operation(operation, pinned: dict[str, str] | None) -> None:
    @given(case=operation.as_strategy())
    @settings(max_examples=10, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def check(case) -> None:
        if pinned is not None:
            case.path_parameters = {k: pinned[k] for k in case.path_parameters}
        case.call_and_validate(checks=CHECKS)

    check()
