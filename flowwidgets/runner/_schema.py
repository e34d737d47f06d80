"""The run log's SQLite schema: every table and index in one place, versioned.

``PRAGMA user_version`` holds :data:`SCHEMA_VERSION`; :func:`migrate` creates the schema
on an empty file, upgrades an older one in place (one transaction per file) and refuses a
file written by a newer flowwidgets. Times are ISO-8601
UTC text with milliseconds and a ``Z`` (``2026-11-22T10:04:05.123Z``, always that width,
so text order is time order). Status columns are authoritative; JSON bodies (``extras``,
``depends_on``, outputs) hold what is not queried.
"""

from __future__ import annotations

import sqlite3

from flowwidgets.errors import FlowwidgetsError

__all__ = ["SCHEMA_VERSION", "migrate", "refuse_foreign"]

SCHEMA_VERSION = 6

_V1 = """
CREATE TABLE runs (
    run_id           TEXT PRIMARY KEY,
    pipeline         TEXT NOT NULL,
    kind             TEXT NOT NULL,
    status           TEXT NOT NULL,
    trigger          TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    started_at       TEXT,
    finished_at      TEXT,
    duration_ms      INTEGER,          -- finished_at - started_at, set when both are known
    attempt          INTEGER NOT NULL DEFAULT 1,
    failed_step      TEXT,
    error            TEXT,
    failed_watermark TEXT,
    parent_run_id    TEXT,             -- lineage only: no foreign key, history may be pruned
    from_step        TEXT,
    resume_watermark TEXT,
    scheduled_for    TEXT,
    worker           TEXT,
    extras           TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX runs_created ON runs (created_at, run_id);
CREATE INDEX runs_pipeline_created ON runs (pipeline, created_at, run_id);
CREATE INDEX runs_status_created ON runs (status, created_at);  -- + rowid: FIFO claims
CREATE INDEX runs_pipeline_duration ON runs (pipeline, duration_ms)
    WHERE duration_ms IS NOT NULL;

CREATE TABLE steps (
    run_id      TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    position    INTEGER NOT NULL,
    status      TEXT NOT NULL,
    depends_on  TEXT NOT NULL DEFAULT '[]',
    started_at  TEXT,
    finished_at TEXT,
    error       TEXT,
    attempts    INTEGER NOT NULL DEFAULT 0,
    reused_from TEXT,
    PRIMARY KEY (run_id, name)
) WITHOUT ROWID;

CREATE TABLE attempts (
    run_id      TEXT NOT NULL,
    step        TEXT NOT NULL,
    number      INTEGER NOT NULL,
    status      TEXT NOT NULL,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    error       TEXT,
    log_tail    TEXT,
    PRIMARY KEY (run_id, step, number),
    FOREIGN KEY (run_id, step) REFERENCES steps (run_id, name) ON DELETE CASCADE
) WITHOUT ROWID;

CREATE TABLE outputs (
    run_id   TEXT NOT NULL,
    step     TEXT NOT NULL,
    value    TEXT NOT NULL,            -- JSON
    saved_at TEXT NOT NULL,
    PRIMARY KEY (run_id, step),
    FOREIGN KEY (run_id, step) REFERENCES steps (run_id, name) ON DELETE CASCADE
) WITHOUT ROWID;

CREATE TABLE watermarks (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    pipeline      TEXT NOT NULL,
    value         TEXT NOT NULL,
    run_id        TEXT NOT NULL,
    committed_at  TEXT NOT NULL,
    rows          INTEGER NOT NULL DEFAULT 0,
    rows_total    INTEGER NOT NULL DEFAULT 0,
    batches_total INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX watermarks_pipeline ON watermarks (pipeline, id);

CREATE TABLE schedule_fires (
    pipeline   TEXT NOT NULL,
    fire_at    TEXT NOT NULL,
    claimed_at TEXT NOT NULL,
    UNIQUE (pipeline, fire_at)
);

CREATE TABLE workers (
    id           TEXT PRIMARY KEY,
    pid          INTEGER NOT NULL,
    host         TEXT NOT NULL,
    heartbeat_at TEXT NOT NULL
);

CREATE TABLE idempotency (
    key        TEXT PRIMARY KEY,
    run_id     TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    created_at TEXT NOT NULL
);

CREATE TABLE events (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    kind     TEXT NOT NULL,            -- run | step | attempt | watermark
    run_id   TEXT NOT NULL,
    pipeline TEXT NOT NULL,
    status   TEXT,
    step     TEXT,
    at       TEXT NOT NULL
);

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
INSERT INTO meta (key, value) VALUES ('version', 0);
"""

