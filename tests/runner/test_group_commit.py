"""Group commit: step writes that threads queue while another one commits are committed
together, in the order they were queued, each thread returning once the commit that holds
its write is done. A write that raises keeps nothing, and costs the others nothing; a
fenced write whose claim is gone, or a write to a cancelled run, writes nothing, with the
pipeline cached or not."""

from __future__ import annotations

import random
import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from flowwidgets.models import Status
from flowwidgets.runner import _sqlite_fast, _sqlite_pool, _sqlite_tx
from flowwidgets.runner._sqlite_tx import now_ms, ts
from flowwidgets.runner.sqlite import SqliteRunLog
from flowwidgets.runner.store import ClaimLost

STEPS: list[tuple[str, list[str]]] = [("a", []), ("b", []), ("c", []), ("d", [])]


@pytest.fixture
def store(tmp_path):
    with SqliteRunLog(tmp_path / "runs.sqlite") as log:
        yield log


def _claimed(store, worker="w1"):
    run_id, _ = store.create_run(pipeline="p", kind="batch", trigger="manual", steps=STEPS)
    assert store.claim_requested(worker).run_id == run_id
    return run_id


def _queue_behind_the_lock(store, calls):
    """Start one thread per call while this thread holds the write lock, each once the
    previous one's write is queued; returns the threads and their results."""
    pool = store._pool
    results: dict[int, object] = {}

    def run(i, fn):
        try:
            results[i] = fn()
        except Exception as exc:
            results[i] = exc

    threads = []
    for i, fn in enumerate(calls):
        t = threading.Thread(target=run, args=(i, fn))
        t.start()
        threads.append(t)
        deadline = time.monotonic() + 10
        while len(pool._queue) < i + 1:
            assert time.monotonic() < deadline, "the write was never queued"
            time.sleep(0.001)
    return threads, results


def _events(store, run_id):
    return [(e.kind, e.step, e.status, e.at) for e in store.events_since(0, limit=1000)
            if e.run_id == run_id]


def test_writes_queued_during_a_commit_share_one_transaction_in_order(store):
    fenced = store.fenced("w1")
    run_id = _claimed(store)
    commits: list[int] = []
    store.on_commit(lambda: commits.append(1))
    lock = store._pool._write_lock
    lock.acquire()
    try:
        threads, results = _queue_behind_the_lock(
            store, [lambda s=s: fenced.start_attempt(run_id, s) for s in "cab"])
    finally:
        lock.release()
    for t in threads:
        t.join(10)
    assert results == {0: 1, 1: 1, 2: 1}
    assert len(commits) == 1  # one transaction for the three
    events = _events(store, run_id)[2:]
    assert [(k, s, st) for k, s, st, _ in events] == [
        (kind, step, "running") for step in "cab" for kind in ("step", "attempt")]
    assert len({at for *_, at in events}) == 1  # one clock reading
    steps = {s.name: s for s in store.get_steps(run_id)}
    assert all(steps[n].status is Status.RUNNING and steps[n].attempts == 1 for n in "abc")
    assert steps["d"].status is Status.PENDING


def test_a_write_that_raises_in_a_batch_keeps_nothing_and_the_others_commit(store):
    fenced = store.fenced("w1")
    run_id = _claimed(store)
    lock = store._pool._write_lock
    lock.acquire()
    try:
        threads, results = _queue_behind_the_lock(store, [
            lambda: fenced.start_attempt(run_id, "a"),
            lambda: fenced.finish_attempt(run_id, "b", 1, status=Status.SUCCEEDED,
                                          output={"x": 1}),  # b has no attempt 1
            lambda: fenced.start_attempt(run_id, "nope"),
            lambda: fenced.start_attempt(run_id, "c")])
    finally:
        lock.release()
    for t in threads:
        t.join(10)
    assert results[0] == 1 and results[3] == 1
    assert isinstance(results[1], KeyError) and "no attempt 1" in str(results[1])
    assert isinstance(results[2], KeyError) and "no step 'nope'" in str(results[2])
    with pytest.raises(KeyError):
        store.load_output(run_id, "b")
    steps = {s.name: s for s in store.get_steps(run_id)}
    assert steps["b"].status is Status.PENDING and steps["b"].attempts == 0
    assert [(k, s) for k, s, _, _ in _events(store, run_id)[2:]] == [
        ("step", "a"), ("attempt", "a"), ("step", "c"), ("attempt", "c")]


