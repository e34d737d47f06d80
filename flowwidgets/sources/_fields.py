"""Typed reads from untrusted runner JSON.

Every problem becomes a :class:`~flowwidgets.errors.SchemaError` naming the endpoint and
the field path (``runs[3].started_at``), never a bare ``KeyError`` or ``TypeError``.
Strings stay strings: nothing from a runner is interpreted beyond its declared type.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal, overload

from flowwidgets.errors import SchemaError
from flowwidgets.models import Status, parse_time

_MISSING = object()


def _path(where: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{where}[{key}]"
    return f"{where}.{key}" if where else key


def need_obj(value: Any, ep: str, where: str) -> dict[str, Any]:
    """``value`` as a JSON object, or SchemaError."""
    if not isinstance(value, dict):
        raise SchemaError(ep, where or "<body>", f"must be an object, got {_kind(value)}", value)
    return value


def need_list(value: Any, ep: str, where: str) -> list[Any]:
    """``value`` as a JSON array, or SchemaError."""
    if not isinstance(value, list):
        raise SchemaError(ep, where or "<body>", f"must be an array, got {_kind(value)}", value)
    return value


def req(d: dict[str, Any], key: str, ep: str, where: str) -> Any:
    """A required key of an object."""
    value = d.get(key, _MISSING)
    if value is _MISSING:
        raise SchemaError(ep, _path(where, key), "is missing", d)
    return value


@overload
def s(d: dict[str, Any], key: str, ep: str, where: str, *, required: Literal[True],
      default: str | None = None) -> str: ...
@overload
def s(d: dict[str, Any], key: str, ep: str, where: str, *, required: bool = False,
      default: str | None = None) -> str | None: ...
def s(d: dict[str, Any], key: str, ep: str, where: str, *, required: bool = False,
      default: str | None = None) -> str | None:
    """A string field (numbers are accepted and turned into text, as ids often are)."""
    value = d.get(key, _MISSING)
    if value is _MISSING or value is None:
        if required:
            raise SchemaError(ep, _path(where, key), "is missing" if value is _MISSING
                              else "must be a string, got null", d)
        return default
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise SchemaError(ep, _path(where, key), f"must be a string, got {_kind(value)}", d)


def i(d: dict[str, Any], key: str, ep: str, where: str) -> int | None:
    """An optional integer field (an integral float is accepted)."""
    value = d.get(key)
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise SchemaError(ep, _path(where, key), f"must be an integer, got {_kind(value)}", d)


def f(d: dict[str, Any], key: str, ep: str, where: str) -> float | None:
    """An optional number field."""
    value = d.get(key)
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    raise SchemaError(ep, _path(where, key), f"must be a number, got {_kind(value)}", d)


def b(d: dict[str, Any], key: str, ep: str, where: str, default: bool = False) -> bool:
    """An optional boolean field."""
    value = d.get(key)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    raise SchemaError(ep, _path(where, key), f"must be true or false, got {_kind(value)}", d)


def t(d: dict[str, Any], key: str, ep: str, where: str) -> datetime | None:
    """An optional time: ISO-8601 text or epoch seconds, as an aware UTC datetime."""
    value = d.get(key)
    if value is None or value == "":
        return None
    if type(value) is str:  # fast path: the /api's "2026-11-20T08:00:00.000Z"
        try:
            dt = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            if dt.tzinfo is UTC:
                return dt
            return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise SchemaError(ep, _path(where, key),
                          f"must be an ISO-8601 time or epoch seconds, got {_kind(value)}", d)
    try:
        return parse_time(value)
    except (ValueError, OverflowError, OSError) as exc:
        raise SchemaError(ep, _path(where, key), f"is not a time: {value!r} ({exc})", d) from None


def strs(d: dict[str, Any], key: str, ep: str, where: str) -> tuple[str, ...]:
    """An optional array of strings."""
    value = d.get(key)
    if value is None:
        return ()
    items = need_list(value, ep, _path(where, key))
    for n, item in enumerate(items):
        if not isinstance(item, str):
            raise SchemaError(ep, f"{_path(where, key)}[{n}]",
                              f"must be a string, got {_kind(item)}", d)
    return tuple(items)


def obj_or_none(d: dict[str, Any], key: str, ep: str, where: str) -> dict[str, Any] | None:
    """An optional object field."""
    value = d.get(key)
    if value is None:
        return None
    return need_obj(value, ep, _path(where, key))


def status(d: dict[str, Any], key: str, vocabulary: dict[str, Status], ep: str, where: str,
           *, required: bool = True) -> tuple[Status, str | None]:
    """A status word mapped through a flavour's vocabulary.

    Returns the status and, when the word was not in the vocabulary, the raw word (the
    status is then ``UNKNOWN``: shown, never guessed).
    """
    raw = d.get(key)
    if raw is None:
        if required:
            raise SchemaError(ep, _path(where, key), "is missing", d)
        return Status.UNKNOWN, None
    if not isinstance(raw, str):
        raise SchemaError(ep, _path(where, key), f"must be a string, got {_kind(raw)}", d)
    mapped = vocabulary.get(raw.strip().lower())
    if mapped is None:
        return Status.UNKNOWN, raw
    return mapped, None


def path(where: str, key: str | int) -> str:
    """Join a field path: ``path("runs", 3)`` → ``runs[3]``."""
    return _path(where, key)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"the string {shown!r}"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def median_ms(values: list[int]) -> int | None:
    """Median of durations in ms (integer mean of the two middle ones), or None."""
    if not values:
        return None
    v = sorted(values)
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) // 2
