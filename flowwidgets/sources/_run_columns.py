"""Run summaries as columns: the path of :func:`flowwidgets.runs_frame`.

A bulk read of the whole history does not need a :class:`~flowwidgets.models.Run` per
row, only the frame's columns. :class:`RunColumns` holds one page of them.
:func:`parse_api_columns` reads an ``/api/runs`` page straight into columns when every
row has the shape our runner (and ematix-flow) write: strings where strings belong,
integers or null, a known status word, canonical ``2026-11-20T08:00:00.000Z`` times
(checked and converted together, in numpy). Any other page goes through the per-run
parser (:meth:`RunColumns.from_page`), which raises the same errors as before, so both
paths give the same columns (tested on hostile rows).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from flowwidgets.models import Run, RunPage, Status

__all__ = ["NAT", "ColumnsPage", "RunColumns", "fast_times", "ns", "parse_api_columns"]

NAT = int(np.iinfo(np.int64).min)
"""The int64 of NaT: a missing time in the ``*_ns`` columns."""
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def ns(value: datetime) -> int:
    """An aware datetime as integer nanoseconds since the epoch (exact)."""
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


def _ns_array(values: Sequence[datetime | None]) -> np.ndarray:
    return np.fromiter((NAT if v is None else ns(v) for v in values), dtype=np.int64,
                       count=len(values))


@dataclass(slots=True)
class RunColumns:
    """One page of run summaries as columns (``*_ns``: int64 nanoseconds, NaT missing),
    with the page's ``total``, ``next_offset`` and ``next_cursor``."""

    run_id: list[str]
    pipeline: list[str]
    status: list[str]
    started_ns: np.ndarray
    finished_ns: np.ndarray
    created_ns: np.ndarray
    duration_ms: list[int | None]
    attempts: list[int | None]
    failed_step: list[str | None]
    kind: list[str]
    trigger: list[str | None]
    parent_run_id: list[str | None]
    error: list[str | None]
    imported: list[bool]
    total: int = 0
    next_offset: int | None = None
    next_cursor: str | None = None

    def __len__(self) -> int:
        return len(self.run_id)

    @classmethod
    def from_runs(cls, runs: Sequence[Run]) -> RunColumns:
        """The columns of parsed runs (the per-run path; every Source has it)."""
        return cls(
            run_id=[r.run_id for r in runs], pipeline=[r.pipeline for r in runs],
            status=[r.status.value for r in runs],
            started_ns=_ns_array([r.started_at for r in runs]),
            finished_ns=_ns_array([r.finished_at for r in runs]),
            created_ns=_ns_array([r.extra.get("created_at") for r in runs]),
            duration_ms=[r.duration_ms for r in runs], attempts=[r.attempts for r in runs],
            failed_step=[r.failed_step for r in runs], kind=[r.kind for r in runs],
            trigger=[r.trigger for r in runs],
            parent_run_id=[r.extra.get("parent_run_id") for r in runs],
            error=[r.extra.get("error_summary") for r in runs],
            imported=[bool(r.extra.get("imported")) for r in runs])

    @classmethod
    def from_page(cls, page: RunPage) -> RunColumns:
        """The columns of a parsed page, with its paging fields."""
        out = cls.from_runs(page.runs)
        out.total, out.next_offset, out.next_cursor = (page.total, page.next_offset,
                                                      page.next_cursor)
        return out


@dataclass(frozen=True, slots=True)
class ColumnsPage:
    """A runs page as its reader hands it on: the paging fields are read, the rows
    become :class:`RunColumns` on :meth:`columns` (so a reader can ask for the next page
    before it parses this one). ``size``: the rows on the page."""

    size: int
    total: int
    next_offset: int | None
    next_cursor: str | None
    build: Callable[[], RunColumns]

    def columns(self) -> RunColumns:
        """The page's columns (parsed now; raises what the parser raises)."""
        return self.build()

    @classmethod
    def ready(cls, cols: RunColumns) -> ColumnsPage:
        """A page already parsed."""
        return cls(len(cols), cols.total, cols.next_offset, cols.next_cursor, lambda: cols)


# ---- the fast path of /api pages -------------------------------------------------------

_TIME_LEN = 24
_ROW = _TIME_LEN + 1  # each text and its "\n"
_SEPARATORS = {4: "-", 7: "-", 10: "T", 13: ":", 16: ":", 19: ".", 23: "Z", 24: "\n"}
_SEP_AT = np.array(list(_SEPARATORS), dtype=np.intp)
_SEP_CODES = np.array([ord(c) for c in _SEPARATORS.values()], dtype=np.uint8)
_DIGIT_AT = np.array([k for k in range(_TIME_LEN) if k not in _SEPARATORS], dtype=np.intp)
_PLACES = np.zeros((len(_DIGIT_AT), 7), dtype=np.float64)
"""Digits → year, month, day, hour, minute, second, millisecond (one matrix product)."""
for _field, (_first, _n) in enumerate(((0, 4), (4, 2), (6, 2), (8, 2), (10, 2), (12, 2),
                                       (14, 3))):
    for _k in range(_n):
        _PLACES[_first + _k, _field] = 10 ** (_n - 1 - _k)
