"""Two runs compared step by step (pure functions of :class:`~flowwidgets.models.RunDetail`).

``compare_runs(a, b)``: ``a`` is the baseline (by default the previous successful run of
the same pipeline, :func:`previous_success`), ``b`` the run looked at. Each step gets both
statuses and durations, the delta (b − a) and ratio (b / a), whether it was reused or
skipped in either run; rows are sorted so a new failure comes first, then the biggest
slowdown. Works across Sources: the two details may come from different runners.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from flowwidgets.history import dag_order
from flowwidgets.models import RunDetail, Status, Step, format_time

if TYPE_CHECKING:
    from flowwidgets.sources import Source

__all__ = ["compare_frame", "compare_runs", "first_line", "previous_success"]

_LOOKBACK = 200
_NOT_RUN = (Status.PENDING.value, Status.SKIPPED.value, Status.CANCELLED.value)


def first_line(error: str | None) -> str | None:
    """The first non-empty line of an error (None when there is none)."""
    for line in str(error or "").splitlines():
        if line.strip():
            return line.strip()
    return None


def _last_line(error: str | None) -> str | None:
    lines = [x.strip() for x in str(error or "").splitlines() if x.strip()]
    return lines[-1] if lines else None


def _error(step: Step | None) -> str | None:
    if step is None:
        return None
    return step.error or (step.attempts[-1].error if step.attempts else None)


def _side(step: Step | None) -> dict[str, Any]:
    if step is None:
        return {"status": None, "duration_ms": None, "reused_from": None, "attempts": None,
                "error": None}
    return {"status": step.status.value,
            "duration_ms": None if step.reused_from else step.duration_ms,
            "reused_from": step.reused_from,
            "attempts": len(step.attempts) or step.extra.get("attempt_count") or None,
            "error": _last_line(_error(step))}


def _run(d: RunDetail) -> dict[str, Any]:
    return {"run_id": d.run_id, "pipeline": d.run.pipeline, "status": d.status.value,
            "started_at": format_time(d.run.started_at), "duration_ms": d.run.duration_ms,
            "trigger": d.run.trigger, "error": _last_line(d.error)}


def compare_runs(a: RunDetail, b: RunDetail) -> dict[str, Any]:
    """The comparison payload: ``a`` and ``b`` (run summaries), ``steps`` (one row per
    step of either run: name, a/b sides, delta_ms, ratio, change), ``first_error_diff``
    (the first step, in DAG order, whose error differs) and ``delta_ms`` of the runs.

    ``change`` is one of ``new_failure``, ``fixed``, ``slower``, ``faster``, ``same``,
    ``only_a``, ``only_b``, ``reused`` (a step reused in either run has no duration),
    ``not_run`` (it ran in A, not in B)."""
    by_a = {s.name: s for s in a.steps}
    by_b = {s.name: s for s in b.steps}
    order = dag_order([b, a])
    rows: list[dict[str, Any]] = []
    for pos, name in enumerate(order):
        sa, sb = by_a.get(name), by_b.get(name)
        A, B = _side(sa), _side(sb)
        delta = ratio = None
        if A["duration_ms"] is not None and B["duration_ms"] is not None:
            delta = B["duration_ms"] - A["duration_ms"]
            ratio = round(B["duration_ms"] / A["duration_ms"], 3) if A["duration_ms"] else None
        if sa is None or sb is None:
            change = "only_b" if sa is None else "only_a"
        elif B["status"] == "failed" and A["status"] != "failed":
            change = "new_failure"
        elif A["status"] == "failed" and B["status"] != "failed":
            change = "fixed"
        elif B["status"] in _NOT_RUN and A["status"] not in _NOT_RUN:
            change = "not_run"
        elif A["reused_from"] or B["reused_from"]:
            change = "reused"
        elif delta is not None and abs(delta) >= max(50, 0.05 * (A["duration_ms"] or 0)):
            change = "slower" if delta > 0 else "faster"
        else:
            change = "same"
        rows.append({"step": name, "position": pos, "a": A, "b": B, "delta_ms": delta,
                     "ratio": ratio, "change": change,
                     "skipped": Status.SKIPPED.value in (A["status"], B["status"])})
    rank = {"new_failure": 0, "slower": 1}
    rows.sort(key=lambda r: (rank.get(r["change"], 2),
                             -(r["delta_ms"] or 0) if r["change"] == "slower" else 0,
                             r["position"]))
    diff = next((r["step"] for r in sorted(rows, key=lambda r: r["position"])
                 if r["a"]["error"] != r["b"]["error"]), None)
    total = (b.run.duration_ms - a.run.duration_ms
             if a.run.duration_ms is not None and b.run.duration_ms is not None else None)
    return {"a": _run(a), "b": _run(b), "steps": rows, "first_error_diff": diff,
            "delta_ms": total}


def compare_frame(payload: dict[str, Any]) -> pd.DataFrame:
    """A comparison payload as a DataFrame (one row per step, in the payload's order)."""
    rows = payload["steps"]
    return pd.DataFrame({
        "step": pd.array([r["step"] for r in rows], dtype="string"),
        "change": pd.array([r["change"] for r in rows], dtype="string"),
        "status_a": pd.array([r["a"]["status"] for r in rows], dtype="string"),
        "status_b": pd.array([r["b"]["status"] for r in rows], dtype="string"),
        "duration_ms_a": pd.array([r["a"]["duration_ms"] for r in rows], dtype="Int64"),
        "duration_ms_b": pd.array([r["b"]["duration_ms"] for r in rows], dtype="Int64"),
        "delta_ms": pd.array([r["delta_ms"] for r in rows], dtype="Int64"),
        "ratio": pd.array([r["ratio"] for r in rows], dtype="Float64"),
        "reused_from_a": pd.array([r["a"]["reused_from"] for r in rows], dtype="string"),
        "reused_from_b": pd.array([r["b"]["reused_from"] for r in rows], dtype="string"),
        "error_a": pd.array([r["a"]["error"] for r in rows], dtype="string"),
        "error_b": pd.array([r["b"]["error"] for r in rows], dtype="string"),
    })


def previous_success(src: Source, run: RunDetail | str) -> str | None:
    """The id of the newest succeeded run of the same pipeline that started before
    ``run`` (None when there is none among the last 200)."""
    detail = run if isinstance(run, RunDetail) else src.run(run)
    when = detail.run.started_at
    page = src.runs(pipeline=detail.run.pipeline, status=Status.SUCCEEDED, limit=_LOOKBACK)
    for r in page.runs:
        if r.run_id == detail.run_id:
            continue
        if when is None or r.started_at is None or r.started_at < when:
            return r.run_id
    return None
