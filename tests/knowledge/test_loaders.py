"""Loaders: each format, and every kind of bad input, on tiny files made in tmp_path."""

from __future__ import annotations

import hashlib
import os
import pickle
import select
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from atlas_tui.knowledge.loaders import LoadError, discover, load_document
from atlas_tui.knowledge.records import Skipped
from tests.corpus import write_files
from tests.knowledge.helpers import UNPRIVILEGED_TIMEOUT_S


def found(items: list[Any], root: Path) -> list[str]:
    return [p.relative_to(root).as_posix() for p, _ in (i for i in items if isinstance(i, tuple))]


def skipped(items: list[Any]) -> dict[str, str]:
    return {Path(s.path).name: s.reason for s in items if isinstance(s, Skipped)}


def minimal_pdf(pages: list[str], title: str = "") -> bytes:
    """A real PDF with one text line per page (Helvetica), built byte by byte."""
    objects = ["<< /Type /Catalog /Pages 2 0 R >>", ""]
    kids = []
    for text in pages:
        page_id, content_id = len(objects) + 1, len(objects) + 2
        kids.append(f"{page_id} 0 R")
        stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET"
        objects.append(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            "/Resources << /Font << /F1 << /Type /Font /Subtype /Type1 /BaseFont /Helvetica"
            " >> >> >> "
            f"/Contents {content_id} 0 R >>"
        )
        objects.append(f"<< /Length {len(stream)} >>\nstream\n{stream}\nendstream")
    objects[1] = f"<< /Type /Pages /Kids [{' '.join(kids)}] /Count {len(pages)} >>"
    objects.append(f"<< /Title ({title}) >>")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode()
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R /Info {len(objects)} 0 R >>\n"
        f"startxref\n{xref}\n%%EOF\n"
    ).encode()
    return bytes(out)


# --- formats -------------------------------------------------------------------------------------


def test_markdown_title_source_and_hash(tmp_path: Path) -> None:
    raw = "Intro line.\n\n# Install Guide\n\nSome text.\n"
    write_files(tmp_path, {"docs/guide.md": raw})
    doc = load_document(tmp_path / "docs" / "guide.md", tmp_path)
    assert (doc.kind, doc.title, doc.source) == ("markdown", "Install Guide", "docs/guide.md")
    assert doc.root == str(tmp_path)
    assert doc.content_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert doc.text == raw


def test_markdown_heading_inside_code_fence_is_not_the_title(tmp_path: Path) -> None:
    write_files(tmp_path, {"a.md": "```sh\n# not a title\n```\n\nReal Title\n==========\n\ntext\n"})
    assert load_document(tmp_path / "a.md", tmp_path).title == "Real Title"


@pytest.mark.parametrize("name", ["gzip.rst", "gzip.rst.txt"])
def test_rst_read_as_a_reader_sees_it_keeping_lines(tmp_path: Path, name: str) -> None:
    raw = (
        ":mod:`gzip` --- Support for :program:`gzip` files\n"
        "=================================================\n\n"
        ".. module:: gzip\n\n"
        ".. function:: open(filename, mode='rb')\n\n"
        "   Open a :term:`file\n   object` like :func:`~gzip.open` or ``'rb'``; see"
        " `the docs <https://x.org>`_.\n"
    )
    write_files(tmp_path, {name: raw})
    doc = load_document(tmp_path / name, tmp_path)
    assert doc.kind == "rst"
    assert doc.title == "gzip — Support for gzip files"
    lines = doc.text.split("\n")
    assert lines[5] == "gzip.open(filename, mode='rb')"  # the directive's line, as Sphinx shows it
    assert lines[7:9] == ["Open a file", "object like open() or 'rb'; see the docs."]
    assert doc.text.count("\n") <= raw.count("\n")
    assert doc.sections is not None
    assert [s.path for s in doc.sections][-1] == [doc.title, "gzip.open(filename, mode='rb')"]