_V2 = """
-- Runs per pipeline, kept by triggers in the writing transaction, so statistics and
-- unfiltered counts need no scan of the runs (any SQL that writes runs keeps them right).
CREATE TABLE pipeline_totals (
    pipeline      TEXT PRIMARY KEY,
    runs          INTEGER NOT NULL DEFAULT 0,
    with_duration INTEGER NOT NULL DEFAULT 0   -- runs whose duration_ms is set
) WITHOUT ROWID;
INSERT INTO pipeline_totals (pipeline, runs, with_duration)
    SELECT pipeline, COUNT(*), COUNT(duration_ms) FROM runs GROUP BY pipeline;
CREATE TRIGGER runs_totals_insert AFTER INSERT ON runs BEGIN
    INSERT INTO pipeline_totals (pipeline, runs, with_duration)
        VALUES (NEW.pipeline, 1, NEW.duration_ms IS NOT NULL)
        ON CONFLICT (pipeline) DO UPDATE SET runs = runs + 1,
            with_duration = with_duration + (NEW.duration_ms IS NOT NULL);
END;
CREATE TRIGGER runs_totals_delete AFTER DELETE ON runs BEGIN
    UPDATE pipeline_totals SET runs = runs - 1,
        with_duration = with_duration - (OLD.duration_ms IS NOT NULL)
        WHERE pipeline = OLD.pipeline;
END;
CREATE TRIGGER runs_totals_update AFTER UPDATE OF pipeline, duration_ms ON runs
WHEN OLD.pipeline IS NOT NEW.pipeline
    OR (OLD.duration_ms IS NULL) IS NOT (NEW.duration_ms IS NULL) BEGIN
    UPDATE pipeline_totals SET runs = runs - 1,
        with_duration = with_duration - (OLD.duration_ms IS NOT NULL)
        WHERE pipeline = OLD.pipeline;
    INSERT INTO pipeline_totals (pipeline, runs, with_duration)
        VALUES (NEW.pipeline, 1, NEW.duration_ms IS NOT NULL)
        ON CONFLICT (pipeline) DO UPDATE SET runs = runs + 1,
            with_duration = with_duration + (NEW.duration_ms IS NOT NULL);
END;

-- Filtered pages and their counts (pipeline + status), and the 7-day failure rate,
-- from the index alone.
CREATE INDEX runs_pipeline_status_created ON runs (pipeline, status, created_at, run_id);

-- The newest commit at or before a time (streaming rates over a window).
CREATE INDEX watermarks_pipeline_committed ON watermarks (pipeline, committed_at);

-- Event retention: ids up to this one were deleted (a listener behind it missed events).
INSERT INTO meta (key, value) VALUES ('events_trimmed_through', 0);
"""

_V3 = """
-- What an idempotency key was first used for ("restart <run> from <step>" and a hash),
-- so the same key on a different request is refused instead of answered with the first
-- run; NULL for keys stored before (and for schedule fires): not checked.
ALTER TABLE idempotency ADD COLUMN request TEXT;
"""

_V4 = """
-- Events without AUTOINCREMENT: every write that appends events no longer updates
-- sqlite_sequence (one page less per transaction). Ids still never repeat: trimming
-- keeps the newest rows, so MAX(id) + 1 only grows. The version is now
-- meta.version + MAX(events.id): a write that appends events needs no meta update.
CREATE TABLE events_v4 (
    id       INTEGER PRIMARY KEY,
    kind     TEXT NOT NULL,            -- run | step | attempt | watermark
    run_id   TEXT NOT NULL,
    pipeline TEXT NOT NULL,
    status   TEXT,
    step     TEXT,
    at       TEXT NOT NULL
);
INSERT INTO events_v4 (id, kind, run_id, pipeline, status, step, at)
    SELECT id, kind, run_id, pipeline, status, step, at FROM events;
-- An empty table (events deleted by hand) restarts at 1: nothing kept is older.
UPDATE meta SET value = 0 WHERE key = 'events_trimmed_through'
    AND NOT EXISTS (SELECT 1 FROM events);
DROP TABLE events;
ALTER TABLE events_v4 RENAME TO events;
"""

_V5 = """
-- The keys of an output that is a JSON object (a JSON array of strings), NULL for any
-- other value: flowtoy's /status lists them for every step, read with the steps in one
-- join instead of parsing each output.
ALTER TABLE outputs ADD COLUMN keys TEXT;
UPDATE outputs SET keys = (SELECT json_group_array(j.key) FROM json_each(outputs.value) AS j)
    WHERE json_type(outputs.value) = 'object';
"""

