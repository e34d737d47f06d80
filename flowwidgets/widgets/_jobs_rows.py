"""The rows of :class:`~flowwidgets.widgets._jobs_table.JobsTable` as JSON: from a page of
the runs frame (each cell read by its Run field's type), straight from the Source's runs
(the quick first page), each run's newest child (its lineage), and the merge of re-read
runs into the frame."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime
from typing import Any, get_args, get_type_hints

import pandas as pd

from flowwidgets.frames import runs_to_frame
from flowwidgets.models import Run, format_time
from flowwidgets.widgets._shapes import JOB_ROW, RUN_LINK

__all__ = ["Kid", "merge_runs", "newest_children", "rows_payload", "run_rows"]


def _iso(value: Any) -> str | None:
    if value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return None
    return format_time(value.to_pydatetime() if hasattr(value, "to_pydatetime") else value)


def _int(value: Any) -> int | None:
    return None if value is None or value is pd.NA or pd.isna(value) else int(value)


def _str(value: Any) -> str | None:
    return None if value is None or value is pd.NA or pd.isna(value) else str(value)


Kid = dict[str, Any]
"""The newest run started from a run: ``{"run_id", "status", "trigger"}``."""


def _cell(tp: Any) -> Callable[[Any], Any]:
    """How a frame cell becomes the JSON of a model field of type ``tp``."""
    kinds = set(get_args(tp)) or {tp}
    if datetime in kinds:
        return _iso
    if int in kinds:
        return _int
    return _str if type(None) in kinds else str


_ROW_CELLS = {name: _cell(tp) for name, tp in get_type_hints(Run).items()
              if name in JOB_ROW.fields}
"""Each copied Run field of a row → how its frame cell is read (from the field's type)."""


def rows_payload(page: pd.DataFrame, kids: dict[str, Kid] | None = None
                 ) -> list[dict[str, Any]]:
    """The JSON rows of one page of the runs frame; ``kids`` maps a run to the newest run
    started from it (its restart, rerun or resume), shown as the row's lineage."""
    kids = kids or {}
    return [
        {**{k: _ROW_CELLS[k](getattr(r, k, None)) for k in JOB_ROW.fields},
         "parent_run_id": _str(getattr(r, "parent_run_id", None)),
         "child": kids.get(str(r.run_id)), "error": _str(getattr(r, "error", None)),
         "imported": bool(getattr(r, "imported", False))}
        for r in page.itertuples(index=False)
    ]


def newest_children(frame: pd.DataFrame) -> dict[str, Kid]:
    """Each run that has runs started from it → the newest of them (by start time)."""
    if "parent_run_id" not in frame or not len(frame):
        return {}
    kids = frame[frame["parent_run_id"].notna()]
    if not len(kids):
        return {}
    kids = kids.sort_values("started_at", na_position="first")
    out: dict[str, Kid] = {}
    for r in kids.itertuples(index=False):
        out[str(r.parent_run_id)] = {k: _ROW_CELLS[k](getattr(r, k)) for k in RUN_LINK.fields}
    return out


def run_rows(runs: list[Run]) -> list[dict[str, Any]]:
    """The JSON rows of runs read straight from the Source (the quick first page)."""
    return [
        {**JOB_ROW.pick(r.to_dict()), "parent_run_id": r.extra.get("parent_run_id"),
         "child": None, "error": r.extra.get("error_summary"),
         "imported": bool(r.extra.get("imported"))}
        for r in runs
    ]


def merge_runs(frame: pd.DataFrame, runs: list[Run]) -> pd.DataFrame:
    """``frame`` with ``runs`` inserted or replaced (by run_id), dtypes kept."""
    if not runs:
        return frame
    fresh = runs_to_frame(runs)
    kept = frame[~frame["run_id"].isin(fresh["run_id"])]
    merged = pd.concat([fresh, kept], ignore_index=True)
    for col in ("pipeline", "kind"):  # categories of the two parts may differ
        if not isinstance(merged[col].dtype, pd.CategoricalDtype):
            merged[col] = pd.Categorical(merged[col].to_numpy(dtype=object))
    merged.attrs.update(frame.attrs)
    return merged