def test_rst_overlined_title(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            "w.rst": "****************************\n  What's New In Python 3.11\n"
            "****************************\n\nBody.\n"
        },
    )
    assert load_document(tmp_path / "w.rst", tmp_path).title == "What's New In Python 3.11"


def test_text_code_and_unknown_extension(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            "notes.txt": "plain notes\r\nline two\r\n",
            "main.py": "def f():\n    pass\n",
            "data.weird": "just text here\n",
            "Makefile": "all:\n\ttrue\n",
        },
    )
    notes = load_document(tmp_path / "notes.txt", tmp_path)
    assert (notes.kind, notes.title, notes.text) == ("text", "notes.txt", "plain notes\nline two\n")
    assert load_document(tmp_path / "main.py", tmp_path).kind == "code"
    assert load_document(tmp_path / "Makefile", tmp_path).kind == "code"
    weird = load_document(tmp_path / "data.weird", tmp_path)
    assert (weird.kind, weird.text) == ("text", "just text here\n")


def test_html_keeps_visible_text_only(tmp_path: Path) -> None:
    html = (
        "<html><head><title>The  Page</title><style>body{color:red}</style>"
        "<script>var secret = 1;</script></head><body><h1>Top</h1><p>Hello &amp; welcome"
        "<script>alert('x')</script></p><h2>Sub</h2><ul><li>one</li><li>two</li></ul>"
        "<noscript>enable js</noscript></body></html>"
    )
    write_files(tmp_path, {"p.html": html})
    doc = load_document(tmp_path / "p.html", tmp_path)
    assert (doc.kind, doc.title) == ("html", "The Page")
    assert "Hello & welcome" in doc.text
    assert "# Top" in doc.text and "## Sub" in doc.text and "- one" in doc.text
    for hidden in ("secret", "alert", "color", "enable js", "<"):
        assert hidden not in doc.text


def test_pdf_pages_and_title(tmp_path: Path) -> None:
    write_files(
        tmp_path, {"r.pdf": minimal_pdf(["First page words", "Second page words"], "Report")}
    )
    doc = load_document(tmp_path / "r.pdf", tmp_path)
    assert (doc.kind, doc.title) == ("pdf", "Report")
    assert [page for page, _ in doc.page_offsets] == [1, 2]
    second = doc.page_offsets[1][1]
    assert doc.text[second:].startswith("Second page words")
    assert doc.text[: doc.page_offsets[0][1] + 16] == "First page words"


def test_pdf_without_title_uses_file_name(tmp_path: Path) -> None:
    write_files(tmp_path, {"plain.pdf": minimal_pdf(["Only page"])})
    assert load_document(tmp_path / "plain.pdf", tmp_path).title == "plain.pdf"


def test_broken_pdf_raises_load_error(tmp_path: Path) -> None:
    write_files(
        tmp_path, {"bad.pdf": b"%PDF-1.4\n1 0 obj << /Type /Catalog >>\ngarbage", "x.pdf": b"hello"}
    )
    for name in ("bad.pdf", "x.pdf"):
        with pytest.raises(LoadError, match="PDF"):
            load_document(tmp_path / name, tmp_path)


# --- bad input -----------------------------------------------------------------------------------


def test_binary_detected_by_content_whatever_the_extension(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {"image.md": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "ctl.txt": bytes(range(1, 31)) * 50},
    )
    for name in ("image.md", "ctl.txt"):
        with pytest.raises(LoadError, match="binary file"):
            load_document(tmp_path / name, tmp_path)


def test_invalid_utf8_mostly_valid_is_repaired(tmp_path: Path) -> None:
    write_files(tmp_path, {"a.txt": b"caf\xe9 " + b"plain text " * 50})
    doc = load_document(tmp_path / "a.txt", tmp_path)
    assert doc.text.startswith("caf\ufffd plain text")


