"""pipeline_stats over the whole history: correctness on a handmade history, and speed
(with list_runs) on 100,000 runs, cross-checked against plain Python."""

from __future__ import annotations

import random
import sqlite3
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from flowwidgets.models import Status
from flowwidgets.runner.sqlite import SqliteRunLog
from flowwidgets.runner.store import RunRecord, StepRecord

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
S, F, C = Status.SUCCEEDED, Status.FAILED, Status.CANCELLED


def _rec(run_id, pipeline, created, status, seconds=None, started=True):
    start = created + timedelta(seconds=1) if started else None
    end = None
    if seconds is not None:
        end = start + timedelta(seconds=seconds)
    return RunRecord(run_id=run_id, pipeline=pipeline, kind="batch", status=status,
                     trigger="schedule", created_at=created, started_at=start,
                     finished_at=end)


HANDMADE = [
    _rec("o00", "orders", NOW - timedelta(days=30), F, 100),
    _rec("o01", "orders", NOW - timedelta(days=30, hours=-1), F, 100),
    _rec("o02", "orders", NOW - timedelta(days=7, milliseconds=1), F, 100),  # just outside
    _rec("o03", "orders", NOW - timedelta(days=7), F, 5),  # on the boundary: inside
    _rec("o04", "orders", NOW - timedelta(days=6), S, 10),
    _rec("o05", "orders", NOW - timedelta(days=5), S, 20),
    _rec("o06", "orders", NOW - timedelta(days=4), S, 30),
    _rec("o07", "orders", NOW - timedelta(days=3), S, 40),
    _rec("o08", "orders", NOW - timedelta(days=2), C, 1),
    _rec("o09", "orders", NOW - timedelta(days=1), S, 50),
    _rec("o10", "orders", NOW - timedelta(hours=2), Status.RUNNING),
    _rec("o11", "orders", NOW - timedelta(hours=1), Status.REQUESTED, started=False),
    _rec("x0", "extra", NOW - timedelta(days=8), S, 9),
    _rec("x1", "extra", NOW - timedelta(days=9), F, 1),
    _rec("x2", "extra", NOW - timedelta(days=10), S, 2),
]


def test_stats_on_handmade_history(tmp_path):
    with SqliteRunLog(tmp_path / "runs.db") as log:
        v = log.version()
        assert log.import_runs(reversed(HANDMADE)) == len(HANDMADE)
        assert log.version() == v + 1 and log.events_since(0) == []
        stats = log.pipeline_stats(["ghost", "orders"], now=NOW)

    assert list(stats) == ["ghost", "orders", "extra"]
    ghost = stats["ghost"]
    assert (ghost.total_runs, ghost.latest_run, ghost.recent_runs, ghost.median_duration_ms,
            ghost.failure_rate_7d) == (0, None, (), None, None)

    orders = stats["orders"]
    assert orders.total_runs == 12
    assert [r.run_id for r in orders.recent_runs] == [f"o{i:02d}" for i in range(2, 12)]
    assert orders.latest_run.run_id == "o11" and orders.latest_run.status is Status.REQUESTED
    # durations 1, 5, 10, 20, 30, 40, 50, 100, 100, 100 s: middle pair 30 and 40
    assert orders.median_duration_ms == 35_000
    # last 7 days (boundary included): o03 failed; o04-o07, o09 succeeded; o08 cancelled
    assert orders.failure_rate_7d == pytest.approx(1 / 6)

    extra = stats["extra"]
    assert extra.total_runs == 3 and extra.median_duration_ms == 2_000  # 1, 2, 9 s
    assert extra.failure_rate_7d is None  # nothing in the last 7 days
    assert [r.run_id for r in extra.recent_runs] == ["x2", "x1", "x0"]


