"""The jobs table's CSV export: the filtered, sorted rows as the kernel writes them."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pandas as pd

__all__ = ["CSV_COLUMNS", "export_name", "frame_csv"]

CSV_COLUMNS = ("run_id", "pipeline", "status", "trigger", "started_at", "finished_at",
               "duration_ms", "attempts", "failed_step", "error", "imported")
"""The columns of the export, in order (times ISO-8601 UTC)."""


def frame_csv(df: pd.DataFrame) -> str:
    """``df`` (a :func:`~flowwidgets.runs_frame`) as CSV text with :data:`CSV_COLUMNS`.
    A cell a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@`` first) is
    prefixed with ``'``: the text comes from a runner."""
    out = df.reindex(columns=list(CSV_COLUMNS)).copy()
    for col in ("started_at", "finished_at"):
        out[col] = out[col].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ").str.slice(0, -4) + "Z"
    for col in ("run_id", "pipeline", "trigger", "failed_step", "error"):
        out[col] = out[col].astype("string").map(_defuse, na_action="ignore")
    return str(out.to_csv(index=False, lineterminator="\n"))


def _defuse(value: str) -> str:
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def export_name(pipeline: str | None, status: str | None) -> str:
    """A file name saying what was exported: ``runs-warehouse_etl-failed-20261206T2051.csv``."""
    parts = ["runs", pipeline or "all", *([status] if status else [])]
    safe = "-".join(re.sub(r"[^A-Za-z0-9_.]+", "_", p)[:40] for p in parts)
    return f"{safe}-{datetime.now(UTC):%Y%m%dT%H%M}.csv"
