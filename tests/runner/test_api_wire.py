"""The API bodies that copy run-log records (a run summary, a step) are built from the
records: the JSON and the OpenAPI schema name the same fields, typed from the record."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from fwtest.api import TestClient

from flowwidgets.models import Status
from flowwidgets.runner.api._payloads import run_summary, step_payload
from flowwidgets.runner.api._schemas import RunSummaryOut, StepOut
from flowwidgets.runner.api._wire import RUN_SUMMARY, STEP, Wire
from flowwidgets.runner.store import RUN_SUMMARY_FIELDS, RunRecord, StepRecord

T0 = datetime(2026, 3, 4, 5, 6, 7, 890_000, tzinfo=UTC)
RUN = RunRecord("r1", "p", "batch", Status.FAILED, "manual", T0, T0, T0.replace(second=9),
                attempt=2, failed_step="s", error="Traceback\nValueError: boom")
STEP_REC = StepRecord("r1", "s", Status.FAILED, ("a", "b"), 3, T0, T0.replace(second=8),
                      "boom", 2, None)


def test_a_summary_is_the_record_in_wire_types() -> None:
    out = run_summary(RUN)
    assert list(out)[:len(RUN_SUMMARY_FIELDS)] == list(RUN_SUMMARY_FIELDS)
    assert out["status"] == "failed" and out["duration_ms"] == 2000
    assert out["started_at"] == "2026-03-04T05:06:07.890Z"
    assert out["error_summary"] == "ValueError: boom"
    assert "imported" not in out
    assert run_summary(replace(RUN, extras={"imported": True}))["imported"] is True


def test_a_step_is_the_record_in_wire_types() -> None:
    assert step_payload(STEP_REC) == {
        "name": "s", "status": "failed", "depends_on": ["a", "b"], "duration_ms": 1000,
        "started_at": "2026-03-04T05:06:07.890Z", "finished_at": "2026-03-04T05:06:08.890Z",
        "error": "boom", "attempts": 2, "reused_from": None}


def test_the_schemas_name_exactly_the_copied_fields() -> None:
    assert list(RunSummaryOut.model_fields) == list(RUN_SUMMARY_FIELDS)
    assert list(StepOut.model_fields) == list(STEP.fields)
    props = StepOut.model_json_schema()["properties"]
    assert props["depends_on"] == {"items": {"type": "string"}, "title": "Depends On",
                                   "type": "array"}
    assert props["attempts"]["type"] == "integer"
    assert {"type": "null"} in props["started_at"]["anyOf"]
    assert RunSummaryOut.model_json_schema()["properties"]["status"]["type"] == "string"
    RunSummaryOut.model_validate(run_summary(RUN))  # the payload passes its own schema
    StepOut.model_validate(step_payload(STEP_REC))


def test_a_wire_refuses_a_field_the_record_does_not_have() -> None:
    with pytest.raises(ValueError, match=r"RunRecord has no field or property \['queued_ms'\]"):
        Wire(RunRecord, ("run_id", "queued_ms"))
    assert "duration_ms" in RUN_SUMMARY.fields  # a property is copied like a field


def test_the_openapi_document_shows_the_derived_models(client: TestClient) -> None:
    schemas = client.get("/api/openapi.json").json()["components"]["schemas"]
    assert list(schemas["RunSummaryOut"]["properties"]) == list(RUN_SUMMARY_FIELDS)
    assert schemas["StepOut"]["description"].startswith("A node of the run's DAG")
    assert schemas["RunDetailOut"]["properties"]["steps"]["items"] == {
        "$ref": "#/components/schemas/StepOut"}