_V6 = """
-- Exact pipeline statistics that stay flat as the history grows, kept by triggers in the
-- writing transaction (so any SQL that writes runs keeps them right):
-- duration_hist counts the runs of each duration at three resolutions (level 0: the
-- millisecond, 1: >> 10, about a second, 2: >> 20, about 17 minutes): the median is three
-- short walks down the levels, never an OFFSET over the history. hour_outcomes counts the
-- finished runs per creation hour: the 7-day failure rate sums 168 rows and counts one
-- partial hour from the index.
CREATE TABLE duration_hist (
    pipeline TEXT NOT NULL,
    level    INTEGER NOT NULL,
    bucket   INTEGER NOT NULL,         -- duration_ms >> (10 * level)
    n        INTEGER NOT NULL,
    PRIMARY KEY (pipeline, level, bucket)
) WITHOUT ROWID;
INSERT INTO duration_hist (pipeline, level, bucket, n)
    SELECT pipeline, 0, duration_ms, COUNT(*) FROM runs WHERE duration_ms IS NOT NULL
    GROUP BY pipeline, duration_ms;
INSERT INTO duration_hist (pipeline, level, bucket, n)
    SELECT pipeline, 1, duration_ms >> 10, COUNT(*) FROM runs WHERE duration_ms IS NOT NULL
    GROUP BY pipeline, duration_ms >> 10;
INSERT INTO duration_hist (pipeline, level, bucket, n)
    SELECT pipeline, 2, duration_ms >> 20, COUNT(*) FROM runs WHERE duration_ms IS NOT NULL
    GROUP BY pipeline, duration_ms >> 20;
CREATE TABLE hour_outcomes (
    pipeline TEXT NOT NULL,
    hour     TEXT NOT NULL,            -- substr(created_at, 1, 13): 2026-11-22T10
    finished INTEGER NOT NULL,         -- succeeded or failed
    failed   INTEGER NOT NULL,
    PRIMARY KEY (pipeline, hour)
) WITHOUT ROWID;
INSERT INTO hour_outcomes (pipeline, hour, finished, failed)
    SELECT pipeline, substr(created_at, 1, 13), COUNT(*), SUM(status = 'failed') FROM runs
    WHERE status IN ('failed', 'succeeded') GROUP BY pipeline, substr(created_at, 1, 13);
CREATE TRIGGER runs_stats_insert AFTER INSERT ON runs BEGIN
    INSERT INTO duration_hist (pipeline, level, bucket, n)
        SELECT NEW.pipeline, 0, NEW.duration_ms >> 0, 1 WHERE NEW.duration_ms IS NOT NULL
        ON CONFLICT (pipeline, level, bucket) DO UPDATE SET n = n + 1;
    INSERT INTO duration_hist (pipeline, level, bucket, n)
        SELECT NEW.pipeline, 1, NEW.duration_ms >> 10, 1 WHERE NEW.duration_ms IS NOT NULL
        ON CONFLICT (pipeline, level, bucket) DO UPDATE SET n = n + 1;
    INSERT INTO duration_hist (pipeline, level, bucket, n)
        SELECT NEW.pipeline, 2, NEW.duration_ms >> 20, 1 WHERE NEW.duration_ms IS NOT NULL
        ON CONFLICT (pipeline, level, bucket) DO UPDATE SET n = n + 1;
    INSERT INTO hour_outcomes (pipeline, hour, finished, failed)
        SELECT NEW.pipeline, substr(NEW.created_at, 1, 13), 1, NEW.status = 'failed'
        WHERE NEW.status IN ('failed', 'succeeded')
        ON CONFLICT (pipeline, hour) DO UPDATE SET finished = finished + 1,
            failed = failed + excluded.failed;
END;
CREATE TRIGGER runs_stats_delete AFTER DELETE ON runs BEGIN
    UPDATE duration_hist SET n = n - 1
        WHERE pipeline = OLD.pipeline AND level = 0 AND bucket = OLD.duration_ms >> 0;
    UPDATE duration_hist SET n = n - 1
        WHERE pipeline = OLD.pipeline AND level = 1 AND bucket = OLD.duration_ms >> 10;
    UPDATE duration_hist SET n = n - 1
        WHERE pipeline = OLD.pipeline AND level = 2 AND bucket = OLD.duration_ms >> 20;
    UPDATE hour_outcomes SET finished = finished - 1, failed = failed - (OLD.status = 'failed')
        WHERE pipeline = OLD.pipeline AND hour = substr(OLD.created_at, 1, 13)
        AND OLD.status IN ('failed', 'succeeded');
END;
CREATE TRIGGER runs_hist_update AFTER UPDATE OF pipeline, duration_ms ON runs
WHEN OLD.pipeline IS NOT NEW.pipeline OR OLD.duration_ms IS NOT NEW.duration_ms BEGIN
    UPDATE duration_hist SET n = n - 1
        WHERE pipeline = OLD.pipeline AND level = 0 AND bucket = OLD.duration_ms >> 0;
    UPDATE duration_hist SET n = n - 1
        WHERE pipeline = OLD.pipeline AND level = 1 AND bucket = OLD.duration_ms >> 10;
    UPDATE duration_hist SET n = n - 1
        WHERE pipeline = OLD.pipeline AND level = 2 AND bucket = OLD.duration_ms >> 20;
    INSERT INTO duration_hist (pipeline, level, bucket, n)
        SELECT NEW.pipeline, 0, NEW.duration_ms >> 0, 1 WHERE NEW.duration_ms IS NOT NULL
        ON CONFLICT (pipeline, level, bucket) DO UPDATE SET n = n + 1;
    INSERT INTO duration_hist (pipeline, level, bucket, n)
        SELECT NEW.pipeline, 1, NEW.duration_ms >> 10, 1 WHERE NEW.duration_ms IS NOT NULL
        ON CONFLICT (pipeline, level, bucket) DO UPDATE SET n = n + 1;
    INSERT INTO duration_hist (pipeline, level, bucket, n)
        SELECT NEW.pipeline, 2, NEW.duration_ms >> 20, 1 WHERE NEW.duration_ms IS NOT NULL
        ON CONFLICT (pipeline, level, bucket) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER runs_outcomes_update AFTER UPDATE OF pipeline, status, created_at ON runs
WHEN OLD.pipeline IS NOT NEW.pipeline OR OLD.status IS NOT NEW.status
    OR OLD.created_at IS NOT NEW.created_at BEGIN
    UPDATE hour_outcomes SET finished = finished - 1, failed = failed - (OLD.status = 'failed')
        WHERE pipeline = OLD.pipeline AND hour = substr(OLD.created_at, 1, 13)
        AND OLD.status IN ('failed', 'succeeded');
    INSERT INTO hour_outcomes (pipeline, hour, finished, failed)
        SELECT NEW.pipeline, substr(NEW.created_at, 1, 13), 1, NEW.status = 'failed'
        WHERE NEW.status IN ('failed', 'succeeded')
        ON CONFLICT (pipeline, hour) DO UPDATE SET finished = finished + 1,
            failed = failed + excluded.failed;
END;
"""

