"""Finding files under the ingested roots and turning each into a `LoadedDocument`.

`discover` walks roots in a deterministic order (iteratively: any nesting depth), honours
.gitignore files at every level (gitignore semantics via `pathspec`), skips hidden entries and
never follows a symlink into a loop. Every file, document or .gitignore, is read by
`read_regular`: only regular files, never past a size cap, never blocking. Problems are yielded
as `Skipped(path, reason)`, never raised. `load_document` raises `LoadError(reason)` with a short
human reason ("binary file", "not valid UTF-8", "broken PDF: ...").
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import re
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path

import pathspec

from atlas_tui.knowledge.html_text import html_to_text
from atlas_tui.knowledge.records import LoadedDocument, Skipped
from atlas_tui.knowledge.sections import Section, first_heading

log = logging.getLogger(__name__)

MARKDOWN_SUFFIXES = frozenset({".md", ".markdown", ".mdown", ".mkd"})
RST_SUFFIXES = frozenset({".rst", ".rest"})
HTML_SUFFIXES = frozenset({".html", ".htm", ".xhtml"})
_CODE_EXTENSIONS = """py pyi js mjs cjs jsx ts tsx go rs java kt kts scala c h cc cpp cxx hpp hh cs
rb php pl pm lua r jl swift m mm sh bash zsh fish ps1 sql toml yaml yml json jsonc ini cfg conf xml
css scss less vue svelte dart ex exs erl hs ml mli clj el vim tf proto gradle cmake mk bat"""
CODE_SUFFIXES = frozenset(f".{extension}" for extension in _CODE_EXTENSIONS.split())
CODE_NAMES = frozenset({"Makefile", "Dockerfile", "CMakeLists.txt", "Justfile", "Rakefile"})

SUPPORTED = (
    "Markdown (.md .markdown), reStructuredText (.rst, .rst.txt), plain text (.txt and any file "
    "whose content is text), source code (" + " ".join(sorted(CODE_SUFFIXES)) + "), HTML (.html "
    ".htm: visible text only) and PDF (.pdf, text per page). Binary files are detected by content."
)

DEFAULT_MAX_BYTES = 20_000_000
GITIGNORE_MAX_BYTES = 1_000_000  # a .gitignore larger than this is not used (and reported)
_SNIFF_BYTES = 8192
_MAX_INVALID_UTF8 = 0.01  # share of undecodable bytes tolerated (replaced by U+FFFD)
_MAX_CONTROL = 0.05  # share of control characters above which a text is called binary


class LoadError(Exception):
    """A file that cannot be loaded; the message is the human reason shown in the report."""


def kind_of(path: Path) -> str:
    """The loader a path's name asks for (content may still turn out binary)."""
    name = path.name.lower()
    suffix = path.suffix.lower()
    if suffix in MARKDOWN_SUFFIXES:
        return "markdown"
    if suffix in RST_SUFFIXES or name.endswith((".rst.txt", ".rest.txt")):
        return "rst"
    if suffix in HTML_SUFFIXES:
        return "html"
    if suffix == ".pdf":
        return "pdf"
    if suffix in CODE_SUFFIXES or path.name in CODE_NAMES:
        return "code"
    return "text"


# --- discovery -----------------------------------------------------------------------------------


def _spec(patterns: Sequence[str]) -> pathspec.GitIgnoreSpec | None:
    lines = [p for p in patterns if p.strip()]
    return pathspec.GitIgnoreSpec.from_lines(lines) if lines else None


