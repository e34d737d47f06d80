"""The columnar path of runs_frame gives what the per-run path gives.

``parse_columns`` reads an /api runs page straight into columns when its rows have the
common shape and otherwise parses each run; both must yield the same columns, the same
frame (values, dtypes, categories, order) and the same errors, whatever the rows hold."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest

from flowwidgets import errors
from flowwidgets.frames import _frame, runs_to_frame
from flowwidgets.models import format_time
from flowwidgets.sources._api_parse import STATUS
from flowwidgets.sources._run_columns import NAT, RunColumns, fast_times, ns, parse_api_columns
from flowwidgets.sources.api import EmatixFlavour, FlowwidgetsFlavour

T = "2026-11-20T08:00:00.000Z"
FIELDS = ("run_id", "pipeline", "status", "started_ns", "finished_ns", "created_ns",
          "duration_ms", "attempts", "failed_step", "kind", "trigger", "parent_run_id",
          "error", "imported")


def row(**kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "run_id": "r1", "pipeline": "orders", "status": "succeeded", "started_at": T,
        "finished_at": "2026-11-20T08:00:02.345Z", "duration_ms": 2345, "attempt": 1,
        "failed_step": None, "kind": "batch", "created_at": "2026-11-20T07:59:59.999Z",
        "trigger": "schedule", "parent_run_id": None, "error_summary": None}
    base.update(kw)
    return {k: v for k, v in base.items() if v is not _DROP}


_DROP = object()

# Rows of the common shape, with everything odd that shape allows: the fast path reads
# them (asserted), and must agree with the per-run parser.
ODD_ROWS = [
    *(row(run_id=f"s-{word}", status=word) for word in STATUS),  # every status word
    row(run_id="running", status="running", finished_at=None, duration_ms=None),
    row(run_id="no-times", status="pending", started_at=None, finished_at=None,
        duration_ms=None, created_at=None, attempt=None),
    row(run_id="blank-times", started_at="", finished_at="", created_at="",
        duration_ms=None),
    row(run_id="computed", duration_ms=None),  # duration from the two times
    row(run_id="negative", duration_ms=None, finished_at="2026-11-20T07:59:59.001Z"),
    row(run_id="leap", started_at="2024-02-29T23:59:59.999Z",
        finished_at="2024-03-01T00:00:00.000Z", duration_ms=None),
    row(run_id="pre-epoch", started_at="1969-12-31T23:59:59.999Z", duration_ms=None),
    row(run_id="no-created", created_at=_DROP, started_at=None, finished_at=None),
    row(run_id="attempts-key", attempt=None, attempts=4),
    row(run_id="both-attempts", attempt=2, attempts=9),
    row(run_id="kind-blank", kind=""), row(run_id="kind-null", kind=None),
    row(run_id="kind-missing", kind=_DROP), row(run_id="streaming", kind="streaming"),
    row(run_id="ünïcødé ✓ 🚀 <b>&amp;</b>", pipeline="p\u202e\u0000x'\"<script>",
        failed_step="ステップ", trigger="ü", error_summary="Error: \U0001f4a5 <img src=x>",
        parent_run_id="r\n0", status="failed"),
    row(run_id="imported", imported=True), row(run_id="imported-1", imported=1),
    row(run_id="imported-str", imported="yes"), row(run_id="imported-false", imported=False),
    row(run_id="from-step", from_step="load", trigger="restart", parent_run_id="r0"),
    row(run_id="extra-keys", extras={"x": 1}, steps=[1, 2], unexpected=None),
    row(run_id=""),
    row(run_id="big", duration_ms=2**42, attempt=2**62),
]

# Rows the fast path refuses: the page goes through the per-run parser, whatever it says
# (a value or a SchemaError), and the columns are still the per-run ones.
HOSTILE_ROWS = [
    row(status="Succeeded"), row(status=" failed "), row(status="weird"),
    row(status=None), row(status=3), row(run_id=7), row(run_id=None), row(run_id=_DROP),
    row(pipeline=5.5), row(pipeline=None), row(duration_ms=float("nan")),
    row(duration_ms=12.0), row(duration_ms=12.5), row(duration_ms=True), row(duration_ms="9"),
    row(attempt="1"), row(attempt=1.0), row(attempt=False, attempts=3),
    row(started_at=1_795_161_600), row(started_at=1.5e9), row(started_at="2026-11-20T08:00:00Z"),
    row(started_at="2026-11-20T08:00:00.000+00:00"), row(started_at="2026-11-20 08:00:00.000Z"),
    row(started_at="2026-11-20t08:00:00.000Z"), row(started_at="2026-02-29T08:00:00.000Z"),
    row(started_at="2026-11-20T24:00:00.000Z"), row(started_at="2026-12-31T23:59:60.000Z"),
    row(started_at="0000-01-01T00:00:00.000Z"), row(started_at="1600-01-01T00:00:00.000Z"),
    row(started_at="2026-11-20T08:00:00.000"), row(started_at="２026-11-20T08:00:00.000Z"),
    row(started_at="\x00" * 24), row(started_at=True), row(started_at={"t": 1}),
    row(started_at="not a time at all, 24 ch"), row(created_at=3), row(created_at="x"),
    row(finished_at="2026-11-20T08:00:00.000Z\n"), row(failed_step=3), row(trigger=[]),
    row(kind=1), row(parent_run_id=12), row(error_summary={}), row(from_step=1),
    row(pipeline=""),
    "not an object", None, [],
]


def _equal_columns(a: RunColumns, b: RunColumns) -> None:
    for name in FIELDS:
        x, y = getattr(a, name), getattr(b, name)
        if isinstance(x, np.ndarray):
            assert x.dtype == y.dtype == np.int64 and x.tolist() == y.tolist(), name
        else:
            assert x == y and [type(v) for v in x] == [type(v) for v in y], name
    assert (a.total, a.next_offset, a.next_cursor) == (b.total, b.next_offset, b.next_cursor)


def _per_run(flavour: Any, data: Any) -> RunColumns:
    return RunColumns.from_page(flavour.parse_page(data))


@pytest.mark.parametrize("flavour", [FlowwidgetsFlavour(), EmatixFlavour()],
                         ids=["ours", "ematix"])
def test_odd_rows_take_the_fast_path_and_equal_the_per_run_path(flavour: Any) -> None:
    data = {"runs": ODD_ROWS, "total": 10_000, "next_offset": 500, "next_cursor": "abc"}
    data = json.loads(json.dumps(data))  # the shapes JSON gives (no Python-only values)
    assert parse_api_columns(data["runs"], STATUS) is not None
    fast = flavour.parse_columns(data)
    _equal_columns(fast, _per_run(flavour, data))
    frame = _frame(fast)
    pd.testing.assert_frame_equal(frame, runs_to_frame(flavour.parse_page(data).runs),
                                  check_exact=True)
    assert [str(t) for t in frame.dtypes] == [str(t) for t in runs_to_frame([]).dtypes]
    # each row alone too (a page of one; blank and null columns of every kind)
    for r in data["runs"]:
        one = {"runs": [r], "total": None, "next_offset": None}
        _equal_columns(flavour.parse_columns(one), _per_run(flavour, one))


@pytest.mark.parametrize("bad", HOSTILE_ROWS, ids=lambda r: repr(r)[:60])
def test_hostile_rows_give_the_per_run_columns_or_its_error(bad: Any) -> None:
    flavour = FlowwidgetsFlavour()
    data = {"runs": [row(run_id="ok"), bad], "total": 2, "next_offset": None}
    readers = (flavour.parse_columns, lambda d: flavour.parse_columns_page(d).columns())
    try:
        expected = _per_run(flavour, data)
    except errors.SchemaError as exc:
        for read in readers:
            with pytest.raises(errors.SchemaError) as got:
                read(data)
            assert (got.value.field, got.value.problem) == (exc.field, exc.problem)
        return
    except OverflowError:  # a time outside datetime64[ns]: the frame never had one
        for read in readers:
            with pytest.raises(OverflowError):
                read(data)
        return
    for read in readers:
        _equal_columns(read(data), expected)


def test_the_page_fields_are_checked_the_same_way() -> None:
    flavour = FlowwidgetsFlavour()
    cases: list[object] = [{"runs": [row()]}, {"runs": "x", "total": 1}, {"total": 1}, [],
                           {"runs": [row()], "total": "1"},
                           {"runs": [row()], "total": 1, "next_offset": "2"}]
    for data in cases:
        with pytest.raises(errors.SchemaError) as per_run:
            flavour.parse_page(data)
        with pytest.raises(errors.SchemaError) as columns:
            flavour.parse_columns(data)
        assert columns.value.field == per_run.value.field
        with pytest.raises(errors.SchemaError) as paged:
            flavour.parse_columns_page(data).columns()
        assert paged.value.field == per_run.value.field
    both_bad = {"runs": [row(run_id=None)], "total": "x"}  # the rows' error comes first
    with pytest.raises(errors.SchemaError) as per_run:
        flavour.parse_page(both_bad)
    with pytest.raises(errors.SchemaError) as paged:
        flavour.parse_columns_page(both_bad)
    assert paged.value.field == per_run.value.field == "runs[0].run_id"
    page = flavour.parse_columns_page({"runs": [row(), row(run_id="r2")], "total": None,
                                       "next_offset": 7, "next_cursor": "c"})
    assert (page.size, page.total, page.next_offset, page.next_cursor) == (2, 2, 7, "c")
    assert page.columns().run_id == ["r1", "r2"]
    empty = flavour.parse_columns({"runs": [], "total": 0, "next_offset": None})
    _equal_columns(empty, RunColumns.from_runs([]))


def test_fast_times_equal_the_per_run_times_across_the_whole_range() -> None:
    rng = random.Random(15)
    lo, hi = datetime(1677, 9, 22, tzinfo=UTC), datetime(2262, 4, 11, tzinfo=UTC)
    span = int((hi - lo).total_seconds() * 1000)
    times = [lo + timedelta(milliseconds=rng.randrange(span)) for _ in range(3000)]
    times += [datetime(y, m, d, tzinfo=UTC) + timedelta(milliseconds=-1 + k)
              for y in (1700, 1900, 1970, 2000, 2024, 2100, 2200) for m in (1, 2, 3, 12)
              for d in (1, 28) for k in (0, 1, 2)]
    texts = [format_time(t) for t in times]
    got = fast_times([*texts, None, ""])
    assert got is not None
    assert got.tolist() == [ns(t) for t in times] + [NAT, NAT]
    # one character changed anywhere: refused, or read as the per-run parser reads it
    flavour = FlowwidgetsFlavour()
    alphabet = "0123456789-T:.Z+ zé\n\x00/"
    for text in rng.sample(texts, 400):
        k = rng.randrange(len(text))
        mutated = text[:k] + rng.choice(alphabet) + text[k + 1:]
        fast = fast_times([mutated])
        if fast is None:
            continue
        parsed = flavour.parse_run(row(started_at=mutated), "GET /api/runs", "runs[0]")
        assert parsed.started_at is not None and fast.tolist() == [ns(parsed.started_at)]


def _reference_frame(cols: RunColumns) -> pd.DataFrame:
    """The frame as built before the columnar path (pandas' own constructors)."""
    from flowwidgets.frames import STATUS_CATEGORIES, _timedelta, _utc_ns

    duration_ms = pd.array(cols.duration_ms, dtype="Int64")
    return pd.DataFrame({
        "run_id": pd.array(cols.run_id, dtype="string"),
        "pipeline": pd.Categorical(cols.pipeline),
        "status": pd.Categorical(cols.status, categories=STATUS_CATEGORIES),
        "started_at": _utc_ns(cols.started_ns), "finished_at": _utc_ns(cols.finished_ns),
        "duration": _timedelta(duration_ms), "duration_ms": duration_ms,
        "attempts": pd.array(cols.attempts, dtype="Int64"),
        "failed_step": pd.array(cols.failed_step, dtype="string"),
        "kind": pd.Categorical(cols.kind),
        "trigger": pd.array(cols.trigger, dtype="string"),
        "parent_run_id": pd.array(cols.parent_run_id, dtype="string"),
        "eta": _utc_ns(np.full(len(cols), NAT, dtype=np.int64)),
        "error": pd.array(cols.error, dtype="string"),
        "imported": pd.array(cols.imported, dtype="bool"),
    })


@pytest.mark.parametrize("size", [0, 1, len(ODD_ROWS)])
def test_the_frame_equals_pandas_own_constructors(size: int) -> None:
    """The quicker categoricals (one dict pass) and NaT column give exactly the frame
    pandas' constructors give: values, dtypes, categories and their order, codes."""
    data = json.loads(json.dumps({"runs": ODD_ROWS[:size], "total": size}))
    cols = FlowwidgetsFlavour().parse_columns(data)
    cols.pipeline = cols.pipeline[::-1]  # categories in an order other than first seen
    got, want = _frame(cols), _reference_frame(cols)
    pd.testing.assert_frame_equal(got, want, check_exact=True, check_categorical=True)
    for name in ("pipeline", "status", "kind"):
        assert list(got[name].cat.categories) == list(want[name].cat.categories)
        assert got[name].cat.categories.dtype == want[name].cat.categories.dtype
        assert got[name].cat.codes.tolist() == want[name].cat.codes.tolist()
        assert got[name].cat.codes.dtype == want[name].cat.codes.dtype
    unknown = _frame(RunColumns.from_runs([]))
    assert unknown.empty and [str(t) for t in unknown.dtypes] == [str(t) for t in want.dtypes]


def test_quick_categoricals_sort_as_pandas_does() -> None:
    from flowwidgets.frames import STATUS_CATEGORIES, _categorical

    values = ["b", "B", "é", "e", "Z", "ä", "10", "9", "", "b", "\U0001f600", "a\x00", "a"]
    for vals in (values, values[::-1], ["only"] * 5):
        got, want = _categorical(vals), pd.Categorical(vals)
        assert list(got.categories) == list(want.categories)
        assert got.codes.tolist() == want.codes.tolist() and got.dtype == want.dtype
    words = ["running", "unknown", "failed", "running"]
    got = _categorical(words, STATUS_CATEGORIES)
    want = pd.Categorical(words, categories=STATUS_CATEGORIES)
    assert got.codes.tolist() == want.codes.tolist() and got.dtype == want.dtype


def test_kept_pages_stop_at_the_cutoff_and_skip_repeats() -> None:
    """Whole pages newer than the cutoff are kept at once; a page with a run seen before
    or one that started before the cutoff is read row by row, as before."""
    from flowwidgets._run_pages import Kept

    def page(ids: list[str], starts: list[str | None]) -> RunColumns:
        rows = [row(run_id=i, started_at=t, finished_at=None, duration_ms=None,
                    created_at=t) for i, t in zip(ids, starts, strict=True)]
        cols = parse_api_columns(rows, STATUS)
        assert cols is not None
        return cols

    t = [f"2026-11-20T08:00:0{k}.000Z" for k in range(10)]
    cutoff = ns(datetime(2026, 11, 20, 8, 0, 3, tzinfo=UTC))
    kept = Kept(cutoff)
    assert not kept.add(page(["a", "b", "c"], [t[9], None, t[8]]))  # all kept
    assert not kept.add(page(["c", "d"], [t[8], t[7]]))  # "c" again: skipped
    assert kept.add(page(["e", "f", "g"], [t[6], t[2], t[5]]))  # "f" is before: stop
    assert kept.columns().run_id == ["a", "b", "c", "d", "e"]
    assert not Kept(None).add(page(["x"], [t[0]]))
