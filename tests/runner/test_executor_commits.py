"""One commit per step: a step's success starts, in the same transaction, the first child
it made ready, which then runs on the same worker (its siblings start when a worker takes
them). Every transition stays
recorded, in order; a cancelled run, an unknown step, the runner's stop and a lost claim
write nothing they should not."""

from __future__ import annotations

import json
import sqlite3
import threading

import pytest
from fwx_support import call, execute, pipelines

from flowwidgets.models import Status
from flowwidgets.runner._pool import RunState
from flowwidgets.runner.executor import Executor, oversized
from flowwidgets.runner.spec import PipelineSpec
from flowwidgets.runner.sqlite import SqliteRunLog
from flowwidgets.runner.store import ClaimLost


@pytest.fixture
def store(tmp_path):
    with SqliteRunLog(tmp_path / "runs.sqlite") as log:
        yield log


def _events(store, run_id):
    return [(e.kind, e.step, e.status) for e in store.events_since(0, limit=10_000)
            if e.run_id == run_id]


def test_a_chain_commits_once_per_step_with_every_transition_in_order(store, tmp_path):
    n = 12
    spec = PipelineSpec("chain", steps=tuple(
        call(f"s{i}", "noop", [f"s{i - 1}"] if i else []) for i in range(n)))
    commits: list[int] = []
    store.on_commit(lambda: commits.append(1))
    ex = Executor(store, pipelines(spec), max_workers=4, data_dir=tmp_path)
    try:
        run = execute(store, ex, spec)
    finally:
        ex.stop(timeout=5)
    assert run.status is Status.SUCCEEDED
    # create, claim, start s0, one per step (its end and the next start), the run's end
    assert len(commits) == 2 + 1 + n + 1
    want = [("run", None, "requested"), ("run", None, "running"),
            ("step", "s0", "running"), ("attempt", "s0", "running")]
    for i in range(n):
        want += [("attempt", f"s{i}", "succeeded"), ("step", f"s{i}", "succeeded")]
        if i + 1 < n:
            want += [("step", f"s{i + 1}", "running"), ("attempt", f"s{i + 1}", "running")]
    want.append(("run", None, "succeeded"))
    assert _events(store, run.run_id) == want
    steps = store.get_steps(run.run_id)
    assert all(s.status is Status.SUCCEEDED and s.attempts == 1 for s in steps)
    for before, after in zip(steps, steps[1:], strict=False):
        assert after.started_at == before.finished_at  # the same transaction, one clock


def test_a_fan_out_starts_one_child_with_its_parent_and_never_more_than_the_workers(
        store, tmp_path):
    """Only the child that runs next on the parent's worker starts in the parent's commit;
    its siblings start when a worker takes them, so a step is never 'running' while it
    waits for a worker (the timeline draws that wait), and at most max_workers run."""
    spec = PipelineSpec("fan", steps=(
        call("root", "one"), *(call(f"c{i}", "plus_one", ["root"]) for i in range(5)),
        call("join", "plus_one", [f"c{i}" for i in range(5)])))
    ex = Executor(store, pipelines(spec), max_workers=3, data_dir=tmp_path)
    try:
        run = execute(store, ex, spec)
    finally:
        ex.stop(timeout=5)
    assert run.status is Status.SUCCEEDED
    assert store.load_output(run.run_id, "join") == 1 + 5 * 2
    events = _events(store, run.run_id)
    root_done = events.index(("step", "root", "succeeded"))
    assert events[root_done + 1:root_done + 3] == [("step", "c0", "running"),
                                                   ("attempt", "c0", "running")]
    running: set[str] = set()
    most = 0
    for kind, step, status in events:
        if kind == "step" and status == "running":
            running.add(step)
        elif kind == "step":
            running.discard(step)
        most = max(most, len(running))
    assert most <= 3
    assert all(a.number == 1 and a.status is Status.SUCCEEDED
               for a in store.get_attempts(run.run_id))