class _Walker:
    """Walks one root depth-first with an explicit stack (no recursion: nesting depth is free)."""

    def __init__(self, root: Path, include: Sequence[str], exclude: Sequence[str], max_bytes: int):
        self.root = root
        self.include = _spec(include)
        self.include_names = [p for p in include if "/" not in p]
        self.exclude = _spec(exclude)
        self.max_bytes = max_bytes

    def _ignored(self, rel: str, is_dir: bool, ignores: _Ignores) -> bool:
        """Gitignore semantics: the deepest .gitignore with a matching pattern decides."""
        probe = rel + "/" if is_dir else rel
        if self.exclude is not None and self.exclude.match_file(probe):
            return True
        verdict = False
        for base, spec in ignores:
            result = spec.check_file(probe[len(base) :])
            if result.include is not None:
                verdict = result.include
        return verdict

    def _included(self, rel: str) -> bool:
        if self.include is None:
            return True
        name = rel.rsplit("/", 1)[-1]
        return self.include.match_file(rel) or any(fnmatch(name, p) for p in self.include_names)

    def _open_folder(
        self, directory: Path, rel: str, ignores: _Ignores, ancestors: _Ancestors
    ) -> tuple[_Frame | None, list[Skipped]]:
        """A stack frame for one folder (its sorted entries and ignore rules), or why not."""
        try:
            with os.scandir(directory) as scan:
                entries = sorted(scan, key=lambda e: e.name)
        except PermissionError:
            return None, [Skipped(str(directory), "permission denied")]
        except OSError as exc:
            return None, [Skipped(str(directory), f"unreadable folder: {exc.strerror or exc}")]
        problems: list[Skipped] = []
        if any(e.name == ".gitignore" for e in entries):
            gitignore = directory / ".gitignore"
            try:
                raw, _info = read_regular(gitignore, GITIGNORE_MAX_BYTES)
                lines = raw.decode("utf-8", errors="replace").splitlines()
                ignores = [*ignores, (rel, pathspec.GitIgnoreSpec.from_lines(lines))]
            except LoadError as exc:
                problems.append(Skipped(str(gitignore), f".gitignore not used: {exc}"))
        return _Frame(iter(entries), rel, ignores, ancestors), problems

    def walk(self, directory: Path, device_inode: tuple[int, int]) -> Iterator[_Found | Skipped]:
        frame, problems = self._open_folder(directory, "", [], frozenset({device_inode}))
        yield from problems
        stack = [frame] if frame is not None else []
        while stack:
            top = stack[-1]
            entry = next(top.entries, None)
            if entry is None:
                stack.pop()
                continue
            if entry.name.startswith("."):
                continue
            path = Path(entry.path)
            entry_rel = f"{top.rel}{entry.name}"
            try:
                info = path.stat()  # follows symlinks
            except FileNotFoundError:
                yield Skipped(str(path), "broken symlink")
                continue
            except OSError as exc:
                reason = (
                    "symlink loop" if exc.errno == 40 else f"cannot stat: {exc.strerror or exc}"
                )
                yield Skipped(str(path), reason)
                continue
            if stat.S_ISDIR(info.st_mode):
                if self._ignored(entry_rel, True, top.ignores):
                    continue
                key = (info.st_dev, info.st_ino)
                if key in top.ancestors:
                    yield Skipped(str(path), "symlink loop")
                    continue
                frame, problems = self._open_folder(
                    path, entry_rel + "/", top.ignores, top.ancestors | {key}
                )
                yield from problems
                if frame is not None:
                    stack.append(frame)
            elif self._ignored(entry_rel, False, top.ignores) or not self._included(entry_rel):
                continue
            else:
                yield from _check_file(path, self.root, info, self.max_bytes)


_Found = tuple[Path, Path]
_Ignores = list[tuple[str, pathspec.GitIgnoreSpec]]
_Ancestors = frozenset[tuple[int, int]]


@dataclass(slots=True)
class _Frame:
    entries: Iterator[os.DirEntry[str]]
    rel: str
    ignores: _Ignores
    ancestors: _Ancestors


def _check_file(
    path: Path, root: Path, info: os.stat_result, max_bytes: int
) -> Iterator[_Found | Skipped]:
    if not stat.S_ISREG(info.st_mode):
        yield Skipped(str(path), "not a regular file")
    elif info.st_size > max_bytes:
        yield Skipped(str(path), _too_large(info.st_size, max_bytes))
    else:
        yield path, root


def _too_large(size: int, max_bytes: int) -> str:
    return f"too large ({size:,} bytes; the limit is {max_bytes:,})"


