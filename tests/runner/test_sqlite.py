"""SqliteRunLog round trips on real files: runs, steps, attempts, outputs, watermarks,
idempotency, reuse, versions and events, schema, threads and closing."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from flowwidgets.errors import FlowwidgetsError
from flowwidgets.models import Status
from flowwidgets.runner._schema import SCHEMA_VERSION
from flowwidgets.runner.sqlite import SqliteRunLog

STEPS = [("fetch", []), ("clean", ["fetch"]), ("load", ["clean"])]


@pytest.fixture
def log(tmp_path):
    with SqliteRunLog(tmp_path / "runs.db") as log:
        yield log


def _new(log, pipeline="orders", **kw):
    kw.setdefault("kind", "batch")
    kw.setdefault("trigger", "manual")
    kw.setdefault("steps", STEPS)
    run_id, created = log.create_run(pipeline=pipeline, **kw)
    assert created
    return run_id


def test_create_run_records_requested_run_and_pending_steps(log):
    before = datetime.now(UTC) - timedelta(milliseconds=1)
    sched = datetime(2026, 11, 22, 6, 0, tzinfo=UTC)
    run_id = _new(log, trigger="schedule", scheduled_for=sched)
    assert run_id.startswith("orders-")
    stamp, suffix = run_id.removeprefix("orders-").split("-")
    assert len(stamp) == 15 and stamp[8] == "T" and len(suffix) == 6
    int(suffix, 16)
    run = log.get_run(run_id)
    assert run.status is Status.REQUESTED and run.trigger == "schedule" and run.kind == "batch"
    assert run.created_at.tzinfo is not None and run.created_at >= before
    assert run.created_at.microsecond % 1000 == 0
    assert run.scheduled_for == sched
    assert run.started_at is None and run.finished_at is None and run.attempt == 1
    steps = log.get_steps(run_id)
    assert [(s.name, s.status, s.depends_on, s.position) for s in steps] == [
        ("fetch", Status.PENDING, (), 0),
        ("clean", Status.PENDING, ("fetch",), 1),
        ("load", Status.PENDING, ("clean",), 2),
    ]
    assert log.get_run("nope") is None and log.get_steps("nope") == []


def test_idempotency_key_returns_same_run_and_writes_nothing(log):
    run_id = _new(log, idempotency_key="fire:orders:06:00")
    version, events = log.version(), log.events_since(0)
    again = log.create_run(pipeline="orders", kind="batch", trigger="manual", steps=STEPS,
                           idempotency_key="fire:orders:06:00")
    assert again == (run_id, False)
    assert log.version() == version and log.events_since(0) == events
    assert log.list_runs()[1] == 1
    other = _new(log, idempotency_key="fire:orders:07:00")
    assert other != run_id


def test_full_lifecycle_with_retry(log):
    run_id = _new(log)
    run = log.claim_requested("w1")
    assert run.run_id == run_id and run.status is Status.RUNNING and run.worker == "w1"
    assert run.started_at is not None
    assert log.claim_requested("w2") is None

    n = log.start_attempt(run_id, "fetch")
    assert n == 1
    assert log.get_steps(run_id)[0].status is Status.RUNNING
    log.finish_attempt(run_id, "fetch", n, status=Status.SUCCEEDED, log_tail="ok\n")
    fetch = log.get_steps(run_id)[0]
    assert fetch.status is Status.SUCCEEDED and fetch.finished_at is not None
    assert fetch.duration_ms is not None and fetch.duration_ms >= 0

    assert log.start_attempt(run_id, "clean") == 1
    log.finish_attempt(run_id, "clean", 1, status=Status.FAILED, error="timeout")
    assert log.get_steps(run_id)[1].status is Status.RUNNING  # the executor decides
    assert log.start_attempt(run_id, "clean") == 2
    assert log.get_run(run_id).attempt == 2
    log.finish_attempt(run_id, "clean", 2, status=Status.FAILED, error="KeyError: 'sku'")
    log.set_step_status(run_id, "clean", Status.FAILED)
    clean = log.get_steps(run_id)[1]
    assert clean.status is Status.FAILED and clean.attempts == 2
    assert clean.error == "KeyError: 'sku'"  # the last failed attempt's error
    log.set_step_status(run_id, "load", Status.SKIPPED, error="upstream failed")

    log.finish_run(run_id, status=Status.FAILED, failed_step="clean", error="KeyError: 'sku'")
    run = log.get_run(run_id)
    assert run.status is Status.FAILED and run.failed_step == "clean"
    assert run.error == "KeyError: 'sku'" and run.attempt == 2
    assert run.finished_at >= run.started_at and run.duration_ms >= 0

    attempts = log.get_attempts(run_id)
    assert [(a.step, a.number, a.status) for a in attempts] == [
        ("fetch", 1, Status.SUCCEEDED), ("clean", 1, Status.FAILED),
        ("clean", 2, Status.FAILED)]
    assert attempts[0].log_tail == "ok\n" and attempts[1].error == "timeout"
    assert [a.number for a in log.get_attempts(run_id, "clean")] == [1, 2]
    assert log.get_attempts(run_id, "load") == []


def test_finish_run_errors(log):
    run_id = _new(log)
    with pytest.raises(KeyError):
        log.finish_run("missing", status=Status.SUCCEEDED)
    with pytest.raises(ValueError, match="terminal"):
        log.finish_run(run_id, status=Status.RUNNING)
    log.finish_run(run_id, status=Status.CANCELLED)
    run = log.get_run(run_id)
    assert run.status is Status.CANCELLED and run.finished_at is not None
    assert run.duration_ms is None  # never started


def test_step_and_attempt_errors(log):
    run_id = _new(log)
    with pytest.raises(KeyError):
        log.start_attempt(run_id, "nope")
    with pytest.raises(KeyError):
        log.start_attempt("missing", "fetch")
    with pytest.raises(KeyError):
        log.finish_attempt(run_id, "fetch", 1, status=Status.SUCCEEDED)
    with pytest.raises(KeyError):
        log.set_step_status(run_id, "nope", Status.FAILED)
    with pytest.raises(ValueError):
        log.set_step_status(run_id, "fetch", "bogus")


def test_outputs_round_trip_and_strict_json(log):
    run_id = _new(log)
    value = {"rows": 3, "skus": ["a", "b"], "ratio": 0.5, "nested": {"ok": True, "n": None}}
    log.save_output(run_id, "fetch", value)
    assert log.load_output(run_id, "fetch") == value
    log.save_output(run_id, "fetch", [1, 2])  # overwrite
    assert log.load_output(run_id, "fetch") == [1, 2]
    log.save_output(run_id, "clean", None)
    assert log.load_output(run_id, "clean") is None
    with pytest.raises(KeyError):
        log.load_output(run_id, "load")
    with pytest.raises(TypeError):
        log.save_output(run_id, "load", object())
    with pytest.raises(TypeError):
        log.save_output(run_id, "load", float("nan"))
    with pytest.raises(KeyError):
        log.save_output(run_id, "nope", 1)


def test_finish_attempt_saves_the_output_in_the_same_transaction(log):
    run_id = _new(log)
    log.claim_requested("w")
    n = log.start_attempt(run_id, "fetch")
    before = log.version()
    with pytest.raises(TypeError):  # not JSON: nothing written, the attempt stays open
        log.finish_attempt(run_id, "fetch", n, status=Status.SUCCEEDED, output=object())
    assert log.version() == before
    assert log.get_attempts(run_id, "fetch")[0].status is Status.RUNNING
    with pytest.raises(KeyError):
        log.load_output(run_id, "fetch")
    log.finish_attempt(run_id, "fetch", n, status=Status.SUCCEEDED, output={"rows": 3})
    assert log.load_output(run_id, "fetch") == {"rows": 3}
    assert log.get_steps(run_id)[0].status is Status.SUCCEEDED
    n = log.start_attempt(run_id, "clean")
    log.finish_attempt(run_id, "clean", n, status=Status.SUCCEEDED, output=None)
    assert log.load_output(run_id, "clean") is None  # None is an output (JSON null)
    n = log.start_attempt(run_id, "load")
    log.finish_attempt(run_id, "load", n, status=Status.SUCCEEDED)  # no output given
    with pytest.raises(KeyError):
        log.load_output(run_id, "load")
    kinds = [(e.kind, e.step, e.status) for e in log.events_since(0) if e.step == "fetch"]
    assert kinds == [("step", "fetch", "running"), ("attempt", "fetch", "running"),
                     ("attempt", "fetch", "succeeded"), ("step", "fetch", "succeeded")]


def test_writers_of_one_process_queue_on_its_lock(tmp_path):
    with SqliteRunLog(tmp_path / "runs.db") as log:
        errors: list[BaseException] = []

        def write() -> None:
            try:
                for _ in range(30):
                    _new(log)
            except BaseException as exc:  # pragma: no cover - the failure being tested
                errors.append(exc)

        threads = [threading.Thread(target=write) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert log.list_runs()[1] == 120
        lock = log._pool._write_lock
        assert lock.acquire(blocking=False)  # released after every write
        try:  # a writer that cannot get it within busy_timeout_s says so
            log._pool.busy_timeout_s = 0.05
            with pytest.raises(sqlite3.OperationalError, match="database is locked"):
                _new(log)
        finally:
            lock.release()
        _new(log)


def test_on_commit_calls_back_after_writes_that_append_events(log):
    calls: list[int] = []
    stop = log.on_commit(lambda: calls.append(log.last_event_id()))
    run_id = _new(log)
    assert calls == [log.last_event_id()]  # after the commit: the event is readable
    log.heartbeat("w1")  # no event: no call
    log.save_output(run_id, "fetch", 1)
    assert len(calls) == 1

    def broken() -> None:
        raise RuntimeError("listener bug")

    stop_broken = log.on_commit(broken)
    _new(log)  # a failing listener neither fails the write nor stops the others
    assert len(calls) == 2
    stop()
    stop()  # idempotent
    stop_broken()
    _new(log)
    assert len(calls) == 2


def test_restart_reuses_steps_and_copies_outputs(log):
    first = _new(log)
    log.save_output(first, "fetch", {"rows": 42})
    log.finish_run(first, status=Status.FAILED, failed_step="clean")
    second = _new(log, trigger="restart", parent_run_id=first, from_step="clean",
                  reused={"fetch": first})
    fetch, clean, _ = log.get_steps(second)
    assert fetch.status is Status.SUCCEEDED and fetch.reused_from == first
    assert clean.status is Status.PENDING and clean.reused_from is None
    assert log.load_output(second, "fetch") == {"rows": 42}
    log.save_output(first, "fetch", {"rows": 0})  # a copy, not a reference
    assert log.load_output(second, "fetch") == {"rows": 42}
    run = log.get_run(second)
    assert (run.parent_run_id, run.from_step, run.trigger) == (first, "clean", "restart")
    # a chain of restarts keeps carrying the output
    third = _new(log, trigger="restart", parent_run_id=second, reused={"fetch": second})
    assert log.load_output(third, "fetch") == {"rows": 42}


def test_reuse_errors_write_nothing(log):
    first = _new(log)
    version = log.version()
    with pytest.raises(ValueError, match="not steps"):
        log.create_run(pipeline="orders", kind="batch", trigger="restart", steps=STEPS,
                       reused={"nope": first})
    with pytest.raises(KeyError):
        log.create_run(pipeline="orders", kind="batch", trigger="restart", steps=STEPS,
                       reused={"fetch": "missing-run"})
    with pytest.raises(ValueError, match="duplicate"):
        log.create_run(pipeline="orders", kind="batch", trigger="manual",
                       steps=[("a", []), ("a", [])])
    assert log.version() == version and log.list_runs()[1] == 1


def test_claim_order_and_pipeline_filter(log):
    a = _new(log, pipeline="a")
    b = _new(log, pipeline="b")
    c = _new(log, pipeline="a")
    assert log.claim_requested("w", pipelines=[]) is None
    assert log.claim_requested("w", pipelines=["b"]).run_id == b
    assert log.claim_requested("w", pipelines=["b"]) is None
    assert log.claim_requested("w").run_id == a
    assert log.claim_requested("w", pipelines=["a", "zzz"]).run_id == c
    assert log.claim_requested("w") is None


def test_list_runs_order_filters_and_paging(log):
    ids = [_new(log, pipeline="a" if i % 2 else "b") for i in range(7)]
    log.claim_requested("w")  # ids[0] -> running
    runs, total = log.list_runs()
    assert total == 7
    keys = [(r.created_at, r.run_id) for r in runs]
    assert keys == sorted(keys, reverse=True)
    assert {r.run_id for r in runs} == set(ids)
    page, total = log.list_runs(limit=3, offset=3)
    assert total == 7 and [r.run_id for r in page] == [r.run_id for r in runs[3:6]]
    a_runs, a_total = log.list_runs(pipeline="a")
    assert a_total == 3 and all(r.pipeline == "a" for r in a_runs)
    running, n = log.list_runs(status="running")
    assert n == 1 and running[0].run_id == ids[0]
    assert log.list_runs(status=Status.REQUESTED)[1] == 6
    assert log.list_runs(pipeline="b", status="running")[1] == 1
    assert log.list_runs(since=datetime.now(UTC) + timedelta(hours=1)) == ([], 0)
    assert log.list_runs(since=runs[2].created_at)[1] >= 3
    assert log.list_runs(limit=0) == ([], 7)


def test_watermarks_accumulate(log):
    assert log.last_watermark("stream") is None
    run_id = _new(log, pipeline="stream", kind="streaming")
    log.commit_watermark(run_id, "stream", "offset=10", rows=10)
    log.commit_watermark(run_id, "stream", "offset=25", rows=15)
    log.commit_watermark(run_id, "other", "x", rows=1)
    wm = log.last_watermark("stream")
    assert (wm.value, wm.run_id, wm.rows_total, wm.batches_total) == (
        "offset=25", run_id, 25, 2)
    assert wm.committed_at.tzinfo is not None
    with pytest.raises(ValueError):
        log.commit_watermark(run_id, "stream", "bad", rows=-1)
    kinds = [e.kind for e in log.events_since(0)]
    assert kinds.count("watermark") == 3


def test_schedule_fire_claimed_once(log):
    at = datetime(2026, 11, 22, 6, 0, tzinfo=UTC)
    assert log.claim_schedule_fire("orders", at) is True
    assert log.claim_schedule_fire("orders", at) is False
    assert log.claim_schedule_fire("orders", at.replace(tzinfo=None)) is False  # naive = UTC
    assert log.claim_schedule_fire("orders", at + timedelta(minutes=1)) is True
    assert log.claim_schedule_fire("other", at) is True


def test_version_and_events(log):
    v0 = log.version()
    run_id = _new(log)
    v1 = log.version()
    assert v1 > v0
    log.heartbeat("w1")
    log.claim_schedule_fire("orders", datetime(2026, 1, 1, tzinfo=UTC))
    assert log.version() == v1  # invisible to the API: no ETag churn
    log.claim_requested("w1")
    n = log.start_attempt(run_id, "fetch")
    log.finish_attempt(run_id, "fetch", n, status=Status.SUCCEEDED)
    log.save_output(run_id, "fetch", 1)
    log.finish_run(run_id, status=Status.SUCCEEDED)
    assert log.version() > v1
    events = log.events_since(0)
    assert [(e.kind, e.status, e.step) for e in events] == [
        ("run", "requested", None), ("run", "running", None),
        ("step", "running", "fetch"), ("attempt", "running", "fetch"),
        ("attempt", "succeeded", "fetch"), ("step", "succeeded", "fetch"),
        ("run", "succeeded", None)]
    assert all(e.run_id == run_id and e.pipeline == "orders" for e in events)
    ids = [e.id for e in events]
    assert ids == sorted(ids)
    assert [e.id for e in log.events_since(ids[2], limit=2)] == ids[3:5]
    assert log.events_since(ids[-1]) == []


def test_schema_is_versioned_and_reopens(tmp_path):
    path = tmp_path / "runs.db"
    with SqliteRunLog(path) as log:
        run_id = _new(log)
    with SqliteRunLog(path) as log:
        assert log.get_run(run_id) is not None
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    finally:
        conn.close()
    with pytest.raises(FlowwidgetsError, match="newer"):
        SqliteRunLog(path)


def test_memory_database_is_refused():
    with pytest.raises(ValueError, match="file"):
        SqliteRunLog(":memory:")


def test_close_closes_everything_and_refuses_use(tmp_path):
    log = SqliteRunLog(tmp_path / "runs.db")
    barrier = threading.Barrier(4)

    def work():
        barrier.wait()
        for _ in range(20):
            _new(log)
            log.list_runs(limit=5)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    opened = set(log._pool._open)
    assert 1 <= len(opened) <= 5  # one per thread inside at once, plus the opener
    log.close()
    assert log._pool._open == set()
    for conn in opened:
        with pytest.raises(sqlite3.ProgrammingError):
            conn.execute("SELECT 1")
    with pytest.raises(sqlite3.ProgrammingError):
        log.version()
    log.close()  # idempotent


def test_threads_claim_each_run_once(log):
    ids = {_new(log) for _ in range(60)}
    claimed: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(4)

    def worker(name):
        barrier.wait()
        while (run := log.claim_requested(name)) is not None:
            with lock:
                claimed.append(run.run_id)

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claimed) == sorted(ids)


def test_claims_are_fifo_even_within_one_millisecond(log):
    ids = [_new(log, steps=[]) for _ in range(30)]
    assert [log.claim_requested("w").run_id for _ in ids] == ids


def test_last_event_id(log):
    assert log.last_event_id() == 0
    run_id = _new(log)
    log.finish_run(run_id, status=Status.CANCELLED)
    assert log.last_event_id() == log.events_since(0)[-1].id == 2


def test_reads_go_on_while_another_connection_holds_the_write_lock(tmp_path):
    path = tmp_path / "runs.db"
    with SqliteRunLog(path, busy_timeout_s=0.2) as log:
        run_id = _new(log)
        other = sqlite3.connect(path, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("UPDATE runs SET error = 'uncommitted'")
            assert log.get_run(run_id).error is None  # WAL: readers see the last commit
            assert log.list_runs()[1] == 1 and log.version() >= 1
            t0 = time.perf_counter()
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                log.finish_run(run_id, status=Status.CANCELLED)
            assert 0.15 < time.perf_counter() - t0 < 5  # waited busy_timeout_s, then gave up
            other.execute("ROLLBACK")
        finally:
            other.close()
        log.finish_run(run_id, status=Status.CANCELLED)  # the failed write left no trace
        assert log.get_run(run_id).status is Status.CANCELLED


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_forked_child_opens_its_own_connections(tmp_path):
    log = SqliteRunLog(tmp_path / "runs.db")
    try:
        _new(log)
        pid = os.fork()
        if pid == 0:  # child: must not touch the parent's connections
            code = 1
            try:
                _new(log, pipeline="child")
                code = 0 if log.list_runs()[1] == 2 else 2
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert {r.pipeline for r in log.list_runs()[0]} == {"orders", "child"}
        _new(log)  # the parent's pooled connections still work
    finally:
        log.close()
