"""Seeded text helpers: picks, capitalisation, sentence endings, laterality templates, slot filling and typos."""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from typing import Any, TypeVar

from chartcoder.training.synthetic.tables import SIDE_WORDS

T = TypeVar("T")


def _pick(rng: random.Random, seq: Sequence[T]) -> T:
    return seq[rng.randrange(len(seq))]


def _wpick(rng: random.Random, items: Sequence[T], weights: Sequence[float]) -> T:
    return rng.choices(list(items), weights=list(weights))[0]


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:] if s[:1].islower() else s


def _low(s: str) -> str:
    """Lower the first letter unless the first word is an abbreviation (HTN, T2DM, COPD...)."""
    word = s.split(" ", 1)[0]
    if len(word) > 1 and (word[1:2].isupper() or any(ch.isdigit() for ch in word)):
        return s
    return s[:1].lower() + s[1:]


def _sentence(s: str) -> str:
    s = s.strip()
    return s if s.endswith((".", "!", "?")) else s + "."


def _side_text(rng: random.Random, template: str, side: str) -> str:
    """Write a laterality template: {side} is the side word, {s} a plural for bilateral."""
    if side in ("", "unspecified"):
        if "{side}" not in template:
            return template.replace("{s}", "")
        t = template.replace("{side}-sided ", "").replace("the {side} ", "the ").replace("{side} ", "")
        t = t.replace(" {side}", "").replace("{side}", "").replace("{s}", "")
        t = re.sub(r"\s+", " ", t).replace(" ,", ",").replace(", ,", ",").replace(",;", ";").replace(",.", ".")
        return re.sub(r"[,;\s]+$", "", t).strip()
    word = _pick(rng, SIDE_WORDS[side])
    if side == "bilateral":
        t = template.replace("{side}-sided", "{side}").replace("the {side}", "{side}")
        return t.replace("{side}", word).replace("{s}", "s")
    return template.replace("{side}", word).replace("{s}", "")


def _fill(rng: random.Random, template: str, **values: Any) -> str:
    """Fill {name} slots; list values are sampled. Unknown slots stay as written."""

    def one(m: re.Match[str]) -> str:
        v = values.get(m.group(1))
        if v is None:
            return m.group(0)
        if isinstance(v, (list, tuple)):
            return str(_pick(rng, v))
        return str(v)

    return re.sub(r"\{(\w+)\}", one, template)


def _join_words(items: Sequence[str], conj: str = "or") -> str:
    if len(items) <= 1:
        return "".join(items)
    if len(items) == 2:
        return f"{items[0]} {conj} {items[1]}"
    return ", ".join(items[:-1]) + f", {conj} {items[-1]}"


def _typo(rng: random.Random, word: str) -> str:
    i = rng.randrange(1, len(word) - 2)
    how = rng.randrange(3)
    if how == 0:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if how == 1:
        return word[:i] + word[i + 1 :]
    return word[:i] + word[i] + word[i:]


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"
