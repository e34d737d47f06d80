"""MonitorTable: fixed widths with an ellipsis, in-place updates, the cursor kept on its row."""

from __future__ import annotations

import asyncio

from rich.text import Text
from textual.app import App, ComposeResult

from flowwidgets.tui._table import MonitorTable

COLUMNS = (("name", "Name", 6), ("state", "State", 8))


class _Host(App[None]):
    def compose(self) -> ComposeResult:
        yield MonitorTable(COLUMNS, id="t")


def _rows(*pairs: tuple[str, str]) -> list[tuple[str, list[Text]]]:
    return [(name, [Text(name), Text(state)]) for name, state in pairs]


def test_sync_truncates_updates_in_place_and_keeps_the_cursor_row():
    async def scenario() -> None:
        app = _Host()
        async with app.run_test(size=(40, 10)) as pilot:
            table = app.query_one(MonitorTable)
            table.sync(_rows(("a", "ok"), ("longer-name", "running"), ("c", "ok")))
            await pilot.pause()
            assert table.keys == ["a", "longer-name", "c"]
            assert [c.plain for c in table.get_column("name")] == ["a", "longe…", "c"]
            table.focus()
            await pilot.press("down", "down")
            assert table.cursor_key == "c"

            # same keys: cells change in place, the cursor stays
            table.sync(_rows(("a", "failed"), ("longer-name", "ok"), ("c", "ok")))
            await pilot.pause()
            assert [c.plain for c in table.get_column("state")] == ["failed", "ok", "ok"]
            assert table.cursor_key == "c"

            # new rows: rebuilt, the cursor follows its row to its new place
            table.sync(_rows(("new", "running"), ("a", "failed"), ("c", "ok")))
            await pilot.pause()
            assert table.keys == ["new", "a", "c"] and table.cursor_key == "c"
            assert table.cursor_row == 2

            # an explicit cursor key wins; a vanished row leaves the cursor at the top
            table.sync(_rows(("new", "ok"), ("a", "ok"), ("c", "ok")), "a")
            assert table.cursor_key == "a"
            table.sync(_rows(("x", "ok"), ("y", "ok")))
            assert table.cursor_key == "x"
            table.sync([])
            assert table.cursor_key is None and table.keys == []

    asyncio.run(scenario())
