"""Two runs compared on a known history: the slowed step or the new failure on top, delta
and ratio, reused and missing steps, the first differing error, the previous success."""

from __future__ import annotations

import pytest
from test_history import DAG, T0, detail

from flowwidgets.compare import compare_frame, compare_runs, first_line
from flowwidgets.models import RunDetail, Status, Step


def test_the_slowed_step_is_on_top_with_delta_and_ratio():
    a = detail(0)
    b = detail(1, slow={"transform_b": 3000, "load": 1500})
    c = compare_runs(a, b)
    assert [r["step"] for r in c["steps"]][:2] == ["transform_b", "load"]
    top = c["steps"][0]
    assert top["change"] == "slower" and top["delta_ms"] == 2000 and top["ratio"] == 3.0
    assert {r["change"] for r in c["steps"][2:]} == {"same"}
    assert c["delta_ms"] == b.run.duration_ms - a.run.duration_ms
    assert c["first_error_diff"] is None
    df = compare_frame(c)
    assert list(df["step"][:2]) == ["transform_b", "load"] and df["delta_ms"].iloc[0] == 2000


def test_a_new_failure_beats_any_slowdown_and_the_first_error_differs():
    a = detail(0)
    b = detail(1, fail_at="merge", error="Traceback …\nValueError: amount column missing",
               slow={"extract": 9000})
    c = compare_runs(a, b)
    assert c["steps"][0]["step"] == "merge" and c["steps"][0]["change"] == "new_failure"
    assert c["steps"][1]["step"] == "extract" and c["steps"][1]["change"] == "slower"
    assert next(r for r in c["steps"] if r["step"] == "load")["change"] == "not_run"
    assert c["first_error_diff"] == "merge"
    assert c["steps"][0]["b"]["error"] == "ValueError: amount column missing"
    assert compare_runs(b, a)["steps"][0]["change"] != "new_failure"
    assert next(r for r in compare_runs(b, a)["steps"] if r["step"] == "merge")[
        "change"] == "fixed"


def test_reused_and_missing_steps():
    a = detail(0)
    base = detail(1)
    steps = tuple(Step(s.name, s.status, s.depends_on, reused_from="etl-000")
                  if s.name in ("extract", "transform_a") else s for s in base.steps)
    extra = Step("notify", Status.SUCCEEDED, ("load",), T0, T0, 5)
    b = RunDetail(run=base.run, steps=(*steps, extra))
    c = compare_runs(a, b)
    by = {r["step"]: r for r in c["steps"]}
    assert by["extract"]["change"] == "reused" and by["extract"]["b"]["duration_ms"] is None
    assert by["extract"]["b"]["reused_from"] == "etl-000"
    assert by["notify"]["change"] == "only_b" and c["steps"][-1]["step"] == "notify"
    assert len(DAG) + 1 == len(c["steps"])


@pytest.mark.parametrize(("text", "line"), [(None, None), ("", None),
                                            ("\n  boom\nmore", "boom")])
def test_first_line(text, line):
    assert first_line(text) == line