def test_invalid_utf8_mostly_invalid_is_refused(tmp_path: Path) -> None:
    write_files(tmp_path, {"latin.txt": "déjà vu à côté élève ".encode("latin-1") * 20})
    with pytest.raises(LoadError, match="not valid UTF-8"):
        load_document(tmp_path / "latin.txt", tmp_path)


def test_utf16_with_bom_is_text(tmp_path: Path) -> None:
    write_files(tmp_path, {"w.txt": "wide text\n".encode("utf-16")})
    assert load_document(tmp_path / "w.txt", tmp_path).text == "wide text\n"


@pytest.mark.parametrize("content", [b"", b"  \n\t\n"])
def test_empty_file(tmp_path: Path, content: bytes) -> None:
    write_files(tmp_path, {"e.md": content})
    with pytest.raises(LoadError, match="empty file"):
        load_document(tmp_path / "e.md", tmp_path)


def test_oversized_is_skipped_and_refused(tmp_path: Path) -> None:
    write_files(tmp_path, {"big.txt": "x" * 2000, "small.txt": "ok"})
    items = list(discover([tmp_path], max_bytes=1000))
    assert found(items, tmp_path) == ["small.txt"]
    assert "too large" in skipped(items)["big.txt"]
    with pytest.raises(LoadError, match="too large"):
        load_document(tmp_path / "big.txt", tmp_path, max_bytes=1000)


def as_unprivileged(function: Callable[[], Any], timeout: float = UNPRIVILEGED_TIMEOUT_S) -> Any:
    """Run `function` in a child process that dropped root (chmod 000 does not stop root).

    The child is forked: only for code that runs no threads (not LanceDB's: a forked child can
    hang in it); see `run_script` for those. A child that does not answer in `timeout` fails."""
    if os.geteuid() != 0:
        return function()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(read_end)
        try:
            os.setgid(65534)
            os.setuid(65534)
            result: Any = ("ok", function())
        except BaseException as exc:
            result = ("error", exc)
        with os.fdopen(write_end, "wb") as out:
            pickle.dump(result, out)
        os._exit(0)
    os.close(write_end)
    ready, _, _ = select.select([read_end], [], [], timeout)
    if not ready:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(read_end)
        raise AssertionError(f"the unprivileged child did not answer in {timeout:.0f} s")
    with os.fdopen(read_end, "rb") as incoming:
        status, value = pickle.load(incoming)
    os.waitpid(pid, 0)
    if status == "error":
        raise value
    return value


def test_permission_denied_file_and_folder(world_readable_dir: Path) -> None:
    root = write_files(
        world_readable_dir, {"open.md": "# fine", "locked.md": "# secret", "shut/in.md": "x"}
    )
    (root / "locked.md").chmod(0o000)
    (root / "shut").chmod(0o000)

    def scan() -> tuple[list[str], dict[str, str], str]:
        items = list(discover([root]))
        try:
            load_document(root / "locked.md", root)
        except LoadError as exc:
            return found(items, root), skipped(items), str(exc)
        return found(items, root), skipped(items), "loaded"

    files, skips, load_error = as_unprivileged(scan)
    assert "open.md" in files
    assert skips["shut"] == "permission denied"
    assert load_error == "permission denied"