def test_a_queued_write_gives_up_after_the_busy_timeout_and_leaves_no_trace(store):
    run_id = _claimed(store)
    store._pool.busy_timeout_s = 0.05
    lock = store._pool._write_lock
    lock.acquire()
    try:
        with pytest.raises(sqlite3.OperationalError, match="database is locked"):
            store.start_attempt(run_id, "a")
        assert len(store._pool._queue) == 0
    finally:
        lock.release()
    assert store.start_attempt(run_id, "a") == 1


@pytest.mark.parametrize("warm", [False, True])
def test_the_claim_and_the_cancel_are_checked_with_the_pipeline_cached_or_not(store, warm):
    mine, other = store.fenced("w1"), store.fenced("w2")
    run_id = _claimed(store)
    if warm:  # the pipeline is cached: the checks are in the UPDATEs themselves
        assert mine.start_attempt(run_id, "d") == 1
    else:
        store._pipelines.clear()
    before = store.version()
    with pytest.raises(ClaimLost):
        other.start_attempt(run_id, "a")
    with pytest.raises(ClaimLost):
        other.finish_attempt(run_id, "d", 1, status=Status.SUCCEEDED, start=["a"])
    assert store.version() == before
    store.cancel_run(run_id, by="test")
    before = store.version()
    assert mine.start_attempt(run_id, "a") == 0
    assert mine.finish_attempt(run_id, "d", 1, status=Status.SUCCEEDED, output=1,
                               start=["a", "b"]) == [0, 0]
    assert store.version() == before
    steps = {s.name: s for s in store.get_steps(run_id)}
    assert steps["a"].attempts == 0 and steps["b"].attempts == 0
    with pytest.raises(KeyError):
        store.load_output(run_id, "d")


def test_a_stale_cached_pipeline_takes_the_slow_path(store):
    run_id = _claimed(store)
    store._pipelines[run_id] = "not-its-pipeline"
    assert store.start_attempt(run_id, "a") == 1
    assert store._pipelines[run_id] == "p"
    assert {e.pipeline for e in store.events_since(0) if e.run_id == run_id} == {"p"}


def _script(log, run_id, cold):
    """Steps through a run: retries, a failure, outputs, children started with an end."""
    def go(fn, *args, **kw):
        if cold:
            log._pipelines.clear()
        return fn(*args, **kw)

    out = [go(log.start_attempt, run_id, "a")]
    out.append(go(log.finish_attempt, run_id, "a", 1, status=Status.FAILED, error="boom",
                  log_tail="tail"))
    out.append(go(log.start_attempt, run_id, "a"))
    out.append(go(log.finish_attempt, run_id, "a", 2, status=Status.SUCCEEDED,
                  output={"rows": 3, "k": [1]}, start=["b"]))
    out.append(go(log.finish_attempt, run_id, "b", 1, status=Status.SUCCEEDED, output=None))
    out.append(go(log.start_attempt, run_id, "c"))
    with pytest.raises(KeyError, match="no step 'nope'"):
        go(log.finish_attempt, run_id, "c", 1, status=Status.SUCCEEDED, output=1,
           start=["nope"])
    with pytest.raises(KeyError, match="no attempt 7"):
        go(log.finish_attempt, run_id, "c", 7, status=Status.SUCCEEDED)
    with pytest.raises(KeyError, match="no step 'nope'"):
        go(log.start_attempt, run_id, "nope")
    out.append(go(log.start_attempt, run_id, "d"))
    out.append(go(log.finish_attempt, run_id, "d", 1, status=Status.FAILED, error="once"))
    log.save_output(run_id, "c", {"saved": "before"})  # the end's output replaces it
    # a child tried before is started by the Python path (its number is not 1)
    out.append(go(log.finish_attempt, run_id, "c", 1, status=Status.SUCCEEDED, output=[1, 2],
                  start=["d"]))
    return out


