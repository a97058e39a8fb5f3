"""reStructuredText (and Sphinx) read by docutils' own parser, rendered as the text a reader sees.

The text keeps the source's line numbers: every block is written at the line it starts on in the
file (markup lines such as underlines, directive options or comments become blank lines), so a
passage's lines still open the file at the right place. What a reader sees:
- inline markup as plain text: roles as Sphinx shows them (``:func:`open``` -> ``open()``,
  ``:meth:`~io.BytesIO.getvalue``` -> ``getvalue()``, ``:ref:`title <target>``` -> ``title``),
  emphasis, literals and links as their words, no backslash escapes;
- Sphinx object directives (function, class, method, attribute, data, exception, decorator,
  module, their ``py:`` forms, and the other domains' objects) as sections titled by the object's
  qualified name and signature, as Sphinx renders them (``gzip.open(filename, mode='rb')``,
  ``class gzip.GzipFile(...)``, ``gzip.GzipFile.peek(n)``);
- admonitions and version notes with their label ("Note:", "Changed in version 3.3:");
- literal blocks indented by four spaces (as Markdown shows code), lists with "- ", tables as
  Markdown rows; comments, targets, index entries, toctrees and directive options not at all.

docutils knows neither Sphinx's roles nor its directives: the Sphinx ones are registered once
(`_register_sphinx`), any other unknown name found in a document as a generic role (its text) or
directive (its content, read as body text). Including files (`include`, `literalinclude`, `raw`,
`csv-table :file:` or `:url:`) is disabled: a document never pulls in another file or a URL.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Any, ClassVar

from docutils import nodes
from docutils.frontend import get_default_settings
from docutils.parsers.rst import Directive, Parser, directives, roles
from docutils.parsers.rst.languages import en
from docutils.utils import new_document

from atlas_tui.knowledge.sections import Section

CODE_INDENT = "    "


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Sphinx's Python-domain objects: directive -> how its signature is introduced
_PY_OBJECTS = {
    "function": "",
    "method": "",
    "attribute": "",
    "data": "",
    "property": "property ",
    "class": "class ",
    "exception": "exception ",
    "classmethod": "classmethod ",
    "staticmethod": "static ",
    "abstractmethod": "abstractmethod ",
    "decorator": "@",
    "decoratormethod": "@",
    "coroutinefunction": "async ",
    "coroutinemethod": "async ",
    "awaitablefunction": "awaitable ",
    "awaitablemethod": "awaitable ",
    "type": "type ",
}
_CLASS_LIKE = frozenset({"class", "exception"})
# other objects that are sections titled by their signature as written
_OTHER_OBJECTS = _names(
    """describe object envvar cmdoption option opcode pdbcommand 2to3fixer monitoring-event
    c:function c:macro c:type c:member c:var c:struct c:union c:enum c:enumerator cfunction
    cmacro ctype cmember cvar cpp:function cpp:class cpp:type cpp:member cpp:var js:function
    js:class js:method js:data js:attribute js:module rst:directive rst:role rst:directive:option"""
)
_CONTEXT = frozenset({"module", "currentmodule", "program"})
_LITERAL = _names("code-block sourcecode doctest testcode testoutput productionlist math")
_HIDDEN = _names(
    """index toctree highlight sectionauthor moduleauthor codeauthor tabularcolumns testsetup
    testcleanup literalinclude include raw only-html glossary-index default-role default-domain
    audit-event audit-event-table"""
)
# directives whose argument is a condition or a class, not text: only their content is shown
_CONTENT_ONLY = _names("only ifconfig hlist rst-class cssclass container tab")
_LABELS = {
    "seealso": "See also:",
    "impl-detail": "CPython implementation detail:",
    "availability": "Availability:",
    "versionadded": "New in version {}.",
    "versionchanged": "Changed in version {}:",
    "deprecated": "Deprecated since version {}:",
    "deprecated-removed": "Deprecated since version {}, will be removed in version {}:",
}
_ADMONITIONS = {
    name: f"{name.capitalize()}:"
    for name in _names("attention caution danger error hint important note tip warning")
}
_FUNCTION_ROLES = frozenset({"func", "meth", "py:func", "py:meth", "c:func", "cfunc"})
_EXPLICIT = re.compile(r"^(.+?)\s*<([^<>]*)>$", re.DOTALL)
_CONTINUED = re.compile(r"(?<!\\)\\\n\s*")
_SCAN_DIRECTIVE = re.compile(r"^[ \t]*\.\.[ \t]+([\w][\w:.+-]*)[ \t]*::", re.MULTILINE)
_SCAN_ROLE = re.compile(r"(?<![\w`]):([\w][\w:.+-]*):`")


class _Object(nodes.Element):
    """A Sphinx object's description: `title` (its signature as rendered), more signatures."""


