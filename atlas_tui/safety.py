"""Untrusted text (documents, model output, file names, the sessions DB) made safe for a terminal.

`terminal_safe` is the one filter for text shown to a person, and `Clean` the type of what it
returns: escape sequences (CSI, OSC, DCS, ...)
and other control characters are removed, except newline and tab; a carriage return is dropped so a
line cannot overwrite itself. Bidi overrides and isolates and invisible characters (zero-width
spaces and joiners, word joiners, byte-order marks, tag characters, ...) are removed too, since they
can make text read differently from what it is. `file_safe` is its form for files (a Markdown
export): the same sequences and controls, and the bidi controls, go; other characters stay.

`display_path` shows a file name on one line, with its control and invisible characters escaped
(a newline in a name cannot fake another line of output). `json_safe` makes JSON text safe to print
without changing what it decodes to. Rich markup is the UI's concern: it shows such text through
`rich.text.Text` or `rich.markup.escape`, never as markup.
"""

from __future__ import annotations

import re

# Characters that render as nothing (or reorder their neighbours) and can disguise text: every
# format character (Unicode category Cf) but the visible number signs and the hieroglyph joiners.
_INVISIBLE = (
    "\u00ad"  # soft hyphen
    "\u034f"  # combining grapheme joiner
    "\u061c"  # Arabic letter mark (bidi)
    "\u115f\u1160\u3164\uffa0"  # Hangul fillers
    "\u17b4\u17b5"  # Khmer inherent vowels
    "\u180e"  # Mongolian vowel separator
    "\u200b-\u200f"  # zero-width space, non-joiner, joiner; left-to-right / right-to-left marks
    "\u202a-\u202e"  # bidi embeddings and overrides
    "\u2060-\u2064"  # word joiner, invisible operators
    "\u2066-\u206f"  # bidi isolates; deprecated format characters
    "\ufeff"  # zero-width no-break space (byte-order mark)
    "\ufff9-\ufffb"  # interlinear annotation
    "\U0001bca0-\U0001bca3"  # shorthand format controls
    "\U0001d173-\U0001d17a"  # musical beam and slur format controls
    "\U000e0000-\U000e007f"  # tag characters (invisible ASCII look-alikes)
)

# ESC-introduced sequences: CSI (ESC [ ... final), OSC (ESC ] ... BEL or ST), DCS/SOS/PM/APC,
# two-byte escapes; then the 8-bit C1 forms, then any remaining C0/C1 control but \t and \n.
_SEQUENCES = r"""
    \x1b\[[0-?]*[ -/]*[@-~]            # CSI
  | \x1b\][^\x07\x1b]*(?:\x07|\x1b\\)? # OSC, terminated by BEL or ST
  | \x1b[PX^_][^\x1b]*(?:\x1b\\)?      # DCS, SOS, PM, APC
  | \x1b[ -/]*[0-~]                    # other escapes: nF (ESC ( B), Fp (ESC 7), Fe, Fs (ESC c)
  | \x9b[0-?]*[ -/]*[@-~]              # 8-bit CSI
  | \x9d[^\x07\x1b\x9c]*[\x07\x9c]      # 8-bit OSC, terminated by BEL or 8-bit ST
  | [\x90\x98\x9e\x9f][^\x1b\x9c]*\x9c   # 8-bit DCS, SOS, PM, APC (a lone one is dropped below)
  | [\x00-\x08\x0b-\x1f\x7f-\x9f]      # the remaining controls (keeps \t and \n)
"""
# For a terminal: those, and the invisible characters above.
_ESCAPES = re.compile(_SEQUENCES + f"| [{_INVISIBLE}]", re.VERBOSE)
# For a file: those, and the bidi controls (which reorder what `cat` shows); other invisible
# characters are text (a zero-width joiner makes an emoji or a Persian word) and stay.
_BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_FILE_UNSAFE = re.compile(_SEQUENCES + f"| [{_BIDI}]", re.VERBOSE)

# What `display_path` and `json_safe` escape rather than remove: every control (newline and tab
# included) and every invisible character.
_UNPRINTABLE = re.compile(rf"[\x00-\x1f\x7f-\x9f{_INVISIBLE}]")
# In JSON text, raw newlines, tabs and carriage returns are layout (inside strings `json.dumps`
# escapes them), so `json_safe` leaves those three alone.
_JSON_UNPRINTABLE = re.compile(rf"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f{_INVISIBLE}]")
_SHORT_ESCAPES = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}


class Clean(str):
    """Text that passed `terminal_safe`: no escape sequence, no control character but newline and
    tab, no invisible or bidi character. Untrusted text is cleaned once, where it enters, and
    carried as `Clean` to what shows it. (An operation on it, e.g. `+`, gives a plain `str`.)"""

    __slots__ = ()


def terminal_safe(text: str) -> Clean:
    """`text` with every terminal escape sequence, control and invisible character removed."""
    if isinstance(text, Clean):
        return text  # cleaned already: cleaning is idempotent
    return Clean(_ESCAPES.sub("", text))


def file_safe(text: str) -> str:
    """`text` for a file a person will `cat` or open: every terminal escape sequence, control
    character (but newline and tab) and bidi control removed; the rest is kept as it is."""
    return _FILE_UNSAFE.sub("", text)


def _escaped(match: re.Match[str]) -> str:
    char = match.group()
    if char in _SHORT_ESCAPES:
        return _SHORT_ESCAPES[char]
    code = ord(char)
    return (
        f"\\x{code:02x}"
        if code <= 0xFF
        else f"\\u{code:04x}"
        if code <= 0xFFFF
        else f"\\U{code:08x}"
    )


def display_path(path: object) -> str:
    """A file name (str or Path) for a terminal: one line, controls and invisible characters shown
    as escapes (`a\\nb.md`), so the name can be recognised but never acts on the terminal."""
    return _UNPRINTABLE.sub(_escaped, str(path))


def _json_escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000  # a UTF-16 surrogate pair, as JSON spells characters beyond the BMP
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def json_safe(text: str) -> str:
    """JSON text made safe to print: the control and invisible characters that `json.dumps` leaves
    as they are (C1 controls, bidi, zero-width, ...) become `\\uXXXX` escapes, so the output still
    decodes to exactly the same value. Only for JSON text: in JSON these characters can only appear
    inside strings, where the escape means the same character."""
    return _JSON_UNPRINTABLE.sub(_json_escaped, text)