def test_fifo_and_folder_named_like_a_file(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.md")
    write_files(tmp_path, {"dir.md/inner.md": "# inner"})
    items = list(discover([tmp_path]))
    assert skipped(items)["pipe.md"] == "not a regular file"
    assert found(items, tmp_path) == ["dir.md/inner.md"]
    for name in ("pipe.md", "dir.md"):
        with pytest.raises(LoadError, match="not a regular file"):
            load_document(tmp_path / name, tmp_path)


def test_symlink_loops_are_skipped(tmp_path: Path) -> None:
    write_files(tmp_path, {"a/doc.md": "# doc"})
    (tmp_path / "a" / "back").symlink_to(tmp_path)
    (tmp_path / "self.md").symlink_to(tmp_path / "self.md")
    (tmp_path / "dangling.md").symlink_to(tmp_path / "nowhere.md")
    items = list(discover([tmp_path]))
    assert found(items, tmp_path) == ["a/doc.md"]
    reasons = skipped(items)
    assert reasons["back"] == "symlink loop"
    assert reasons["self.md"] == "symlink loop"
    assert reasons["dangling.md"] == "broken symlink"


def test_symlinked_folder_without_loop_is_followed(tmp_path: Path) -> None:
    write_files(tmp_path, {"real/doc.md": "# doc", "root/own.md": "# own"})
    (tmp_path / "root" / "linked").symlink_to(tmp_path / "real")
    assert found(list(discover([tmp_path / "root"])), tmp_path / "root") == [
        "linked/doc.md",
        "own.md",
    ]


def test_missing_path_and_single_file_root(tmp_path: Path) -> None:
    write_files(tmp_path, {"one.md": "# one"})
    items = list(discover([tmp_path / "missing", tmp_path / "one.md"]))
    assert items[0] == Skipped(str(tmp_path / "missing"), "no such file or folder")
    assert items[1] == (tmp_path / "one.md", tmp_path)


# --- selection -----------------------------------------------------------------------------------


def test_gitignore_at_every_level_and_hidden_entries(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            ".gitignore": "*.log\nbuild/\n",
            "keep.md": "k",
            "debug.log": "l",
            "build/out.md": "b",
            ".hidden.md": "h",
            ".git/config": "c",
            "sub/.gitignore": "!important.log\nlocal.md\n",
            "sub/important.log": "i",
            "sub/local.md": "l",
            "sub/other.log": "o",
            "local.md": "top",
        },
    )
    assert found(list(discover([tmp_path])), tmp_path) == [
        "keep.md",
        "local.md",
        "sub/important.log",
    ]


def test_include_and_exclude_globs(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {"a.md": "a", "docs/b.md": "b", "docs/c.txt": "c", "drafts/d.md": "d", "e.py": "e"},
    )
    pick = lambda **kw: found(list(discover([tmp_path], **kw)), tmp_path)  # noqa: E731
    assert pick(include=["*.md"]) == ["a.md", "docs/b.md", "drafts/d.md"]
    assert pick(include=["docs/*"]) == ["docs/b.md", "docs/c.txt"]
    assert pick(exclude=["drafts/", "*.py"]) == ["a.md", "docs/b.md", "docs/c.txt"]
    assert pick(include=["*.md"], exclude=["drafts"]) == ["a.md", "docs/b.md"]


def test_odd_file_names(tmp_path: Path) -> None:
    names = ['it\'s "quoted".md', "with space.txt", "naïve 日本.md", "semi;colon'--.md"]
    write_files(tmp_path, {f"dir one/{n}": f"# {n}\n\nbody" for n in names})
    items = list(discover([tmp_path]))
    assert found(items, tmp_path) == sorted(f"dir one/{n}" for n in names)
    for path, root in (i for i in items if isinstance(i, tuple)):
        doc = load_document(path, root)
        assert doc.source == f"dir one/{path.name}"
        assert (root / doc.source).read_bytes().decode() == f"# {path.name}\n\nbody"


def test_html_leaves_out_navigation_and_hidden_elements(tmp_path: Path) -> None:
    html = (
        "<body><div role='navigation'><ul><li>Home</li><li>Index</li></ul></div>"
        "<nav>menu <b>bold menu</b></nav><div hidden>secret <p>deep</p></div>"
        "<h2>Usage<a class='headerlink'>¶</a></h2><p>Call   it\n  twice.</p>"
        "<div aria-hidden='true'>icon</div><pre>  keep\n    indent</pre></body>"
    )
    write_files(tmp_path, {"p.htm": html})
    doc = load_document(tmp_path / "p.htm", tmp_path)
    assert doc.text == "## Usage\n\nCall it twice.\n\n  keep\n    indent"
    assert doc.title == "Usage"  # no <title>: the first heading