class _Labelled(nodes.Element):
    """A block shown after a label ("Note:", "Changed in version 3.3:")."""


class _Context(nodes.Element):
    """`.. module::` / `.. currentmodule::`: no text, but names the objects after it."""


def _role_text(name: str, text: str) -> str:
    """A Sphinx cross-reference as Sphinx shows it."""
    text = nodes.unescape(text)
    explicit = _EXPLICIT.match(text)
    if explicit and name not in ("abbr", "samp"):
        return " ".join(explicit.group(1).split())
    shown = text.lstrip("!")
    if shown.startswith("~"):
        shown = shown[1:].rpartition(".")[2]
    shown = shown.lstrip(".")
    if name in _FUNCTION_ROLES and shown and not shown.endswith(")"):
        shown += "()"
    elif name == "abbr":
        shown = shown.split(" (", 1)[0]
    elif name == "samp":
        shown = re.sub(r"\{([^{}]*)\}", r"\1", shown)
    elif name in ("pep", "rfc") and shown[:1].isdigit():
        shown = f"{name.upper()} {shown}"
    elif name in ("issue", "bpo") and shown.isdigit():
        shown = f"bpo-{shown}"
    elif name == "gh" and shown.isdigit():
        shown = f"gh-{shown}"
    return shown


def _role(
    name: str,
    rawtext: str,
    text: str,
    lineno: int,
    inliner: Any,
    options: dict[str, Any] | None = None,
    content: list[str] | None = None,
) -> tuple[list[nodes.Node], list[nodes.system_message]]:
    return [nodes.literal(rawtext, _role_text(name.lower(), text))], []


class _AnyOption(dict):  # type: ignore[type-arg]
    """An option spec accepting every option (Sphinx's `:noindex:`, `:synopsis: ...`)."""

    def __init__(self) -> None:
        super().__init__(noindex=directives.flag)  # not empty: docutils then reads options

    def __contains__(self, key: object) -> bool:
        return True

    def __missing__(self, key: str) -> Any:
        return directives.unchanged


class _Generic(Directive):
    """Any directive docutils does not know: its arguments (one line of text, shown), options
    (read, not shown) and content (parsed as body text)."""

    has_content = True
    optional_arguments = 1
    final_argument_whitespace = True
    option_spec: ClassVar[Any] = _AnyOption()

    def content_nodes(self, container: nodes.Element) -> nodes.Element:
        container.line = self.lineno
        if self.content:
            self.state.nested_parse(self.content, self.content_offset, container)
        return container

    def inline(self, text: str) -> nodes.paragraph:
        """`text` (a directive's argument) read as a paragraph on the directive's line."""
        found, _messages = self.state.inline_text(text, self.lineno)
        paragraph = nodes.paragraph(text, "", *found)
        paragraph.line = self.lineno
        return paragraph

    def run(self) -> list[nodes.Node]:
        node = self.content_nodes(nodes.container())
        if self.arguments and self.name.lower() not in _CONTENT_ONLY:
            node.insert(0, self.inline(self.arguments[0]))
        return [node] if node.children else []


