"""The file preview renders Markdown and highlights source code, scrolled to the passage, with the
cited text lit: pressed open from the documents pane of the real app."""

from __future__ import annotations

from pathlib import Path

from rich.syntax import Syntax
from textual.widgets import Markdown, Static

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


async def test_a_file_changed_since_it_was_ingested_marks_the_passage_where_it_now_is(
    make_settings, warm_client, tmp_path: Path
):
    """The passage's offsets are those of the file as it was ingested: a paragraph added above
    it since moved it, and the preview marked whatever text now stood there (seen on the Python
    docs with an index built by an older reader: `... newline argument` | `s must not be`)."""
    first = "Lamps are trimmed at dusk.\n\nThe keeper logs the weather every hour.\n\nEnd.\n"
    path = tmp_path / "log.txt"
    path.write_text("A new first paragraph, added since.\n\n" + first)
    quote = "The keeper logs the weather every hour."
    start = first.index(quote)
    passage = Passage(
        "l#1", quote, "log.txt", str(tmp_path), "log", "", 0.9,
        start=start, end=start + len(quote), line_start=3, line_end=3,
    )  # fmt: skip
    gone = Passage(
        "l#2", "A paragraph that was deleted since.", "log.txt", str(tmp_path), "log", "", 0.8,
        start=0, end=36, line_start=1, line_end=1,
    )  # fmt: skip
    app = AtlasApp(make_settings(), client=warm_client)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, app.warmed.is_set)
        for shown in (passage, gone):
            screen = PreviewScreen(1, ShownPassage.of(shown), "", [], lambda p: path.read_text())
            app.call_later(app.push_screen, screen)
            await until(pilot, lambda s=screen: app.screen is s)
            before = screen.query_one("#preview-before", Static)
            await until(pilot, lambda b=before: "Loading" not in str(b.render()))
            marked = str(screen.query_one("#preview-passage", Static).render())
            assert marked == shown.text, marked
            if shown is gone:
                assert "ingest" in str(before.render())  # only the passage, and why
            else:
                assert str(before.render()).endswith("Lamps are trimmed at dusk.\n\n")
            await pilot.press("escape")
            await until(pilot, lambda s=screen: app.screen is not s)
