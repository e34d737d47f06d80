"""``SqliteRunLog.step_states`` (one join, times and output keys computed by SQLite) gives
exactly what the generic ``RunLog.step_states`` builds from records and outputs, and
flowtoy's ``/status`` serves it."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from fwtest.api import TestClient, make_runner

from flowwidgets.models import Status
from flowwidgets.runner.api import create_app
from flowwidgets.runner.sqlite import SqliteRunLog
from flowwidgets.runner.store import RunLog, StepState

STEPS = [("dict", []), ("list", []), ("none", []), ("failed", []), ("running", []),
         ("pending", ["failed"]), ("keys <b>&</b>", []), ("odd keys", [])]


def _history(log: SqliteRunLog) -> tuple[str, str]:
    """A run with a step in every state, and a restart that reuses one step."""
    run_id, _ = log.create_run(pipeline="orders", kind="batch", trigger="manual", steps=STEPS)
    log.claim_requested("w")
    for step, output in (("dict", {"rows": 3, "b": None, "a": [1]}), ("list", [1, 2]),
                         ("keys <b>&</b>", {"<i>x</i>": 1, "é": 2}),
                         ("odd keys", {1: "a", None: "b", 2.5: "c"})):
        n = log.start_attempt(run_id, step)
        log.finish_attempt(run_id, step, n, status=Status.SUCCEEDED, output=output)
    n = log.start_attempt(run_id, "none")
    log.finish_attempt(run_id, "none", n, status=Status.SUCCEEDED)
    n = log.start_attempt(run_id, "failed")
    log.finish_attempt(run_id, "failed", n, status=Status.FAILED, error="KeyError: 'sku'")
    log.set_step_status(run_id, "failed", Status.FAILED)
    log.start_attempt(run_id, "running")
    restart, _ = log.create_run(pipeline="orders", kind="batch", trigger="manual",
                                steps=STEPS, reused={"dict": run_id})
    return run_id, restart


def test_the_one_query_equals_the_generic_reading(tmp_path: Path) -> None:
    with SqliteRunLog(tmp_path / "runs.db") as log:
        run_id, restart = _history(log)
        for rid in (run_id, restart, "no-such-run"):
            fast = log.step_states(rid)
            assert fast == RunLog.step_states(log, rid)
            assert all(isinstance(s, StepState) for s in fast)
        states = {s.name: s for s in log.step_states(run_id)}
        assert states["dict"].output_keys == ["rows", "b", "a"]  # the object's order
        assert states["list"].output_keys == states["none"].output_keys == []
        assert states["keys <b>&</b>"].output_keys == ["<i>x</i>", "é"]
        assert states["odd keys"].output_keys == ["1", "null", "2.5"]  # as JSON has them
        assert states["failed"].error == "KeyError: 'sku'"
        assert states["running"].finished_ms is None and states["running"].started_ms
        assert states["pending"].started_ms is None
        steps = {s.name: s for s in log.get_steps(run_id)}
        assert states["dict"].started_ms / 1000 == steps["dict"].started_at.timestamp()
        assert {s.name: s.output_keys for s in log.step_states(restart)}["dict"] == \
            ["rows", "b", "a"]  # reused: the copied output


def test_status_serves_the_steps_with_epoch_times(tmp_path: Path) -> None:
    runner = make_runner(tmp_path)
    try:
        run_id, _ = _history(runner.store)  # type: ignore[arg-type]
        log = runner.store
        with TestClient(create_app(runner)) as client:
            body = client.get("/status", params={"pipeline": "orders"}).json()
        assert body["run_id"] == run_id and body["total_steps"] == len(STEPS)
        assert body["running_steps"] == ["running"] and body["current_step"] == "running"
        assert body["completed_steps"] == 6
        for s in log.get_steps(run_id):
            got = body["steps"][s.name]
            assert got["state"] == s.status
            assert got["started_at"] == (s.started_at.timestamp() if s.started_at else None)
            assert got["ended_at"] == (s.finished_at.timestamp() if s.finished_at else None)
        assert body["steps"]["failed"]["notes"] == ["KeyError: 'sku'"]
        assert body["steps"]["dict"]["outputs"] == ["rows", "b", "a"]
    finally:
        runner.stop()


def test_a_version_4_file_gets_its_output_keys(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    with SqliteRunLog(path) as log:
        run_id, _ = _history(log)
    conn = sqlite3.connect(path, isolation_level=None)
    try:  # as schema v4 left it: no keys column, no v6 statistics tables
        conn.execute("ALTER TABLE outputs DROP COLUMN keys")
        for trigger in ("runs_stats_insert", "runs_stats_delete", "runs_hist_update",
                        "runs_outcomes_update"):
            conn.execute(f"DROP TRIGGER {trigger}")
        conn.execute("DROP TABLE duration_hist")
        conn.execute("DROP TABLE hour_outcomes")
        conn.execute("PRAGMA user_version = 4")
    finally:
        conn.close()
    with SqliteRunLog(path) as log:
        assert log.step_states(run_id) == RunLog.step_states(log, run_id)
        stats = log.pipeline_stats([], now=datetime.now(UTC))["orders"]  # v6 back-filled
        assert stats.total_runs == 2 and stats.median_duration_ms is None
        assert {s.name: s.output_keys for s in log.step_states(run_id)}["dict"] == \
            ["rows", "b", "a"]


def test_the_status_steps_equal_what_the_step_states_build(tmp_path: Path) -> None:
    """``SqliteRunLog.status_steps`` (rows straight to flowtoy's entries, the stored keys
    passed on as JSON text) encodes to the same JSON as the generic route's build from
    ``RunLog.step_states``, whose default reads records and outputs one by one."""
    import orjson

    from flowwidgets.runner.api import _payloads as P

    with SqliteRunLog(tmp_path / "runs.db") as log:
        run_id, restart = _history(log)
        log.create_run(pipeline="orders", kind="batch", trigger="manual", steps=[])
        for rid in (run_id, restart):
            run = log.get_run(rid)
            assert run is not None
            built = log.status_steps(rid)
            fast = orjson.dumps(P.flowtoy_run(run, built.steps, built.total,
                                              built.completed, built.running))
            generic = orjson.dumps(P.flowtoy_status(run, RunLog.step_states(log, rid)))
            assert orjson.loads(fast) == orjson.loads(generic)
            assert list(orjson.loads(fast)["steps"]) == [name for name, _ in STEPS]
        assert RunLog.status_steps(log, run_id) is None  # the default: use step_states
        empty = log.status_steps("no-such-run")
        assert (empty.steps, empty.total, empty.completed, empty.running) == ({}, 0, 0, [])


def test_kept_status_entries_follow_every_change(tmp_path: Path) -> None:
    """``status_steps`` reuses an entry's JSON only while its row is unchanged: after each
    write (a step finishing, a new output's keys, an error, a retry) every entry equals
    the generic build again, and unchanged entries are the very same JSON objects."""
    import orjson

    from flowwidgets.runner.api import _payloads as P

    def check(log: SqliteRunLog, rid: str) -> dict:
        run = log.get_run(rid)
        assert run is not None
        built = log.status_steps(rid)
        fast = orjson.dumps(P.flowtoy_run(run, built.steps, built.total, built.completed,
                                          built.running))
        generic = orjson.dumps(P.flowtoy_status(run, RunLog.step_states(log, rid)))
        assert orjson.loads(fast) == orjson.loads(generic)
        return built.steps

    with SqliteRunLog(tmp_path / "runs.db") as log:
        run_id, restart = _history(log)
        first = check(log, run_id)
        check(log, restart)  # another run kept beside it
        again = check(log, run_id)
        assert all(again[name] is first[name] for name in first)
        n = log.start_attempt(run_id, "pending")
        changed = check(log, run_id)
        assert changed["pending"] is not first["pending"]
        assert changed["dict"] is first["dict"]
        log.finish_attempt(run_id, "pending", n, status=Status.SUCCEEDED,
                           output={"z": 1, "y": 2})
        assert orjson.loads(orjson.dumps(check(log, run_id)["pending"]))["outputs"] == \
            ["z", "y"]
        before = orjson.loads(orjson.dumps(check(log, run_id)["failed"]))
        n = log.start_attempt(run_id, "failed")  # a retry
        during = orjson.loads(orjson.dumps(check(log, run_id)["failed"]))
        assert during != before and during["state"] == "running"
        log.finish_attempt(run_id, "failed", n, status=Status.FAILED, error="E <b>2</b>")
        log.set_step_status(run_id, "failed", Status.FAILED)
        assert orjson.loads(orjson.dumps(check(log, run_id)["failed"]))["state"] == "failed"
        for _ in range(6):  # more runs than are kept: the oldest go, answers stay right
            rid, _ = log.create_run(pipeline="orders", kind="batch", trigger="manual",
                                    steps=STEPS[:2])
            check(log, rid)
        check(log, run_id)


def test_large_status_entries_are_not_kept(tmp_path: Path) -> None:
    """A run whose encoded entries pass 4 MB (long step errors) is answered right but its
    entries are not kept; a small one's are."""
    import orjson

    with SqliteRunLog(tmp_path / "runs.db") as log:
        big, _ = log.create_run(pipeline="orders", kind="batch", trigger="manual",
                                steps=[(f"s{i}", []) for i in range(5)])
        log.claim_requested("w")
        for i in range(5):
            n = log.start_attempt(big, f"s{i}")
            log.finish_attempt(big, f"s{i}", n, status=Status.FAILED, error="E" * 1_000_000)
            log.set_step_status(big, f"s{i}", Status.FAILED)
        small, _ = log.create_run(pipeline="orders", kind="batch", trigger="manual",
                                  steps=STEPS)
        built = log.status_steps(big)
        assert all(orjson.loads(orjson.dumps(e))["notes"] == ["E" * 1_000_000]
                   for e in built.steps.values())
        log.status_steps(small)
        assert big not in log._status_kept and small in log._status_kept


def test_records_of_long_errors_are_not_kept() -> None:
    from flowwidgets.runner import _sqlite_stats as S

    row = ("r", "p", "batch", "failed", "manual", "2026-11-20T08:00:00.000Z", None, None,
           1, "s", "E" * 20_000, None, None, None, None, None, None, "{}")
    assert S.cached_run_row(row) == S.cached_run_row(row)
    assert S.cached_run_row(row) is not S.cached_run_row(row)
    short = (*row[:10], "E", *row[11:])
    assert S.cached_run_row(short) is S.cached_run_row(short)
