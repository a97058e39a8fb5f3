"""An HTML page's visible text (`html_text.html_to_text`), exactly: headings as Markdown `#`
lines, blocks as paragraphs, lists, preformatted text kept as it is, and boilerplate left out."""

from __future__ import annotations

import pytest

from atlas_tui.knowledge.html_text import html_to_text

BLOCKS = (
    "<html><head><title> Gzip \n docs </title><style>p{}</style></head><body>"
    "<h2>Usage¶</h2><p>Open   a\n file.<br>Next line</p><ul><li>one</li><li> two</li></ul>"
    "<pre>  x = 1\n    y = 2</pre><table><tr><th>a</th><td>b</td></tr></table><hr><p>End</p>"
    "</body></html>"
)


def test_blocks_headings_lists_code_and_tables() -> None:
    assert html_to_text(BLOCKS) == (
        "Gzip docs",  # the title's words, on one line; the style is not text
        "## Usage\n\n"  # a heading, its permalink mark dropped
        "Open a file.\nNext line\n\n"  # runs of spaces are one space; <br> is a line break
        "- one\n\n- two\n\n"
        "  x = 1\n    y = 2\n\n"  # preformatted text as it is
        " | a | b\n\n"
        "End",
    )


@pytest.mark.parametrize(
    "hidden",
    [
        "<div hidden>gone</div>",
        '<div aria-hidden="TRUE">gone</div>',
        '<div role="Search">gone</div>',
        '<div role="navigation">gone</div>',
        '<div role="banner">gone</div>',
        '<div role="contentinfo">gone</div>',
        '<div class="x sphinxsidebar">gone</div>',
        '<div class="related">gone<p>gone</p></div>',
        '<div class="breadcrumbs">gone</div>',
        '<a class="skip-link">gone</a>',
        "<nav>gone</nav>",
        "<footer>gone</footer>",
        "<script>gone</script>",
        "<noscript>gone</noscript>",
        "<template>gone</template>",
        "<svg>gone</svg>",
        "<iframe>gone</iframe>",
    ],
)
def test_boilerplate_and_hidden_elements_are_left_out(hidden: str) -> None:
    page = f'<body><p>kept <span aria-hidden="false">too</span></p>{hidden}<p>after</p></body>'
    assert html_to_text(page) == ("", "kept too\n\nafter")


def test_a_page_that_marks_its_main_content_is_read_from_there_only() -> None:
    page = (
        '<body><p>outside</p><div role="main"><h1>Title</h1><p>inside <b>bold</b></p>'
        '<div class="footer">foot</div></div><p>outside again</p><main><p>second main</p>'
        "</main></body>"
    )
    assert html_to_text(page) == ("", "# Title\n\ninside bold\n\nsecond main")
    # a main element inside a hidden one does not count
    assert html_to_text("<body><p>body text</p><div hidden><main>secret</main></div></body>") == (
        "",
        "body text",
    )


def test_an_end_tag_closes_what_was_left_open_inside_it() -> None:
    page = (
        '<body><div class="sidebar"><p>side<p>more</div><p>visible</p>'
        "<div><span>no close</div><p>last</p></body>"
    )
    assert html_to_text(page) == ("", "visible\n\nno close\n\nlast")


def test_void_elements_open_nothing_and_a_heading_keeps_its_words() -> None:
    page = "<body><p>a<img src=x>b<br/>c<input>d</p><h3>H <em>three</em>¶ </h3></body>"
    assert html_to_text(page) == ("", "ab\ncd\n\n### H three")


def test_headings_of_every_level_and_nested_preformatted_text() -> None:
    levels = "".join(f"<h{n}>L{n}</h{n}>" for n in range(1, 7))
    assert html_to_text(f"<body>{levels}</body>")[1] == (
        "# L1\n\n## L2\n\n### L3\n\n#### L4\n\n##### L5\n\n###### L6"
    )
    page = "<body><pre>a  b<pre> c </pre>  d  </pre><p>x   y</p></body>"
    assert html_to_text(page)[1] == "a  b\n\n c\n\n  d\n\nx y"


def test_spaces_between_inline_pieces_and_after_line_starts() -> None:
    assert html_to_text("<body><p>a<b> b</b> c</p></body>")[1] == "a b c"  # a space is kept
    assert html_to_text("<body><p>a<br> b</p></body>")[1] == "a\nb"  # not at a line's start
    assert html_to_text("<body><h2> T</h2><ul><li>  item</li></ul></body>")[1] == "## T\n\n- item"


def test_text_after_a_closed_block_or_heading_starts_a_paragraph() -> None:
    page = "<body><p>one</p>two<h2>T</h2>three</body>"
    assert html_to_text(page)[1] == "one\n\ntwo\n\n## T\n\nthree"


def test_only_role_main_marks_the_main_content() -> None:
    page = '<body><div role="note">note</div><div class="main">cls</div><p>other</p></body>'
    assert html_to_text(page)[1] == "note\n\ncls\n\nother"


def test_a_title_with_inline_markup_is_its_words() -> None:
    assert html_to_text("<title>Gzip <b>docs</b>!</title><body>x</body>")[0] == "Gzip docs!"
