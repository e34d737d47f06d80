"""The bulk import's rows are exactly what a plain, one-row-at-a-time reference would
store: every column (NULLs as NULL, times as text, durations from the stored times),
across chunk boundaries, mixed time zones and every optional field set or missing."""

from __future__ import annotations

import json
import random
import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from flowwidgets.models import Status
from flowwidgets.runner import _sqlite_import
from flowwidgets.runner._sqlite_pool import ms, ts
from flowwidgets.runner.sqlite import SqliteRunLog
from flowwidgets.runner.store import AttemptRecord, RunRecord, StepRecord

ZONES = [UTC, None, timezone(timedelta(hours=5, minutes=30)),
         timezone(-timedelta(hours=3, seconds=7, microseconds=1500))]


def _time(rng: random.Random) -> datetime:
    t = datetime(2026, 11, 22, tzinfo=UTC) + timedelta(
        seconds=rng.randrange(-10**8, 10**8), microseconds=rng.choice(
            [0, 1000, 999, 1, 123_456, rng.randrange(10**6)]))
    zone = rng.choice(ZONES)
    return t.replace(tzinfo=None) if zone is None else t.astimezone(zone)


def test_stored_times_and_durations_equal_the_general_formulas() -> None:
    rng = random.Random(5)
    for _ in range(5000):
        a, b = _time(rng), _time(rng)
        assert _sqlite_import._text(a) == ts(a), a
        assert _sqlite_import._took(a, b) == ms(b) - ms(a), (a, b)
    assert _sqlite_import._took(None, datetime.now(UTC)) is None


def _records(n: int, rng: random.Random) -> tuple[list[RunRecord], list[StepRecord],
                                                 list[AttemptRecord]]:
    runs, steps, attempts = [], [], []
    for i in range(n):
        full = i % 3 == 0
        created = _time(rng)
        started = rng.choice([None, created, _time(rng)])
        finished = None if started is None or i % 5 == 0 else _time(rng)
        runs.append(RunRecord(
            run_id=f"r{i:05d}", pipeline=f"p{i % 4}", kind="batch",
            status=rng.choice(list(Status)), trigger="schedule", created_at=created,
            started_at=started, finished_at=finished, attempt=1 + i % 3,
            failed_step="b" if full else None, error="boom ✗ <b>" if full else None,
            failed_watermark="w1" if full else None, parent_run_id="r0" if full else None,
            from_step="a" if full else None, resume_watermark="w0" if full else None,
            scheduled_for=_time(rng) if full else None, worker="host:1" if full else None,
            extras={"note": i, "ü": [1, None]} if full else {}))
        for pos, name in enumerate(("a", "b", "") if i % 2 else ("a",)):
            steps.append(StepRecord(
                run_id=f"r{i:05d}", name=name, status=rng.choice(list(Status)),
                depends_on=("a",) if pos else (), position=pos,
                started_at=(started if pos == 0 or started is None or started.tzinfo is None
                            else started.astimezone(ZONES[2]) if pos == 1  # same instant
                            else rng.choice([None, _time(rng)])),
                finished_at=finished if pos != 1 else _time(rng),
                error="" if full and pos else None, attempts=pos,
                reused_from="r0" if full and pos == 2 else None))
            if pos == 1:
                attempts.append(AttemptRecord(f"r{i:05d}", name, 1, Status.FAILED,
                                              created, finished, "x" if full else None))
    return runs, steps, attempts


RUN_COLUMNS = ("run_id, pipeline, kind, status, trigger, created_at, started_at, "
               "finished_at, duration_ms, attempt, failed_step, error, failed_watermark, "
               "parent_run_id, from_step, resume_watermark, scheduled_for, worker, extras")
STEP_COLUMNS = ("run_id, name, position, status, depends_on, started_at, finished_at, error, "
                "attempts, reused_from")
ATTEMPT_COLUMNS = "run_id, step, number, status, started_at, finished_at, error, log_tail"