class _ObjectDirective(_Generic):
    def run(self) -> list[nodes.Node]:
        node = self.content_nodes(_Object())
        node["directive"] = self.name.lower().removeprefix("py:")
        text = self.arguments[0] if self.arguments else ""
        text = _CONTINUED.sub(" ", text)  # a signature continued with a backslash is one line
        node["signatures"] = [
            " ".join(line.split()).replace("\\\\", "\\")
            for line in text.splitlines()
            if line.strip()
        ] or [""]
        node["module"] = self.options.get("module")
        return [node]


class _ContextDirective(_Generic):
    def run(self) -> list[nodes.Node]:
        node = self.content_nodes(_Context())
        node["directive"] = self.name.lower().removeprefix("py:")
        node["name"] = " ".join(self.arguments).strip()
        return [node]


class _LabelDirective(_Generic):
    """A label with the directive's leading arguments filled in ("Changed in version {}:"),
    then the rest of its first line and its content."""

    label = ""

    def run(self) -> list[nodes.Node]:
        slots = self.label.count("{}")
        values = [*self.arguments[:slots], *[""] * slots][:slots]
        node = self.content_nodes(_Labelled())
        node["label"] = self.label.format(*values)
        rest = self.arguments[slots:]
        if rest and rest[0].strip():
            node.insert(0, self.inline(rest[0]))
        return [node]


def _label_directive(label: str) -> type[Directive]:
    slots = label.count("{}")
    return type(
        "_Label",
        (_LabelDirective,),
        {"label": label, "required_arguments": slots, "optional_arguments": 1},
    )


class _LiteralDirective(_Generic):
    def run(self) -> list[nodes.Node]:
        text = "\n".join(self.content)
        if not text.strip():
            return []
        node = nodes.literal_block(text, text)
        node.line = self.content_offset + 1
        return [node]


class _HiddenDirective(_Generic):
    def run(self) -> list[nodes.Node]:
        return []


_registered = threading.Lock()
_known_roles: set[str] = set()
_known_directives: set[str] = set()


def _register(name: str, directive: type[Directive]) -> None:
    directives.register_directive(name, directive)
    _known_directives.add(name)


def _register_sphinx() -> None:
    for name in _PY_OBJECTS:
        _register(name, _ObjectDirective)
        _register(f"py:{name}", _ObjectDirective)
    for name in _OTHER_OBJECTS:
        _register(name, _ObjectDirective)
    for name in _CONTEXT:
        _register(name, _ContextDirective)
        _register(f"py:{name}", _ContextDirective)
    for name in _LITERAL:
        _register(name, _LiteralDirective)
    for name in _HIDDEN:
        _register(name, _HiddenDirective)
    for name, label in _LABELS.items():
        _register(name, _label_directive(label))


def _known_role(name: str) -> bool:
    return name in _known_roles or name in en.roles or name in roles._role_registry


def _known_directive(name: str) -> bool:
    return name in _known_directives or name in en.directives


def _register_unknown(source: str) -> None:
    """Register what this document uses and docutils does not know (once per process)."""
    with _registered:
        if not _known_directives:
            _register_sphinx()
        for name in {m.lower() for m in _SCAN_DIRECTIVE.findall(source)}:
            if not _known_directive(name):
                _register(name, _Generic)
        for name in {m.lower() for m in _SCAN_ROLE.findall(source)}:
            if not _known_role(name) or name in ("pep", "rfc"):
                roles.register_local_role(name, _role)
                _known_roles.add(name)


_SETTINGS_LOCK = threading.Lock()
_settings: Any = None


def _parse(source: str) -> nodes.document:
    global _settings
    with _SETTINGS_LOCK:
        if _settings is None:
            settings = get_default_settings(Parser)
            settings.report_level = 5  # nothing printed: problems only leave the text as is
            settings.halt_level = 5
            settings.warning_stream = False
            settings.file_insertion_enabled = False
            settings.raw_enabled = False
            settings.syntax_highlight = "none"
            settings.character_level_inline_markup = False
            _settings = settings
    _register_unknown(source)
    document = new_document("<rst>", _settings)
    Parser().parse(source, document)
    return document


