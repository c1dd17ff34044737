"""User names: one normal form (NFKC, case-folded), and a look-alike "skeleton" so that a new name
that reads like an existing one (`аdmin` with a Cyrillic а beside `admin`, `adrnin`, `admin` in
fullwidth letters) is refused.

The skeleton follows Unicode TR39's idea (map every character to a prototype of the characters it
can be confused with) on the confusables data the `confusable_homoglyphs` package ships (built from
Unicode's confusables.txt): characters that the data lists as homoglyphs of one another fall into
one class, and each class is written as its lowest code point (an ASCII character where the class
has one); a character the data lists as looking like a few ASCII letters (`m` and `rn`, `æ` and
`ae`) is written as those letters. Two names with the same skeleton look alike.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

_MARKS = str.maketrans("", "", "\u200e\u200f")  # direction marks around some right-to-left entries


def normalize_username(name: str) -> str:
    """The stored and compared form of a user name: NFKC, case-folded, outer spaces trimmed."""
    return unicodedata.normalize("NFKC", name).casefold().strip()


@lru_cache(maxsize=1)
def _tables() -> tuple[dict[str, str], dict[str, str]]:
    from confusable_homoglyphs.confusables import confusables_data

    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.get(x, x) != x:
            parent[x] = parent.get(parent[x], parent[x])
            x = parent[x]
        return x

    expand: dict[str, str] = {}
    for char, glyphs in confusables_data.items():
        if len(char) != 1:
            continue
        for g in glyphs:
            other = str(g["c"]).translate(_MARKS)
            if len(other) == 1:
                a, b = find(char), find(other)
                if a != b:
                    parent[max(a, b)] = min(a, b)
            elif other.isascii() and other.isalnum() and char not in expand:
                expand[char] = other.casefold()
    prototype = {c: find(c) for c in parent}
    return prototype, expand


def skeleton(name: str) -> str:
    """What a name looks like: equal skeletons, names a reader can mistake for each other."""
    prototype, expand = _tables()
    out = []
    for ch in normalize_username(name):
        ch = prototype.get(ch, ch)
        out.append(expand.get(ch, ch))
    return "".join(prototype.get(c, c) for c in "".join(out))
