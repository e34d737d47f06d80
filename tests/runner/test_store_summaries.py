"""``list_run_summaries`` (the fast path of ``/api/runs``) gives exactly what the record
path gives (``list_runs`` then the API's ``run_summary``) for every filter and page, on a
real file with awkward data: runs not started or not finished, hostile strings, durations
that float arithmetic rounds wrong, several runs in one millisecond."""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from flowwidgets.models import Status
from flowwidgets.runner import _sqlite_pool
from flowwidgets.runner.api._payloads import run_summary
from flowwidgets.runner.sqlite import SqliteRunLog
from flowwidgets.runner.store import RUN_SUMMARY_FIELDS, RunRecord, StepRecord

T0 = datetime(2026, 11, 1, tzinfo=UTC)
PIPELINES = ("orders", "payments", "ünïcode \"quoted\"\n", "<script>x</script>")
STATUSES = (Status.SUCCEEDED, Status.FAILED, Status.RUNNING, Status.REQUESTED,
            Status.CANCELLED)


def _history(n: int) -> list[RunRecord]:
    rng = random.Random(3)
    runs = []
    for i in range(n):
        created = T0 + timedelta(milliseconds=rng.choice([0, 0, 1, 7]) + 1000 * (i // 3))
        status = rng.choice(STATUSES)
        started = None if status is Status.REQUESTED else created + timedelta(
            milliseconds=rng.randint(0, 50))
        finished = None
        if status in (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED) and started:
            finished = started + timedelta(milliseconds=rng.choice(
                [1001, 1003, 2005, 16_385, rng.randint(0, 10**7)]))
        runs.append(RunRecord(
            run_id=f"run-{i:05d}", pipeline=rng.choice(PIPELINES), kind="batch",
            status=status, trigger=rng.choice(["schedule", "manual", "restart"]),
            created_at=created, started_at=started, finished_at=finished,
            attempt=rng.randint(1, 3),
            failed_step="load\u2028\"x\"" if status is Status.FAILED else None,
            error="Traceback …\n  <b>x</b>\u2028ValueError: batch 47\n\n" if status is Status.FAILED
            else None,
            parent_run_id=f"run-{i - 1:05d}" if i and rng.random() < 0.1 else None))
    return runs


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SqliteRunLog]:
    with SqliteRunLog(tmp_path_factory.mktemp("summaries") / "runs.db") as log:
        log.import_runs(_history(2500))
        yield log


QUERIES = [
    {}, {"limit": 500}, {"limit": 500, "offset": 2200}, {"limit": 7, "offset": 2497},
    {"offset": 10**6}, {"limit": 0}, {"pipeline": "orders", "limit": 300, "offset": 40},
    {"pipeline": PIPELINES[2]}, {"pipeline": "nope"}, {"status": "failed", "limit": 500},
    {"status": "running", "offset": 100}, {"pipeline": PIPELINES[3], "status": "succeeded"},
    {"pipeline": "payments", "status": "requested", "limit": 500, "offset": 3},
]


@pytest.mark.parametrize("query", QUERIES, ids=[repr(q) for q in QUERIES])
def test_summaries_match_the_record_path(log: SqliteRunLog, query: dict) -> None:
    records, total = log.list_runs(**query)
    summaries, fast_total = log.list_run_summaries(**query)
    assert fast_total == total
    assert summaries == [run_summary(r) for r in records]
    # the ematix fields in order, then ours: the error's last line (and the import mark)
    assert all(tuple(s) == (*RUN_SUMMARY_FIELDS, "error_summary") for s in summaries)
    failed = [s for s in summaries if s["status"] == "failed"]
    assert all(s["error_summary"] == "ValueError: batch 47" for s in failed)


@pytest.mark.parametrize("query", QUERIES, ids=[repr(q) for q in QUERIES])
def test_encoded_summaries_are_the_summaries_json(log: SqliteRunLog, query: dict) -> None:
    """The JSON SQLite writes for /api/runs (``encoded_run_summaries``) holds the same
    values, keys in the same order, as the summaries' dicts."""
    import json

    summaries, total = log.list_run_summaries(**query)
    texts, encoded_total = log.encoded_run_summaries(**query)
    assert encoded_total == total
    decoded = [json.loads(t, object_pairs_hook=list) for t in texts]
    assert decoded == [list(s.items()) for s in summaries]


def test_encoded_summaries_of_hostile_runs(tmp_path: Path) -> None:
    """Errors of every shape (blank lines, unicode line breaks, control characters,
    nothing but spaces), every string kind, and extras that say imported in every way:
    the store's JSON equals the summaries' dicts, and /api/runs serves exactly those."""
    import json

    from fwtest.api import TestClient

    from flowwidgets.runner._local import LocalRunner
    from flowwidgets.runner.api import create_app
    from flowwidgets.runner.spec import PipelineSpec, StepSpec

    odd = ["", "   ", "\n\n", "x\r\ny", "a\u2028b", "a\x1cb\x1d", "\x00\x01\x7f",
           "tab\there\n  last line  \n", "\ud7ff\U0001f600 \"q\" \\ </script>", "é" * 300]
    extras: list[dict[str, Any]] = [{}, {"imported": True}, {"imported": 1}, {"imported": "yes"},
              {"imported": False}, {"imported": 0}, {"imported": None}, {"x": "imported"},
              {"imported": [1]}]
    records = []
    for i, text in enumerate(odd * 2):
        records.append(RunRecord(
            run_id=f"r{i:03d}{text[:3]}", pipeline=text or "p", kind=text or "batch",
            status=STATUSES[i % len(STATUSES)], trigger=text or "manual",
            created_at=T0 + timedelta(seconds=i), started_at=T0, finished_at=None,
            failed_step=text or None, error=text if i % 2 else None,
            parent_run_id=text or None, extras=extras[i % len(extras)]))
    runner = LocalRunner([PipelineSpec("p", (StepSpec("s", run="true"),))],
                         db=tmp_path / "runs.sqlite", data_dir=tmp_path)
    try:
        log = runner.store
        assert isinstance(log, SqliteRunLog)
        log.import_runs(records)
        summaries, _ = log.list_run_summaries(limit=500)
        texts, _ = log.encoded_run_summaries(limit=500)
        assert [json.loads(t, object_pairs_hook=list) for t in texts] == \
            [list(s.items()) for s in summaries]
        assert summaries == [run_summary(r) for r in log.list_runs(limit=500)[0]]
        assert any("imported" in s for s in summaries)
        assert not all("imported" in s for s in summaries)
        with TestClient(create_app(runner)) as c:
            page = c.get("/api/runs", params={"limit": 7}).json()
            assert page["runs"] == summaries[:7]
            walked = page["runs"]
            while page["next_cursor"]:
                page = c.get("/api/runs", params={"limit": 7,
                                                  "cursor": page["next_cursor"]}).json()
                walked += page["runs"]
            assert walked == summaries
    finally:
        runner.stop()


def test_totals_match_a_count(log: SqliteRunLog) -> None:
    all_runs, total = log.list_runs(limit=10**6)
    assert total == len(all_runs) == 2500
    assert [r.run_id for r in all_runs] == [r.run_id for r in sorted(
        all_runs, key=lambda r: (r.created_at, r.run_id), reverse=True)]
    for p in PIPELINES:
        for s in (None, *STATUSES):
            want = sum(1 for r in all_runs if r.pipeline == p and (s is None or r.status == s))
            assert log.list_run_summaries(pipeline=p, status=s, limit=1)[1] == want


def test_durations_are_whole_milliseconds() -> None:
    """``int(total_seconds() * 1000)`` says 1000 for 1001 ms; records and column agree."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    run = RunRecord(run_id="r", pipeline="p", kind="batch", status=Status.SUCCEEDED,
                    trigger="manual", created_at=start, started_at=start,
                    finished_at=start + timedelta(milliseconds=1001))
    step = StepRecord(run_id="r", name="s", status=Status.SUCCEEDED, started_at=start,
                      finished_at=start + timedelta(milliseconds=16_385))
    assert (run.duration_ms, step.duration_ms) == (1001, 16_385)
    early = RunRecord(run_id="r", pipeline="p", kind="batch", status=Status.SUCCEEDED,
                      trigger="manual", created_at=start, started_at=start,
                      finished_at=start - timedelta(milliseconds=3))  # a clock step back
    assert early.duration_ms == -3


def test_a_live_run_summarises_like_its_record(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs written by the log's own methods (not imported): same summaries."""
    clock = [T0]
    monkeypatch.setattr(_sqlite_pool, "now_ms", lambda: clock[0])
    with SqliteRunLog(tmp_path / "runs.db") as log:
        run_id, _ = log.create_run(pipeline="orders", kind="batch", trigger="manual",
                                   steps=[("a", [])])
        clock[0] = T0 + timedelta(seconds=1)
        log.claim_requested("w1")
        clock[0] = T0 + timedelta(seconds=2, milliseconds=1)
        log.finish_run(run_id, status=Status.FAILED, failed_step="a", error="boom")
        (summary,), total = log.list_run_summaries()
        assert total == 1 and summary == run_summary(log.get_run(run_id))
        assert summary["duration_ms"] == 1001 and summary["finished_at"] == (
            "2026-11-01T00:00:02.001Z")


def test_a_deep_page_reads_its_rows_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                         ) -> None:
    """The page's statement picks rowids from a covering index (no table row is read for
    the skipped ones), for each kind of filter."""
    traced: list[str] = []
    connect = _sqlite_pool.Pool._connect

    def tracing(pool: _sqlite_pool.Pool) -> sqlite3.Connection:
        conn = connect(pool)
        conn.set_trace_callback(traced.append)
        return conn

    monkeypatch.setattr(_sqlite_pool.Pool, "_connect", tracing)
    path = tmp_path / "plan.db"
    with SqliteRunLog(path) as fresh:
        queries: list[dict[str, Any]] = [{}, {"pipeline": "orders"},
                                         {"pipeline": "orders", "status": "failed"}]
        for query in queries:
            traced.clear()
            fresh.list_run_summaries(limit=50, offset=2000, **query)
            (sql,) = [s for s in traced if s.startswith("SELECT run_id")]
            conn = sqlite3.connect(path)
            try:
                plan = [row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}")]
            finally:
                conn.close()
            inner = [p for p in plan if "runs" in p and "PRIMARY KEY" not in p]
            assert len(inner) == 1 and "COVERING INDEX" in inner[0], (query, plan)
