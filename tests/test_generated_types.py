"""The TypeScript types the views import are generated from the models: the checked-in
js/src/lib/generated/models.ts must be what scripts/gen_types.py writes today."""

from __future__ import annotations

import runpy
from dataclasses import fields
from pathlib import Path

import pytest

from flowwidgets import models
from flowwidgets.widgets._shapes import SHAPES, Shape

ROOT = Path(__file__).resolve().parents[1]
GEN = runpy.run_path(str(ROOT / "scripts" / "gen_types.py"))


def test_the_generated_file_is_current() -> None:
    text = (ROOT / "js" / "src" / "lib" / "generated" / "models.ts").read_text(encoding="utf-8")
    assert text == GEN["render"](), (
        "js/src/lib/generated/models.ts is stale: run .venv/bin/python scripts/gen_types.py")
    assert GEN["main"](["--check"]) == 0


def test_every_model_field_is_in_its_interface() -> None:
    text = GEN["render"]()
    for cls in GEN["MODELS"]:
        block = text[text.index(f"export interface {cls.__name__} {{"):]
        block = block[:block.index("\n}\n")]
        assert [f.name for f in fields(cls)] == [
            line.split(":")[0].strip() for line in block.splitlines()[1:]
            if not line.strip().startswith("/**")]
    assert 'export const STATUSES = ["pending", ' in text
    assert text.count('"') >= 2 * len(models.Status)


@pytest.mark.parametrize(("tp", "ts"), [
    (int | None, "number | null"), (tuple[str, ...], "string[]"), (models.Status, "Status"),
    (dict[str, float | None], "Record<string, number | null>"),
    (tuple[models.Run, ...], "Run[]"), (str | int | None, "string | number | null"),
])
def test_field_types_map_to_typescript(tp: object, ts: str) -> None:
    assert GEN["ts_type"](tp) == ts


def test_an_unknown_type_is_refused_by_name() -> None:
    with pytest.raises(TypeError, match="complex"):
        GEN["ts_type"](complex)


def test_a_shape_names_only_fields_of_its_model() -> None:
    for shape in SHAPES:
        assert set(shape.fields) <= {f.name for f in fields(shape.model)}
    with pytest.raises(ValueError, match="Run has no field \\['queued_ms'\\]"):
        Shape("Bad", models.Run, ("run_id", "queued_ms"), "")


def test_the_widget_payloads_carry_exactly_their_shapes() -> None:
    from datetime import UTC, datetime

    from flowwidgets.frames import runs_to_frame
    from flowwidgets.widgets._cards import card_payload
    from flowwidgets.widgets._jobs_table import newest_children, rows_payload, run_rows
    from flowwidgets.widgets._run_view import run_payload

    t0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    run = models.Run("r1", "p", models.Status.FAILED, t0, t0, 0, 2, "s", trigger="manual")
    step = models.Step("s", models.Status.FAILED, ("a",), t0, t0, 0, "boom")
    attempt = models.Attempt(1, models.Status.FAILED, t0, t0, "boom", step="s")
    detail = models.RunDetail(run, (step,), (attempt,))
    payload = run_payload(detail)
    assert payload["run"] == {k: v for k, v in run.to_dict().items() if k != "extra"}
    assert set(payload["steps"][0]) == {*SHAPES[1].fields, "attempts"}
    assert payload["attempts"][0]["started_at"] == "2026-01-02T03:04:05.000Z"
    assert set(card_payload(models.Pipeline("p", recent_runs=(run,)))) >= set(SHAPES[4].fields)
    quick, framed = run_rows([run])[0], rows_payload(runs_to_frame([run]))[0]
    assert quick == framed
    assert quick["status"] == "failed" and quick["started_at"] == "2026-01-02T03:04:05.000Z"

    child = models.Run("r2", "p", models.Status.RUNNING, t0, trigger="restart",
                       extra={"parent_run_id": "r1", "from_step": "s"})
    linked = run_payload(models.RunDetail(run, children=(child,)))["lineage"]["children"]
    assert linked == [{"run_id": "r2", "status": "running", "trigger": "restart",
                       "from_step": "s"}]
    card = card_payload(models.Pipeline("p", recent_runs=(run,)))
    assert card["recent_runs"] == [{"run_id": "r1", "status": "failed",
                                    "started_at": "2026-01-02T03:04:05.000Z",
                                    "finished_at": "2026-01-02T03:04:05.000Z",
                                    "duration_ms": 0}]
    assert newest_children(runs_to_frame([run, child])) == {
        "r1": {"run_id": "r2", "status": "running", "trigger": "restart"}}