# --- rendering -------------------------------------------------------------------------------


@dataclass(slots=True)
class _Mark:
    """Where a section (or the rest of a parent section after a nested one) begins."""

    line: int  # 0-based line of the output
    path: list[str]
    titled: bool  # the line holds the section's title


@dataclass(slots=True)
class _Renderer:
    lines: list[str] = field(default_factory=list)
    marks: list[_Mark] = field(default_factory=list)
    path: list[str] = field(default_factory=list)
    module: str = ""
    classes: list[str] = field(default_factory=list)
    source_end: int = 0  # the source line the last block written ended on

    # output

    def _at(self, line: int | None) -> int:
        """The output line for a block starting at source `line` (1-based): that line, or the
        next free one after a blank separator when earlier blocks took more lines."""
        wanted = (line - 1) if line else len(self.lines)
        if wanted < len(self.lines):  # behind: a blank line only where the source has one
            apart = line is None or line > self.source_end + 1
            wanted = len(self.lines) + (1 if apart and self.lines[-1].strip() else 0)
        while len(self.lines) < wanted:
            self.lines.append("")
        return wanted

    def emit(self, line: int | None, text: str, indent: str = "", first: str = "") -> None:
        """Write `text` (its lines; the first prefixed by `first`, the rest by `indent`)."""
        rows = text.split("\n")
        while rows and not rows[-1].strip():
            rows.pop()
        if not rows:
            return
        self._at(line)
        for i, row in enumerate(rows):
            prefix = first if i == 0 else indent
            self.lines.append((prefix + row).rstrip() if row.strip() else "")
        self.source_end = (line or self.source_end + 1) + len(rows) - 1

    def mark(self, line: int | None, path: list[str], title: str | None) -> None:
        at = self._at(line)
        if title is not None:
            self.lines.append(title)
        self.marks.append(_Mark(at, list(path), title is not None))

    # walking

    def body(self, node: nodes.Node, first: str = "", indent: str = "") -> None:
        for child in node.children:
            self.block(child, first, indent)
            first = indent

    def block(self, node: nodes.Node, first: str = "", indent: str = "") -> None:
        if isinstance(node, nodes.section):
            self.section(node)
        elif isinstance(node, _Object):
            self.object(node)
        elif isinstance(node, _Context):
            self.context(node)
        elif isinstance(node, nodes.paragraph | nodes.rubric | nodes.line | nodes.caption):
            self.emit(_line(node), _text(node), indent, first)
        elif isinstance(node, nodes.literal_block):
            self.emit(_line(node), node.astext(), CODE_INDENT, CODE_INDENT)
        elif isinstance(node, nodes.doctest_block):
            self.emit(_line(node), node.astext(), indent, first)
        elif isinstance(node, nodes.bullet_list | nodes.enumerated_list):
            self.items(node, indent)
        elif isinstance(node, nodes.definition_list_item | nodes.field | nodes.option_list_item):
            self.term(node)
        elif isinstance(node, nodes.table):
            self.table(node)
        elif isinstance(node, _Labelled):
            self.labelled(node, node["label"])
        elif isinstance(node, nodes.Admonition):
            self.admonition(node)
        elif isinstance(node, nodes.footnote | nodes.citation):
            label = next((c.astext() for c in node.children if isinstance(c, nodes.label)), "")
            content = [c for c in node.children if not isinstance(c, nodes.label)]
            for i, child in enumerate(content):
                self.block(child, f"[{label}] " if label and not i else "")
        elif isinstance(node, nodes.Invisible | nodes.system_message | nodes.Special):
            return  # comments, targets, substitution definitions, problems; transitions
        elif isinstance(node, nodes.title | nodes.label | nodes.image | nodes.raw):
            return
        elif isinstance(node, nodes.Element):
            if isinstance(node, nodes.topic | nodes.sidebar) and node.children:
                title = node.children[0]
                if isinstance(title, nodes.title):
                    self.emit(_line(node), _text(title))
            self.body(node, first, indent)

    def section(self, node: nodes.section) -> None:
        title = node.children[0] if node.children else None
        text = _text(title).replace(" --- ", " — ") if isinstance(title, nodes.title) else ""
        line = _line(title) if isinstance(title, nodes.title) else _line(node)
        outer = list(self.path)
        self.path = [*outer, text] if text else outer
        self.mark(line - 1 if line and line > 1 else line, self.path, text or None)
        self.body(node)
        self.path = outer
        self.mark(None, outer, None)

    def context(self, node: _Context) -> None:
        name = node["name"]
        if node["directive"] in ("module", "currentmodule"):
            self.module = "" if name == "None" else name
            self.classes = []
        self.body(node)

    def object(self, node: _Object) -> None:
        kind = node["directive"]
        module = node.get("module") or self.module
        shown = [self._signature(kind, s, module) for s in node["signatures"]]
        outer, outer_classes = list(self.path), list(self.classes)
        self.path = [*outer, shown[0]]
        self.mark(_line(node), self.path, shown[0])
        for extra in shown[1:]:
            self.emit(None, extra)
        if kind in _CLASS_LIKE:
            name = node["signatures"][0].partition("(")[0]
            self.classes = [*self.classes, _qualified(name, module, self.classes)]
        self.body(node)
        self.path, self.classes = outer, outer_classes
        self.mark(None, outer, None)

    def _signature(self, kind: str, signature: str, module: str) -> str:
        if kind not in _PY_OBJECTS:
            return signature
        name, paren, rest = signature.partition("(")
        full = _qualified(name, module, self.classes)
        return f"{_PY_OBJECTS[kind]}{full}{paren}{rest}"

    def labelled(self, node: nodes.Element, label: str) -> None:
        first = node.children[0] if node.children else None
        if isinstance(first, nodes.paragraph) and _line(first) == _line(node):
            self.emit(_line(node), f"{label} {_text(first)}")
            rest = node.children[1:]
        else:
            self.emit(_line(node), label)
            rest = node.children
        for child in rest:
            self.block(child)

    def admonition(self, node: nodes.Element) -> None:
        title = node.children[0] if node.children else None
        if isinstance(title, nodes.title):
            label = _text(title) + ":"
        else:
            label = _ADMONITIONS.get(node.tagname, node.tagname.capitalize() + ":")
        self.labelled(node, label)

    def items(self, node: nodes.Element, indent: str) -> None:
        enumerated = isinstance(node, nodes.enumerated_list)
        start = int(node.get("start", 1)) if enumerated else 1
        for number, item in enumerate(node.children, start=start):
            bullet = f"{number}. " if enumerated else "- "
            self.body(item, first=indent + bullet, indent=indent + " " * len(bullet))

    def term(self, node: nodes.Element) -> None:
        """A definition list item, field or option: its term, then its body indented by two."""
        head = [c for c in node.children if isinstance(c, nodes.term | nodes.field_name)]
        options = [c for c in node.children if isinstance(c, nodes.option_group)]
        body = [
            c
            for c in node.children
            if isinstance(c, nodes.definition | nodes.field_body | nodes.description)
        ]
        label = " ".join(_text(c) for c in head) or ", ".join(
            _text(option) for group in options for option in group.children
        )
        first = body[0].children[0] if body and body[0].children else None
        line = _line(node) if head else _line(first)  # an option has no line of its own
        if isinstance(first, nodes.paragraph) and _line(first) == line:  # ":param x: text"
            joint = ": " if isinstance(node, nodes.field) else "  "
            self.emit(line, f"{label}{joint}{_text(first)}")
            rest: list[nodes.Node] = [*body[0].children[1:], *body[1:]]
        else:
            self.emit(line, label + (":" if isinstance(node, nodes.field) else ""))
            rest = [child for part in body for child in part.children]
        for child in rest:
            self.block(child, "  ", "  ")

    def table(self, node: nodes.table) -> None:
        """Markdown rows: the header's, a rule, the body's."""
        head = [_cells(r) for group in node.findall(nodes.thead) for r in group.children]
        body = [_cells(r) for group in node.findall(nodes.tbody) for r in group.children]
        rows = [*head, ["---"] * len(head[-1])] if head else []
        rows += body
        self.emit(_line(node), "\n".join("| " + " | ".join(cells) + " |" for cells in rows))


