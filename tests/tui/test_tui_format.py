"""The terminal monitor's pure formatting: glyphs, strip, durations, times, DAG order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from flowwidgets.errors import (
    ActionNotSupported,
    Conflict,
    RunnerUnavailable,
    Unprocessable,
)
from flowwidgets.models import Pipeline, Run, Status, Step
from flowwidgets.tui._format import (
    COLORS,
    NO_RUN,
    STEP_ICONS,
    STRIP_GLYPHS,
    clean,
    dag_order,
    describe_error,
    format_duration,
    format_next,
    format_started,
    status_text,
    step_label,
    strip_text,
)

NOW = datetime(2026, 11, 22, 15, 30, tzinfo=UTC)


def _run(status: Status, n: int = 0) -> Run:
    return Run(run_id=f"r{n}", pipeline="p", status=status)


def test_every_status_has_its_own_glyph_and_icon():
    for table in (STRIP_GLYPHS, STEP_ICONS):
        assert set(table) == set(Status)
        assert len(set(table.values())) == len(table), "two statuses share a glyph"
        assert all(len(g) == 1 for g in table.values())
    assert NO_RUN not in STRIP_GLYPHS.values()
    assert (STRIP_GLYPHS[Status.SUCCEEDED], STRIP_GLYPHS[Status.FAILED],
            STRIP_GLYPHS[Status.RUNNING]) == ("■", "✕", "▶")


def test_strip_pads_left_so_the_newest_run_is_rightmost():
    text = strip_text([_run(Status.FAILED, 1), _run(Status.SUCCEEDED, 2),
                       _run(Status.RUNNING, 3)])
    assert text.plain == "·······✕■▶"
    colours = [str(span.style) for span in text.spans]
    assert colours[-3:] == [COLORS["red"], COLORS["teal"], COLORS["amber"]]
    assert colours[0] == COLORS["muted"]


def test_strip_keeps_only_the_last_ten_and_handles_none():
    runs = [_run(Status.FAILED, 0)] + [_run(Status.SUCCEEDED, n) for n in range(1, 12)]
    assert strip_text(runs).plain == "■" * 10
    assert strip_text([]).plain == NO_RUN * 10
    assert strip_text(runs, length=3).plain == "■■■"


@pytest.mark.parametrize(("ms", "shown"), [
    (None, "—"), (0, "0 ms"), (840, "840 ms"), (999, "999 ms"), (1000, "1.0 s"),
    (12_345, "12.3 s"), (59_999, "60.0 s"), (60_000, "1m 00s"), (245_000, "4m 05s"),
    (3_599_000, "59m 59s"), (3_600_000, "1h 00m"), (7_380_000, "2h 03m"), (-5, "—"),
    (90_000_000, "1d 01h"),
    (1500.7, "1.5 s"),
])
def test_format_duration(ms, shown):
    assert format_duration(ms) == shown


def test_format_started_shortens_by_distance():
    assert format_started(None, NOW) == "—"
    assert format_started(NOW - timedelta(hours=2), NOW) == "13:30:00"
    assert format_started(datetime(2026, 3, 1, 8, 5, tzinfo=UTC), NOW) == "03-01 08:05"
    assert format_started(datetime(2025, 12, 31, 23, 0, tzinfo=UTC), NOW) == "2025-12-31"


def test_format_next_live_fire_paused_manual():
    live = Pipeline("s", kind="streaming", latest_run=_run(Status.RUNNING))
    assert format_next(live).plain == "LIVE"
    assert "bold" in str(format_next(live).style)
    idle = Pipeline("s", kind="streaming")
    assert format_next(idle).plain == "LIVE" and "bold" not in str(format_next(idle).style)
    cron = Pipeline("c", schedule="0 * * * *",
                    next_run_at=datetime(2026, 11, 22, 16, 0, tzinfo=UTC))
    assert format_next(cron).plain == "2026-11-22 16:00"
    assert format_next(Pipeline("p", paused=True, next_run_at=NOW)).plain == "paused"
    assert format_next(Pipeline("m")).plain == "manual"


def test_status_text_has_icon_word_and_colour():
    text = status_text(Status.FAILED, note="(x)")
    assert text.plain == "✕ failed (x)"
    assert str(text.style) == COLORS["red"]


def test_clean_neutralises_escapes_newlines_and_bidi():
    assert clean("a\nb\tc  d") == "a b c d"
    assert clean("\x1b[31mred\x1b[0m") == "\ufffd[31mred\ufffd[0m"
    assert clean("evil\u202etxt") == "evil\ufffdtxt"
    assert clean("[bold red]x") == "[bold red]x"
    assert clean("abcdef", 4) == "abc…"
    assert clean(None) == "" and clean(42) == "42"


def _step(name: str, *deps: str, status: Status = Status.PENDING) -> Step:
    return Step(name=name, status=status, depends_on=deps)


def test_dag_order_is_topological_by_longest_path_rank():
    # declared out of order: the diamond a → (b, c) → d, plus e after a only, f alone
    steps = [_step("d", "b", "c"), _step("b", "a"), _step("f"), _step("c", "a", "b"),
             _step("a"), _step("e", "a")]
    order = [(s.name, rank) for s, rank in dag_order(steps)]
    assert order == [("f", 0), ("a", 0), ("b", 1), ("e", 1), ("c", 2), ("d", 3)]
    seen: set[str] = set()
    for s, _ in dag_order(steps):
        assert set(s.depends_on) <= seen, f"{s.name} before its dependencies"
        seen.add(s.name)


def test_dag_order_survives_unknown_deps_self_loops_and_cycles():
    steps = [_step("x", "ghost"), _step("y", "y"), _step("p", "q"), _step("q", "p"),
             _step("z", "x")]
    order = [(s.name, rank) for s, rank in dag_order(steps)]
    assert order == [("x", 0), ("y", 0), ("z", 1), ("p", 2), ("q", 2)]
    assert dag_order([]) == []


def test_dag_order_keeps_duplicate_names():
    steps = [_step("a"), _step("a"), _step("b", "a")]
    assert [s.name for s, _ in dag_order(steps)] == ["a", "a", "b"]


def test_step_label_indents_by_rank_and_keeps_markup_literal():
    assert step_label("load", 0).plain == "load"
    assert step_label("load", 2).plain == "    └ load"
    assert step_label("[bold red]x", 1).plain == "  └ [bold red]x"
    assert step_label("deep", 50).plain.startswith("  " * 8 + "└ ")


def test_describe_error_prefers_the_runners_detail():
    conflict = Conflict("409 from POST /api/runs/r1/restart", status_code=409,
                        detail="run r1 is still running", response=httpx.Response(409))
    assert describe_error(conflict) == "run r1 is still running (HTTP 409)"
    invalid = Unprocessable("422", status_code=422, response=httpx.Response(422),
                            detail=[{"loc": ["body", "from_step"], "msg": "bad\nstep"}])
    assert describe_error(invalid).startswith('[{"loc": ["body", "from_step"]')
    assert "\n" not in describe_error(invalid)
    assert describe_error(ActionNotSupported("restart", "flowtoy runs one flow")) == (
        "restart is not available: flowtoy runs one flow")
    assert describe_error(RunnerUnavailable("http://x", "connection refused")) == (
        "no runner reachable at http://x: connection refused")
    assert describe_error(ValueError("boom")) == "ValueError: boom"
    assert len(describe_error(ValueError("x" * 1000), limit=50)) == 50