def _state(log, run_id):
    run = log.get_run(run_id)
    steps = [(s.name, s.status, s.attempts, s.error, s.started_at is None,
              s.finished_at is None) for s in log.get_steps(run_id)]
    attempts = [(a.step, a.number, a.status, a.error, a.log_tail, a.finished_at is None)
                for s in "abcd" for a in log.get_attempts(run_id, s)]
    outputs = {}
    for s in "abcd":
        try:
            outputs[s] = log.load_output(run_id, s)
        except KeyError:
            pass
    events = [(e.kind, e.step, e.status, e.pipeline) for e in log.events_since(0)
              if e.run_id == run_id]
    status = log.status_steps(run_id)
    keys = {name: (entry["state"], entry["outputs"], entry["notes"])
            for name, entry in orjson.loads(orjson.dumps(status.steps)).items()}
    return run.attempt, steps, attempts, outputs, events, (keys, status.running)


def _through(path, cold, monkeypatch):
    """The script's numbers and the state it leaves, and how often the Python path read
    the run to check it."""
    calls: list[str] = []
    slow = SqliteRunLog._run

    def counted(self, tx, run_id):
        calls.append(run_id)
        return slow(self, tx, run_id)

    with SqliteRunLog(path) as log:
        fenced = log.fenced("w1")
        run_id = _claimed(log)
        if not cold:  # every write takes the one-statement path, but the refused ones
            fenced._pipelines[run_id] = "p"
        with monkeypatch.context() as m:
            m.setattr(SqliteRunLog, "_run", counted)
            numbers = _script(fenced, run_id, cold)
        return numbers, _state(log, run_id), len(calls)


def test_the_one_statement_writes_write_what_the_python_path_writes(tmp_path, monkeypatch):
    numbers, state, slow = _through(tmp_path / "fast.sqlite", False, monkeypatch)
    # the three refused writes (to say why), the retry of a and the child tried before
    assert slow == 5
    assert (numbers, state) == _through(tmp_path / "slow.sqlite", True, monkeypatch)[:2]
    attempt, steps, attempts, outputs, events, _ = state
    assert numbers == [1, [], 2, [1], [], 1, 1, [], [2]]
    assert attempt == 2
    assert outputs == {"a": {"rows": 3, "k": [1]}, "b": None, "c": [1, 2]}
    assert ("attempt", "a", "failed", "p") in events and events[-2:] == [
        ("step", "d", "running", "p"), ("attempt", "d", "running", "p")]


