"""The steps drawn as a tree with fan-ins under every parent, and a step's detail panel
(traceback + log tail) built from untrusted text."""

from __future__ import annotations

from datetime import UTC, datetime

from flowwidgets.models import Attempt, Run, RunDetail, Status, Step
from flowwidgets.tui._format import dag_tree
from flowwidgets.tui._rows import step_key_names, step_rows
from flowwidgets.tui._step_detail import StepLog, clean_block, read_step_log, step_detail_text

NOW = datetime(2026, 3, 1, 15, 30, tzinfo=UTC)


def _demo_steps() -> list[Step]:
    return [
        Step("extract_orders", Status.SUCCEEDED),
        Step("transform_orders", Status.SUCCEEDED, ("extract_orders",)),
        Step("transform_payments", Status.SUCCEEDED, ("extract_orders",)),
        Step("merge_payments", Status.FAILED, ("transform_orders", "transform_payments"),
             error="ValueError: amount column missing in batch 47"),
        Step("load_warehouse", Status.PENDING, ("merge_payments",)),
    ]


def test_a_fan_in_shows_under_both_parents_in_full_under_the_last():
    tree = [(s.name, depth, ref) for s, depth, ref in dag_tree(_demo_steps())]
    assert tree == [("extract_orders", 0, False), ("transform_orders", 1, False),
                    ("merge_payments", 2, True), ("transform_payments", 1, False),
                    ("merge_payments", 2, False), ("load_warehouse", 3, False)]
    rows = step_rows(_demo_steps(), NOW)
    labels = [c[0].plain for _, c in rows]
    assert labels == ["extract_orders", "  └ transform_orders", "    └ merge_payments ↓",
                      "  └ transform_payments", "    └ merge_payments",
                      "      └ load_warehouse"]
    notes = [c[-1].plain for _, c in rows]
    assert notes[2] == "also after transform_orders + transform_payments; drawn below"
    assert notes[4] == "ValueError: amount column missing in batch 47"  # its error wins
    assert [c[1].plain for _, c in rows][2] == "✕ failed"  # the reference shows the state
    names = step_key_names(_demo_steps())
    assert names == {"extract_orders": "extract_orders", "transform_orders": "transform_orders",
                     "merge_payments#also": "merge_payments",
                     "transform_payments": "transform_payments",
                     "merge_payments": "merge_payments", "load_warehouse": "load_warehouse"}


def test_the_tree_survives_cycles_unknown_deps_and_duplicates():
    steps = [Step("a", Status.SUCCEEDED, ("ghost",)), Step("b", Status.PENDING, ("c",)),
             Step("c", Status.PENDING, ("b",)), Step("a", Status.FAILED)]
    tree = [(s.name, depth, ref) for s, depth, ref in dag_tree(steps)]
    # the cycle and the repeated name follow the tree, in DAG order, each drawn once
    assert tree == [("a", 0, False), ("a", 1, False), ("b", 1, False), ("c", 1, False)]
    assert dag_tree([]) == []
    assert len(step_rows(steps, NOW)) == 4


def test_clean_block_keeps_indentation_and_neutralises_escapes():
    text = "Traceback:\r\n\tFile \"x\", line 1\n  \x1b[31mboom\u202e\n" + "y" * 500
    lines = clean_block(text)
    assert lines[:3] == ["Traceback:", "    File \"x\", line 1", "  \ufffd[31mboom\ufffd"]
    assert len(lines[3]) == 400 and lines[3].endswith("…")
    assert clean_block("1\n2\n3\n", 2) == ["2", "3"]


def test_detail_text_shows_the_whole_traceback_then_the_log_tail():
    log = "\n".join(f"line {i}" for i in range(1, 101))
    found = StepLog("r1", "merge", 2, "Traceback (most recent call last):\n  File \"j.py\"\n"
                    "ValueError: [red]x[/red]", log, None)
    plain = step_detail_text(found, tail=3).plain
    assert plain == ("TRACEBACK · attempt 2\nTraceback (most recent call last):\n"
                     "  File \"j.py\"\nValueError: [red]x[/red]\n\n"
                     "LOG · attempt 2 (last 3 of 100 lines)\nline 98\nline 99\nline 100")
    none = step_detail_text(StepLog("r1", "load", None, None, None, "this step has not run"))
    assert none.plain == "LOG: this step has not run"
    assert step_detail_text(None).plain == "Reading the step's log…"


class _Source:
    flavour = "test"
    step_logs = True

    def __init__(self, log=None, error=None):
        self._log, self._error = log, error

    def step_log(self, run_id, step, attempt=None):
        if self._error is not None:
            raise self._error
        return self._log


def test_read_step_log_says_why_there_is_no_log():
    detail = RunDetail(run=Run("r1", "p", Status.FAILED, failed_step="merge"),
                       steps=(Step("merge", Status.FAILED, attempts=(
                           Attempt(1, Status.FAILED, error="Traceback\nKeyError: 'k'"),)),
                              Step("load", Status.PENDING, ("merge",))))
    got = read_step_log(_Source("out\n"), detail, "merge")
    assert (got.attempt, got.error, got.log, got.note) == (1, "Traceback\nKeyError: 'k'",
                                                           "out\n", None)
    assert read_step_log(_Source(None), detail, "load").note == "this step has not run"
    broken = read_step_log(_Source(error=OSError("disk gone")), detail, "merge")
    assert broken.log is None and broken.note.startswith("the log could not be read")
    assert "disk gone" in broken.note
    quiet = _Source()
    quiet.step_logs = False
    assert read_step_log(quiet, detail, "merge").note == "the test runner keeps no step logs"


def test_read_step_log_of_an_older_attempt_asks_for_that_attempts_log():
    asked: list[object] = []

    class Logs(_Source):
        def step_log(self, run_id, step, attempt=None):
            asked.append(attempt)
            return f"log of {attempt or 'the newest'}"

    tries = (Attempt(2, Status.SUCCEEDED), Attempt(1, Status.FAILED, error="T\nOSError: a"))
    detail = RunDetail(run=Run("r1", "p", Status.SUCCEEDED),
                       steps=(Step("load", Status.SUCCEEDED, attempts=tries),))
    newest = read_step_log(Logs(), detail, "load")
    assert [a.number for a in newest.attempts] == [1, 2]  # oldest first
    assert (newest.attempt, newest.error, newest.log) == (2, None, "log of the newest")
    older = read_step_log(Logs(), detail, "load", 1)
    assert (older.attempt, older.error, older.log) == (1, "T\nOSError: a", "log of 1")
    assert read_step_log(Logs(), detail, "load", 7).attempt == 2  # unknown: the newest
    assert asked == [None, 1, None]
    plain = step_detail_text(older).plain
    assert plain.startswith("ATTEMPTS (2) · [ ] pick one\n▸ #1  ✕ failed")
    assert "  #2  ✓ succeeded" in plain and "OSError: a" in plain.splitlines()[1]
    assert "TRACEBACK · attempt 1\nT\nOSError: a" in plain