def _qualified(name: str, module: str, classes: list[str]) -> str:
    """An object's full name, as Sphinx resolves it: inside a class, relative to the class
    (written with or without the class's own name); else relative to the current module."""
    name = name.strip()
    if classes:
        owner = classes[-1]
        short = owner[len(module) + 1 :] if module and owner.startswith(module + ".") else owner
        if name.startswith(owner + "."):
            return name
        if name.startswith(short + "."):
            return f"{owner}{name[len(short) :]}"
        return f"{owner}.{name}"
    if module and not name.startswith(module + "."):
        return f"{module}.{name}"
    return name


def _cells(row: nodes.Node) -> list[str]:
    return [" ".join(_flat(entry).split()) for entry in row.children]


def _flat(node: nodes.Node) -> str:
    """A table cell's text on one line: its blocks (paragraphs, list items) one after another."""
    blocks = (nodes.Body, nodes.line)
    if isinstance(node, nodes.Element) and any(isinstance(c, blocks) for c in node.children):
        return " ".join(_flat(c) for c in node.children if isinstance(c, nodes.Element))
    return _text(node)


def _line(node: nodes.Node | None) -> int | None:
    """The 1-based source line a block starts on (its own, else its first child's)."""
    while node is not None:
        line = getattr(node, "line", None)
        if line:
            return int(line)
        children = getattr(node, "children", None)
        node = children[0] if children else None
    return None