def test_a_fan_out_starts_one_child_with_its_parent_and_the_rest_when_a_worker_is_free(
        store, tmp_path):
    """A step is recorded running only once a worker runs it: with one worker, the
    child started with root's success runs first; each other child waits for the worker
    and starts with the end of the step before it (one commit), then runs on it."""
    spec = PipelineSpec("fan", steps=(
        call("root", "one"), *(call(f"c{i}", "plus_one", ["root"]) for i in range(4)),
        call("join", "plus_one", [f"c{i}" for i in range(4)])))
    commits: list[int] = []
    store.on_commit(lambda: commits.append(1))
    ex = Executor(store, pipelines(spec), max_workers=1, data_dir=tmp_path)
    try:
        run = execute(store, ex, spec)
    finally:
        ex.stop(timeout=5)
    assert run.status is Status.SUCCEEDED
    assert store.load_output(run.run_id, "join") == 1 + 4 * 2
    events = [e for e in _events(store, run.run_id) if e[0] == "step"]
    assert events == [("step", "root", "running"), ("step", "root", "succeeded"),
                      ("step", "c0", "running"), ("step", "c0", "succeeded"),
                      ("step", "c1", "running"), ("step", "c1", "succeeded"),
                      ("step", "c2", "running"), ("step", "c2", "succeeded"),
                      ("step", "c3", "running"), ("step", "c3", "succeeded"),
                      ("step", "join", "running"), ("step", "join", "succeeded")]
    steps = {s.name: s for s in store.get_steps(run.run_id)}
    assert steps["c0"].started_at == steps["root"].finished_at  # one commit
    for i in range(1, 4):  # each waited for the one worker, started with the step before
        assert steps[f"c{i}"].started_at == steps[f"c{i - 1}"].finished_at
    assert all(a.number == 1 and a.status is Status.SUCCEEDED
               for a in store.get_attempts(run.run_id))
    assert len(commits) == 2 + 1 + 6 + 1  # create, claim, root, one per step, the end


def _run_with_steps(store, names):
    run_id, _ = store.create_run(pipeline="p", kind="batch", trigger="manual",
                                 steps=[(n, [names[0]] if i else []) for i, n in enumerate(names)])
    assert store.claim_requested("w") is not None
    return run_id


def test_finish_attempt_starts_the_named_steps_atomically(store):
    run_id = _run_with_steps(store, ["a", "b", "c"])
    n = store.start_attempt(run_id, "a")
    with pytest.raises(KeyError):  # an unknown step: nothing written, not even a's end
        store.finish_attempt(run_id, "a", n, status=Status.SUCCEEDED, output=1,
                             start=["b", "nope"])
    steps = {s.name: s for s in store.get_steps(run_id)}
    assert steps["a"].status is Status.RUNNING and steps["b"].status is Status.PENDING
    with pytest.raises(KeyError):
        store.load_output(run_id, "a")
    assert store.finish_attempt(run_id, "a", n, status=Status.SUCCEEDED, output=1,
                                start=["b", "c"]) == [1, 1]
    steps = {s.name: s for s in store.get_steps(run_id)}
    assert [steps[x].status for x in "abc"] == [Status.SUCCEEDED, Status.RUNNING,
                                                Status.RUNNING]
    assert store.load_output(run_id, "a") == 1


def test_a_cancelled_run_starts_nothing(store):
    run_id = _run_with_steps(store, ["a", "b"])
    n = store.start_attempt(run_id, "a")
    store.cancel_run(run_id, by="test")
    before = store.last_event_id()
    assert store.finish_attempt(run_id, "a", n, status=Status.SUCCEEDED, output=1,
                                start=["b"]) == [0]
    assert store.last_event_id() == before
    assert {s.name: s.status for s in store.get_steps(run_id)} == {
        "a": Status.CANCELLED, "b": Status.PENDING}


def test_a_lost_claim_starts_nothing(store):
    run_id = _run_with_steps(store, ["a", "b"])
    fenced = store.fenced("w")
    n = fenced.start_attempt(run_id, "a")
    with sqlite3.connect(store.path) as conn:  # a peer took the run over
        conn.execute("UPDATE runs SET worker = 'peer' WHERE run_id = ?", (run_id,))
    conn.close()
    with pytest.raises(ClaimLost):
        fenced.finish_attempt(run_id, "a", n, status=Status.SUCCEEDED, start=["b"])
    assert {s.name: s.status for s in store.get_steps(run_id)}["b"] is Status.PENDING
    assert store.get_attempts(run_id, "b") == []


def test_a_child_started_with_its_parent_records_the_runner_stop(store, tmp_path):
    """The stop arrives after the parent's commit opened the child's attempt and before
    the child runs: the child's attempt and step end cancelled, nothing runs."""
    spec = PipelineSpec("p", steps=(call("a", "one"), call("b", "one", ["a"])))
    run_id, _ = store.create_run(pipeline="p", kind="batch", trigger="manual",
                                 steps=[("a", []), ("b", ["a"])])
    run = store.claim_requested("w")
    assert run is not None
    ex = Executor(store, pipelines(spec), max_workers=1, data_dir=tmp_path)
    try:
        state = RunState(run, spec, store.get_steps(run_id), ex.stop_event)
        assert state.initial_ready() == ["a"]
        a = store.start_attempt(run_id, "a")
        assert state.ready_after("a") == ["b"]
        [b] = store.finish_attempt(run_id, "a", a, status=Status.SUCCEEDED, output=1,
                                   start=["b"])
        assert state.step_done("a", True, None, False, ["b"]) == (["b"], False)
        ex.stop_event.set()
        ex._step_task(state, "b", b)
        assert state.finished.is_set()
    finally:
        ex.stop(timeout=5)
    attempt = store.get_attempts(run_id, "b")[0]
    assert attempt.status is Status.CANCELLED and attempt.finished_at is not None
    step = {s.name: s for s in store.get_steps(run_id)}["b"]
    assert step.status is Status.CANCELLED
    final = store.get_run(run_id)
    assert final is not None and final.status is Status.CANCELLED
    assert not (tmp_path / "executions.log").exists()  # b never ran


