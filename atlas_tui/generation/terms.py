"""A text's terms for overlap scoring: lowercased words without stopwords, lightly stemmed, an
identifier also by its parts ("os.environ" ~ "environ"). Used by the offline answerer and by the
query client (does a search's result still cover what the question asked?)."""

from __future__ import annotations

import re

STOPWORDS = frozenset(
    re.findall(
        r"\w+",
        """a an and are as at be by can could do does for from how i if in into is it its me my of
        on or our should so than that the their them then there these they this to use used using
        was we were what when where which who why will with would you your get make way want""",
    )
)
_WORD = re.compile(r"[^\W_](?:[\w+#.-]*(?:[^\W_]|[+#]))?")  # "c++", "os.path", "größe"
_PART = re.compile(r"[_.]+")


def terms(text: str) -> set[str]:
    """The terms of `text` (see the module doc)."""
    found: set[str] = set()
    for word in _WORD.findall(text.lower()):
        if word in STOPWORDS:
            continue
        found.add(stem(word))
        if "-" in word:  # "SHA-256" also matches "sha256"
            found.add(word.replace("-", ""))
        # An identifier also matches its parts: "date_string" ~ "date", "os.environ" ~ "environ"
        for part in _PART.split(word) if _PART.search(word) else ():
            if len(part) >= 3 and part not in STOPWORDS:
                found.add(stem(part))
    return found


def stem(word: str) -> str:
    """A light plural/verb-form fold, enough for overlap scoring ("indexes" ~ "index",
    "parsed" ~ "parse", "copies" ~ "copy")."""
    if len(word) <= 4:
        return word[:-1] if word.endswith("e") and len(word) == 4 else word
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith(("sses", "shes", "ches", "xes", "zes")):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    elif word.endswith("ing") and len(word) >= 7:
        word = word[:-3]
    elif word.endswith("ed") and len(word) >= 6:
        word = word[:-2]
    return word[:-1] if word.endswith("e") and len(word) >= 4 else word
