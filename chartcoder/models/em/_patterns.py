"""Bounded regular-expression helpers shared by the E/M readers: gated patterns, spans, interval
sets and the per-note reading limits."""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from functools import lru_cache

Span = tuple[int, int]


def _rx(pattern: str, flags: int = re.I) -> re.Pattern[str]:
    return re.compile(pattern, flags)


@lru_cache(maxsize=8)
def _lower(text: str) -> str:
    return text.lower()


@lru_cache(maxsize=8)
def _ascii(text: str) -> bool:
    return text.isascii()


def _top_branches(pattern: str) -> list[str] | None:
    """The top-level alternatives of a pattern, as source text ("a|(b|c)|d" -> ["a", "(b|c)", "d"]);
    None for a pattern whose source this reading does not follow (global inline flags)."""
    if pattern.startswith("(?") and re.match(r"\(\?[a-zA-Z]+\)", pattern):
        return None
    out, depth, start, i = [], 0, 0, 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if c == "[":  # a class: "]" first (or after "^") is a member, escapes are skipped
            j = i + 1
            if j < len(pattern) and pattern[j] == "^":
                j += 1
            if j < len(pattern) and pattern[j] == "]":
                j += 1
            while j < len(pattern) and pattern[j] != "]":
                j += 2 if pattern[j] == "\\" else 1
            i = j + 1
            continue
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == "|" and depth == 0:
            out.append(pattern[start:i])
            start = i + 1
        i += 1
    out.append(pattern[start:])
    return out


def _needed(items: list[tuple[object, object]]) -> frozenset[str] | None:
    """Lower-case strings of which any match of the parsed sequence holds at least one (the longest
    such run of literal characters, or a choice of runs across the branches of a group); None when
    the sequence has none of two or more characters."""
    from re import _constants as sre  # type: ignore[attr-defined]

    candidates: list[frozenset[str]] = []
    run = ""
    for op, av in items:
        if op is sre.LITERAL:
            run += chr(av).lower()  # type: ignore[arg-type]
            continue
        if run:
            candidates.append(frozenset({run}))
            run = ""
        sub: frozenset[str] | None = None
        if op is sre.SUBPATTERN:
            sub = _needed(list(av[-1]))  # type: ignore[index]
        elif op is sre.BRANCH:
            parts = [_needed(list(b)) for b in av[1]]  # type: ignore[index]
            sub = None if any(p is None for p in parts) else frozenset().union(*parts)  # type: ignore[arg-type]
        elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT, getattr(sre, "POSSESSIVE_REPEAT", None)):
            repeat: tuple[int, int, list[tuple[object, object]]] = av  # type: ignore[assignment]
            sub = _needed(list(repeat[2])) if repeat[0] >= 1 else None
        if sub:
            candidates.append(sub)
    if run:
        candidates.append(frozenset({run}))
    candidates = [c for c in candidates if min(map(len, c)) >= 2]
    return max(candidates, key=lambda c: (min(map(len, c)), -len(c))) if candidates else None


class _Gated:
    """A whole-note pattern searched only when the note holds one of the words it cannot match without
    (a substring test in C first): a note of blanks, digits or punctuation costs almost nothing.

    Each top-level alternative of the pattern has its own such words too (the longest run of literal
    characters it cannot match without, or one per branch of a group), read from the pattern itself:
    an ASCII note is searched with only the alternatives whose words it holds. An alternative whose
    words are absent matches nowhere, so the matches are the same, and a note pays for the few
    alternatives it could match rather than for every one at every position (each costs about as
    much as a plain scan of the note). A note with other characters gets the whole pattern (case
    folding beyond ASCII can match what lower-casing does not show)."""

    def __init__(self, rx: re.Pattern[str], *words: str) -> None:
        self.rx, self.words = rx, words
        self._branches: list[tuple[str, frozenset[str] | None]] = []
        self._subsets: dict[tuple[int, ...], re.Pattern[str]] = {}
        branches = _top_branches(rx.pattern) if not rx.flags & re.X else None
        if branches and len(branches) > 1:
            from re import _parser as sre_parse  # type: ignore[attr-defined]

            try:
                needs = [_needed(list(sre_parse.parse(b, rx.flags).data)) for b in branches]
            except (re.error, ValueError, TypeError):
                needs = []
            if any(n is not None for n in needs):
                self._branches = list(zip(branches, needs, strict=True))

    def _pattern(self, text: str) -> re.Pattern[str] | None:
        low = _lower(text)
        if not any(w in low for w in self.words):
            return None
        if not self._branches or not _ascii(text):
            return self.rx
        key = tuple(i for i, (_, need) in enumerate(self._branches) if need is None or any(w in low for w in need))
        if not key:
            return None
        if len(key) == len(self._branches):
            return self.rx
        hit = self._subsets.get(key)
        if hit is None:
            hit = re.compile("|".join(self._branches[i][0] for i in key), self.rx.flags)
            if len(self._subsets) < 256:
                self._subsets[key] = hit
        return hit

    def search(self, text: str) -> re.Match[str] | None:
        rx = self._pattern(text)
        return rx.search(text) if rx is not None else None

    def finditer(self, text: str) -> Iterator[re.Match[str]]:
        rx = self._pattern(text)
        return rx.finditer(text) if rx is not None else iter(())

    def findall(self, text: str) -> list[str]:
        rx = self._pattern(text)
        return rx.findall(text) if rx is not None else []


_MAX_QUANTITIES = 2000  # minute quantities looked at per note (a real note has a handful)
_MAX_STATEMENTS = 200  # of those, quantities with time words around them that are read in full
_MAX_ITEMS = 400  # assessment/plan lines and numbered entries read for problems (a real note has dozens)
# Problem words read per item: each is checked against its item, so the cost grows with their product. Real
# items name at most 8 (2,500 MTSamples notes); a line naming thousands ("sepsis sepsis ...") read them all
# in 25 s at 80k characters.
_MAX_ITEM_MENTIONS = 30
_WINDOW = 240  # characters either side of a quantity that can hold its sentence
_CUE_WORDS = ("time", "spent", "spend", "total", "face", "visit", "encounter", "appointment")


class _Intervals:
    """Disjoint or overlapping [start, end) spans with an overlap test by bisection, not a scan: a note
    with thousands of matches stays linear."""

    def __init__(self, spans: Iterator[Span] | Sequence[Span] = ()) -> None:
        merged: list[list[int]] = []
        for a, b in sorted(spans):
            if merged and a <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], b)
            else:
                merged.append([a, b])
        self.starts = [a for a, _ in merged]
        self.ends = [b for _, b in merged]

    def overlaps(self, start: int, end: int) -> bool:
        i = bisect_left(self.starts, end) - 1  # the last span starting before `end`
        return i >= 0 and self.ends[i] > start

    def add(self, start: int, end: int) -> None:
        """Add a span that overlaps none already held (the caller tested it)."""
        i = bisect_left(self.starts, start)
        self.starts.insert(i, start)
        self.ends.insert(i, end)
