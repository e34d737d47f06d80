"""Optional parts of flowwidgets and the extra that installs each.

The core (``pip install flowwidgets``) watches any runner from a notebook. The local runner
and ``flowwidgets serve | run | demo`` need ``flowwidgets[runner]``; the terminal monitor
needs ``flowwidgets[tui]``. :func:`require` turns a missing one into one clear line.
"""

from __future__ import annotations

from importlib.util import find_spec

__all__ = ["EXTRAS", "MissingExtra", "extra_of", "missing", "require"]

EXTRAS: dict[str, tuple[str, ...]] = {
    "runner": ("fastapi", "starlette", "pydantic", "uvicorn", "orjson", "croniter"),
    "tui": ("textual", "rich"),
}
"""The top-level modules each extra provides (what its code imports directly)."""


class MissingExtra(ImportError):
    """An optional part of flowwidgets is used without the extra that installs it."""

    def __init__(self, what: str, extra: str, modules: list[str]) -> None:
        self.extra = extra
        self.modules = modules
        super().__init__(
            f"{what} needs the {extra} extra (missing: {', '.join(modules)}): "
            f"pip install 'flowwidgets[{extra}]'")


def missing(extra: str) -> list[str]:
    """The modules of ``extra`` that cannot be imported here (empty when all are)."""
    return [m for m in EXTRAS[extra] if find_spec(m) is None]


def require(extra: str, what: str) -> None:
    """Raise :class:`MissingExtra` naming ``extra`` when any of its modules is missing."""
    absent = missing(extra)
    if absent:
        raise MissingExtra(what, extra, absent)


def extra_of(module: str | None) -> str | None:
    """The extra that provides top-level ``module``, or None."""
    top = (module or "").partition(".")[0]
    for extra, modules in EXTRAS.items():
        if top in modules:
            return extra
    return None
