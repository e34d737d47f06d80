"""RunCompare: two runs side by side, step by step — status and duration in each, the
delta and ratio, reused and skipped steps, the first differing error — sorted so a new
failure or the biggest slowdown is on top (:func:`flowwidgets.compare.compare_runs`).

Twin of ``js/src/widgets/run-compare.ts``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pandas as pd
import traitlets

from flowwidgets.compare import compare_frame, compare_runs, previous_success
from flowwidgets.widgets._base import FlowWidget, SelectsRuns
from flowwidgets.widgets._fallback_compare import compare_html, compare_text

if TYPE_CHECKING:
    from flowwidgets.sources import Source

__all__ = ["RunCompare"]

SelectCallback = Callable[[str], Any]


class RunCompare(SelectsRuns, FlowWidget):
    """Two runs compared step by step: ``run_a`` is the baseline, ``run_b`` the run looked
    at (delta = B − A). ``run_a=None`` compares with the previous successful run of B's
    pipeline. ``RunCompare(src, run_a, run_b, *, source_b=None, live=True, on_select=None,
    theme="auto")``; ``source_b`` reads B from another Source (a run on another runner).
    ``.df`` is the comparison as a DataFrame."""

    _bundle = "run-compare"
    _extra_kwargs = ("on_select", "source_b")

    run_a = traitlets.Unicode(None, allow_none=True).tag(sync=True)
    """The baseline run (None: B's previous successful run, found when B is read)."""
    run_b = traitlets.Unicode().tag(sync=True)
    """The run looked at."""
    comparison = traitlets.Dict().tag(sync=True)
    """The payload of :func:`~flowwidgets.compare.compare_runs` ({} until both are read)."""
    selected_run_id = traitlets.Unicode(None, allow_none=True).tag(sync=True)
    """The run opened last from the view."""

    def __init__(self, source: Source, run_a: str | None, run_b: str, *,
                 source_b: Source | None = None, live: bool = True,
                 on_select: SelectCallback | None = None, **kwargs: Any) -> None:
        if not run_b:
            raise ValueError("RunCompare needs run_b, the run to look at")
        super().__init__(source, live=live, run_a=run_a, run_b=run_b, **kwargs)
        self.source_b = source_b or source
        """The Source run B is read from (the same as A's unless given)."""
        self._select_callbacks: list[SelectCallback] = []
        if on_select is not None:
            self.on_select(on_select)
        self.observe(lambda _c: self._guarded(self._reload, "comparing"),
                     names=["run_a", "run_b"])
        self._start()

    @property
    def df(self) -> pd.DataFrame:
        """The comparison as a DataFrame (one row per step, biggest change first)."""
        return compare_frame(self.comparison) if self.comparison else pd.DataFrame()

    def _reload(self) -> None:
        b = self.source_b.run(self.run_b)
        a_id = self.run_a or previous_success(self.source, b)
        if a_id is None:
            self._set(comparison={})
            raise ValueError(f"run {self.run_b} has no earlier succeeded run of "
                             f"{b.run.pipeline!r} to compare with; pass run_a")
        a = self.source.run(a_id)
        self._set(comparison=compare_runs(a, b))

    def _handlers(self) -> dict[str, Callable[[dict[str, Any]], Any]]:
        return {"select": self._msg_select}

    def _static_html(self) -> str:
        return compare_html(self.comparison, error=self.error)

    def _static_text(self) -> str:
        return compare_text(self.comparison)
