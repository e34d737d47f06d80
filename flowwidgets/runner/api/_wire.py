"""API bodies that copy fields of a run-log record, declared once.

A :class:`Wire` names a record dataclass of :mod:`flowwidgets.runner.store` and the fields
(or properties) the API copies from it. It builds both the JSON (:meth:`Wire.dump`, used by
:mod:`._payloads`) and the pydantic model that documents it in /api/openapi.json
(:meth:`Wire.schema`, used by :mod:`._schemas`), the wire type of each field following from
the record's: a datetime is an ISO-8601 ``Z`` string, a Status its word, a tuple a list.
"""

from __future__ import annotations

import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, create_model

from flowwidgets.models import format_time
from flowwidgets.runner.store import RUN_SUMMARY_FIELDS, RunRecord, StepRecord

__all__ = ["RUN_SUMMARY", "STEP", "Wire"]


def _record_types(record: type[Any]) -> dict[str, Any]:
    """Each field's type, and each property's return type, of a record dataclass."""
    types = typing.get_type_hints(record)
    for name in dir(record):
        attr = getattr(record, name, None)
        if isinstance(attr, property) and attr.fget is not None:
            types[name] = typing.get_type_hints(attr.fget)["return"]
    return types


def _wire_type(tp: Any) -> Any:
    """The JSON type of a record type (for the schema)."""
    args = typing.get_args(tp)
    if isinstance(tp, type) and issubclass(tp, datetime | Enum):
        return str
    if typing.get_origin(tp) is tuple:
        return list[_wire_type(args[0])]  # type: ignore[misc]
    if args and type(None) in args:
        (inner,) = (a for a in args if a is not type(None))
        return _wire_type(inner) | None
    return tp


def _dumper(tp: Any) -> Callable[[Any], Any] | None:
    """How a record value of type ``tp`` becomes JSON (for the payload); None: as it is."""
    kinds = set(typing.get_args(tp)) or {tp}
    if datetime in kinds:
        return format_time
    if any(isinstance(k, type) and issubclass(k, Enum) for k in kinds):
        return str if type(None) not in kinds else (lambda v: None if v is None else str(v))
    if typing.get_origin(tp) is tuple:
        return list
    return None


@dataclass(frozen=True)
class Wire:
    """The fields of ``record`` an API body copies, in the order the API writes them;
    ``nullable`` are documented as nullable though the record always has them (the
    summary shape other runners share may leave them out)."""

    record: type[Any]
    fields: tuple[str, ...]
    nullable: tuple[str, ...] = ()
    _dumpers: tuple[tuple[str, Callable[[Any], Any] | None], ...] = field(
        init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        known = _record_types(self.record)
        unknown = [f for f in (*self.fields, *self.nullable) if f not in known]
        if unknown:
            raise ValueError(f"{self.record.__name__} has no field or property {unknown}")
        object.__setattr__(self, "_dumpers", tuple((f, _dumper(known[f])) for f in self.fields))

    def dump(self, record: Any) -> dict[str, Any]:
        """The JSON of these fields of ``record``."""
        return {name: getattr(record, name) if fn is None else fn(getattr(record, name))
                for name, fn in self._dumpers}

    def schema(self, name: str, doc: str) -> type[BaseModel]:
        """A pydantic model of these fields (extra keys allowed), named ``name``."""
        types = _record_types(self.record)
        spec: dict[str, Any] = {}
        for f in self.fields:
            tp = _wire_type(types[f])
            spec[f] = (tp | None if f in self.nullable else tp, ...)
        return create_model(name, __config__=ConfigDict(extra="allow"), __doc__=doc,
                            __module__=__name__.rsplit(".", 1)[0] + "._schemas", **spec)


RUN_SUMMARY = Wire(RunRecord, RUN_SUMMARY_FIELDS, nullable=("created_at", "trigger"))
"""A run as listed (ematix-flow's ``to_summary_dict`` plus created_at, trigger, parent_run_id)."""

STEP = Wire(StepRecord, ("name", "status", "depends_on", "duration_ms", "started_at",
                         "finished_at", "error", "attempts", "reused_from"))
"""A step of a run's DAG with its state in that run (every StepRecord field but run_id and
position, plus its duration)."""