def test_import_round_trips_records_and_is_all_or_nothing(tmp_path):
    run = _rec("r1", "orders", NOW, F, 2.5)
    step = StepRecord(run_id="r1", name="fetch", status=F, depends_on=("a", "b"), position=0,
                      started_at=NOW, finished_at=NOW + timedelta(seconds=1), error="x",
                      attempts=3)
    with SqliteRunLog(tmp_path / "runs.db") as log:
        log.import_runs([run], [step])
        assert log.get_run("r1") == run and log.get_run("r1").duration_ms == 2500
        assert log.get_steps("r1") == [step]
        with pytest.raises(sqlite3.IntegrityError):
            log.import_runs([_rec("r2", "orders", NOW, S, 1), run])  # r1 again
        assert log.get_run("r2") is None
        with pytest.raises(sqlite3.IntegrityError):
            log.import_runs([], [StepRecord(run_id="nope", name="a", status=S)])


N_RUNS = 100_000
PIPELINES = [f"pipe{i:02d}" for i in range(20)]


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """A log with 100,000 finished or running runs over 200 days, and the records."""
    rng = random.Random(7)
    records = []
    for i in range(N_RUNS):
        created = NOW - timedelta(seconds=rng.randrange(200 * 86400), milliseconds=i % 1000)
        roll = rng.random()
        status = S if roll < 0.9 else F if roll < 0.98 else C if roll < 0.995 else \
            Status.RUNNING
        seconds = None if status is Status.RUNNING else rng.randrange(1, 3_600_000) / 1000
        records.append(_rec(f"run-{i:06d}", rng.choice(PIPELINES), created, status, seconds))
    log = SqliteRunLog(tmp_path_factory.mktemp("big") / "runs.db")
    t0 = time.perf_counter()
    log.import_runs(records)
    print(f"\nimport_runs: {N_RUNS:,} runs in {time.perf_counter() - t0:.2f} s")
    yield log, records
    log.close()


def _timed(label, fn):
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    print(f"{label}: best of 3 {best * 1000:.1f} ms")
    assert best < 2.0, f"{label} took {best:.2f} s on {N_RUNS:,} runs"
    return result


