"""The file preview renders Markdown and highlights source code, scrolled to the passage, with the
cited text lit: pressed open from the documents pane of the real app."""

from __future__ import annotations

from pathlib import Path

from rich.syntax import Syntax
from textual.widgets import Markdown

from atlas_tui.conversation import ShownPassage
from atlas_tui.safety import terminal_safe
from atlas_tui.tui.app import AtlasApp
from atlas_tui.tui.screens.preview import PreviewScreen
from atlas_tui.tui.widgets.find_bar import shown_content
from atlas_tui.types import Passage
from tests.tui.helpers import ask, settled, until

SIZE = (120, 40)


async def test_a_markdown_file_is_rendered_with_the_passage_marked(make_settings, warm_client):
    app = AtlasApp(make_settings(), client=warm_client)
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "What is the trimodal methodology?")
        await settled(pilot)
        await pilot.press("f4", "enter")
        await until(pilot, lambda: isinstance(app.screen, PreviewScreen))
        screen = app.screen
        await until(pilot, lambda: bool(screen.query(".passage")))
        document = screen.query_one("#preview-markdown", Markdown)
        (title,) = document.query("MarkdownH1")
        assert shown_content(title).plain == "Trimodal methodology"  # rendered, no "#"
        marked = screen.query(".passage")
        assert any(
            "combines three modes of work" in shown_content(b).plain
            for b in marked
            if type(b).__name__ == "MarkdownParagraph"
        )
        cited = [
            c.cited_text
            for c in app.conversation.turns[-1].citations
            if c.number == 1 and c.cited_text
        ]
        assert cited, "the extractive answer cites what it quotes"
        lit = [
            shown_content(b).plain[s.start : s.end]
            for b in marked
            for s in shown_content(b).spans
            if str(s.style) == "underline bold"
        ]
        assert lit and all(any(text in quote for quote in cited) for text in lit)
        terms = {
            shown_content(b).plain[s.start : s.end].lower()
            for b in marked
            for s in shown_content(b).spans
            if str(s.style) == "bold reverse"
        }
        assert "trimodal" in terms  # the question's terms are lit too


async def test_a_source_file_is_highlighted_and_scrolled_to_the_passage(
    make_settings, warm_client, tmp_path: Path
):
    code = "".join(f"def f{i}():\n    return {i}\n\n" for i in range(60))
    path = tmp_path / "tool.py"
    path.write_text(code)
    start = code.index("def f40")
    end = code.index("def f41")
    passage = Passage(
        "t#40",
        code[start:end],
        "tool.py",
        str(tmp_path),
        "tool",
        "",
        0.9,
        start=start,
        end=end,
        line_start=121,
        line_end=123,
    )
    app = AtlasApp(make_settings(), client=warm_client)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, app.warmed.is_set)
        app.call_later(
            app.push_screen,
            PreviewScreen(
                1,
                ShownPassage.of(passage),
                "what does f40 return",
                [terminal_safe("return 40")],
                lambda p: path.read_text(),
            ),
        )
        await until(pilot, lambda: isinstance(app.screen, PreviewScreen))
        screen = app.screen
        shown = screen.query_one("#preview-passage")
        await until(pilot, lambda: isinstance(shown.content, Syntax))
        syntax = shown.content
        assert syntax.lexer is not None and syntax.lexer.name == "Python"
        assert syntax.line_numbers and syntax.highlight_lines == {121, 122}
        body = screen.query_one("#preview-body")
        await until(pilot, lambda: body.scroll_y > 100)  # scrolled down to line ~121
