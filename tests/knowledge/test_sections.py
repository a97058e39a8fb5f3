"""Where the headings are (`sections.py`): exact titles, title spans, bodies and the markup lines
a reader never sees, for Markdown (markdown-it) and reST read line by line (the fallback when
docutils cannot read a file)."""

from __future__ import annotations

from atlas_tui.knowledge.sections import (
    Section,
    first_heading,
    markdown_sections,
    rst_sections,
    sections_for,
)

RST = """.. _top:

=======
 Guide
=======

Intro text.

Install
-------

.. currentmodule:: gzip

Steps here.

----

After the transition.

Linux
~~~~~

On Linux.

Use
---
Not a title
~~
    Indented
    ------
Back to text.
"""

MARKDOWN = """---
title: x
---
# The *first* `gzip` [title](http://x) ![alt](y.png)

Text one.

<!-- a comment -->

Setext title
continued
------------

Body.

***

[ref]: http://example.com

### Deep

#

Last.
"""


def shown(text: str, sections: list[Section]) -> list[tuple[list[str], str | None, str, list[str]]]:
    """Each section as a reader meets it: path, title text, body, markup lines left out."""
    return [
        (
            s.path,
            text[s.title_span[0] : s.title_span[1]] if s.title_span else None,
            text[s.start : s.end],
            [text[a:b] for a, b in s.skip],
        )
        for s in sections
    ]


def test_rst_titles_levels_bodies_and_markup_lines() -> None:
    assert shown(RST, rst_sections(RST)) == [
        ([], None, ".. _top:\n\n", [".. _top:\n"]),
        (["Guide"], "Guide", "\nIntro text.\n\n", []),  # overlined: its own level, first
        (
            ["Guide", "Install"],
            "Install",
            "\n.. currentmodule:: gzip\n\nSteps here.\n\n----\n\nAfter the transition.\n\n",
            [".. currentmodule:: gzip\n", "----\n"],  # a switch and a transition
        ),
        (["Guide", "Install", "Linux"], "Linux", "\nOn Linux.\n\n", []),
        (
            ["Guide", "Use"],  # "-" again: the level it had when first seen
            "Use",
            # too short an underline, and an indented line, are text
            "Not a title\n~~\n    Indented\n    ------\nBack to text.\n",
            [],
        ),
    ]


def test_rst_underline_rules() -> None:
    # an underline as short as 4 characters is enough for a long title; 3 for a short one
    assert [s.path for s in rst_sections("A long title\n====\n\ntext\n")] == [["A long title"]]
    assert [s.path for s in rst_sections("Abc\n===\n\ntext\n")] == [["Abc"]]
    assert [s.path for s in rst_sections("Ab\n==\n\ntext\n")] == [[]]  # 2: not an adornment
    assert [s.path for s in rst_sections("A long title\n===\n\ntext\n")] == [[]]
    # a title needs a blank line (or the start) before it
    assert [s.path for s in rst_sections("text\nTitle\n=====\n")] == [[]]
    # an adornment line is not itself a title; overline and underline must match
    assert [s.path for s in rst_sections("=====\n-----\n\ntext\n")] == [[]]
    assert [s.path for s in rst_sections("=====\nTitle\n-----\n\ntext\n")] == [[]]
    assert [s.path for s in rst_sections("=====\nTitle\n=====\n\ntext\n")] == [["Title"]]
    assert [s.path for s in rst_sections("===\nAbc\n===\n\ntext\n")] == [["Abc"]]  # 3 suffice
    # a title at the very end has an empty body; a lone adornment of 3 is not a transition
    last = rst_sections("text\n\nEnd\n===\n")
    assert shown("text\n\nEnd\n===\n", last)[-1] == (["End"], "End", "", [])
    assert rst_sections("text\n\n---\n\nmore\n")[0].skip == []


def test_markdown_titles_as_read_and_what_is_left_out() -> None:
    assert shown(MARKDOWN, markdown_sections(MARKDOWN)) == [
        ([], None, "---\ntitle: x\n---\n", ["---\ntitle: x\n---\n"]),  # front matter
        (
            ["The first gzip title alt"],  # the words, not the marks, of code, links, images
            "The *first* `gzip` [title](http://x) ![alt](y.png)",
            "\nText one.\n\n<!-- a comment -->\n\n",
            ["<!-- a comment -->\n"],
        ),
        (
            ["The first gzip title alt", "Setext title continued"],  # both lines, one space
            "Setext title",  # the span: the title's first line
            "\nBody.\n\n***\n\n[ref]: http://example.com\n\n",
            ["***\n", "[ref]: http://example.com\n"],  # a rule, a link reference definition
        ),
        (
            ["The first gzip title alt", "Setext title continued", "Deep"],
            "Deep",
            "\n#\n\nLast.\n",  # a heading without a title is no heading
            [],
        ),
    ]


def test_a_markdown_title_span_is_found_on_its_own_line() -> None:
    text = "Intro mentions Usage.\n\n## Usage ##\n\nBody.\n"
    (_, usage) = markdown_sections(text)
    assert usage.path == ["Usage"]
    assert usage.title_span == (text.index("Usage ##"), text.index("Usage ##") + len("Usage"))


def test_text_kinds_have_one_section_and_first_heading_names_the_first_title() -> None:
    assert sections_for("text", "abc") == [Section([], None, 0, 3)]
    assert sections_for("text", "  \n") == []
    assert sections_for("rst", "Title\n=====\n\nx\n")[0].path == ["Title"]
    assert sections_for("html", "# T\n\nx\n")[0].path == ["T"]
    assert first_heading("markdown", MARKDOWN) == "The first gzip title alt"
    assert first_heading("rst", RST) == "Guide"
    assert first_heading("text", "# not a heading in plain text") == ""


def test_an_overlined_title_is_another_style_than_the_same_underline() -> None:
    text = "=====\nBook\n=====\n\nintro\n\nPart\n=====\n\nbody\n"
    assert [s.path for s in rst_sections(text)] == [["Book"], ["Book", "Part"]]


def test_an_adornment_near_the_end_is_not_read_past_the_last_line() -> None:
    assert [s.path for s in rst_sections("text\n\n=====\nTitle")] == [[]]
    assert [s.path for s in rst_sections("text\n\nTitle\n=====")] == [[], ["Title"]]
