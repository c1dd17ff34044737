"""People's names and free text for claims: generational suffixes split off a name (they go in
NM107, never into the last or first name), and text folded to the X12 basic character set by
transliteration, never by dropping letters.

X12's basic character set is the upper-case letters, the digits, space and a few punctuation marks.
Letters with diacritics lose the mark (É -> E, ñ -> N); letters that are not a base letter plus a
mark are spelled out from the table below (Ø -> O, ß -> SS, Æ -> AE). A letter that is neither
(Cyrillic, CJK, ...) cannot be folded honestly: `fold_x12` raises, the scrubber reports it
(`NAME_CHARACTERS`), and the biller enters the name as the payer's card spells it. The table is our
own; no transliteration package is used (the one installed here is GPL, this project Apache-2.0).
"""

from __future__ import annotations

import unicodedata

# Letters NFKD does not split into a base letter and a mark, spelled the way they are romanized.
_SPELLED = {
    "Ø": "O", "ø": "O", "ß": "SS", "ẞ": "SS", "Æ": "AE", "æ": "AE", "Œ": "OE", "œ": "OE",
    "Ł": "L", "ł": "L", "Đ": "D", "đ": "D", "Ð": "D", "ð": "D", "Þ": "TH", "þ": "TH",
    "ı": "I", "Ħ": "H", "ħ": "H", "Ŋ": "NG", "ŋ": "NG", "ĸ": "K", "ſ": "S",
    "‘": "'", "’": "'", "‚": "'", "“": '"', "”": '"', "–": "-", "—": "-", "‐": "-",
}  # fmt: skip

# Generational and similar suffixes, as written after a name (with or without the period).
SUFFIXES = {"JR": "JR", "SR": "SR", "II": "II", "III": "III", "IV": "IV", "V": "V", "VI": "VI"}


class FoldError(ValueError):
    """Text with a letter that has no transliteration to the X12 basic character set."""


def fold_x12(value: str) -> tuple[str, bool]:
    """(the text in upper-case ASCII, whether any letter was transliterated). Control characters
    become spaces; a letter that cannot be transliterated raises FoldError naming its position."""
    out: list[str] = []
    changed = False
    for i, ch in enumerate(value):
        if ch.isascii():
            out.append(ch if ch.isprintable() else " ")
            continue
        if not ch.isprintable() or ch.isspace():
            out.append(" ")
            continue
        spelled = _SPELLED.get(ch)
        if spelled is None:
            base = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
            spelled = base if base and base.isascii() else None
        if spelled is None:
            raise FoldError(f"character {i + 1} ({unicodedata.name(ch, 'unnamed')}) has no X12 transliteration")
        out.append(spelled)
        changed = True
    return "".join(out).upper(), changed


def needs_folding(value: str | None) -> bool:
    """Whether the text has a character outside ASCII (it will be transliterated or refused)."""
    return bool(value) and not str(value).isascii()


def split_suffix(tokens: list[str]) -> tuple[list[str], str | None]:
    """(the name's words without a trailing suffix, the suffix or None). A lone word is never a
    suffix ("V" alone is a name), and neither is the only word left of a last name."""
    if len(tokens) < 2:
        return tokens, None
    word = tokens[-1].rstrip(".,").upper()
    if word in SUFFIXES:
        return tokens[:-1], SUFFIXES[word]
    return tokens, None


def split_name(name: str | None) -> tuple[str, str, str | None]:
    """("Last", "First [Middle]", suffix) from "Last, First", "Last Jr, First", "Last, First Jr"
    or "First Middle Last Jr". "John Smith Jr" gives ("Smith", "John", "JR"); a two-word name has no
    suffix ("Ann Jr" is first name Ann, last name Jr)."""
    name = (name or "").strip()
    if "," in name:
        last_part, first_part = (p.strip() for p in name.split(",", 1))
        last_words, suffix = split_suffix(last_part.split())
        first_words = first_part.replace(",", " ").split()
        if suffix is None:
            first_words, suffix = split_suffix(first_words)
        return " ".join(last_words), " ".join(first_words), suffix
    words, suffix = name.split(), None
    if len(words) >= 3:  # "Ann Jr" is a first and a last name: a suffix needs both before it
        words, suffix = split_suffix(words)
    if len(words) >= 2:
        return words[-1], " ".join(words[:-1]), suffix
    return " ".join(words), "", suffix
