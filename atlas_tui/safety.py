"""Untrusted text (documents, model output) made safe to print on a terminal.

Escape sequences (CSI, OSC, ...) and other control characters are removed, except newline and tab;
a carriage return is dropped so a line cannot overwrite itself. Rich markup is the UI's concern: it
shows such text through `rich.text.Text` or `rich.markup.escape`, never as markup.
"""

from __future__ import annotations

import re

# ESC-introduced sequences: CSI (ESC [ ... final), OSC (ESC ] ... BEL or ST), two-byte escapes;
# then the 8-bit C1 forms, then any remaining C0/C1 control but \t and \n.
_ESCAPES = re.compile(
    r"""
    \x1b\[[0-?]*[ -/]*[@-~]            # CSI
  | \x1b\][^\x07\x1b]*(?:\x07|\x1b\\)? # OSC, terminated by BEL or ST
  | \x1b[PX^_][^\x1b]*(?:\x1b\\)?      # DCS, SOS, PM, APC
  | \x1b[@-Z\\-_]                      # other Fe escapes
  | \x9b[0-?]*[ -/]*[@-~]              # 8-bit CSI
  | [\x00-\x08\x0b-\x1f\x7f-\x9f]      # the remaining controls (keeps \t and \n)
    """,
    re.VERBOSE,
)


def terminal_safe(text: str) -> str:
    """`text` with every terminal escape sequence and control character removed."""
    return _ESCAPES.sub("", text)