def read_regular(path: Path, max_bytes: int) -> tuple[bytes, os.stat_result]:
    """The bytes of `path` if it is a regular file of at most `max_bytes`, else `LoadError`.

    The one way files are read (documents and .gitignore files alike): opened without blocking
    (a FIFO cannot hang us), checked on the open descriptor (no swap between check and read), and
    never read past the cap (a symlink to /dev/zero, or a file growing as we read, cannot balloon).
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except PermissionError as exc:
        raise LoadError("permission denied") from exc
    except FileNotFoundError as exc:
        raise LoadError("no such file") from exc
    except OSError as exc:
        raise LoadError(f"unreadable: {exc.strerror or exc}") from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise LoadError("not a regular file")
        if info.st_size > max_bytes:
            raise LoadError(_too_large(info.st_size, max_bytes))
        blocks: list[bytes] = []
        remaining = max_bytes + 1
        while remaining > 0:
            block = os.read(fd, min(remaining, 1 << 20))
            if not block:
                break
            blocks.append(block)
            remaining -= len(block)
        if remaining <= 0:
            raise LoadError(_too_large(max_bytes + 1, max_bytes))
        return b"".join(blocks), info
    except OSError as exc:
        raise LoadError(f"unreadable: {exc.strerror or exc}") from exc
    finally:
        os.close(fd)


def discover(
    roots: Sequence[str | Path],
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Iterator[_Found | Skipped]:
    """Yield `(file, root)` for every candidate file under `roots`, or `Skipped(path, reason)`.

    A root that is a file yields `(file, its parent)`. Hidden entries and what .gitignore files or
    `exclude` globs name are passed over silently; `include` globs, when given, keep only files
    whose path relative to the root, or bare name, matches.
    """
    for given in roots:
        root = Path(os.path.abspath(Path(given).expanduser()))
        try:
            info = root.stat()
        except FileNotFoundError:
            yield Skipped(str(given), "no such file or folder")
            continue
        except PermissionError:
            yield Skipped(str(given), "permission denied")
            continue
        except OSError as exc:
            reason = "symlink loop" if exc.errno == 40 else f"cannot stat: {exc.strerror or exc}"
            yield Skipped(str(given), reason)
            continue
        if stat.S_ISDIR(info.st_mode):
            walker = _Walker(root, include, exclude, max_bytes)
            yield from walker.walk(root, (info.st_dev, info.st_ino))
        else:
            yield from _check_file(root, root.parent, info, max_bytes)


# --- loading -------------------------------------------------------------------------------------

_ROLE = re.compile(r":(?:[\w.+-]+:)*[\w+-]+:`([^`]+)`")
_LITERAL = re.compile(r"``([^`]+?)``")
_LINK = re.compile(r"`([^`<]+?)\s*<[^`>]+>`__?")
_TARGET = re.compile(r"^(.*?)\s*<[^<>]+>$", re.DOTALL)


def _role_text(match: re.Match[str]) -> str:
    inner = match.group(1)
    labelled = _TARGET.match(inner)
    if labelled and labelled.group(1).strip():
        inner = labelled.group(1)
    return inner.lstrip("~!")


def rst_visible(text: str) -> str:
    """reST with inline markup reduced to what a reader sees (`:func:`x`` -> `x`).

    Only inline constructs change, never line breaks, so line numbers still match the source file.
    Directives (`.. function:: gzip.open(...)`) are kept: they carry the API names people search.
    """
    text = _ROLE.sub(_role_text, text)
    text = _LITERAL.sub(r"\1", text)
    text = _LINK.sub(r"\1", text)
    return text.replace("\\ ", "")


def _rst(source: str) -> tuple[str, str, tuple[Section, ...] | None]:
    """(visible text, first title, sections) of a reST document, read by docutils
    (`rst_text`); a document docutils itself fails on (a bug of its own on odd input) is read
    line by line instead: inline markup reduced, titles found by their underlines."""
    from atlas_tui.knowledge import rst_text

    try:
        rendered = rst_text.render(source)
    except (RecursionError, ValueError, IndexError, KeyError, TypeError, AttributeError) as exc:
        log.warning("docutils could not read a reST document (%s); read line by line", exc)
        return rst_visible(source), "", None
    return rendered.text, rendered.title, tuple(rendered.sections)


def _decode(raw: bytes) -> str:
    """Text from bytes, or LoadError when the content is binary or not UTF-8."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise LoadError("not valid UTF-16") from exc
    if b"\x00" in raw[:_SNIFF_BYTES]:
        raise LoadError("binary file")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("utf-8-sig", errors="replace")
        invalid = text.count("\ufffd")
        if invalid > max(1, len(raw) * _MAX_INVALID_UTF8):
            raise LoadError(f"not valid UTF-8 ({invalid:,} undecodable bytes)") from None
    sample = text[:_SNIFF_BYTES]
    control = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\t\n\r\f\v\x1b")
    if sample and control > len(sample) * _MAX_CONTROL:
        raise LoadError("binary file")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _pdf(raw: bytes) -> tuple[str, str, tuple[tuple[int, int], ...]]:
    """(text, metadata title, page offsets) of a PDF."""
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    parts: list[str] = []
    offsets: list[tuple[int, int]] = []
    try:
        reader = PdfReader(io.BytesIO(raw))
        if reader.is_encrypted and not reader.decrypt(""):
            raise LoadError("encrypted PDF")
        position = 0
        for number, page in enumerate(reader.pages, start=1):
            page_text = (page.extract_text() or "").strip()
            if not page_text:
                continue
            if parts:
                position += 2
            offsets.append((number, position))
            parts.append(page_text)
            position += len(page_text)
        title = str((reader.metadata or {}).get("/Title") or "").strip()
    except LoadError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, OSError) as exc:
        raise LoadError(f"broken PDF: {exc}") from exc
    if not parts:
        raise LoadError("PDF has no extractable text (scanned images?)")
    return "\n\n".join(parts), title, tuple(offsets)


def load_document(path: Path, root: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> LoadedDocument:
    """Read and extract one file; raises `LoadError` with the reason it cannot be used."""
    raw, info = read_regular(path, max_bytes)
    return extract(path, root, raw, info.st_mtime)


def extract(path: Path, root: Path, raw: bytes, mtime: float) -> LoadedDocument:
    """A document from the bytes `read_regular` returned; `LoadError` when there is no text."""
    if not raw.strip():
        raise LoadError("empty file")
    kind = kind_of(path)
    page_offsets: tuple[tuple[int, int], ...] = ()
    sections: tuple[Section, ...] | None = None
    title = ""
    if kind == "pdf":
        text, title, page_offsets = _pdf(raw)
    else:
        text = _decode(raw)
        if kind == "html":
            title, text = html_to_text(text)
        elif kind == "rst":
            text, title, sections = _rst(text)
        if kind in ("markdown", "rst", "html"):
            title = title or first_heading(kind, text)
    if not text.strip():
        raise LoadError("no text content")
    try:
        source = path.relative_to(root).as_posix()
    except ValueError:
        source = path.name
    return LoadedDocument(
        source=source,
        root=str(root),
        kind=kind,
        title=title or path.name,
        text=text,
        content_hash=hashlib.sha256(raw).hexdigest(),
        mtime=mtime,
        page_offsets=page_offsets,
        sections=sections,
    )
