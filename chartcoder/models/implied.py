"""The reason a procedure implies, for procedure documents that state no diagnosis.

An operative or procedure report often names only what was done ("PROCEDURE PERFORMED: Inguinal
herniorrhaphy", or the steps: "the vas was isolated, divided and ligated"). The coder codes the reason
for the encounter (OCG IV.A.1, IV.G; IV.N: for ambulatory surgery, the diagnosis for which the surgery
was performed), and a procedure done for one condition or one purpose implies it: the classification's
unspecified or default code when nothing more is said (OCG I.A.18, I.B.18), the code that names a side,
"bilateral" or "recurrent" when the same sentence does.

The table is `resources/implied_diagnoses.yaml`. `ImpliedTable.find` returns the procedures a note
says were performed; the knowledge engine decides how they are scored (chartcoder.models.knowledge).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from chartcoder.domain.errors import ResourceError
from chartcoder.nlp.concepts import words_of
from chartcoder.nlp.resources import load_yaml_resource

# Words that say the procedure was not performed at this encounter: planned, offered, declined, or
# done before (history). A sentence with one of them implies nothing.
_NOT_PERFORMED = re.compile(
    r"\b(?:plan|plans|planned|planning|will|would|should|schedul\w*|recommend\w*|advis\w*|candidate|consider\w*|"
    r"discuss\w*|counsel\w*|refer\w*|declin\w*|defer(?:s|red|ring)?|cancel\w*|postpon\w*|abort\w*|desires?|wish\w*|wants?|"
    r"request\w*|options?|risks?|benefits?|consent\w*|history of|h/o|s/p|status post|prior|previous(?:ly)?|ago|"
    r"in the past|future|pending|awaiting|not (?:performed|done)|unable)\b",
    re.I,
)
# A line break ends a sentence unless the sentence goes on in lower case (a wrapped line).
_SENTENCE_END = re.compile(r"[.;!?](?:\s|,)|\n(?!\s*[a-z])")
_GAP = r"(?:[\s,-]+[a-z0-9'/]+){0,3}?"
_WORD_REST = re.compile(r"[A-Za-z]*")
_BOTH_SIDES = re.compile(r"\bbilateral(?:ly)?\b|\bboth sides\b", re.I)
_LEFT = re.compile(r"\bleft\b", re.I)
_RIGHT = re.compile(r"\bright\b", re.I)
# Around a match, at most this many characters are read as its sentence.
_SENTENCE_REACH = 300
# A term is looked for this many characters either side of its key word (longer than any term).
_TERM_REACH = 120


def _word(word: str) -> re.Pattern[str]:
    """A word or the start of one ("gangren" matches gangrene and gangrenous), case-insensitive."""
    return re.compile(r"(?<![a-z0-9])" + re.escape(word.lower()).replace(r"\ ", r"[\s-]+"), re.I)


def _term(term: str) -> str:
    """A term's pattern: words apart by spaces or hyphens, an optional plural, and "..." for up to
    three words the note may put in between ("repair of ... inguinal hernia": "repair of recurrent
    right inguinal hernia")."""
    pattern = ""
    for w in re.split(r"[\s-]+", term.strip().lower()):
        if w == "...":
            pattern += _GAP
        elif w:
            pattern += (r"[\s-]+" if pattern else "") + re.escape(w)
    return r"(?<![a-z0-9])" + pattern + r"s?(?![a-z0-9])"


@dataclass(frozen=True)
class Variant:
    code: str
    words: tuple[tuple[str, re.Pattern[str]], ...] = ()
    sex: str | None = None


@dataclass(frozen=True)
class ImpliedEntry:
    id: str
    code: str
    variants: tuple[Variant, ...]
    unless: tuple[re.Pattern[str], ...]
    covers: tuple[str, ...]
    near: tuple[re.Pattern[str], ...]
    near_words: frozenset[str] = frozenset()

    def codes(self) -> list[str]:
        """Every code the entry can give."""
        return [self.code, *(v.code for v in self.variants)]

    def choose(self, context: str, sex: str | None) -> str:
        """The code the words of `context` (the procedure's sentence) and the patient's sex select."""
        # Both sides named ("left and right", "bilateral") is bilateral, never one side (OCG I.B.13).
        both = bool(_BOTH_SIDES.search(context)) or bool(_LEFT.search(context) and _RIGHT.search(context))

        def says(word: str, rx: re.Pattern[str]) -> bool:
            if word == "bilateral":
                return both
            if word in ("left", "right"):
                return not both and bool(rx.search(context))
            return bool(rx.search(context))

        for v in self.variants:
            if v.sex is not None and v.sex != sex:
                continue
            if all(says(word, rx) for word, rx in v.words):
                return v.code
        return self.code


@dataclass(frozen=True)
class Found:
    """A procedure a note names as performed: the entry, the words that name it, their sentence."""

    entry: ImpliedEntry
    start: int
    end: int
    sentence: tuple[int, int]


def _words(term: str) -> tuple[str, frozenset[str]]:
    """The words a note must contain for `term` to be there (normalized as the pipeline's note words
    are), and the one (the longest) it is looked for around: a note is searched only for the few
    terms all of whose words it holds."""
    words = [w.norm for w in words_of(term.replace("...", " "))[0]]
    if not words:
        raise ResourceError(f"implied_diagnoses.yaml: term {term!r} has no word to match")
    return max(words, key=len), frozenset(words)


class ImpliedTable:
    def __init__(self, entries: list[ImpliedEntry], terms: dict[str, list[str]]) -> None:
        self.entries = entries
        # One pattern per entry, tried only on notes holding a key word of one of its terms: a note
        # is read for a handful of procedures, not for all of them (latency).
        self._patterns = {
            e.id: re.compile("|".join(_term(t) for t in sorted(terms[e.id], key=len, reverse=True)), re.I)
            for e in entries
            if terms[e.id]
        }
        self._by_key: dict[str, list[tuple[ImpliedEntry, frozenset[str]]]] = {}
        for e in entries:
            for key, words in dict.fromkeys(_words(t) for t in terms[e.id]):
                self._by_key.setdefault(key, []).append((e, words))
        self._near = [e for e in entries if e.near]
        self._entries = {e.id: e for e in entries}

    @classmethod
    def load(cls, raw: Any) -> ImpliedTable:
        if not isinstance(raw, list):
            raise ResourceError("implied_diagnoses.yaml: expected a list of entries")
        entries: list[ImpliedEntry] = []
        terms: dict[str, list[str]] = {}
        for n, item in enumerate(raw, 1):
            if not isinstance(item, dict) or not item.get("id") or not item.get("code"):
                raise ResourceError(f"implied_diagnoses.yaml entry {n}: expected id and code")
            if not item.get("terms") and not item.get("near"):
                raise ResourceError(f"implied_diagnoses.yaml entry {item['id']}: expected terms or near")
            variants = tuple(
                Variant(
                    str(v["code"]),
                    tuple((str(w).lower(), _word(str(w))) for w in v.get("words") or ()),
                    v.get("sex"),
                )
                for v in item.get("when") or ()
            )
            code = str(item["code"])
            codes = [code, *(v.code for v in variants)]
            covers = tuple(str(c) for c in item.get("covers") or ()) or tuple(
                dict.fromkeys(c.split(".")[0] + "*" for c in codes)
            )
            entry = ImpliedEntry(
                id=str(item["id"]),
                code=code,
                variants=variants,
                unless=tuple(_word(str(w)) for w in item.get("unless") or ()),
                covers=covers,
                near=tuple(re.compile("|".join(str(p) for p in group), re.I) for group in item.get("near") or ()),
                near_words=frozenset(_words(str(w))[0] for w in item.get("near_words") or ()),
            )
            if entry.near and not entry.near_words:
                raise ResourceError(f"implied_diagnoses.yaml entry {entry.id}: `near` needs `near_words`")
            if entry.id in terms:
                raise ResourceError(f"implied_diagnoses.yaml: duplicate id {entry.id}")
            terms[entry.id] = [str(t) for t in item.get("terms") or ()]
            entries.append(entry)
        return cls(entries, terms)

    @staticmethod
    def sentence(text: str, start: int, end: int) -> tuple[int, int]:
        lo = max(0, start - _SENTENCE_REACH)
        left = lo
        for m in _SENTENCE_END.finditer(text, lo, start):
            left = m.end()
        hit = _SENTENCE_END.search(text, end, min(len(text), end + _SENTENCE_REACH))
        return left, (hit.start() + 1 if hit else min(len(text), end + _SENTENCE_REACH))

    def find(self, text: str, note_words: frozenset[str] | None = None) -> list[Found]:
        """The procedures `text` names, each with its sentence, in a sentence that does not say it
        was planned, declined or done before, and without the entry's `unless` words. `note_words`:
        the note's normalized words (chartcoder.nlp.concepts), computed when not given."""
        if note_words is None:
            note_words = frozenset(w.norm for w in words_of(text)[0])
        # Each procedure a key word may start is looked for only around that word: a pattern of many
        # terms run over a whole note costs milliseconds, around a few words microseconds.
        lower = text.lower()
        windows: dict[str, list[tuple[int, int]]] = {}
        for key in note_words & self._by_key.keys():
            ids = list(dict.fromkeys(e.id for e, words in self._by_key[key] if words <= note_words))
            at = lower.find(key) if ids else -1
            while at >= 0:
                for entry_id in ids:
                    windows.setdefault(entry_id, []).append((max(0, at - _TERM_REACH), at + len(key) + _TERM_REACH))
                at = lower.find(key, at + len(key))
        out: list[Found] = []
        for entry_id, spans in windows.items():
            pattern, entry = self._patterns[entry_id], self._entries[entry_id]
            seen: set[int] = set()
            for lo, hi in spans:
                for m in pattern.finditer(text, lo, hi):
                    if m.start() not in seen:
                        seen.add(m.start())
                        out.append(Found(entry, m.start(), m.end(), self.sentence(text, m.start(), m.end())))
        for entry in self._near:
            if not entry.near_words <= note_words:
                continue
            anchor, *rest = entry.near
            for m in anchor.finditer(text):
                a, b = self.sentence(text, m.start(), m.end())
                sentence = text[a:b]
                hits = [rx.search(sentence) for rx in rest]
                if all(hits):
                    last = max(h.end() for h in hits if h is not None)
                    end = _WORD_REST.match(sentence, last)
                    out.append(Found(entry, m.start(), max(m.end(), a + (end.end() if end else last)), (a, b)))
        kept = []
        for f in out:
            sentence = text[f.sentence[0] : f.sentence[1]]
            if _NOT_PERFORMED.search(sentence) or any(w.search(sentence) for w in f.entry.unless):
                continue
            kept.append(f)
        return kept


@lru_cache(maxsize=1)
def implied_table() -> ImpliedTable:
    return ImpliedTable.load(load_yaml_resource("implied_diagnoses.yaml", "chartcoder.models.resources"))
