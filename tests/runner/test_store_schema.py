"""Schema upgrades on real files: a version-1 file is upgraded in place (totals
back-filled, indexes made; v4's events table keeps every id and the version only grows),
and the trigger-kept ``pipeline_totals`` stays equal to a count of the runs whatever
writes them (the log's methods, a bulk import, plain SQL)."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from flowwidgets.models import Status
from flowwidgets.runner import _schema
from flowwidgets.runner.sqlite import SqliteRunLog
from flowwidgets.runner.store import RunRecord

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def _connect(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None)


def _totals(path: Path) -> tuple[dict, dict]:
    """(pipeline_totals rows with runs, the same figures counted from runs)."""
    conn = _connect(path)
    try:
        kept = {p: (n, d) for p, n, d in conn.execute(
            "SELECT pipeline, runs, with_duration FROM pipeline_totals WHERE runs > 0")}
        counted = {p: (n, d) for p, n, d in conn.execute(
            "SELECT pipeline, COUNT(*), COUNT(duration_ms) FROM runs GROUP BY pipeline")}
    finally:
        conn.close()
    return kept, counted


def _v1_file(path: Path) -> None:
    """A file as flowwidgets with schema version 1 wrote it, with a few runs."""
    conn = _connect(path)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        for statement in _schema._statements(_schema._V1):
            conn.execute(statement)
        conn.execute("PRAGMA user_version = 1")
        conn.executemany(
            "INSERT INTO runs (run_id, pipeline, kind, status, trigger, created_at, duration_ms)"
            " VALUES (?, ?, 'batch', 'succeeded', 'schedule', '2026-11-01T00:00:00.000Z', ?)",
            [(f"r{i}", "orders" if i % 3 else "payments", 1000 * i if i % 4 else None)
             for i in range(10)])
        conn.execute("INSERT INTO events (kind, run_id, pipeline, status, at) VALUES "
                     "('run', 'r1', 'orders', 'succeeded', '2026-11-01T00:00:00.000Z')")
    finally:
        conn.close()


def test_a_version_1_file_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    _v1_file(path)
    with SqliteRunLog(path) as log:
        stats = log.pipeline_stats([], now=T0)
        assert (stats["orders"].total_runs, stats["payments"].total_runs) == (6, 4)
        assert log.events_trimmed_through() == 0 and log.last_event_id() == 1
        assert log.list_runs(pipeline="orders", limit=1)[1] == 6
    kept, counted = _totals(path)
    assert kept == counted == {"orders": (6, 4), "payments": (4, 3)}
    conn = _connect(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == _schema.SCHEMA_VERSION == 6
        names = {n for (n,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type IN ('index', 'trigger')")}
    finally:
        conn.close()
    assert {"runs_pipeline_status_created", "watermarks_pipeline_committed",
            "runs_totals_insert", "runs_totals_delete", "runs_totals_update"} <= names


def test_v4_events_keep_their_ids_and_the_version_only_grows(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    _v1_file(path)
    conn = _connect(path)
    try:  # as v1–v3 left it: a bumped version, events with AUTOINCREMENT ids, some trimmed
        conn.execute("UPDATE meta SET value = 40 WHERE key = 'version'")
        conn.executemany("INSERT INTO events (kind, run_id, pipeline, status, at) VALUES "
                         "('run', 'r2', 'orders', 'running', '2026-11-01T00:00:01.000Z')",
                         [()] * 4)
        conn.execute("DELETE FROM events WHERE id <= 2")
    finally:
        conn.close()
    with SqliteRunLog(path) as log:
        assert [e.id for e in log.events_since(0)] == [3, 4, 5]
        before = log.version()
        assert before >= 40
        run_id, _ = log.create_run(pipeline="orders", kind="batch", trigger="manual",
                                   steps=[("x", [])])
        assert [e.id for e in log.events_since(5)] == [6]
        after_event = log.version()
        log.save_output(run_id, "x", 1)  # a write with no event still moves the version
        assert before < after_event < log.version()
        log.trim_events(1)
        log.create_run(pipeline="orders", kind="batch", trigger="manual", steps=[("x", [])])
        assert [e.id for e in log.events_since(0)] == [6, 7]  # ids never repeat
    conn = _connect(path)
    try:
        ddl = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'events'").fetchone()[0]
    finally:
        conn.close()
    assert "AUTOINCREMENT" not in ddl


def test_totals_follow_every_kind_of_write(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    with SqliteRunLog(path) as log:
        a, _ = log.create_run(pipeline="orders", kind="batch", trigger="manual",
                              steps=[("x", [])])
        b, _ = log.create_run(pipeline="orders", kind="batch", trigger="manual",
                              steps=[("x", [])])
        assert _totals(path)[0] == {"orders": (2, 0)}
        log.claim_requested("w1")
        log.finish_run(a, status=Status.SUCCEEDED)  # gets a duration
        assert _totals(path)[0] == {"orders": (2, 1)}
        log.import_runs([RunRecord(run_id=f"p{i}", pipeline="payments", kind="batch",
                                   status=Status.SUCCEEDED, trigger="schedule", created_at=T0,
                                   started_at=T0, finished_at=T0 + timedelta(seconds=i))
                         for i in range(5)])
        assert _totals(path)[0] == {"orders": (2, 1), "payments": (5, 5)}
        stats = log.pipeline_stats(["orders"], now=T0)
        assert stats["payments"].median_duration_ms == 2000
    conn = _connect(path)
    try:  # plain SQL, as a migration script or a person with the sqlite3 shell would
        conn.execute("UPDATE runs SET pipeline = 'billing' WHERE run_id = 'p0'")
        conn.execute("UPDATE runs SET duration_ms = NULL WHERE run_id = 'p1'")
        conn.execute("UPDATE runs SET duration_ms = 7 WHERE run_id = 'p2'")  # stays timed
        conn.execute("DELETE FROM runs WHERE run_id = ?", (b,))
    finally:
        conn.close()
    kept, counted = _totals(path)
    assert kept == counted == {"orders": (1, 1), "payments": (4, 3), "billing": (1, 1)}
    conn = _connect(path)
    try:
        conn.execute("DELETE FROM runs WHERE pipeline = 'billing'")
    finally:
        conn.close()
    with SqliteRunLog(path) as log:
        assert "billing" not in log.pipeline_stats([], now=T0)  # no runs left: not listed
        assert log.list_runs()[1] == 5


def test_a_failed_import_leaves_the_totals_alone(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    run = RunRecord(run_id="dup", pipeline="orders", kind="batch", status=Status.SUCCEEDED,
                    trigger="schedule", created_at=T0)
    with SqliteRunLog(path) as log:
        log.import_runs([run])
        with pytest.raises(sqlite3.IntegrityError):
            log.import_runs([replace(run, run_id="new"), run])  # the second is a duplicate
    kept, counted = _totals(path)
    assert kept == counted == {"orders": (1, 0)}


def test_idempotency_keys_of_an_old_file_keep_working_unbound(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    _v1_file(path)
    conn = _connect(path)
    conn.execute("INSERT INTO idempotency (key, run_id, created_at) VALUES "
                 "('old-key', 'r1', '2026-11-01T00:00:00.000Z')")
    conn.close()
    with SqliteRunLog(path) as log:
        assert log.create_run(pipeline="orders", kind="batch", steps=[("a", [])],
                              trigger="rerun", idempotency_key="old-key",
                              idempotency_request="rerun of run r5") == ("r1", False)
        new, created = log.create_run(pipeline="orders", kind="batch", steps=[("a", [])],
                                      trigger="rerun", idempotency_key="new-key",
                                      idempotency_request="rerun of run r5")
        assert created
        again = log.create_run(pipeline="orders", kind="batch", steps=[("a", [])],
                               trigger="rerun", idempotency_key="new-key",
                               idempotency_request="rerun of run r5")
        assert again == (new, False)
        from flowwidgets.errors import InvalidAction
        with pytest.raises(InvalidAction, match="rerun of run r5.*rerun of run r6"):
            log.create_run(pipeline="orders", kind="batch", steps=[("a", [])],
                           trigger="rerun", idempotency_key="new-key",
                           idempotency_request="rerun of run r6")
