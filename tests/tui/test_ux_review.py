"""Issue 22's UX review, one test per defect it found (each failed before its fix)."""

from __future__ import annotations

import pytest

from atlas_tui.tui.app import AtlasApp
from atlas_tui.tui.widgets.documents import DocumentsPane
from atlas_tui.tui.widgets.query_box import QueryBox
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