_LOW = np.array([1, 1, 1, 0, 0, 0, 0], dtype=np.float64)
_HIGH = np.array([9999, 12, 31, 23, 59, 59, 999], dtype=np.float64)
_BLANK = "1970-01-01T00:00:00.000Z"
_MONTH_DAYS = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)
_NS_PER_MS = 1_000_000
_MS_LIMIT = int(np.iinfo(np.int64).max) // _NS_PER_MS
"""Beyond this many ms from the epoch a time has no datetime64[ns] (years 1678–2261):
those pages take the per-run path, which fails on them as it always did."""


def fast_times(values: list[Any]) -> np.ndarray | None:
    """Canonical UTC times (``2026-11-20T08:00:00.000Z``), null or ``""`` as int64
    nanoseconds (NaT for null and ``""``), checked and converted in numpy; None when any
    value is something else (the caller then takes the per-run path)."""
    n = len(values)
    blanks = values.count(None) + values.count("")
    if blanks == n:
        return np.full(n, NAT, dtype=np.int64)
    texts = values if not blanks else [_BLANK if v is None or v == "" else v for v in values]
    try:  # a "\n" after each: every row must then be exactly 24 characters
        raw = ("\n".join(texts) + "\n").encode("ascii")
    except (TypeError, UnicodeEncodeError):  # a number, an object, a non-ASCII text
        return None
    if len(raw) != _ROW * n:
        return None
    codes = np.frombuffer(raw, dtype=np.uint8).reshape(n, _ROW)
    digits = codes[:, _DIGIT_AT] - np.uint8(48)  # wraps: any other character is > 9
    if not ((codes[:, _SEP_AT] == _SEP_CODES).all() and (digits <= 9).all()):
        return None
    fields = digits @ _PLACES  # float64, exact for these small integers
    if not ((fields >= _LOW).all() and (fields <= _HIGH).all()):
        return None
    year, month, day, hour, minute, second, milli = fields.astype(np.int64).T
    if (day > 28).any():
        leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
        if (day > _MONTH_DAYS[month - 1] + (leap & (month == 2))).any():
            return None
    y = year - (month <= 2)  # days from the civil date (H. Hinnant's algorithm)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * ((month + 9) % 12) + 2) // 5 + day - 1
    days = era * 146_097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719_468
    ms = ((days * 86_400 + hour * 3600 + minute * 60 + second) * 1000 + milli)
    if (np.abs(ms) > _MS_LIMIT).any():
        return None
    out = ms * _NS_PER_MS
    if blanks:
        out[np.fromiter((v is None or v == "" for v in values), dtype=bool, count=n)] = NAT
    return out


_STR = frozenset((str,))
_OPT_STR = frozenset((str, type(None)))
_OPT_INT = frozenset((int, type(None)))


def _strs(values: list[Any]) -> bool:
    return set(map(type, values)) <= _STR


def _opt_strs(values: list[Any]) -> bool:
    return set(map(type, values)) <= _OPT_STR


def _opt_ints(values: list[Any]) -> bool:
    return set(map(type, values)) <= _OPT_INT


def parse_api_columns(rows: list[Any], status_words: dict[str, Status]) -> RunColumns | None:
    """The columns of an ``/api/runs`` page's ``runs`` when every row has the common
    shape (see the module's text); None when one does not, for the per-run path."""
    if not all(type(r) is dict for r in rows):
        return None
    run_id = [r.get("run_id") for r in rows]
    pipeline = [r.get("pipeline") for r in rows]
    words = [r.get("status") for r in rows]
    if not (_strs(run_id) and _strs(pipeline) and _strs(words)) or "" in pipeline:
        return None  # (the per-run parser reads a blank pipeline as None)
    values = _status_values(status_words)
    status = [values.get(w) for w in words]
    if None in status:
        return None
    duration = [r.get("duration_ms") for r in rows]
    attempts = [a if (a := r.get("attempt")) is not None else r.get("attempts") for r in rows]
    failed = [r.get("failed_step") for r in rows]
    kind = [r.get("kind") for r in rows]
    trigger = [r.get("trigger") for r in rows]
    parent = [r.get("parent_run_id") for r in rows]
    error = [r.get("error_summary") for r in rows]
    if not (_opt_ints(duration) and _opt_ints(attempts) and _opt_strs(failed)
            and _opt_strs(kind) and _opt_strs(trigger) and _opt_strs(parent)
            and _opt_strs(error) and _opt_strs([r.get("from_step") for r in rows])):
        return None
    n = len(rows)
    times = fast_times([r.get("started_at") for r in rows] + [r.get("finished_at") for r in rows]
                       + [r.get("created_at") for r in rows])  # one pass: numpy's calls cost
    if times is None:
        return None
    started, finished, created = times[:n], times[n:2 * n], times[2 * n:]
    if None in duration:  # the per-run parser's duration from the two times
        for k in np.flatnonzero((started != NAT) & (finished != NAT)).tolist():
            if duration[k] is None:
                us = (int(finished[k]) - int(started[k])) // 1000
                duration[k] = int(us / 1_000_000 * 1000)
    return RunColumns(
        run_id=run_id, pipeline=pipeline, status=status,  # type: ignore[arg-type]
        started_ns=started, finished_ns=finished, created_ns=created,
        duration_ms=duration, attempts=attempts, failed_step=failed,
        kind=[k or "batch" for k in kind], trigger=trigger, parent_run_id=parent,
        error=error, imported=[r.get("imported") is True for r in rows])


def _status_values(words: dict[str, Status]) -> dict[str, str]:
    """``word → Status value`` for the words a flavour maps exactly (as written: the
    per-run parser also takes other cases and spacings, and unknown words)."""
    return {k: v.value for k, v in words.items()}