def test_stats_on_100k_runs_are_fast_and_right(big):
    log, records = big
    stats = _timed("pipeline_stats (20 pipelines)",
                   lambda: log.pipeline_stats(PIPELINES[:10], now=NOW))
    assert sorted(stats) == PIPELINES
    week_ago = NOW - timedelta(days=7)
    for name in (PIPELINES[0], PIPELINES[13]):
        mine = [r for r in records if r.pipeline == name]
        durations = sorted(r.duration_ms for r in mine if r.duration_ms is not None)
        m = len(durations)
        median = (durations[(m - 1) // 2] + durations[m // 2]) // 2
        week = [r for r in mine if r.created_at >= week_ago and r.status in (S, F)]
        newest = sorted(mine, key=lambda r: (r.created_at, r.run_id))[-10:]
        got = stats[name]
        assert got.total_runs == len(mine)
        assert got.median_duration_ms == median
        assert got.failure_rate_7d == pytest.approx(
            sum(r.status is F for r in week) / len(week))
        assert [r.run_id for r in got.recent_runs] == [r.run_id for r in newest]


def test_list_runs_on_100k_runs_is_fast(big):
    log, records = big
    page, total = _timed("list_runs(limit=50)", lambda: log.list_runs(limit=50))
    assert total == N_RUNS
    newest = sorted(records, key=lambda r: (r.created_at, r.run_id), reverse=True)[:50]
    assert [r.run_id for r in page] == [r.run_id for r in newest]
    page, total = _timed("list_runs(pipeline, status=failed)",
                         lambda: log.list_runs(pipeline=PIPELINES[3], status="failed"))
    assert total == sum(r.pipeline == PIPELINES[3] and r.status is F for r in records)
    _timed("list_runs(offset=90,000)", lambda: log.list_runs(limit=50, offset=90_000))
    _timed("list_runs(since=7 days)", lambda: log.list_runs(since=NOW - timedelta(days=7)))
    _timed("version()", log.version)


def _brute(path, name, now):
    """(median, 7-day failure rate) of one pipeline computed from the runs table alone."""
    conn = sqlite3.connect(path)
    try:
        durations = sorted(d for (d,) in conn.execute(
            "SELECT duration_ms FROM runs WHERE pipeline = ? AND duration_ms IS NOT NULL",
            (name,)))
        week = [s for (s,) in conn.execute(
            "SELECT status FROM runs WHERE pipeline = ? AND created_at >= ? AND status IN "
            "('failed', 'succeeded')", (name, (now - timedelta(days=7)).isoformat(
                timespec="milliseconds")[:-6] + "Z"))]
    finally:
        conn.close()
    m = len(durations)
    median = (durations[(m - 1) // 2] + durations[m // 2]) // 2 if m else None
    rate = sum(s == "failed" for s in week) / len(week) if week else None
    return median, rate


def test_maintained_statistics_follow_any_write(tmp_path):
    """The trigger-kept histograms give the exact median and rate after imports, the
    log's own writes and plain SQL (durations across every level, negative ones, renames,
    deletions, status changes, runs on both sides of the window's first hour)."""
    path = tmp_path / "runs.db"
    rng = random.Random(3)
    spans = [0, 1, 1023, 1024, 1025, (1 << 20) - 1, 1 << 20, 5_000_000, 90_000]
    records = []
    for i in range(400):
        created = NOW - timedelta(days=7, minutes=rng.randrange(-90, 90),
                                  milliseconds=rng.randrange(1000))
        if i % 3 == 0:
            created = NOW - timedelta(days=rng.randrange(30), seconds=rng.randrange(86400))
        ms = rng.choice(spans) + rng.randrange(3)
        status = rng.choice([S, S, F, C])
        rec = _rec(f"r{i:03d}", rng.choice(["a", "b"]), created, status)
        records.append(replace(rec, finished_at=rec.started_at + timedelta(milliseconds=ms)))
    with SqliteRunLog(path) as log:
        log.import_runs(records)
        run_id, _ = log.create_run(pipeline="a", kind="batch", trigger="manual",
                                   steps=[("x", [])])
        log.claim_requested("w")
        log.finish_run(run_id, status=Status.FAILED)

        def check():
            stats = log.pipeline_stats(["a", "b"], now=NOW)
            for name in ("a", "b", "c"):
                if name in stats:
                    got = stats[name]
                    assert (got.median_duration_ms, got.failure_rate_7d) == \
                        _brute(path, name, NOW), name

        check()
        conn = sqlite3.connect(path, isolation_level=None)
        try:
            conn.execute("UPDATE runs SET duration_ms = -5 WHERE run_id = 'r001'")
            conn.execute("UPDATE runs SET duration_ms = NULL WHERE run_id = 'r002'")
            conn.execute("UPDATE runs SET pipeline = 'c' WHERE run_id IN ('r003', 'r004')")
            conn.execute("UPDATE runs SET status = 'failed' WHERE status = 'succeeded' "
                         "AND rowid % 5 = 0")
            conn.execute("UPDATE runs SET created_at = '2026-11-15T12:30:00.000Z' "
                         "WHERE run_id = 'r005'")
            conn.execute("DELETE FROM runs WHERE rowid % 7 = 0")
        finally:
            conn.close()
        check()


def test_an_import_puts_back_the_triggers_it_set_aside(tmp_path):
    path = tmp_path / "runs.db"

    def triggers():
        conn = sqlite3.connect(path)
        try:
            return conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
                                "ORDER BY name").fetchall()
        finally:
            conn.close()

    with SqliteRunLog(path) as log:
        before = triggers()
        assert len(before) >= 6
        log.import_runs(HANDMADE)
        assert triggers() == before
        with pytest.raises(sqlite3.IntegrityError):  # a duplicate id: nothing imported
            log.import_runs([HANDMADE[0]])
        assert triggers() == before
        run_id, _ = log.create_run(pipeline="orders", kind="batch", trigger="manual",
                                   steps=[("x", [])])
        log.claim_requested("w")
        log.finish_run(run_id, status=Status.SUCCEEDED)  # the triggers count this one
        assert log.pipeline_stats([], now=NOW)["orders"].total_runs == 13
        assert _brute(path, "orders", NOW)[0] == \
            log.pipeline_stats([], now=NOW)["orders"].median_duration_ms


@pytest.mark.parametrize("reindex_below", [1_000, 0])
def test_an_import_puts_back_the_runs_indexes_it_set_aside(tmp_path, monkeypatch,
                                                          reindex_below):
    """Into a small log the secondary indexes of ``runs`` are dropped and built after the
    rows (``reindex_below`` 0: kept and updated row by row); either way the schema ends
    as it was, a failed import changes nothing and the pages read the new rows."""
    from flowwidgets.runner import _sqlite_import

    monkeypatch.setattr(_sqlite_import, "REINDEX_BELOW", reindex_below)
    path = tmp_path / "runs.db"

    def schema():
        conn = sqlite3.connect(path)
        try:
            return conn.execute("SELECT type, name, sql FROM sqlite_master "
                                "ORDER BY type, name").fetchall()
        finally:
            conn.close()

    with SqliteRunLog(path) as log:
        before = schema()
        assert sum(1 for t, _, sql in before if t == "index" and sql) >= 5
        log.import_runs(HANDMADE)
        assert schema() == before
        with pytest.raises(sqlite3.IntegrityError):  # a duplicate id: nothing imported
            log.import_runs([_rec("fresh", "orders", NOW, S, 1), HANDMADE[0]])
        assert schema() == before and log.get_run("fresh") is None
        page, total = log.list_runs(pipeline="orders", limit=100)
        assert total == sum(1 for r in HANDMADE if r.pipeline == "orders")
        assert [r.run_id for r in page] == [r.run_id for r in sorted(
            (r for r in HANDMADE if r.pipeline == "orders"),
            key=lambda r: (r.created_at, r.run_id), reverse=True)]
        conn = sqlite3.connect(path)
        try:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        finally:
            conn.close()


def test_the_pair_walk_equals_two_walks_and_sorting(tmp_path):
    """``kth_pair`` (one walk while the two ranks share a bucket) gives what two
    ``kth_duration`` walks and a plain sort give, at every rank: durations on both sides
    of level-1 and level-2 bucket edges, repeated values, buckets emptied by deletes, and
    one rank past the end."""
    from flowwidgets.runner._sqlite_stats import kth_duration, kth_pair, median_duration

    rng = random.Random(7)
    edges = [0, 1, 1023, 1024, 1025, 2047, 2048, (1 << 20) - 1, 1 << 20, (1 << 20) + 1,
             (1 << 21) + 5, 3_600_000]
    durations = edges + edges[:4] + [rng.choice(edges) + rng.randrange(-2, 3) for _ in range(60)]
    durations = [777_777, 5_555_555, 12_345] + [max(0, d) for d in durations]
    records = [_rec(f"p{i:03d}", "pairs", NOW - timedelta(hours=i), S, d / 1000)
               for i, d in enumerate(durations)]
    with SqliteRunLog(tmp_path / "runs.db") as log:
        log.import_runs(records)
        with sqlite3.connect(tmp_path / "runs.db") as conn:
            # empty a few buckets (zero-count rows stay in the histogram)
            conn.execute("DELETE FROM runs WHERE run_id IN ('p000', 'p001', 'p002')")
            conn.commit()
            kept = sorted(durations[3:])
            assert conn.execute("SELECT COUNT(*) FROM duration_hist WHERE n = 0").fetchone()[0]
            for rank in range(len(kept)):
                want = (kept[rank], kept[rank + 1] if rank + 1 < len(kept) else None)
                assert kth_pair(conn, "pairs", rank) == want, rank
                assert (kth_duration(conn, "pairs", rank),
                        kth_duration(conn, "pairs", rank + 1)) == want
            assert kth_pair(conn, "pairs", len(kept)) == (None, None)
            assert kth_pair(conn, "nobody", 0) == (None, None)
            for n in range(1, len(kept) + 1):  # the median of the n smallest, as sorted
                sub = kept[:n]
                conn.execute("SAVEPOINT s")
                conn.execute("DELETE FROM runs WHERE pipeline = 'pairs' AND duration_ms > ?",
                             (sub[-1],))
                left = sorted(r for (r,) in conn.execute(
                    "SELECT duration_ms FROM runs WHERE pipeline = 'pairs'"))
                m = len(left)
                assert median_duration(conn, "pairs", m) == \
                    (left[(m - 1) // 2] + left[m // 2]) // 2
                conn.execute("ROLLBACK TO s")
                conn.execute("RELEASE s")
