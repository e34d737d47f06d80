"""A quicker ``__init__`` for frozen, slotted dataclasses built by the hundred thousand.

The ``__init__`` that :func:`dataclasses.dataclass` writes for a frozen class stores
each field with ``object.__setattr__(self, name, value)`` (a global, an attribute and a
three-argument call per field: 1.85 µs for a ``StepRecord`` by keywords). Storing through
each slot's own descriptor does the same thing in about half the time; a bulk import or
a generated history builds 400,000 step records per 100,000 runs.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

__all__ = ["fast_init"]

T = TypeVar("T")


class _Factory:
    """The default of a field with a ``default_factory`` (shown as ``<factory>``)."""

    def __repr__(self) -> str:
        return "<factory>"


_FACTORY = _Factory()


def fast_init(cls: type[T]) -> type[T]:
    """Give a frozen, slotted dataclass an equivalent ``__init__`` (same parameters,
    defaults and default factories, positional or by keyword) that stores through the
    slot descriptors instead of ``object.__setattr__``."""
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    if (not dataclasses.is_dataclass(cls) or "__post_init__" in vars(cls)
            or any(not f.init or f.kw_only for f in fields)
            or tuple(f.name for f in fields) != tuple(vars(cls).get("__slots__", ()))):
        raise TypeError(f"fast_init: {cls.__name__} is not a plain slotted dataclass")
    env: dict[str, Any] = {"_FACTORY": _FACTORY}
    params, body = [], []
    for i, f in enumerate(fields):
        env[f"_set{i}"] = vars(cls)[f.name].__set__  # the slot's member descriptor
        value = f.name
        if f.default is not dataclasses.MISSING:
            env[f"_default{i}"] = f.default
            params.append(f"{f.name}=_default{i}")
        elif f.default_factory is not dataclasses.MISSING:
            env[f"_factory{i}"] = f.default_factory
            params.append(f"{f.name}=_FACTORY")
            value = f"_factory{i}() if {f.name} is _FACTORY else {f.name}"
        else:
            params.append(f.name)
        body.append(f"    _set{i}(self, {value})")
    exec(f"def __init__(self, {', '.join(params)}):\n" + "\n".join(body), env)  # noqa: S102
    init = env["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__doc__ = cls.__init__.__doc__
    init.__annotations__ = dict(cls.__init__.__annotations__)
    cls.__init__ = init  # type: ignore[method-assign]
    return cls
