"""A local model in the TUI: the status line names it ("local qwen3 via Ollama"), the palette's
model picker lists the endpoint's models beside Claude's, and the answer shows citations we
verified as links and the ones that failed as [n?], never as links.

Real AtlasQuery over the tui conftest's index, a fake server speaking the Messages API as
Ollama's compatibility layer does.
"""

from __future__ import annotations

from atlas_tui.endpoints import Endpoint
from atlas_tui.query import AtlasQuery
from atlas_tui.tui.app import AtlasApp
from atlas_tui.tui.widgets.documents import DocumentsPane
from atlas_tui.tui.widgets.status import StatusLine
from tests.fake_anthropic import Reply, closed_port_url
from tests.tui.helpers import ask, note, settled, until

SIZE = (150, 40)


def status_text(app: AtlasApp) -> str:
    return str(app.query_one(StatusLine).render())


async def test_picker_status_line_and_checked_citations(make_settings, fake_ollama):
    ollama = Endpoint("ollama", fake_ollama.base_url, ("qwen3", "llama3.2"), label="Ollama")
    settings = make_settings(provider="auto", endpoints=(ollama,))
    fake_ollama.script(
        Reply.text("It combines ", '"bottom-up implementation" [', "1] and a cafe [9]."),
    )
    app = AtlasApp(settings, client=AtlasQuery(settings))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, app.warmed.is_set)
        await until(pilot, lambda: "local qwen3 via Ollama" in status_text(app))
        assert "no API key" not in status_text(app)  # not the offline answerer

        await pilot.press("ctrl+p", *"Model: llama3.2")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await until(pilot, lambda: app.conversation.session.model == "llama3.2")
        assert "local llama3.2 via Ollama" in status_text(app)
        assert "qwen3" not in status_text(app)

        view = await ask(pilot, "What is the trimodal methodology?")
        await settled(pilot)
        source = view.answer.source
        assert "[\\[1\\]](cite:1)" in source  # verified: a link to document 1
        assert "[9?]" in source and "cite:9" not in source  # failed: marked, not linked
        assert "1 of 2 citations verified" in source and "[9?]: no such document" in source
        assert "local llama3.2 via Ollama" in note(view)
        assert app.query_one(DocumentsPane).cited == {1}  # [9?] marks no document cited
    assert fake_ollama.last_body["model"] == "llama3.2"


async def test_the_picker_offers_claude_and_endpoint_models(make_settings, fake_ollama):
    ollama = Endpoint("ollama", fake_ollama.base_url, ("qwen3",), label="Ollama")
    settings = make_settings(provider="auto", endpoints=(ollama,))
    app = AtlasApp(settings, client=AtlasQuery(settings))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, app.warmed.is_set)
        commands = {c.title: c.help for c in app.get_system_commands(app.screen)}
        assert commands["Model: qwen3"] == (
            "Answer this session's questions with local qwen3 via Ollama (current)"
        )
        assert commands["Model: claude-opus-5-5"] == (
            "Answer this session's questions with Claude claude-opus-5-5"
            " ($4 / $20 per million tokens in / out)"
        )


async def test_a_down_local_server_answers_offline_labelled(make_settings):
    down = Endpoint("ollama", closed_port_url(), ("qwen3",), label="Ollama")
    settings = make_settings(provider="auto", endpoints=(down,))
    app = AtlasApp(settings, client=AtlasQuery(settings))
    async with app.run_test(size=SIZE) as pilot:
        view = await ask(pilot, "What is the trimodal methodology?")
        await settled(pilot)
        assert view.answer.source.startswith("*Ollama is not answering (Could not connect")
        assert "_Offline extractive answer" in view.answer.source
        assert "offline extractive" in note(view) and app.conversation.turns[-1].status == "done"
        assert "local qwen3 via Ollama" in status_text(app)  # the next question tries it again
