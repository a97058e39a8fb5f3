"""Hostile inputs for the CLI tests: every kind of terminal escape, in documents, file names and
the sessions database, and the check that output is free of them."""

from __future__ import annotations

import unicodedata

from atlas_tui.sessions import SessionStore
from atlas_tui.types import Citation, Passage

# One sample of each kind of sequence or character that acts on a terminal or disguises text.
ESCAPES = {
    "CSI": "\x1b[31mred\x1b[0m \x1b[2J\x1b[H",
    "OSC 52 clipboard": "\x1b]52;c;SEFDS0VECg==\x1b\\",
    "OSC 2 title": "\x1b]2;TITLEPWNED\x07",
    "DCS": "\x1bP1$qm\x1b\\",
    "8-bit C1": "\x9b31m \x9d2;C1TITLE\x9c \x85",
    "bidi": "\u202eevil\u202c \u2066iso\u2069 \u061c",
    "zero-width": "pass\u200bword\u200d\ufeff\u2060 tag\U000e0041",
}
EVERY_ESCAPE = " ".join(ESCAPES.values())

# A newline in a file name could fake a result line; shown escaped it cannot.
FAKE_LINE = "[9] 1.000  fake.md"
NEWLINE_NAME = f"evil\n{FAKE_LINE}"

BIDI_CONTROLS = {"LRE", "RLE", "LRO", "RLO", "PDF", "LRI", "RLI", "FSI", "PDI"}
# Format characters that are visible (number signs, end-of-ayah marks) or needed to render a
# script (Egyptian hieroglyph joiners): allowed.
VISIBLE_FORMAT = {0x600, 0x601, 0x602, 0x603, 0x604, 0x605, 0x6DD, 0x70F, 0x890, 0x891, 0x8E2}
VISIBLE_FORMAT |= {0x110BD, 0x110CD, *range(0x13430, 0x13440)}


def dangerous(char: str) -> bool:
    """A character that acts on a terminal, reorders text or renders as nothing."""
    category = unicodedata.category(char)
    if category == "Cc":
        return char not in "\t\n"
    if unicodedata.bidirectional(char) in BIDI_CONTROLS:
        return True
    return category == "Cf" and ord(char) not in VISIBLE_FORMAT


def unsafe(output: bytes) -> list[str]:
    """The dangerous characters in a program's output (which must be valid UTF-8)."""
    text = output.decode("utf-8")
    return sorted({f"U+{ord(c):04X}" for c in text if dangerous(c)})


def hostile_turn(store: SessionStore) -> str:
    """A session whose every stored field carries every escape, as a hostile answer would."""
    session_id = store.create_session()
    turn = store.begin_turn(session_id, f"Quokka {EVERY_ESCAPE} question?")
    source = f"{NEWLINE_NAME} {EVERY_ESCAPE}.md"
    store.set_documents(
        turn,
        [
            Passage(
                chunk_id="c1",
                text=f"Quokka passage {EVERY_ESCAPE}",
                source=source,
                root="/corpus",
                title=f"Title {EVERY_ESCAPE}",
                heading=f"Heading {EVERY_ESCAPE}",
                score=0.9,
            )
        ],
    )
    store.finish_turn(
        turn,
        f"The quokka answer {EVERY_ESCAPE} [1].",
        [Citation(number=1, chunk_id="c1", cited_text=f"Quokka passage {EVERY_ESCAPE}")],
        answerer=f"answerer {EVERY_ESCAPE}",
        status="failed",
        error=f"error {EVERY_ESCAPE}",
    )
    return session_id
