"""The local runner: pipelines file, SQLite run log, executor, scheduler and status API."""