def test_the_clock_text_is_the_stored_time_format(tmp_path, monkeypatch):
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    rng = random.Random(15)
    samples = [0, 999_999_999, 1_000_000_000, 1_796_608_800_999_999_999,
               *(rng.randrange(0, 4_102_444_800 * 10**9) for _ in range(2000))]
    for ns in samples:  # the second's text is kept between calls: go back and forth
        want = ts(epoch + timedelta(microseconds=ns // 1000 // 1000 * 1000))
        assert _sqlite_tx.text_of_ns(ns) == want, ns
    before = ts(now_ms())
    text = _sqlite_tx.now_text()
    assert before <= text <= ts(now_ms())
    with SqliteRunLog(tmp_path / "c.sqlite") as log:  # a clock a test sets is the one used
        monkeypatch.setattr(_sqlite_pool, "now_ms", lambda: datetime(2030, 1, 2, 3, 4, 5,
                                                                     678000, tzinfo=UTC))
        assert log._pool._now_text() == "2030-01-02T03:04:05.678Z"


def test_an_sqlite_that_cannot_make_the_views_writes_through_the_python_path(
        tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(_sqlite_fast, "WRITER_SQL", "CREATE TEMP VIEW broken AS SELECT FROM;")
    with SqliteRunLog(tmp_path / "old.sqlite") as log:
        fenced = log.fenced("w1")
        run_id = _claimed(log)
        fenced._pipelines[run_id] = "p"  # the one-statement forms are asked for
        assert fenced.start_attempt(run_id, "a") == 1
        assert fenced.finish_attempt(run_id, "a", 1, status=Status.SUCCEEDED, output={"x": 1},
                                     start=["b"]) == [1]
        assert log._pool.fast_writes is False
        assert "one-statement writes are off" in caplog.text
        assert [(e.kind, e.step, e.status) for e in log.events_since(0)][2:] == [
            ("step", "a", "running"), ("attempt", "a", "running"),
            ("attempt", "a", "succeeded"), ("step", "a", "succeeded"),
            ("step", "b", "running"), ("attempt", "b", "running")]
        assert log.load_output(run_id, "a") == {"x": 1}


def test_a_write_queued_while_the_leader_commits_is_handed_the_lead(store):
    """The leader commits what it took; a write queued meanwhile is handed the lead and
    commits next, its thread returning once that commit is done (none waits for a timeout:
    the busy timeout is long)."""
    run_id = _claimed(store)
    pool = store._pool
    inside, go = threading.Event(), threading.Event()
    commits: list[int] = []
    store.on_commit(lambda: commits.append(1))

    def slow(tx):  # a Python-path write that holds its transaction open
        tx.event("run", run_id, "p", "running")
        inside.set()
        assert go.wait(10)
        return "slow"

    results: dict[str, object] = {}
    leader = threading.Thread(target=lambda: results.setdefault("a", pool.apply(slow)))
    leader.start()
    assert inside.wait(10)
    follower = threading.Thread(
        target=lambda: results.setdefault("b", store.start_attempt(run_id, "b")))
    follower.start()
    deadline = time.monotonic() + 10
    while len(pool._queue) < 1:  # queued behind the leader's commit, not taken by it
        assert time.monotonic() < deadline
        time.sleep(0.001)
    go.set()
    leader.join(10)
    follower.join(10)
    assert results == {"a": "slow", "b": 1}
    assert len(commits) == 2 and not pool._leading and not pool._queue
    steps = {s.name: s for s in store.get_steps(run_id)}
    assert steps["b"].status is Status.RUNNING and steps["b"].attempts == 1


def test_writes_queued_behind_a_leader_give_up_after_the_busy_timeout(store):
    """The leader waits for the write lock (held by another writer), the others wait on
    their own writes: all give up after the busy timeout, leave the queue, and the next
    write leads again."""
    run_id = _claimed(store)
    pool = store._pool
    pool.busy_timeout_s = 0.2
    lock = pool._write_lock
    lock.acquire()
    try:
        threads, results = _queue_behind_the_lock(
            store, [lambda s=s: store.start_attempt(run_id, s) for s in "abc"])
        for t in threads:
            t.join(10)
    finally:
        lock.release()
    assert all(isinstance(r, sqlite3.OperationalError) and "database is locked" in str(r)
               for r in results.values()), results
    assert not pool._queue and not pool._leading
    assert store.start_attempt(run_id, "a") == 1
    assert {s.name: s.attempts for s in store.get_steps(run_id)} == {
        "a": 1, "b": 0, "c": 0, "d": 0}


def test_the_writes_of_a_batch_are_one_statement_and_a_failed_check_undoes_it(store):
    """Rows of the one-statement write apply in order at one time; one row whose check
    fails (a step tried before) leaves nothing of the others."""
    run_id = _claimed(store)
    pool = store._pool
    fenced = store.fenced("w1")
    assert fenced.start_attempt(run_id, "c") == 1  # caches the pipeline
    rows = [_sqlite_fast.start_row(run_id, "p", "w1", s) for s in "ab"]
    before = store.version()
    with pool.connection() as conn:
        conn.executescript(_sqlite_fast.WRITER_SQL)
        with pytest.raises(_sqlite_fast.Slow):  # c was tried: its start is a retry
            _sqlite_fast.write(conn, "2030-01-01T00:00:00.000Z",
                               [*rows, _sqlite_fast.start_row(run_id, "p", "w1", "c")])
        assert store.version() == before
        _sqlite_fast.write(conn, "2030-01-01T00:00:00.000Z", rows)
        with pytest.raises(ValueError, match="at most"):
            _sqlite_fast.write(conn, "x", rows * _sqlite_fast.MAX_ROWS)
    assert [(k, s) for k, s, _, _ in _events(store, run_id)[4:]] == [
        ("step", "a"), ("attempt", "a"), ("step", "b"), ("attempt", "b")]
    steps = {s.name: s for s in store.get_steps(run_id)}
    assert steps["a"].attempts == steps["b"].attempts == 1


def test_a_follower_interrupted_while_handed_the_lead_passes_it_on(store):
    """A thread whose wait ends in an exception after the lead was handed to it passes the
    lead to the next write queued (else every later write would wait for a thread that is
    gone); one interrupted while queued just leaves the queue."""
    from flowwidgets.runner._sqlite_group import _Op

    pool = store._pool

    class Interrupted:
        def acquire(self, timeout=-1):
            raise KeyboardInterrupt

    gone, nxt, queued = _Op(lambda tx: None), _Op(lambda tx: None), _Op(lambda tx: None)
    nxt.wake = threading.Lock()
    nxt.wake.acquire()
    pool._queue.extend([gone, nxt])
    pool._leading, gone.lead = True, True  # the leader handed it the lead, then it died
    with pytest.raises(KeyboardInterrupt):
        pool._follow(gone, Interrupted())
    assert list(pool._queue) == [nxt] and nxt.lead and pool._leading
    assert nxt.wake.acquire(blocking=False)  # woken to lead
    pool._queue.append(queued)
    with pytest.raises(KeyboardInterrupt):
        pool._follow(queued, Interrupted())
    assert list(pool._queue) == [nxt]
    pool._queue.clear()
    pool._leading = False


def test_many_threads_writing_at_once_lose_nothing_and_leave_the_queue_clean(tmp_path):
    """8 threads, each through its own steps of one run: first starts (one-statement
    rows), ends with outputs, and retries (the Python path) mixed in the same batches.
    Every write is kept, each step's events are in its own order, and no lead is left."""
    names = [f"t{t}s{i}" for t in range(8) for i in range(12)]
    with SqliteRunLog(tmp_path / "many.sqlite") as log:
        run_id, _ = log.create_run(pipeline="p", kind="batch", trigger="manual",
                                   steps=[(n, []) for n in names])
        fenced = log.fenced("w1")
        assert fenced.claim_requested("w1").run_id == run_id
        errors: list[BaseException] = []

        def work(t):
            try:
                for i in range(12):
                    name = f"t{t}s{i}"
                    assert fenced.start_attempt(run_id, name) == 1
                    fenced.finish_attempt(run_id, name, 1, status=Status.FAILED, error="x")
                    assert fenced.start_attempt(run_id, name) == 2  # a retry: Python path
                    fenced.finish_attempt(run_id, name, 2, status=Status.SUCCEEDED,
                                          output={"t": t, "i": i})
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(60)
        assert errors == []
        assert not log._pool._queue and not log._pool._leading
        steps = {s.name: s for s in log.get_steps(run_id)}
        assert all(steps[n].status is Status.SUCCEEDED and steps[n].attempts == 2
                   for n in names)
        assert all(log.load_output(run_id, f"t{t}s{i}") == {"t": t, "i": i}
                   for t in range(8) for i in range(12))
        by_step: dict[str, list[tuple[str, str]]] = {}
        for e in log.events_since(0, limit=10_000):
            if e.run_id == run_id and e.step:
                by_step.setdefault(e.step, []).append((e.kind, e.status))
        want = [("step", "running"), ("attempt", "running"), ("attempt", "failed"),
                ("step", "running"), ("attempt", "running"), ("attempt", "succeeded"),
                ("step", "succeeded")]
        assert all(by_step[n] == want for n in names), by_step[names[0]]
