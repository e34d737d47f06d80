"""The checks of :class:`~flowwidgets.widgets._jobs_table.JobsTable`'s filter, order and
paging traits (a bad value raises ``TraitError`` naming the trait and what it accepts),
mixed into it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import traitlets

from flowwidgets.models import Status, parse_time

__all__ = ["SORTABLE", "WINDOWS", "ChecksFilters"]

SORTABLE = ("status", "pipeline", "started_at", "finished_at", "attempts", "duration_ms",
            "failed_step", "run_id", "kind", "trigger")
WINDOWS = {"1h": timedelta(hours=1), "24h": timedelta(hours=24), "7d": timedelta(days=7),
           "30d": timedelta(days=30)}


class ChecksFilters:
    """Trait validators for the jobs table (traitlets finds them through its class)."""

    @traitlets.validate("status")
    def _valid_status(self, proposal: dict[str, Any]) -> str | None:
        value = proposal["value"]
        if value in (None, ""):
            return None
        st = Status.parse(value)
        if st is Status.UNKNOWN:
            valid = ", ".join(s.value for s in Status if s is not Status.UNKNOWN)
            raise traitlets.TraitError(f"status {value!r} is not a status; use one of: {valid}")
        return st.value

    @traitlets.validate("pipeline")
    def _valid_pipeline(self, proposal: dict[str, Any]) -> str | None:
        return proposal["value"] or None

    @traitlets.validate("last")
    def _valid_last(self, proposal: dict[str, Any]) -> str | None:
        value = proposal["value"] or None
        if value is not None and value not in WINDOWS:
            raise traitlets.TraitError(f"last must be one of {sorted(WINDOWS)} or None, "
                                       f"got {value!r}")
        return value

    @traitlets.validate("since", "until")
    def _valid_time(self, proposal: dict[str, Any]) -> str | None:
        value = proposal["value"] or None
        if value is not None:
            try:
                parse_time(value)
            except (TypeError, ValueError) as exc:
                raise traitlets.TraitError(
                    f"{proposal['trait'].name} must be an ISO-8601 time like "
                    f"2026-11-22T08:00:00Z, got {value!r}") from exc
        return value

    @traitlets.validate("sort_by")
    def _valid_sort(self, proposal: dict[str, Any]) -> str:
        value = proposal["value"]
        if value not in SORTABLE:
            raise traitlets.TraitError(f"sort_by must be one of {SORTABLE}, got {value!r}")
        return value

    @traitlets.validate("page_size")
    def _valid_page_size(self, proposal: dict[str, Any]) -> int:
        value = proposal["value"]
        if not 1 <= value <= 500:
            raise traitlets.TraitError(f"page_size must be between 1 and 500, got {value}")
        return value

    @traitlets.validate("page")
    def _valid_page(self, proposal: dict[str, Any]) -> int:
        return max(0, proposal["value"])
