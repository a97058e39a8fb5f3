"""Issue 22's UX review, one test per defect it found (each failed before its fix)."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable

from atlas_tui.tui.app import AtlasApp
from atlas_tui.tui.screens.help import HelpScreen
from atlas_tui.tui.widgets.documents import DocumentsPane
from atlas_tui.tui.widgets.query_box import QueryBox
from atlas_tui.tui.widgets.status import StatusLine
from tests.tui.helpers import QUESTION, ask, settled, until

SIZE = (120, 36)


async def test_a_letter_typed_in_the_documents_pane_starts_the_question_whole(
    make_settings, warm_client, monkeypatch: pytest.MonkeyPatch
):
    """F4, Down, `explain` opened $EDITOR and left `xplain`; with nothing highlighted the `e`
    was dropped."""
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.delenv("EDITOR", raising=False)
    app = AtlasApp(make_settings(), client=warm_client)
    async with app.run_test(size=SIZE) as pilot:
        box = app.query_one(QueryBox)
        await pilot.press("f4", *"explain")  # nothing in the pane yet
        await until(pilot, lambda: box.text == "explain")
        box.clear()
        await ask(pilot, QUESTION)
        await settled(pilot)
        await pilot.press("f4", "down")
        assert isinstance(app.focused, DocumentsPane) and app.focused.highlighted == 1
        await pilot.press(*"explain")
        await until(pilot, lambda: box.text == "explain")
        assert not any("editor" in n.message.lower() for n in app.notices)
        await pilot.press("f4", "ctrl+e")  # the pane's editor key
        await until(pilot, lambda: any("No editor is set" in n.message for n in app.notices))


async def test_help_reaches_every_key_on_a_small_terminal(make_settings, warm_client):
    """F1 at 36 rows or fewer was cut: End stopped at `tab / shift+tab`, the transcript's keys
    and ctrl+left/right were unreachable, and <, >, the editor key, space and F3 not listed."""
    settings = make_settings(keys={"next_citation": "n"})  # a rebound key is shown rebound
    app = AtlasApp(settings, client=warm_client)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: "no API key" in app.query_one(StatusLine).answerer)
        await pilot.press("f1")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        screen = app.screen
        table = screen.query_one(DataTable)
        box = screen.query_one("#help-box")
        assert table.region.bottom <= box.region.bottom - 1  # inside its border, not cut
        assert table.max_scroll_y > 0  # more keys than rows: it scrolls ...
        await pilot.press("end")
        await pilot.pause()
        assert table.scroll_y == table.max_scroll_y  # ... to the last one
        rows = [" ".join(str(cell) for cell in table.get_row_at(i)) for i in range(table.row_count)]
        listed = "\n".join(rows)
        for key, action in (
            ("n", "Next citation"),
            ("[", "Previous citation"),
            ("⏎", "Open cited passage"),
            ("shift+↑", "Previous turn"),
            ("<", "Earlier answer"),
            (">", "Later answer"),
            ("^e", "Open in $EDITOR"),
            ("space", "Preview"),
            ("f3", "Next match"),
            ("shift+f3", "Previous match"),
            ("^←", "Wider documents"),
            ("^→", "Narrower pane"),
            ("^p", "Command palette"),
        ):
            assert any(key in row and action in row for row in rows), (key, action, listed)
        assert "Transcript" in listed and "Documents pane" in listed and "Find" in listed
