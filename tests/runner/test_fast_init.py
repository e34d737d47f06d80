"""``fast_init`` gives the record classes an ``__init__`` that behaves exactly like the
one ``dataclasses`` writes (parameters, defaults, factories, errors, frozenness)."""

from __future__ import annotations

import dataclasses
import inspect
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from flowwidgets.models import Status
from flowwidgets.runner._fast_init import fast_init
from flowwidgets.runner.store import AttemptRecord, RunRecord, StepRecord


@dataclass(frozen=True, slots=True)
class Plain:
    a: str
    b: int = 2
    c: list[int] = field(default_factory=list)
    d: tuple[str, ...] = ()


@fast_init
@dataclass(frozen=True, slots=True)
class Fast:
    a: str
    b: int = 2
    c: list[int] = field(default_factory=list)
    d: tuple[str, ...] = ()


def test_the_quick_init_behaves_as_the_generated_one() -> None:
    fast: Any = Fast
    plain: Any = Plain
    assert str(inspect.signature(Fast)) == str(inspect.signature(Plain))
    good: list[tuple[tuple[Any, ...], dict[str, Any]]] = [
        (("x",), {}), (("x", 5, [1], ("y",)), {}), ((), {"a": "x", "d": ("z",)}),
        (("x",), {"c": [3], "b": 0})]
    for args, kwargs in good:
        assert dataclasses.astuple(fast(*args, **kwargs)) == \
            dataclasses.astuple(plain(*args, **kwargs))
    one, two = Fast("x"), Fast("x")
    assert one == two and one.c == [] and one.c is not two.c  # a fresh list each
    bad: list[tuple[tuple[Any, ...], dict[str, Any]]] = [
        ((), {}), (("x",), {"a": "y"}), (("x",), {"e": 1}), (("x", 1, [], (), 5), {})]
    for args, kwargs in bad:
        with pytest.raises(TypeError):
            fast(*args, **kwargs)
        with pytest.raises(TypeError):
            plain(*args, **kwargs)
    with pytest.raises(dataclasses.FrozenInstanceError):
        one.a = "y"  # type: ignore[misc]
    assert dataclasses.replace(one, b=9) == Fast("x", 9)
    with pytest.raises(TypeError, match="not a plain slotted dataclass"):
        fast_init(dataclass(frozen=True)(type("Loose", (), {"__annotations__": {"a": int}})))


@pytest.mark.parametrize("cls", [RunRecord, StepRecord, AttemptRecord])
def test_records_take_every_field_by_keyword_and_default_the_rest(cls: Any) -> None:
    fields = dataclasses.fields(cls)
    required = {f.name: f"{f.name}!" for f in fields
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING}
    rec = cls(**required)
    for f in fields:
        if f.name in required:
            want = required[f.name]
        elif f.default is not dataclasses.MISSING:
            want = f.default
        else:
            want = f.default_factory()  # type: ignore[operator]
        assert getattr(rec, f.name) == want, f.name
    values = {f.name: (f.name, i) for i, f in enumerate(fields)}
    assert dataclasses.asdict(cls(**values)) == values
    assert cls(*values.values()) == cls(**values)


def test_a_run_record_gets_its_own_extras() -> None:
    t = datetime(2026, 1, 1, tzinfo=UTC)
    one = RunRecord("a", "p", "batch", Status.SUCCEEDED, "manual", t)
    assert one.extras == {} and one.extras is not RunRecord(
        "a", "p", "batch", Status.SUCCEEDED, "manual", t).extras