_MIGRATIONS: dict[int, str] = {1: _V1, 2: _V2, 3: _V3, 4: _V4, 5: _V5, 6: _V6}
"""Script that takes the schema from version ``n - 1`` to ``n``."""


def migrate(conn: sqlite3.Connection, path: str) -> None:
    """Bring the file's schema to :data:`SCHEMA_VERSION` inside one write transaction.

    ``conn`` must be in autocommit mode (``isolation_level=None``). Safe when several
    processes open the same new file at once: the first one to take the write lock
    creates the tables, the others find them made. Raises
    :class:`~flowwidgets.errors.FlowwidgetsError` for a file from a newer flowwidgets.
    """
    (current,) = conn.execute("PRAGMA user_version").fetchone()
    if current == SCHEMA_VERSION:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        (current,) = conn.execute("PRAGMA user_version").fetchone()
        if current == 0:
            refuse_foreign(conn, path)
        if current > SCHEMA_VERSION:
            raise FlowwidgetsError(
                f"{path}: run log schema version {current} is newer than this flowwidgets "
                f"understands ({SCHEMA_VERSION}); upgrade flowwidgets or use another file"
            )
        for version in range(current + 1, SCHEMA_VERSION + 1):
            for statement in _statements(_MIGRATIONS[version]):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version:d}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def refuse_foreign(conn: sqlite3.Connection, path: str) -> None:
    """A file without our schema version must be empty: tables there belong to another
    program, and adding ours beside them would damage its file. Raises
    :class:`~flowwidgets.errors.FlowwidgetsError` naming the file and a few tables."""
    tables = [name for (name,) in conn.execute(  # read before the version: another
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
        "ORDER BY name LIMIT 4")]  # process may create the schema in between
    (version,) = conn.execute("PRAGMA user_version").fetchone()
    if tables and not version:
        shown = ", ".join(tables[:3]) + (", ..." if len(tables) > 3 else "")
        raise FlowwidgetsError(
            f"{path}: not a flowwidgets run log: an SQLite file of another program (tables: "
            f"{shown}); choose another file, it was left unchanged")


def _statements(script: str) -> list[str]:
    """Split a DDL script into statements (``executescript`` would commit our transaction)."""
    out: list[str] = []
    buf = ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            out.append(buf.strip())
            buf = ""
    if buf.strip():
        raise ValueError(f"incomplete statement in schema: {buf!r}")
    return out