def test_ready_after_is_empty_once_the_run_has_a_failure_or_stops(store):
    run_id = _run_with_steps(store, ["a", "b"])
    run = store.get_run(run_id)
    assert run is not None
    stop = threading.Event()
    state = RunState(run, None, store.get_steps(run_id), stop)
    assert state.ready_after("a") == ["b"]
    stop.set()
    assert state.ready_after("a") == []
    stop.clear()
    state.failed["x"] = "boom"
    assert state.ready_after("a") == []


def test_oversized_agrees_with_the_length_of_the_json_text():
    values = [None, True, 0, -1, 10**29, -(10**29), 10**40, -(10**40), 1.5e-308,
              -1.2345678901234567e-300, float("nan"), float("inf"), "", "a" * 100, "é" * 50,
              "\U0001f600" * 20, "\x00" * 30, [1, 2, 3], {"a": "b" * 50}, {1: None}]
    for value in values:
        for limit in (1, 5, 24, 31, 32, 40, 100, 240, 1000):
            try:
                size = len(json.dumps(value, allow_nan=False).encode())
            except ValueError:  # not storable: the store says why, not the size check
                assert oversized(value, limit) is None
                continue
            assert (oversized(value, limit) == "larger") == (size > limit), (value, limit)


def test_a_waiting_step_taken_for_a_commit_that_fails_waits_again_in_its_place(
        store, tmp_path):
    """c0's output cannot be stored: its commit, which would have started c1 (waiting
    for the one worker), writes nothing; c1 goes back first in line and runs next, c2
    after it, as siblings launched before a failure always did."""
    spec = PipelineSpec("fan", steps=(
        call("root", "one"), call("c0", "not_json", ["root"]),
        call("c1", "plus_one", ["root"]), call("c2", "plus_one", ["root"])))
    ex = Executor(store, pipelines(spec), max_workers=1, data_dir=tmp_path)
    try:
        run = execute(store, ex, spec)
    finally:
        ex.stop(timeout=5)
    assert run.status is Status.FAILED and run.failed_step == "c0"
    steps = {s.name: s for s in store.get_steps(run.run_id)}
    assert steps["c0"].status is Status.FAILED and "JSON" in (steps["c0"].error or "")
    assert steps["c1"].status is Status.SUCCEEDED and steps["c2"].status is Status.SUCCEEDED
    assert steps["c1"].started_at >= steps["c0"].finished_at
    assert steps["c2"].started_at >= steps["c1"].finished_at  # after a failure: own commit
    assert [e for e in _events(store, run.run_id) if e[0] == "step"] == [
        ("step", "root", "running"), ("step", "root", "succeeded"),
        ("step", "c0", "running"), ("step", "c0", "failed"),
        ("step", "c1", "running"), ("step", "c1", "succeeded"),
        ("step", "c2", "running"), ("step", "c2", "succeeded")]
    assert ex._in_flight == 0


def test_step_rows_read_as_the_generic_parsers_read_them(store):
    run_id = _run_with_steps(store, ["a", "b", "c", "d"])
    with store._pool.connection() as conn:  # rows written by hand, or by an older version
        conn.execute("UPDATE steps SET status = ' Running ', depends_on = '[ \"a\" ,\"b\"]' "
                     "WHERE run_id = ? AND name = 'c'", (run_id,))
        conn.execute("UPDATE steps SET status = 'weird', depends_on = '[\"x\\u00e9\"]' "
                     "WHERE run_id = ? AND name = 'd'", (run_id,))
        rows = conn.execute("SELECT name, status, depends_on FROM steps WHERE run_id = ? "
                            "ORDER BY position", (run_id,)).fetchall()
    want = {name: (Status.parse(status), tuple(json.loads(deps))) for name, status, deps in rows}
    got = {s.name: (s.status, s.depends_on) for s in store.get_steps(run_id)}
    assert got == want
    assert got["c"] == (Status.RUNNING, ("a", "b")) and got["d"] == (Status.UNKNOWN, ("xé",))
