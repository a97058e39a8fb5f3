"""The one filter for text shown on a terminal, tested by character class, not by example."""

from __future__ import annotations

import json
import sys

import pytest

from atlas_tui.safety import Clean, display_path, file_safe, json_safe, terminal_safe
from tests.hostile.cli_corpus import dangerous

ALL_CHARACTERS = "".join(chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF)
DANGEROUS = "".join(c for c in ALL_CHARACTERS if dangerous(c))
# Not format characters, but they render as nothing too (fillers, invisible vowels, the unassigned
# rest of the tag block): removed.
BLANK_LETTERS = {0x34F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x3164, 0xFFA0, *range(0xE0000, 0xE0080)}


def test_no_control_bidi_or_invisible_character_survives() -> None:
    cleaned = terminal_safe(ALL_CHARACTERS)
    assert [hex(ord(c)) for c in cleaned if dangerous(c) or ord(c) in BLANK_LETTERS] == []
    # and nothing else is lost: every other character of Unicode comes through, in order
    kept = "".join(c for c in ALL_CHARACTERS if not dangerous(c) and ord(c) not in BLANK_LETTERS)
    assert len(cleaned) == len(kept)
    assert [hex(ord(a)) for a, b in zip(cleaned, kept, strict=True) if a != b][:5] == []


@pytest.mark.parametrize(
    ("hostile", "shown"),
    [
        ("a\x1b[31mred\x1b[0m b", "ared b"),  # CSI
        ("a\x1b]52;c;SEFDS0VECg==\x1b\\b", "ab"),  # OSC 52 clipboard, ST-terminated
        ("a\x1b]2;TITLEPWNED\x07b", "ab"),  # OSC 2 window title, BEL-terminated
        ("a\x1bP1$qm\x1b\\b", "ab"),  # DCS
        ("a\x1b_apc\x1b\\b \x1bXsos\x1b\\c \x1b^pm\x1b\\d", "ab c d"),  # APC, SOS, PM
        ("a\x1bcb \x1b7c", "ab c"),  # RIS (reset), DECSC: two-byte escapes
        ("a\x9b2Jb", "ab"),  # 8-bit CSI
        ("a\x9d0;title\x9cb \x9d52;c;x\x07c", "ab c"),  # 8-bit OSC, by ST or BEL
        ("a\x90q\x9cb \x98s\x9cc \x9ep\x9cd \x9fa\x9ce", "ab c d e"),  # 8-bit DCS, SOS, PM, APC
        ("caf\x9d stays", "caf stays"),  # a lone C1 introducer: only it goes
        ("line\rover\x00\x07\x08\x7f", "lineover"),
        ("pay \u202eexe.txt\u202c", "pay exe.txt"),  # right-to-left override
        ("a\u2066b\u2069c\u061cd", "abcd"),  # isolates, Arabic letter mark
        ("pass\u200bword\u200d\ufeff\u2060", "password"),  # zero-width space/joiner, BOM
        ("tag\U000e0041\U000e0042s", "tags"),  # invisible tag letters
    ],
)
def test_each_kind_of_escape_is_removed(hostile: str, shown: str) -> None:
    assert terminal_safe(hostile) == shown


def test_cleaned_text_says_so_and_is_not_cleaned_twice() -> None:
    cleaned = terminal_safe("a\x1b[31mred\x1b[0m b")
    assert isinstance(cleaned, Clean) and cleaned == "ared b"
    assert terminal_safe(cleaned) is cleaned  # already clean: returned as it is
    assert type(terminal_safe("plain")) is Clean
    assert not isinstance(cleaned + "x", Clean)  # what is made from it is plain text again


def test_ordinary_text_is_unchanged() -> None:
    text = "Tabs\tand\nnewlines, [bold]markup[/bold], ünïcödé, עברית, العربية, emoji 🚀 stay."
    assert terminal_safe(text) == text


def test_display_path_keeps_a_name_on_one_line_and_recognisable() -> None:
    name = "notes/evil\n[1] 0.999  fake.md\t\x1b]2;x\x07\u202e\x85\U000e0041.md"
    shown = display_path(name)
    assert shown == ("notes/evil\\n[1] 0.999  fake.md\\t\\x1b]2;x\\x07\\u202e\\x85\\U000e0041.md")
    assert not any(dangerous(c) for c in shown) and "\n" not in shown
    assert display_path("docs/café notes.md") == "docs/café notes.md"


def test_json_safe_escapes_without_changing_the_value() -> None:
    value = {"text": DANGEROUS + "\n\tend", "name": "café 🚀 \u202e\U000e0041"}
    text = json_safe(json.dumps(value, ensure_ascii=False, indent=2))
    assert json.loads(text) == value
    assert not any(dangerous(c) for c in text if c not in "\r")  # layout newlines only
    assert "café 🚀" in text  # readable characters are not escaped


@pytest.mark.parametrize(
    ("hostile", "written"),
    [
        ("a\x1b[31mred\x1b[0m b", "ared b"),
        ("a\x1b]52;c;SEFDS0VECg==\x07b", "ab"),  # OSC 52
        ("a\x1b]8;;https://evil.example\x1b\\link\x1b]8;;\x1b\\b", "alinkb"),  # OSC 8
        ("a\x9b2Jb \x90q\x9cc", "ab c"),  # 8-bit forms
        ("line\rover\x00\x07\x08\x7f", "lineover"),
        ("pay \u202eexe.txt\u202c \u2066x\u2069\u061c\u200e\u200f", "pay exe.txt x"),  # bidi
        # what is text stays: joiners (an emoji, a Persian word), soft hyphens, tabs, newlines
        ("👨\u200d👩\u200d👧 می\u200cخواهم co\u00adop\ttab\nline", None),
    ],
)
def test_file_safe_removes_control_sequences_and_keeps_text(
    hostile: str, written: str | None
) -> None:
    assert file_safe(hostile) == (hostile if written is None else written)


def test_file_safe_removes_every_control_but_tab_and_newline_and_no_letter() -> None:
    controls = "".join(chr(c) for c in [*range(0x20), *range(0x7F, 0xA0)])
    assert file_safe(controls) == "\t\n"
    kept = "".join(c for c in ALL_CHARACTERS[0xA0:0x3000] if c not in "\u061c\u200e\u200f")
    kept = "".join(c for c in kept if not 0x202A <= ord(c) <= 0x202E)
    kept = "".join(c for c in kept if not 0x2066 <= ord(c) <= 0x2069)
    assert file_safe(kept) == kept