def _reference(path: Path, runs: list[RunRecord], steps: list[StepRecord],
               attempts: list[AttemptRecord]) -> None:
    """Store the records as the plainest code would: one INSERT per row, with the
    statistics kept by the schema's own triggers."""
    def took(a: datetime | None, b: datetime | None) -> int | None:
        return None if a is None or b is None else ms(b) - ms(a)

    SqliteRunLog(path).close()
    conn = sqlite3.connect(path)
    try:
        for r in runs:
            conn.execute(f"INSERT INTO runs ({RUN_COLUMNS}) VALUES ({', '.join('?' * 19)})", (
                r.run_id, r.pipeline, r.kind, r.status.value, r.trigger, ts(r.created_at),
                ts(r.started_at), ts(r.finished_at), took(r.started_at, r.finished_at),
                r.attempt, r.failed_step, r.error, r.failed_watermark, r.parent_run_id,
                r.from_step, r.resume_watermark, ts(r.scheduled_for), r.worker,
                json.dumps(r.extras) if r.extras else "{}"))
        for s in steps:
            conn.execute(f"INSERT INTO steps ({STEP_COLUMNS}) VALUES ({', '.join('?' * 10)})", (
                s.run_id, s.name, s.position, s.status.value, json.dumps(list(s.depends_on)),
                ts(s.started_at), ts(s.finished_at), s.error, s.attempts, s.reused_from))
        for a in attempts:
            conn.execute(f"INSERT INTO attempts ({ATTEMPT_COLUMNS}) VALUES "
                         f"({', '.join('?' * 8)})", (
                             a.run_id, a.step, a.number, a.status.value, ts(a.started_at),
                             ts(a.finished_at), a.error, a.log_tail))
        conn.commit()
    finally:
        conn.close()


TABLES = ("runs", "steps", "attempts", "pipeline_totals", "duration_hist", "hour_outcomes")


def _stored(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    conn = sqlite3.connect(path)
    try:
        out = {}
        for table in TABLES:
            cols = [c[1] for c in conn.execute(f"PRAGMA table_info({table})")]
            assert not conn.execute(  # a missing value is NULL, never a REAL (NaN)
                f"SELECT 1 FROM {table} WHERE " + " OR ".join(
                    f"typeof({c}) = 'real'" for c in cols)).fetchall(), table
            out[table] = sorted(conn.execute(f"SELECT * FROM {table}").fetchall())
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        return out
    finally:
        conn.close()


@pytest.mark.parametrize(("n", "fold"), [(1, None), (_sqlite_import.CHUNK, None),
                                         (2 * _sqlite_import.CHUNK + 3, None),
                                         (2 * _sqlite_import.CHUNK + 3, 1)])
def test_imported_rows_equal_the_plain_reference(tmp_path: Path, n: int, fold: int | None,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Every column of every row, and the statistics the triggers would have kept,
    after one import or two (the second adds to counts already there), whatever the
    order of the steps (``fold``: the noted keys are counted, and the recent run ids
    renewed, after every chunk)."""
    if fold is not None:
        monkeypatch.setattr(_sqlite_import, "FOLD", fold)
    runs, steps, attempts = _records(n, random.Random(n))
    _reference(tmp_path / "reference.db", runs, steps, attempts)
    want = _stored(tmp_path / "reference.db")
    assert want["runs"] and (n == 1 or want["duration_hist"] and want["hour_outcomes"])
    path = tmp_path / "runs.db"
    with SqliteRunLog(path) as log:
        # the steps backwards: the first needs the last run (all runs go in first)
        assert log.import_runs(iter(runs), reversed(steps), iter(attempts)) == n
        assert [s.name for s in log.get_steps(runs[-1].run_id)] == \
            [s.name for s in steps if s.run_id == runs[-1].run_id]
    assert _stored(path) == want
    half = n // 2
    first = {r.run_id for r in runs[:half]}
    with SqliteRunLog(tmp_path / "twice.db") as log:
        log.import_runs(runs[:half], [s for s in steps if s.run_id in first],
                        [a for a in attempts if a.run_id in first])
        log.import_runs(runs[half:], [s for s in steps if s.run_id not in first],
                        [a for a in attempts if a.run_id not in first])
    assert _stored(tmp_path / "twice.db") == want


def test_a_step_of_no_run_imports_nothing(tmp_path: Path) -> None:
    runs, steps, attempts = _records(_sqlite_import.CHUNK + 1, random.Random(1))
    path = tmp_path / "runs.db"
    with SqliteRunLog(path) as log:
        log.import_runs(runs[:1])
        before = _stored(path)
        orphan = StepRecord(run_id="nowhere", name="a", status=Status.SUCCEEDED)
        with pytest.raises(sqlite3.IntegrityError):
            log.import_runs(runs[1:], [*steps[2:], orphan])
        with pytest.raises(sqlite3.IntegrityError, match="created_at"):
            log.import_runs([RunRecord("r1", "p", "batch", Status.FAILED, "manual",
                                       None)])
        with pytest.raises(ValueError, match="bogus"):
            log.import_runs(runs[1:], [StepRecord("r00001", "a", "bogus")])  # type: ignore[arg-type]
    assert _stored(path) == before