def _text(node: nodes.Node) -> str:
    """A block's visible text: inline markup gone, line breaks kept, footnote marks dropped."""
    parts: list[str] = []
    for child in node.children if isinstance(node, nodes.Element) else [node]:
        if isinstance(child, nodes.footnote_reference | nodes.citation_reference):
            if parts:  # "getvalue() [#]_." reads "getvalue()."
                parts[-1] = parts[-1].rstrip(" ")
            continue
        if isinstance(child, nodes.substitution_reference):
            parts.append(child.astext())
        elif isinstance(child, nodes.Text):
            parts.append(str(child))
        elif isinstance(child, nodes.system_message | nodes.Invisible | nodes.image):
            continue
        elif isinstance(child, nodes.Element):
            parts.append(_text(child))
    return nodes.unescape("".join(parts))


@dataclass(frozen=True, slots=True)
class Rendered:
    text: str
    title: str
    sections: list[Section]


def render(source: str) -> Rendered:
    """The visible text of a reST document, its first title and its sections (see module doc)."""
    document = _parse(source)
    renderer = _Renderer()
    renderer.mark(1, [], None)
    renderer.body(document)
    text = "\n".join(renderer.lines)
    return Rendered(text, _title(renderer.marks), _sections(text, renderer.lines, renderer.marks))


def _title(marks: list[_Mark]) -> str:
    return next((m.path[-1] for m in marks if m.titled and m.path), "")


def _sections(text: str, lines: list[str], marks: list[_Mark]) -> list[Section]:
    """One `Section` per mark: from after its title line to the next mark."""
    offsets = [0]
    for row in lines:
        offsets.append(offsets[-1] + len(row) + 1)
    end_of = len(text)

    def at(line: int) -> int:
        return min(offsets[line], end_of) if line < len(offsets) else end_of

    sections: list[Section] = []
    for mark, following in zip(marks, [*marks[1:], None], strict=False):
        title_span = None
        body = at(mark.line)
        if mark.titled:
            title_span = (at(mark.line), at(mark.line) + len(lines[mark.line]))
            body = at(mark.line + 1)
        end = at(following.line) if following is not None else end_of
        if end < body:
            end = body
        if title_span is None and not text[body:end].strip():
            continue  # an empty stretch between a nested section and the next
        sections.append(Section(mark.path, title_span, body, end))
    return sections
