"""Whose key is it: the query box's editing keys versus the app's keys rebound in `[keys]`.

A key rebound in the config becomes a priority binding (so it works, and is listed, while the
query box has focus) unless the query box needs that key for typing; then it stays the query
box's there, and the app says so once at start-up.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from textual.binding import Binding
from textual.dom import DOMNode
from textual.keys import _character_to_key
from textual.widgets import TextArea

from atlas_tui.tui.widgets.query_box import NEWLINE_KEYS, QueryBox

# Text-area actions an app key may take over: each has another way (the terminal's own
# selection and copy, the mouse) or is rarely needed while typing a question.
DISPENSABLE = frozenset({"redo", "copy", "cut", "select_all", "select_line"})
TYPING_KEYS = frozenset({"enter", "tab", "shift+tab", "escape", *NEWLINE_KEYS})


def _text_area_keys() -> dict[str, str]:
    keys: dict[str, str] = {}
    for binding in [*TextArea.BINDINGS, *QueryBox.BINDINGS]:  # the box's own last: they win
        if not isinstance(binding, Binding):
            continue
        action = binding.action.split("(")[0]
        if action in DISPENSABLE:
            continue
        for key in binding.key.split(","):
            keys[key.strip()] = binding.description or action.replace("_", " ")
    return keys


TEXT_AREA_KEYS = _text_area_keys()


def typing_use(key: str) -> str | None:
    """What the query box does with `key` while typing, or None when an app key may take it."""
    if len(key) == 1 or key == "space":
        return "typing"
    if key in TYPING_KEYS:
        return "typing"
    normalised = _character_to_key(key) if len(key) == 1 else key
    return TEXT_AREA_KEYS.get(normalised)


def bindings_of(owners: Iterable[type[DOMNode]]) -> list[Binding]:
    """The bindings these classes declare, in order."""
    return [b for owner in owners for b in owner.BINDINGS if isinstance(b, Binding)]


def binding_ids(owners: Iterable[type[DOMNode]]) -> set[str]:
    """The ids a config's [keys] may rebind: those of the bindings these classes declare."""
    return {b.id for b in bindings_of(owners) if b.id}


def prioritise(node: DOMNode, ids: set[str]) -> None:
    """Make the node's bindings with these ids priority bindings (in place)."""
    bindings = node._bindings
    for key, key_bindings in bindings.key_to_bindings.items():
        bindings.key_to_bindings[key] = [
            replace(b, priority=True) if b.id in ids else b for b in key_bindings
        ]


def split_keymap(keymap: dict[str, str]) -> tuple[set[str], list[str]]:
    """The binding ids whose new keys typing does not need (they may act while typing), and
    "key (what typing uses it for)" for the others."""
    free, kept = set(), []
    for binding_id, keys in keymap.items():
        uses = {key.strip(): typing_use(key.strip()) for key in keys.split(",")}
        kept += [f"{key} ({use})" for key, use in uses.items() if use]
        if not any(uses.values()):
            free.add(binding_id)
    return free, kept
