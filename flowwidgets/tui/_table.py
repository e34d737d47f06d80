"""The monitor's table widget: a row-cursor DataTable that updates in place."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable

from flowwidgets.tui._rows import Column, Row

__all__ = ["MonitorTable"]


class MonitorTable(DataTable[Any]):
    """A DataTable of keyed rows in fixed-width columns; Enter shows as "Open" in the footer.

    :meth:`sync` replaces the rows, changing only the cells that differ when the row keys
    are the same (no flicker, the cursor stays), and rebuilding otherwise. Fixed widths
    keep the layout still as data changes (and keep the header in step with the rows: an
    auto-width DataTable measures columns later, on idle, and a header drawn in between
    kept the old widths); a longer cell ends with an ellipsis.
    """

    BINDINGS = [Binding("enter", "select_cursor", "Open")]

    def __init__(self, columns: Sequence[Column], *, id: str) -> None:
        super().__init__(id=id, cursor_type="row")
        self._column_spec = tuple(columns)
        self._shown: list[Row] | None = None

    def on_mount(self) -> None:
        for key, label, width in self._column_spec:
            self.add_column(label, key=key, width=width)

    @property
    def keys(self) -> list[str]:
        """The row keys, top to bottom."""
        return [key for key, _ in self._shown or ()]

    def sync(self, rows: list[Row], cursor_key: str | None = None) -> None:
        """Show ``rows``; the cursor goes to ``cursor_key`` (default: the row it is on)."""
        rows = [(key, self._fit(cells)) for key, cells in rows]
        keys = [key for key, _ in rows]
        if cursor_key is None:
            cursor_key = self.cursor_key
        if self._shown is not None and self.keys == keys:
            columns = [key for key, _, _ in self._column_spec]
            for (key, cells), (_, before) in zip(rows, self._shown, strict=True):
                for column, new, old in zip(columns, cells, before, strict=True):
                    if new != old:
                        self.update_cell(key, column, new)
        else:
            self.clear()
            for key, cells in rows:
                self.add_row(*cells, key=key)
        self._shown = rows
        if cursor_key is not None and cursor_key in keys:
            index = keys.index(cursor_key)
            if self.cursor_row != index:
                self.move_cursor(row=index)

    def _fit(self, cells: Sequence[Text]) -> list[Text]:
        fitted = []
        for cell, (_, _, width) in zip(cells, self._column_spec, strict=True):
            if cell.cell_len > width:
                cell = cell.copy()
                cell.truncate(width, overflow="ellipsis")
            fitted.append(cell)
        return fitted

    @property
    def cursor_key(self) -> str | None:
        """The key of the row under the cursor (None for an empty table)."""
        if self.row_count == 0:
            return None
        try:
            return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        except Exception:  # the cursor is outside a table being rebuilt
            return None
