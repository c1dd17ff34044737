"""Codes read from the CMS index files (chartcoder.codes.cms_tables), added after the guideline engine's
own steps:

- external causes of injuries (OCG I.C.20): the mechanism from the External Cause Index (V/W/X/Y codes,
  with the injury's 7th character), and at the initial encounter the place (Y92), activity (Y93) and
  status (Y99); only beside an injury code, never above it;
- neoplasm site and behavior (OCG I.C.2): the Neoplasm Table row the site names, in the column the
  morphology words give (primary, secondary, in situ, benign, uncertain, unspecified); added when the
  engine found nothing for those words, or replacing a less specific code of the same category;
- poisoning, adverse effect and underdosing (OCG I.C.19.e): the Table of Drugs and Chemicals row of the
  substance, in the column the event and its intent give, with Z91.12-/Z91.13- for documented
  noncompliance.

How notes write these things is data (models/resources/external_causes.yaml, neoplasm_table.yaml,
drug_table.yaml); the codes come from the CMS files. Each part is built on first use, and only when the
note needs it (an injury code, a neoplasm word, a drug event phrase): other notes cost a regex search.
"""

from __future__ import annotations

import bisect
import logging
import re
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING, Any

from chartcoder.codes.cms_tables import Book, CmsTables, Entry, cms_tables
from chartcoder.codes.icd10cm import ICD10CM
from chartcoder.domain.encounter import Encounter
from chartcoder.domain.errors import ResourceError
from chartcoder.models.knowledge import SECTION_FACTOR, Candidate, KnowledgeSuggester, is_follow_up_visit
from chartcoder.models.schema import Evidence
from chartcoder.nlp.concepts import Mention, normalize_word
from chartcoder.nlp.resources import load_yaml_resource
from chartcoder.nlp.sections import SectionIndex, find_sections

if TYPE_CHECKING:
    from chartcoder.config import Settings

log = logging.getLogger("chartcoder.models")

PACKAGE = "chartcoder.models.resources"
SYSTEM = "ICD-10-CM"
Found = dict[tuple[str, str], Candidate]

_TOKEN = re.compile(r"[A-Za-z0-9]+(?:'[sS])?")
# Sentence ends: . ! ? ; before a space, a line break unless the next line continues in lower case.
_BOUNDARY = re.compile(r"[.!?;]+(?=\s|$)|\n(?=[ \t]*(?:[^a-z \t]|$))")
_GAP_BREAK = re.compile(r"[,;:()\[\].!?\n]")
_GAP_HARD = re.compile(r"[;:()\[\].!?\n]")  # a break that is not a list's comma
_SITE_JOINS = frozenset({"and", "plus"})  # "metastatic to the liver and bone": a list of sites
_BRACKETS = re.compile(r"\[[^\]]*\]|\([^)]*\)")
_SPLIT_OR = re.compile(r"\b(?:or|and)\b")
_SPLIT_ONLY_OR = re.compile(r"\bor\b")
# Scores are clamped to 0.99 when suggestions are made: a code sequenced after another stays below it.
_TOP = 0.99
LATERALITY = {"left": "left", "right": "right", "bilateral": "bilateral", "lt": "left", "rt": "right"}
# Chapter 19 injuries that take an external cause (poisonings, adverse effects and complications of care
# carry their cause in the code: OCG I.C.19.e, I.C.20).
_INJURY = re.compile(r"^(?:S\d\d|T0\d|T1\d|T2\d|T3[0-4]|T6[6-9]|T7[0-6])\.")
_FOREIGN_BODY = re.compile(r"^T1[5-9]")  # foreign body entering through a natural orifice
# External cause 7th characters: A initial, D subsequent, S sequela; an injury's fracture characters map
# onto them (B/C open fracture, initial; E-R healing of a fracture, subsequent).
_SEVENTH = {"A": "A", "B": "A", "C": "A", "S": "S"} | {c: "D" for c in "DEFGHJKMNPQR"}
_ENCOUNTER_SEVENTH = {"initial": "A", "subsequent": "D", "sequela": "S"}
_SEX_WORD = {"F": "female", "M": "male"}
_PHRASE_CONNECTORS = frozenset({"to", "of", "from"})  # a morphology phrase ending in one names its site next


# ----------------------------------------------------------------------------------------------------
# Rules files: allowed keys, phrases as word tuples
def _check_keys(obj: Any, allowed: Iterable[str], where: str, required: Iterable[str] = ()) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise ResourceError(f"{where}: expected a mapping")
    unknown = set(obj) - set(allowed)
    if unknown:
        raise ResourceError(f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))}")
    missing = [k for k in required if k not in obj]
    if missing:
        raise ResourceError(f"{where}: missing key(s) {', '.join(missing)}")
    return obj


def _strings(obj: Any, where: str) -> list[str]:
    if obj is None:
        return []
    # Booleans are refused: YAML reads a bare on/off/yes/no as one; such words must be quoted.
    if not isinstance(obj, list) or not all(isinstance(x, str | int | float) and not isinstance(x, bool) for x in obj):
        raise ResourceError(f"{where}: expected a list of phrases (quote on, off, yes, no)")
    return [str(x) for x in obj]


def _load(name: str) -> dict[str, Any]:
    data = load_yaml_resource(name, PACKAGE)
    if not isinstance(data, dict):
        raise ResourceError(f"{name}: expected a mapping at the top")
    return data


def words_of(text: str, mapping: dict[str, str] | None = None) -> tuple[str, ...]:
    """Normalized words: lower case, possessive and plural "s" dropped, then `mapping` applied."""
    out = []
    for m in _TOKEN.finditer(text):
        w = normalize_word(m.group(0))
        out.append(mapping.get(w, w) if mapping else w)
    return tuple(out)


class Phrases:
    """Word-tuple phrases found in a word sequence: O(words x phrases sharing a first word)."""

    def __init__(self, phrases: Iterable[tuple[tuple[str, ...], Any]]) -> None:
        self.by_first: dict[str, list[tuple[tuple[str, ...], Any]]] = {}
        for words, value in phrases:
            if words:
                self.by_first.setdefault(words[0], []).append((words, value))
        for entries in self.by_first.values():
            entries.sort(key=lambda e: -len(e[0]))  # longest first

    def __bool__(self) -> bool:
        return bool(self.by_first)

    def at(self, words: Sequence[str], i: int) -> tuple[int, Any] | None:
        """The longest phrase starting at word i: (its length, its value)."""
        for phrase, value in self.by_first.get(words[i], ()):
            n = len(phrase)
            if tuple(words[i : i + n]) == phrase:
                return n, value
        return None

    def find(self, words: Sequence[str], lo: int = 0, hi: int | None = None) -> Iterable[tuple[int, int, Any]]:
        """(start, length, value) of every phrase inside words[lo:hi], leftmost-longest, not overlapping."""
        hi = len(words) if hi is None else min(hi, len(words))
        by_first = self.by_first
        i = max(0, lo)
        while i < hi:
            if words[i] in by_first:  # most words start no phrase: no call for them
                hit = self.at(words, i)
                if hit is not None and i + hit[0] <= hi:
                    yield i, hit[0], hit[1]
                    i += hit[0]
                    continue
            i += 1


class Assertions:
    """Phrases before a match, in its sentence, that keep it from counting: negated within 5 words,
    the other kinds anywhere before it. `pseudo` phrases contain a cue without being one ("history of
    present illness" is a header, not "history of"): the longest phrase wins, so they mask the cue."""

    NEGATION_WINDOW = 5

    def __init__(self, spec: Any, where: str, kinds: Iterable[str], mapping: dict[str, str] | None = None) -> None:
        spec = _check_keys(spec or {}, (*kinds, "pseudo"), where)
        self.phrases = Phrases((words_of(p, mapping), k) for k, v in spec.items() for p in _strings(v, f"{where}.{k}"))

    def blocked(self, words: Sequence[str], i: int) -> str | None:
        for start, n, kind in self.phrases.find(words, 0, i):
            if kind == "pseudo" or start + n > i:
                continue
            if kind == "negated" and start < i - self.NEGATION_WINDOW:
                continue
            return str(kind)
        return None


# ----------------------------------------------------------------------------------------------------
# The note, tokenized once when some part needs it
@dataclass
class Sentence:
    start: int
    end: int
    words: list[str]  # normalized (lower case, plural s dropped)
    spans: list[tuple[int, int]]  # character offsets of each word

    def gap(self, i: int, j: int, text: str) -> bool:
        """A comma, bracket or line break between word i and word j (i < j)."""
        return bool(_GAP_BREAK.search(text, self.spans[i][1], self.spans[j][0]))


class Note:
    """The note as the parts read it: sentence bounds first, each sentence tokenized only when a part
    reads it; substring search finds the sentences that hold a part's words."""

    def __init__(self, text: str, mentions: list[Mention]) -> None:
        self.text = text
        self.mentions = mentions
        self._sentences: dict[int, Sentence] = {}

    @cached_property
    def bounds(self) -> list[tuple[int, int]]:
        """Sentence character ranges, end to end over the text."""
        out: list[tuple[int, int]] = []
        start = 0
        for m in _BOUNDARY.finditer(self.text):
            if m.end() > start:
                out.append((start, m.end()))
                start = m.end()
        if start < len(self.text) or not out:
            out.append((start, len(self.text)))
        return out

    @cached_property
    def _starts(self) -> list[int]:
        return [b[0] for b in self.bounds]

    def sentence_index(self, offset: int) -> int:
        return max(0, bisect.bisect_right(self._starts, offset) - 1)

    def sentence(self, i: int) -> Sentence:
        hit = self._sentences.get(i)
        if hit is None:
            start, end = self.bounds[i]
            matches = list(_TOKEN.finditer(self.text, start, end))
            hit = Sentence(start, end, [normalize_word(m.group(0)) for m in matches], [m.span() for m in matches])
            self._sentences[i] = hit
        return hit

    @property
    def sentences(self) -> list[Sentence]:
        return [self.sentence(i) for i in range(len(self.bounds))]

    @cached_property
    def visit_subsequent(self) -> bool:
        """The visit as a whole is a follow-up (the engine's own test, for a 7th character)."""
        return is_follow_up_visit(self.text)

    @cached_property
    def _lower(self) -> str:
        return self.text.lower()

    def sentences_with(self, words: Iterable[str]) -> list[int]:
        """Sentences in which a word starts with one of `words` (normalized words are prefixes of what
        the note writes): found by substring search, before any sentence is tokenized."""
        low, found = self._lower, set()
        for w in words:
            i = low.find(w)
            while i >= 0:
                if i == 0 or not low[i - 1].isalnum():
                    found.add(self.sentence_index(i))
                i = low.find(w, i + len(w))
        return sorted(found)

    @cached_property
    def sections(self) -> SectionIndex:
        return find_sections(self.text)

    def section(self, offset: int) -> str | None:
        return self.sections.at(offset)

    def sentence_section(self, i: int) -> str | None:
        """The section of sentence i, read at its first character that is not white space."""
        start, end = self.bounds[i]
        text = self.text[start:end]
        return self.section(start + len(text) - len(text.lstrip()))

    def mention_assertion(self, start: int, end: int) -> str | None:
        """The assertion ConText gave a mention overlapping [start, end), when it is not "present"."""
        for m in self.mentions:
            if m.start < end and start < m.end:
                a = m.assertion
                if a != "present":
                    return a
        return None

    def evidence(self, start: int, end: int, assertion: str = "present") -> Evidence:
        return Evidence(start, end, self.text[start:end], assertion, self.section(start))


def _factor(section: str | None) -> float:
    return SECTION_FACTOR.get(section or "", 1.0)


@dataclass
class TableCode:
    """A code one of the parts proposes, with its evidence and why."""

    code: str
    score: float
    evidence: list[Evidence]
    warnings: list[str] = field(default_factory=list)
    replaces: list[str] = field(default_factory=list)  # codes the table code stands for instead
    after: bool = False  # sequenced after the condition it accompanies: never raised above it
    before: list[Candidate] = field(default_factory=list)  # codes it goes before (a poisoning's manifestations)


def _complete(icd: ICD10CM, code: str, seventh: str) -> str | None:
    """The billable code: itself, or with placeholder X's and the 7th character, or (for a code FY2026
    has expanded) its one "unspecified" child with that 7th character."""
    if not icd.is_valid(code):
        return None
    if icd.is_billable(code):
        return code
    if not icd.seventh_characters(code):
        return None
    full = icd.with_seventh_character(code, seventh)
    if full:
        return full
    kids = [
        k for k in icd.billable_descendants(code) if k.endswith(seventh) and "unspecified" in icd.description(k).lower()
    ]
    return min(kids, key=len) if kids else None


def _alternatives(
    title: str, stop: frozenset[str], mapping: dict[str, str], split_and: bool = True
) -> tuple[frozenset[str], ...]:
    """A title's comma-separated forms as word sets; short "x or y" (and, for places, "x and y": "street
    and highway") forms split into each."""
    out: list[frozenset[str]] = []
    splitter = _SPLIT_OR if split_and else _SPLIT_ONLY_OR
    for part in title.split(","):
        part = _BRACKETS.sub(" ", part)
        pieces = [part]
        if splitter.search(part):
            subs = [p for p in splitter.split(part) if p.strip()]
            sub_words = [[w for w in words_of(p, mapping) if w not in stop] for p in subs]
            if len(subs) > 1 and all(0 < len(w) <= 2 for w in sub_words):
                pieces = subs
        for p in pieces:
            w = frozenset(x for x in words_of(p, mapping) if x not in stop)
            if w and w not in out:
                out.append(w)
    return tuple(out)


def _row_alternatives(title: str, stop: frozenset[str]) -> tuple[frozenset[str], ...]:
    """A Neoplasm Table title's forms. Its comma-separated parts are forms of one word when they share a
    stem ("intestine, intestinal"; "uterus, uteri, uterine") and an inverted phrase otherwise ("stump,
    cervical" is the cervical stump; "calyx, renal"): those parts are all needed."""
    parts = [_BRACKETS.sub(" ", p).strip() for p in title.split(",")]
    parts = [p for p in parts if p]
    if not parts:
        return ()
    head = parts[0].lower()[:4]
    forms = [p for p in parts if p.lower()[:4] == head]
    qualifiers = [p for p in parts if p.lower()[:4] != head]
    out: list[frozenset[str]] = []
    extra = {w for q in qualifiers for w in words_of(q) if w not in stop}
    for form in forms:
        words = frozenset({w for w in words_of(form) if w not in stop} | extra)
        if words and words not in out:
            out.append(words)
    return tuple(out)


@dataclass
class Level:
    alternatives: tuple[frozenset[str], ...]  # empty: a connector level ("from, off, out of")
    intent: bool = False  # names an intent (assault, suicide, undetermined): the note must say so

    def match(self, words: set[str] | frozenset[str]) -> int:
        """Words of the best alternative the set holds (0 when none)."""
        return max((len(a) for a in self.alternatives if a <= words), default=0)


@dataclass
class Target:
    entry: Entry
    code: str
    levels: tuple[Level, ...]  # below the main term
    words: frozenset[str]

    @property
    def depth(self) -> int:
        return len(self.levels)


def _resolve_code(book: Book, entry: Entry) -> str | None:
    """The entry's code, or the code of the entry its see-reference names (one step)."""
    if entry.code:
        return entry.code
    if entry.see:
        ref = re.split(r",\s*by\b| by type\b", entry.see)[0]
        target = book.find(ref)
        if target is not None and target.code:
            return target.code
    return None


def _targets(
    book: Book,
    main: Entry,
    stop: frozenset[str],
    mapping: dict[str, str],
    intents: dict[str, tuple[frozenset[str], ...]] | None = None,
    keep: Callable[[str], bool] = lambda c: True,
    split_and: bool = False,
) -> list[Target]:
    out = []
    for entry in main.walk():
        if entry is main:
            continue
        code = _resolve_code(book, entry)
        if code is None or not keep(code):
            continue
        path: list[Entry] = []
        node: Entry | None = entry
        while node is not None and node is not main:
            path.append(node)
            node = node.parent
        levels = []
        for e in reversed(path):
            intent = _intent_of(e.title) if intents is not None else None
            if intent is not None and intents is not None:
                levels.append(Level(intents.get(intent, (frozenset({"\x00never"}),)), intent=True))
            else:
                levels.append(Level(_alternatives(e.title, stop, mapping, split_and)))
        words = frozenset(w for lv in levels for a in lv.alternatives for w in a)
        out.append(Target(entry, code, tuple(levels), words))
    return out


_INTENT_TITLES = (
    ("assault", re.compile(r"assault|homicid|intent to injure", re.I)),
    ("suicide", re.compile(r"suicid|self[- ]inflicted|self[- ]harm|intentional", re.I)),
    ("undetermined", re.compile(r"undetermined", re.I)),
)


def _intent_of(title: str) -> str | None:
    for name, pattern in _INTENT_TITLES:
        if pattern.search(title):
            return name
    return None


# ----------------------------------------------------------------------------------------------------
# External causes (OCG I.C.20)
@dataclass
class _Mechanism:
    id: str
    cues: Phrases
    main: Entry
    targets: list[Target]
    fallback: str | None
    exclude: Phrases
    rare: frozenset[str] = frozenset()  # subterm words that always lead to one code: naming one is enough


@dataclass
class _Hit:
    code: str
    rank: tuple[Any, ...]
    start: int
    end: int
    sentence: int
    source: str


class ExternalCauses:
    """Mechanism, place, activity and status for the injuries the engine found."""

    FILE = "external_causes.yaml"
    KEYS = (
        "words",
        "stop_words",
        "intents",
        "assertions",
        "skip_sections",
        "not_story_sections",
        "mechanisms",
        "phrases",
        "places",
        "activities",
        "statuses",
        "objects",
    )

    def __init__(self, book: Book, icd: ICD10CM) -> None:
        self.book, self.icd = book, icd
        data = _check_keys(_load(self.FILE), self.KEYS, self.FILE)
        self.words: dict[str, str] = {
            normalize_word(str(k)): str(v).lower() for k, v in (data.get("words") or {}).items()
        }
        self.stop = frozenset(words_of(" ".join(_strings(data.get("stop_words"), "stop_words")), self.words))
        intents = _check_keys(data.get("intents") or {}, ("assault", "suicide", "undetermined"), "intents")
        self.intents = {
            k: tuple(frozenset(words_of(p, self.words)) for p in _strings(v, f"intents.{k}"))
            for k, v in intents.items()
        }
        self.assertions = Assertions(
            data.get("assertions"), f"{self.FILE} assertions", ("negated", "hypothetical", "historical"), self.words
        )
        self.skip_sections = frozenset(_strings(data.get("skip_sections"), "skip_sections"))
        self.story_sections = frozenset({"chief_complaint", "hpi"})
        self.not_story = frozenset(_strings(data.get("not_story_sections"), "not_story_sections"))
        self.unresolved: list[str] = []
        built = [self._mechanism(i, m) for i, m in enumerate(data.get("mechanisms") or [])]
        self.mechanisms = [m for m in built if m is not None]
        self.phrases = Phrases(self._phrase_rules(data.get("phrases") or [], "phrases"))
        places = _check_keys(data.get("places") or {}, ("index", "before", "private", "words"), "places", ("index",))
        self.place_private = frozenset(words_of(" ".join(_strings(places.get("private"), "places.private"))))
        self.place_words = {normalize_word(str(k)): str(v).lower() for k, v in (places.get("words") or {}).items()}
        self.place_before = frozenset(words_of(" ".join(_strings(places.get("before"), "places.before"))))
        self.places = self._leaf_index(str(places["index"]), "Y92", {**self.words, **self.place_words})
        acts = _check_keys(
            data.get("activities") or {}, ("index", "before", "after", "phrases"), "activities", ("index",)
        )
        self.activity_before = frozenset(words_of(" ".join(_strings(acts.get("before"), "activities.before"))))
        self.activity_after = frozenset(words_of(" ".join(_strings(acts.get("after"), "activities.after"))))
        main = self.book.find(str(acts["index"]))
        self.activities = (
            _targets(book, main, self.stop, self.words, keep=lambda c: c.startswith("Y93") and c != "Y93.9")
            if main
            else []
        )
        self.activity_phrases = Phrases(self._phrase_rules(acts.get("phrases") or [], "activities.phrases"))
        statuses = self._phrase_rules(data.get("statuses") or [], "statuses")
        self.statuses = Phrases(statuses)
        self.status_order: dict[str, int] = {}
        for _, (_, code, _) in statuses:
            self.status_order.setdefault(code, len(self.status_order))  # the file's order breaks ties
        self.objects = Phrases(self._object_rules(data.get("objects") or []))
        if self.unresolved:
            log.warning("%s: index entries not found: %s", self.FILE, "; ".join(self.unresolved))

    # -- building --------------------------------------------------------------------------------
    def _entry_code(self, path: str, where: str) -> str | None:
        entry = self.book.find(path)
        code = _resolve_code(self.book, entry) if entry is not None else None
        if code is None:
            self.unresolved.append(f"{where}: {path}")
        return code

    def _mechanism(self, i: int, rule: Any) -> _Mechanism | None:
        where = f"{self.FILE} mechanisms[{i}]"
        rule = _check_keys(rule, ("id", "cues", "index", "exclude", "fallback"), where, ("id", "cues", "index"))
        main = self.book.find(str(rule["index"]))
        if main is None:
            self.unresolved.append(f"{where}: {rule['index']}")
            return None
        fallback = self._entry_code(str(rule["fallback"]), where) if rule.get("fallback") else main.code
        targets = _targets(self.book, main, self.stop, self.words, self.intents, keep=_is_cause)
        codes: dict[str, set[str]] = {}
        for t in targets:
            for a in t.levels[-1].alternatives if t.levels else ():
                for w in a:
                    codes.setdefault(w, set()).add(t.code)
        return _Mechanism(
            str(rule["id"]),
            Phrases((words_of(c, self.words), True) for c in _strings(rule["cues"], f"{where}.cues")),
            main,
            targets,
            fallback,
            Phrases((words_of(c, self.words), True) for c in _strings(rule.get("exclude"), f"{where}.exclude")),
            frozenset(w for w, c in codes.items() if len(c) == 1),
        )

    def _phrase_rules(self, rules: Any, name: str) -> list[tuple[tuple[str, ...], Any]]:
        out: list[tuple[tuple[str, ...], Any]] = []
        if not isinstance(rules, list):
            raise ResourceError(f"{self.FILE} {name}: expected a list")
        for i, rule in enumerate(rules):
            where = f"{self.FILE} {name}[{i}]"
            rule = _check_keys(rule, ("id", "phrases", "index", "choose"), where, ("phrases", "index"))
            code = self._entry_code(str(rule["index"]), where)
            if code is None:
                continue
            choose = []
            for j, c in enumerate(rule.get("choose") or []):
                c = _check_keys(c, ("words", "index"), f"{where}.choose[{j}]", ("words", "index"))
                other = self._entry_code(str(c["index"]), f"{where}.choose[{j}]")
                if other:
                    choose.append((frozenset(words_of(" ".join(_strings(c["words"], where)), self.words)), other))
            value = (str(rule.get("id") or code), code, tuple(choose))
            out.extend((words_of(p, self.words), value) for p in _strings(rule["phrases"], f"{where}.phrases"))
        return out

    def _object_rules(self, rules: Any) -> list[tuple[tuple[str, ...], str]]:
        """Objects of a foreign body (W44.-): tabular codes, since the FY2023 External Cause Index sends a
        foreign body in a natural orifice to the disease index; each checked against the FY2026 tabular."""
        out: list[tuple[tuple[str, ...], str]] = []
        if not isinstance(rules, list):
            raise ResourceError(f"{self.FILE} objects: expected a list")
        for i, rule in enumerate(rules):
            where = f"{self.FILE} objects[{i}]"
            rule = _check_keys(rule, ("phrases", "code"), where, ("phrases", "code"))
            code = str(rule["code"])
            if not code.startswith("W44") or not self.icd.is_valid(code):
                self.unresolved.append(f"{where}: {code} is not a FY2026 W44 code")
                continue
            out.extend((words_of(p, self.words), code) for p in _strings(rule["phrases"], f"{where}.phrases"))
        return out

    def _object(self, note: Note, scope: Iterable[int]) -> _Hit | None:
        """The object of a foreign body, in the injury's sentences or the story (first one named wins)."""
        for si in sorted(scope):
            if self.skip_sections and note.sentence_section(si) in self.skip_sections:
                continue
            s = note.sentence(si)
            words = self._mapped(s, self.words)
            for start, n, code in self.objects.find(words):
                if self.assertions.blocked(words, start):
                    continue
                rank = (3, 0, 0, 0, 1, -start)
                return _Hit(code, rank, s.spans[start][0], s.spans[start + n - 1][1], si, "foreign body object")
        return None

    def _leaf_index(self, path: str, prefix: str, mapping: dict[str, str]) -> dict[str, list[Target]]:
        """Targets under a main term indexed by the words of their last level (places: "kitchen" names
        residence > kitchen whether or not the note says "residence")."""
        main = self.book.find(path)
        if main is None:
            self.unresolved.append(path)
            return {}
        index: dict[str, list[Target]] = {}
        keep = lambda c: c.startswith(prefix) and c not in _UNSPECIFIED_CAUSE  # noqa: E731
        for t in _targets(self.book, main, self.stop, mapping, keep=keep, split_and=True):
            if not t.levels or not t.levels[-1].alternatives:
                continue
            if any(title.lower().startswith("specified") for title in t.entry.path):
                continue  # "specified ... NEC": another place the note names, never read from its words
            for w in {w for a in t.levels[-1].alternatives for w in a}:
                index.setdefault(w, []).append(t)
        return index

    # -- matching --------------------------------------------------------------------------------
    def _mapped(self, s: Sentence, mapping: dict[str, str]) -> list[str]:
        return [mapping.get(w, w) for w in s.words]

    def _mechanism_hits(self, note: Note) -> list[_Hit]:
        hits: list[_Hit] = []
        for si, s in enumerate(note.sentences):
            if self.skip_sections and note.sentence_section(si) in self.skip_sections:
                continue
            words = self._mapped(s, self.words)
            covered: set[int] = set()
            for start, n, (pid, code, choose) in self.phrases.find(words):
                if self.assertions.blocked(words, start):
                    continue
                present = set(words)
                for need, other in choose:
                    if need & present:
                        code = other
                        break
                covered.update(range(start, start + n))
                rank = (2, 2, 0, 0, self._specific(code), -start)
                hits.append(_Hit(code, rank, s.spans[start][0], s.spans[start + n - 1][1], si, f"phrase {pid}"))
            for mech in self.mechanisms:
                for start, n, _ in mech.cues.find(words):
                    if start in covered or self._excluded(mech, words, start):
                        continue
                    if self.assertions.blocked(words, start):
                        continue
                    hit = self._best_target(mech, s, words, start, n, si)
                    if hit is not None:
                        hits.append(hit)
        return hits

    def _excluded(self, mech: _Mechanism, words: list[str], i: int) -> bool:
        return any(start <= i < start + n for start, n, _ in mech.exclude.find(words, max(0, i - 4), i + 5))

    def _specific(self, code: str) -> int:
        return 0 if self.icd.is_valid(code) and "unspecified" in self.icd.description(code).lower() else 1

    def _best_target(self, mech: _Mechanism, s: Sentence, words: list[str], i: int, n: int, si: int) -> _Hit | None:
        lo, hi = max(0, i - 4), min(len(words), i + n + 10)
        window = set(words[lo:hi])
        best: tuple[tuple[int, ...], Target] | None = None
        for t in mech.targets:
            if t.words and t.words.isdisjoint(window):
                continue
            content = matched = unmatched = 0
            ok = True
            levels = [lv for lv in t.levels if lv.alternatives]
            # The last level may name a rare thing under a category the note does not repeat ("fell from
            # the jungle gym": Fall > from > playground equipment > jungle gym).
            leaf = {w for a in levels[-1].alternatives if a <= window for w in a} if levels else set()
            specific_leaf = bool(leaf) and leaf <= mech.rare
            for n_level, level in enumerate(levels):
                got = level.match(window)
                if not got and not _compound(level, levels[n_level + 1 :], window):
                    if level.intent or n_level == len(levels) - 1 or not specific_leaf:
                        ok = False
                        break
                    unmatched += 1
                    continue
                content += 1
                matched += got
            if not ok or not content:
                continue
            rank: tuple[int, ...] = (2, content, -unmatched, matched, self._specific(t.code), -t.depth)
            if best is None or rank > best[0]:
                best = (rank, t)
        if best is not None:
            rank, t = best
            used = {w for lv in t.levels for a in lv.alternatives if a <= window for w in a}
            positions = [k for k in range(lo, hi) if words[k] in used] + list(range(i, i + n))
            a, b = min(positions), max(positions)
            if s.spans[b][1] - s.spans[a][0] > 100:
                a, b = i, i + n - 1
            return _Hit(t.code, (*rank, -i), s.spans[a][0], s.spans[b][1], si, f"{mech.id}: {t.entry}")
        if mech.fallback:
            rank = (1, 0, 0, 0, self._specific(mech.fallback), 0)
            return _Hit(mech.fallback, (*rank, -i), s.spans[i][0], s.spans[i + n - 1][1], si, f"{mech.id}: {mech.main}")
        return None

    def _place(self, note: Note, scope: Iterable[int], taken: list[tuple[int, int]]) -> _Hit | None:
        best: _Hit | None = None
        mapping = {**self.words, **self.place_words}
        for si in scope:
            s = note.sentence(si)
            words = self._mapped(s, mapping)
            present = set(words)
            placed = [
                j for j in range(len(words)) if any(words[k] in self.place_before for k in range(max(0, j - 3), j))
            ]
            after = {words[j] for j in placed}  # words read as a place: after a preposition
            for j in placed:
                w = words[j]
                if w not in self.places or _inside(s.spans[j], taken) or self.assertions.blocked(words, j):
                    continue
                # "in his garage": the patient's own residence, whatever the index files the word under.
                private = any(words[k] in self.place_private for k in range(max(0, j - 2), j))
                context = present | {"residence"} if private else present
                for t in self.places[w]:
                    leaf = {x for a in t.levels[-1].alternatives if a <= after for x in a}
                    if not leaf:
                        continue
                    explained = set(leaf)
                    unmatched = 0
                    for lv in t.levels[:-1]:
                        got = {x for a in lv.alternatives if a <= context for x in a}
                        explained |= got
                        unmatched += 1 if lv.alternatives and not got else 0
                    # Ties go to the first code in the tabular (a single-family house before other homes).
                    order = tuple(-ord(c) for c in t.code)
                    rank = (len(explained), -unmatched, -t.depth, -self._unspecified(t.code), -j, *order)
                    if best is None or rank > best.rank:
                        ks = [k for k in range(max(0, j - 3), min(len(words), j + 4)) if words[k] in leaf]
                        a, b = s.spans[min(ks)][0], s.spans[max(ks)][1]
                        best = _Hit(t.code, rank, a, b, si, f"place: {t.entry}")
        return best

    def _unspecified(self, code: str) -> int:
        return self.icd.description(code).lower().count("unspecified") if self.icd.is_valid(code) else 9

    def _activity(self, note: Note, scope: Iterable[int], taken: list[tuple[int, int]]) -> _Hit | None:
        best: _Hit | None = None
        for si in scope:
            s = note.sentence(si)
            words = self._mapped(s, self.words)
            for start, n, (_, code, _) in self.activity_phrases.find(words):
                if not self.assertions.blocked(words, start):
                    hit = _Hit(code, (9, 0, -start), s.spans[start][0], s.spans[start + n - 1][1], si, "activity")
                    if best is None or hit.rank > best.rank:
                        best = hit
            marked = {
                k
                for k in range(len(words))
                if any(words[m] in self.activity_before for m in range(max(0, k - 3), k))
                or any(words[m] in self.activity_after for m in range(k + 1, min(len(words), k + 3)))
            }
            active = {words[k] for k in marked}
            if not active:
                continue
            for t in self.activities:
                if t.words.isdisjoint(active):
                    continue
                levels = [lv for lv in t.levels if lv.alternatives]
                got = [lv.match(active) for lv in levels]
                if not levels or not all(got):
                    continue
                used = {w for lv in levels for a in lv.alternatives if a <= active for w in a}
                ks = [k for k in sorted(marked) if words[k] in used]
                if not ks or _inside(s.spans[ks[0]], taken) or self.assertions.blocked(words, ks[0]):
                    continue
                rank = (len(levels), sum(got), -t.depth, -ks[0])
                if best is None or rank > best.rank:
                    best = _Hit(t.code, rank, s.spans[ks[0]][0], s.spans[ks[-1]][1], si, f"activity: {t.entry}")
        return best

    def _status(self, note: Note, scope: Iterable[int]) -> _Hit | None:
        best: _Hit | None = None
        for si in scope:
            s = note.sentence(si)
            words = self._mapped(s, self.words)
            for start, n, (_, code, _) in self.statuses.find(words):
                if self.assertions.blocked(words, start):
                    continue
                rank = (-self.status_order.get(code, 0), -start)
                if best is None or rank > best.rank:
                    best = _Hit(code, rank, s.spans[start][0], s.spans[start + n - 1][1], si, "status")
        return best

    def find(self, note: Note, injury: Candidate) -> list[TableCode]:
        seventh = _SEVENTH.get(injury.code[-1], "A")
        hits = self._mechanism_hits(note)
        injury_sentences = {note.sentence_index(e.start) for e in injury.evidence}
        out: list[TableCode] = []
        why = f"external cause of {injury.code}: never first-listed (guideline I.C.20)"
        mechanism = max(hits, key=lambda h: h.rank) if hits else None
        if _FOREIGN_BODY.match(injury.code):
            # A foreign body in a natural orifice: the object named is the mechanism (W44.-), when its
            # material is known; the story of the visit is where the note names it.
            n_all = len(note.bounds)
            story = {k for k in range(n_all) if note.sentence_section(k) in self.story_sections}
            found = self._object(note, injury_sentences | story)
            if found is not None:
                mechanism = found
        if mechanism is not None:
            code = _complete(self.icd, mechanism.code, seventh)
            if code is not None:
                ev = note.evidence(mechanism.start, mechanism.end)
                source = "tabular W44" if mechanism.source == "foreign body object" else "External Cause Index"
                warnings = [why, f"{source}: {mechanism.source}"]
                out.append(TableCode(code, injury.score * 0.96, [ev], warnings, after=True))
        if seventh != "A":
            return out  # place, activity and status are reported once, at the initial encounter (I.C.20.b, c, k)
        story = injury_sentences | {h.sentence for h in hits}
        n = len(note.bounds)
        scope = {k for si in story for k in (si - 1, si, si + 1) if 0 <= k < n}
        # The story of an injury is told in the chief complaint and the history of present illness.
        scope |= {k for k in range(n) if note.sentence_section(k) in self.story_sections}
        ordered = [k for k in sorted(scope) if note.sentence_section(k) not in self.not_story]
        taken = [(h.start, h.end) for h in hits]
        for hit, what in (
            (self._place(note, ordered, taken), "place of occurrence"),
            (self._activity(note, ordered, taken), "activity"),
            (self._status(note, ordered), "external cause status"),
        ):
            if hit is None:
                continue
            code = _complete(self.icd, hit.code, seventh)
            if code is not None:
                ev = note.evidence(hit.start, hit.end)
                warnings = [f"{what} of {injury.code} (guideline I.C.20)"]
                out.append(TableCode(code, injury.score * 0.8, [ev], warnings, after=True))
        return out


def _compound(level: Level, deeper: list[Level], window: set[str]) -> bool:
    """A subterm level the note names only inside a deeper one's word: "basketball" for Struck by > ball >
    basketball, "football" for ball > football."""
    singles = {next(iter(a)) for a in level.alternatives if len(a) == 1}
    used = {w for lv in deeper for a in lv.alternatives if a <= window for w in a}
    return any(w != x and len(x) >= 3 and w.endswith(x) for w in used for x in singles)


def _is_neoplasm(code: str) -> bool:
    return code[:1] == "C" or (code[:1] == "D" and code[1:3] <= "49")


def _inside(span: tuple[int, int], spans: list[tuple[int, int]]) -> bool:
    return any(a <= span[0] and span[1] <= b for a, b in spans)


# Not reported when the note does not say (I.C.20.b, c, k): never suggested from words.
_UNSPECIFIED_CAUSE = frozenset({"Y92.9", "Y93.9", "Y99.9"})


def _is_cause(code: str) -> bool:
    """Mechanism and intent codes: V00-Y38 (not the Y62-Y99 complications, place, activity, status)."""
    return code[0] in "VWX" or (code[0] == "Y" and code[1:3] < "39")


# ----------------------------------------------------------------------------------------------------
# Neoplasm Table (OCG I.C.2)
@dataclass
class _Morph:
    id: str
    column: str
    site: str  # after | before | both
    implies: tuple[str, ...] = ()  # site words the morphology itself names ("basal cell carcinoma": skin)
    skin_type: str = ""  # the C44 character that names this morphology (1 basal cell, 2 squamous cell)
    skin_category: str = ""  # the category that codes this morphology of the skin by site (C43 melanoma)


# Categories coding a morphology of the skin by site, parallel to C44's sites (OCG I.C.2; tabular C43, D03).
SKIN_CATEGORIES = ("C43", "D03")
# C44 site (the character after the dot) -> the site's part of the code in C43/D03, by the C44 side
# character (1 unspecified, 2 right, 9 left) or subsite (face: 0 unspecified, 1 nose, 9 other; trunk: 0 anal
# skin, 1 breast skin, 9 other).
_SKIN_SITES: dict[str, dict[str, str]] = {
    "2": {"1": "20", "2": "21", "9": "22"},  # ear
    "3": {"0": "30", "1": "31", "9": "39"},  # face
    "5": {"0": "51", "1": "52", "9": "59"},  # trunk
    "6": {"1": "60", "2": "61", "9": "62"},  # upper limb
    "7": {"1": "70", "2": "71", "9": "72"},  # lower limb
}


def _skin_site_code(code: str, category: str) -> str | None:
    """C44.509 -> C43.59; C44.1021 (right upper eyelid) -> C43.111; C44.40 -> C43.4; None when unknown."""
    site, rest = code[4], code[5:]
    if site in "0489":
        return f"{category}.{site}"
    if site == "1":  # eyelid: C44.10{side}{upper/lower}
        side = rest[1:2]
        if side in ("2", "9") and rest[2:3] in ("1", "2"):
            return f"{category}.1{'1' if side == '2' else '2'}{rest[2]}"
        return f"{category}.10"
    part = _SKIN_SITES.get(site, {}).get(rest[1:2])
    return f"{category}.{part}" if part else None


class NeoplasmTable:
    FILE = "neoplasm_table.yaml"
    KEYS = (
        "morphologies",
        "own_codes",
        "not_diagnoses",
        "site_after",
        "site_stop",
        "site_words",
        "stop_words",
        "ambiguous_before",
        "subsites",
        "assertions",
        "skip_sections",
    )
    COLUMNS = ("primary", "secondary", "in_situ", "benign", "uncertain", "unspecified")
    MAX_SITE = 6

    def __init__(self, book: Book, icd: ICD10CM) -> None:
        self.book, self.icd = book, icd
        data = _check_keys(_load(self.FILE), self.KEYS, self.FILE)
        self.site_words = {normalize_word(str(k)): str(v).lower() for k, v in (data.get("site_words") or {}).items()}
        self.stop = frozenset(words_of(" ".join(_strings(data.get("stop_words"), "stop_words"))))
        self.site_after = frozenset(words_of(" ".join(_strings(data.get("site_after"), "site_after"))))
        self.site_stop = frozenset(words_of(" ".join(_strings(data.get("site_stop"), "site_stop"))))
        self.subsites = frozenset(words_of(" ".join(_strings(data.get("subsites"), "subsites"))))
        self.assertions = Assertions(
            data.get("assertions"),
            f"{self.FILE} assertions",
            ("negated", "hypothetical", "historical", "family", "uncertain"),
        )
        self.skip_sections = frozenset(_strings(data.get("skip_sections"), "skip_sections"))
        self.ambiguous_before = frozenset(
            words_of(" ".join(_strings(data.get("ambiguous_before"), "ambiguous_before")))
        )
        phrases: list[tuple[str, _Morph | None]] = []
        for i, rule in enumerate(data.get("morphologies") or []):
            where = f"{self.FILE} morphologies[{i}]"
            rule = _check_keys(
                rule,
                ("id", "phrases", "column", "site", "implies_site", "skin_type", "skin_category"),
                where,
                ("id", "phrases", "column"),
            )
            if rule["column"] not in self.COLUMNS or rule.get("site", "both") not in ("after", "before", "both"):
                raise ResourceError(f"{where}: column one of {', '.join(self.COLUMNS)}; site after|before|both")
            skin_type = str(rule.get("skin_type") or "")
            if skin_type and not (len(skin_type) == 1 and skin_type.isdigit()):
                raise ResourceError(f"{where}: skin_type is one digit (the C44 character of the morphology)")
            skin_category = str(rule.get("skin_category") or "")
            if skin_category and skin_category not in SKIN_CATEGORIES:
                raise ResourceError(f"{where}: skin_category is one of {', '.join(SKIN_CATEGORIES)}")
            morph = _Morph(
                str(rule["id"]),
                str(rule["column"]),
                str(rule.get("site", "both")),
                words_of(str(rule.get("implies_site") or "")),
                skin_type,
                skin_category,
            )
            phrases.extend((p, morph) for p in _strings(rule["phrases"], where))
        phrases.extend((p, None) for p in _strings(data.get("own_codes"), "own_codes"))
        phrases.extend((p, None) for p in _strings(data.get("not_diagnoses"), "not_diagnoses"))
        seen: set[tuple[str, ...]] = set()
        morphs: list[tuple[tuple[str, ...], _Morph | None]] = []
        for p, m in phrases:
            key = words_of(p)
            if key not in seen:  # the first rule that names a phrase decides it
                seen.add(key)
                morphs.append((key, m))
        self.morphs = Phrases(morphs)
        main = next((m for m in book.main_terms if m.named("neoplasm")), None)
        self.rows: list[Target] = []
        if main is not None:
            self.rows = self._rows(main)
        self._see_rows: dict[int, Entry | None] = {}
        self.by_leaf: dict[str, list[Target]] = {}
        for t in self.rows:
            for w in {w for a in t.levels[-1].alternatives for w in a}:
                self.by_leaf.setdefault(w, []).append(t)

    def _rows(self, main: Entry) -> list[Target]:
        out = []
        for entry in main.walk():
            if entry is main:
                continue
            path: list[Entry] = []
            node: Entry | None = entry
            while node is not None and node is not main:
                path.append(node)
                node = node.parent
            levels = tuple(Level(_row_alternatives(e.title, self.stop)) for e in reversed(path))
            if not levels[-1].alternatives:
                continue
            out.append(Target(entry, "", levels, frozenset(w for lv in levels for a in lv.alternatives for w in a)))
        return out

    @staticmethod
    @lru_cache(maxsize=1)
    def gate() -> frozenset[str]:
        """The longest word of each morphology phrase, from the rules file alone: a note with none of them
        never reads the table."""
        data = _load(NeoplasmTable.FILE)
        return frozenset(
            max(words_of(p), key=len)
            for rule in data.get("morphologies") or []
            for p in _strings(rule.get("phrases"), "phrases")
            if words_of(p)
        )

    def _site_words(self, note: Note, s: Sentence, first: int, last: int, forward: bool) -> tuple[list[int], set[str]]:
        """Word positions of the site written after (forward) or before the morphology, and its sides."""
        text = note.text
        positions: list[int] = []
        sides: set[str] = set()
        if forward:
            k = last + 1
            if k >= len(s.words):
                return [], sides
            started = s.words[last] in _PHRASE_CONNECTORS  # "metastatic to", "secondary malignant neoplasm of"
            if not started and s.gap(last, k, text) and s.words[k] not in self.site_after:
                return self._site_after_comma(s, last, k, text)
            if not started and (s.words[k] not in self.site_after or s.gap(last, k, text)):
                return [], sides
            if not started:
                k += 1
            positions, sides, end = self._read_site(s, k, text)
            positions += self._subsite(s, positions, end, sides, text)
        else:
            k = first - 1
            nxt = first
            while k >= 0 and len(positions) < 4:
                w = s.words[k]
                # Reading back, a preposition ends the site: "died of cervical cancer" is not "of ...".
                if s.gap(k, nxt, text) or w in self.site_stop or w in self.site_after or w in _PHRASE_CONNECTORS:
                    break
                if w in LATERALITY:
                    sides.add(LATERALITY[w])
                elif w not in self.stop and not w.isdigit():
                    positions.append(k)
                nxt = k
                k -= 1
            positions.reverse()
        return positions, sides

    def _site_after_comma(self, s: Sentence, last: int, k: int, text: str) -> tuple[list[int], set[str]]:
        """ "Melanoma, left thigh"; "Basal cell carcinoma, right nasal ala": a site written after a comma
        right after the morphology, when the words up to the next break are a short site (at most three
        words; the caller keeps it only if a table row names it)."""
        if _GAP_HARD.search(text, s.spans[last][1], s.spans[k][0]):
            return [], set()
        positions, sides, end = self._read_site(s, k, text)
        if not positions or len(positions) > 3 or (end < len(s.words) and not s.gap(positions[-1], end, text)):
            return [], set()
        return positions, sides

    def _subsite(self, s: Sentence, positions: list[int], end: int, sides: set[str], text: str) -> list[int]:
        """A part of the site written after a comma ("of the left breast, upper outer quadrant"; "of the
        bladder, lateral wall"): its words join the site when they name a subsite (a `subsites` word)."""
        if not positions or end >= len(s.words) or not s.gap(positions[-1], end, text):
            return []
        if _GAP_HARD.search(text, s.spans[positions[-1]][1], s.spans[end][0]):
            return []
        more, more_sides, _ = self._read_site(s, end, text)
        if not any(s.words[k] in self.subsites for k in more):
            return []
        sides |= more_sides
        return more

    def _read_site(self, s: Sentence, k: int, text: str) -> tuple[list[int], set[str], int]:
        """Word positions and sides of the site written from word k on, and the index of the word that
        ended it (len(s.words) at the sentence's end)."""
        positions: list[int] = []
        sides: set[str] = set()
        prev = -1
        while k < len(s.words) and len(positions) < self.MAX_SITE:
            w = s.words[k]
            if (prev >= 0 and s.gap(prev, k, text)) or (w in self.site_stop and positions):
                break
            if w in LATERALITY:
                sides.add(LATERALITY[w])
            elif w not in self.site_stop and w not in self.stop and not w.isdigit():
                positions.append(k)
            prev = k
            k += 1
        return positions, sides, k

    def _site_list(self, s: Sentence, k: int, text: str) -> list[tuple[list[int], set[str]]]:
        """The sites of a list read from word k on: "to the liver, bone and brain" names three (each site
        after "metastatic to" is a secondary site, OCG I.C.2)."""
        out: list[tuple[list[int], set[str]]] = []
        while k < len(s.words) and len(out) < 6:
            positions, sides, end = self._read_site(s, k, text)
            if not positions:
                break
            out.append((positions, sides))
            if end >= len(s.words):
                break
            if _GAP_HARD.search(text, s.spans[positions[-1]][1], s.spans[end][0]):
                break
            if s.words[end] in _SITE_JOINS:
                k = end + 1
            elif s.gap(positions[-1], end, text) and s.words[end] not in self.site_stop:
                k = end  # "the liver, bone and brain" (not "the liver, for chemotherapy")
            else:
                break
        return out

    def _see(self, entry: Entry) -> Entry | None:
        """The row a row's see / see-also reference names (looked up once per row)."""
        key = id(entry)
        if key not in self._see_rows:
            ref = entry.see or entry.see_also
            self._see_rows[key] = self.book.find(ref) if ref else None
        return self._see_rows[key]

    def _row(self, words: set[str], column: str) -> tuple[Target, str] | None:
        candidates: list[tuple[tuple[int, int, int], Target, str]] = []
        seen: set[int] = set()
        for w in sorted(words):  # a fixed order: equal ranks go to the same row whatever the hash seed
            for t in self.by_leaf.get(w, ()):
                if id(t) in seen:
                    continue
                seen.add(id(t))
                leaf = t.levels[-1].match(words)
                if not leaf:
                    continue
                ancestors = [lv.match(words) for lv in t.levels[:-1] if lv.alternatives]
                rank = (leaf + sum(ancestors), -sum(1 for a in ancestors if not a), -t.depth)
                code = t.entry.cells.get(column)
                if code is None:
                    target = self._see(t.entry)
                    code = target.cells.get(column) if target is not None else None
                if code:
                    candidates.append((rank, t, code))
        if not candidates:
            return None
        rank, t, code = max(candidates, key=lambda c: c[0])
        return t, code

    def find(
        self, note: Note, where: Iterable[int], encounter: Encounter, refine: Callable[..., str]
    ) -> list[TableCode]:
        """Table codes for the morphology phrases of the sentences `where` (those holding a gate word)."""
        out: list[TableCode] = []
        for si in where:
            s = note.sentence(si)
            for first, n, morph in self.morphs.find(s.words):
                if morph is not None:
                    out.extend(self._one(note, s, first, first + n - 1, morph, encounter, refine))
        return out

    def _one(
        self,
        note: Note,
        s: Sentence,
        first: int,
        last: int,
        morph: _Morph,
        encounter: Encounter,
        refine: Callable[..., str],
    ) -> list[TableCode]:
        """The table code of one morphology phrase (words first..last of the sentence), if its site is named."""
        start, end = s.spans[first][0], s.spans[last][1]
        section = note.section(start)
        if section in self.skip_sections:
            return []
        ambiguous = morph.column == "primary" and first > 0 and s.words[first - 1] in self.ambiguous_before
        assertion = note.mention_assertion(start, end) or self.assertions.blocked(s.words, first)
        uncertain = assertion == "uncertain"
        if uncertain and encounter.is_inpatient:
            assertion = None  # coded as if established for inpatients (II.H, III.C)
        if assertion and assertion != "present":
            return []
        sites = self._sites(note, s, first, last, morph, ambiguous)
        return self._codes(note, s, sites, morph, encounter, refine, (start, end), uncertain)

    def _sites(
        self, note: Note, s: Sentence, first: int, last: int, morph: _Morph, ambiguous: bool
    ) -> list[tuple[str, list[int], set[str]]]:
        """(column, site word positions, sides) of each site the phrase names."""
        text = note.text
        if morph.column == "secondary" and morph.site == "after" and s.words[last] in _PHRASE_CONNECTORS:
            # "metastatic to the liver and bone": each site named after "to" is a secondary site (I.C.2)
            return [("secondary", p, sd) for p, sd in self._site_list(s, last + 1, text)]
        if ambiguous:
            return self._sites_around_to(s, last, text)
        for forward in (True, False):
            if (forward and morph.site == "before") or (not forward and morph.site == "after"):
                continue
            positions, sides = self._site_words(note, s, first, last, forward)
            if positions and self._row(self._pool(s, positions, morph), morph.column) is not None:
                sites = [(morph.column, positions, sides)]
                if not forward and morph.column == "primary":
                    sites += self._spread_to(s, positions, last, text)
                return sites
        return []

    def _sites_around_to(self, s: Sentence, last: int, text: str) -> list[tuple[str, list[int], set[str]]]:
        """The sites of a phrase that names either column ("metastatic carcinoma"): each site after "to" is
        secondary; "of the lung to the liver" is read by `_primary_and_secondary`."""
        k = last + 1
        if k + 1 < len(s.words) and s.words[k] == "to" and not s.gap(last, k, text):
            # "metastatic carcinoma to the cervical lymph nodes": each site after "to" is secondary
            return [("secondary", p, sd) for p, sd in self._site_list(s, k + 1, text)]
        if k + 1 >= len(s.words) or s.words[k] not in self.site_after or s.gap(last, k, text):
            return []
        return self._primary_and_secondary(s, k, text)

    def _codes(
        self,
        note: Note,
        s: Sentence,
        sites: list[tuple[str, list[int], set[str]]],
        morph: _Morph,
        encounter: Encounter,
        refine: Callable[..., str],
        phrase: tuple[int, int],
        uncertain: bool,
    ) -> list[TableCode]:
        """The billable code of each site, with the evidence of the phrase (the first site) or the site."""
        start, end = phrase
        section = note.section(start)
        out: list[TableCode] = []
        for n, (column, positions, sides) in enumerate(sites):
            row = self._row(self._pool(s, positions, morph), column)
            if row is None:
                continue
            target, code = row
            code = self._skin_type(code, morph)
            near = {s.words[k] for k in positions} | {_SEX_WORD.get(encounter.sex or "", "")} - {""}
            if not self.icd.is_billable(code):
                code = refine(code, frozenset(sides), "initial", frozenset(near | sides), frozenset())
            if morph.skin_category:
                code = self._skin_category(code, morph.skin_category)
            if not self.icd.is_billable(code):
                continue
            # A further site of a list is its own words: "..., lung" (the first carries the morphology).
            a = min(start, s.spans[positions[0]][0]) if n == 0 else s.spans[positions[0]][0]
            b = max(end, s.spans[positions[-1]][1]) if n == 0 else s.spans[positions[-1]][1]
            score = 0.76 * _factor(section) * (0.9 if uncertain else 1.0)
            warnings = [f"Neoplasm Table: {target.entry}, {column.replace('_', ' ')} column (guideline I.C.2)"]
            if uncertain:
                warnings.append("uncertain diagnosis coded as if established (inpatient guideline II.H/III.C)")
            out.append(TableCode(code, score, [note.evidence(a, b)], warnings))
        return out

    def _primary_and_secondary(self, s: Sentence, k: int, text: str) -> list[tuple[str, list[int], set[str]]]:
        """ "metastatic carcinoma of the lung to the liver": the site before "to" is the primary one, each
        after it secondary; "of the liver from the colon" the reverse. Without "to" or "from" the coder
        decides (primary or secondary): no code from the table."""
        positions, sides, stop = self._read_site(s, k + 1, text)
        if not positions or stop + 1 >= len(s.words) or s.words[stop] not in ("to", "from"):
            return []
        if _GAP_HARD.search(text, s.spans[positions[-1]][1], s.spans[stop][0]):
            return []
        named = "primary" if s.words[stop] == "to" else "secondary"
        other = "secondary" if named == "primary" else "primary"
        rest = self._site_list(s, stop + 1, text)
        if not rest:
            return []
        return [(named, positions, sides)] + [(other, p, sd) for p, sd in rest]

    def _spread_to(
        self, s: Sentence, positions: list[int], last: int, text: str
    ) -> list[tuple[str, list[int], set[str]]]:
        """ "Metastatic breast cancer to bone": the site written before the morphology is the primary one
        and each site after "to" a secondary one (I.C.2), when "metastatic" comes right before the site."""
        k = last + 1
        if k + 1 >= len(s.words) or s.words[k] != "to" or s.gap(last, k, text):
            return []
        before = [w for w in s.words[max(0, positions[0] - 3) : positions[0]] if w not in LATERALITY]
        if not before or before[-1] not in self.ambiguous_before:
            return []
        return [("secondary", p, sd) for p, sd in self._site_list(s, k + 1, text)]

    def _pool(self, s: Sentence, positions: list[int], morph: _Morph) -> set[str]:
        """The site's words, the table's words for them ("hepatic" -> "liver") and the site the morphology
        implies ("basal cell carcinoma of the cheek" is of the skin of the cheek)."""
        words = {s.words[k] for k in positions} | {self.site_words.get(s.words[k], s.words[k]) for k in positions}
        return words | set(morph.implies)

    def _skin_type(self, code: str, morph: _Morph) -> str:
        """The table's skin column names an unspecified malignant neoplasm of the skin (C44.309); the tabular
        gives basal and squamous cell carcinoma their own character in the same place (C44.319, C44.329)."""
        if not morph.skin_type or not code.startswith("C44.") or len(code) < 6 or code[5] != "0":
            return code
        typed = code[:5] + morph.skin_type + code[6:]
        return typed if self.icd.is_valid(typed) else code

    def _skin_category(self, code: str, category: str) -> str:
        """The skin site of a C44 code in the category that codes the morphology by skin site (Alphabetic
        Index: Melanoma, skin, by site): lip, eyelid (side, upper/lower), ear (side), face (nose, other
        parts), scalp and neck, trunk (anal skin, breast skin, other), upper and lower limb (side). A site
        the category does not divide the same way is its unspecified code; a code off the skin is kept
        (melanoma of the choroid is the eye's own row)."""
        if not code.startswith("C44."):
            return code
        mapped = _skin_site_code(code, category)
        for candidate in (mapped, f"{category}.9"):
            if candidate and self.icd.is_billable(candidate):
                return candidate
        return code


# ----------------------------------------------------------------------------------------------------
# Table of Drugs and Chemicals (OCG I.C.19.e)
@dataclass
class _Event:
    id: str
    kind: str  # adverse | poisoning | underdosing
    side: str  # before | after: where the event phrase is written, relative to the substance


class DrugTable:
    FILE = "drug_table.yaml"
    KEYS = (
        "events",
        "poisoning_cues",
        "intents",
        "noncompliance",
        "substances",
        "ignore",
        "assertions",
        "skip_sections",
    )
    REACH = 3  # words between an event phrase and its substance

    def __init__(self, book: Book, icd: ICD10CM) -> None:
        self.book, self.icd = book, icd
        data = _check_keys(_load(self.FILE), self.KEYS, self.FILE)
        self.events = self._events(data)  # leftmost-longest: "adverse reaction to" over "adverse reaction"
        self.poisoning_cues = Phrases(
            (words_of(p), True) for p in _strings(data.get("poisoning_cues"), "poisoning_cues")
        )
        intents = _check_keys(data.get("intents") or {}, ("self_harm", "assault", "undetermined"), "intents")
        self.intents = {k: Phrases((words_of(p), k) for p in _strings(v, f"intents.{k}")) for k, v in intents.items()}
        self.noncompliance = self._noncompliance(data, icd)
        self.assertions = Assertions(
            data.get("assertions"), f"{self.FILE} assertions", ("negated", "hypothetical", "historical")
        )
        self.skip_sections = frozenset(_strings(data.get("skip_sections"), "skip_sections"))
        ignore = {words_of(t) for t in _strings(data.get("ignore"), "ignore")}
        self.unresolved: list[str] = []
        self.names = Phrases(self._table_names(book, ignore) + self._note_names(book, data))

    def _events(self, data: dict[str, Any]) -> Phrases:
        """The event phrases ("adverse reaction to", "overdose of"), each with its kind and side."""
        events: list[tuple[tuple[str, ...], _Event]] = []
        for i, rule in enumerate(data.get("events") or []):
            where = f"{self.FILE} events[{i}]"
            rule = _check_keys(rule, ("id", "kind", "before", "after"), where, ("id", "kind"))
            if rule["kind"] not in ("adverse", "poisoning", "underdosing"):
                raise ResourceError(f"{where}: kind is adverse, poisoning or underdosing")
            for side in ("before", "after"):
                for p in _strings(rule.get(side), f"{where}.{side}"):
                    events.append((words_of(p), _Event(str(rule["id"]), str(rule["kind"]), side)))
        return Phrases(events)

    def _noncompliance(self, data: dict[str, Any], icd: ICD10CM) -> list[tuple[str, Phrases]]:
        """(code, phrases) of each underdosing-by-noncompliance rule."""
        out: list[tuple[str, Phrases]] = []
        for i, rule in enumerate(data.get("noncompliance") or []):
            where = f"{self.FILE} noncompliance[{i}]"
            rule = _check_keys(rule, ("code", "phrases"), where, ("code", "phrases"))
            if not icd.is_billable(str(rule["code"])):
                raise ResourceError(f"{where}: {rule['code']} is not a billable FY2026 code")
            out.append((str(rule["code"]), Phrases((words_of(p), True) for p in _strings(rule["phrases"], where))))
        return out

    @staticmethod
    def _table_names(book: Book, ignore: set[tuple[str, ...]]) -> list[tuple[tuple[str, ...], Entry]]:
        """The table's own main terms that have codes, also in natural order, less the ignored ones."""
        names: list[tuple[tuple[str, ...], Entry]] = []
        for entry in book.main_terms:
            if not entry.cells:
                continue
            forms = [entry.title]
            parts = [p.strip() for p in entry.title.split(",") if p.strip()]
            if len(parts) == 2:
                forms.append(f"{parts[1]} {parts[0]}")  # "Blockers, calcium channel" -> calcium channel blockers
            for form in forms:
                key = tuple(w for w in words_of(_BRACKETS.sub(" ", form)) if w not in ("nec", "no"))
                if key and key not in ignore:
                    names.append((key, entry))
        return names

    def _note_names(self, book: Book, data: dict[str, Any]) -> list[tuple[tuple[str, ...], Entry]]:
        """The rules file's note words for table rows; the rows not found go to `self.unresolved` and the log."""
        names: list[tuple[tuple[str, ...], Entry]] = []
        subs = data.get("substances") or {}
        if not isinstance(subs, dict):
            raise ResourceError(f"{self.FILE} substances: expected a mapping of note word -> table main term")
        for name, path in subs.items():
            row = book.find(str(path))
            if row is None or not row.cells:
                self.unresolved.append(f"{name}: {path}")
                continue
            names.append((words_of(str(name)), row))
        if self.unresolved:
            log.warning("%s: table rows not found: %s", self.FILE, "; ".join(self.unresolved))
        return names

    @staticmethod
    @lru_cache(maxsize=1)
    def gate() -> frozenset[str]:
        """The longest word of each event phrase, from the rules file alone: a note with none of them
        never reads the table."""
        data = _load(DrugTable.FILE)
        return frozenset(
            max(words_of(p), key=len)
            for r in data.get("events") or []
            for k in ("before", "after")
            for p in _strings(r.get(k), k)
            if words_of(p)
        )

    def _substance(self, words: list[str], lo: int, hi: int) -> tuple[int, int, Entry] | None:
        for k in range(max(0, lo), min(len(words), hi)):
            hit = self.names.at(words, k)
            if hit is not None:
                return k, hit[0], hit[1]
        return None

    def _says(self, phrases: Phrases, words: list[str]) -> bool:
        return any(not self.assertions.blocked(words, start) for start, _, _ in phrases.find(words))

    def find(self, note: Note, where: Iterable[int], found: Found) -> list[TableCode]:
        """Table codes for the drug events of the sentences `where` (those holding a gate word)."""
        out: list[TableCode] = []
        done: set[tuple[int, int]] = set()
        for si in where:
            s = note.sentence(si)
            for first, length, event in self.events.find(s.words):
                last = first + length - 1
                start, end = s.spans[first][0], s.spans[last][1]
                if event.side == "before":
                    substance = self._substance(s.words, last + 1, last + 1 + self.REACH)
                else:
                    substance = None
                    for k in range(first - 1, max(-1, first - 1 - self.REACH), -1):
                        got = self._substance(s.words, k, k + 1)
                        if got is not None and got[0] + got[1] <= first:
                            substance = got
                            break
                if substance is None or (si, substance[0]) in done:
                    continue
                if note.section(start) in self.skip_sections:
                    continue
                # Negation before the substance or before the event ("lisinopril without side effects").
                if self.assertions.blocked(s.words, min(first, substance[0])) or self.assertions.blocked(
                    s.words, first
                ):
                    continue
                if note.mention_assertion(start, end) in ("negated", "hypothetical", "family"):
                    continue
                # ... or between them: "due to previous chemotherapy" is history.
                gap = (
                    s.words[last + 1 : substance[0]] if event.side == "before" else s.words[sum(substance[:2]) : first]
                )
                if gap and self.assertions.blocked(gap, len(gap)):
                    continue
                done.add((si, substance[0]))
                k, n, entry = substance
                table = self._code(note, found, s, si, event, entry)
                if table is None:
                    continue
                ev = note.evidence(min(start, s.spans[k][0]), max(end, s.spans[k + n - 1][1]))
                for code in table:
                    code.evidence = [ev]
                out.extend(table)
        return out

    def _code(
        self, note: Note, found: Found, s: Sentence, si: int, event: _Event, entry: Entry
    ) -> list[TableCode] | None:
        kind = event.kind
        if kind == "adverse" and self._says(self.poisoning_cues, s.words):
            kind = "poisoning"
        column = {"adverse": "adverse", "underdosing": "underdosing"}.get(kind, "accidental")
        if kind == "poisoning":
            for intent in ("self_harm", "assault", "undetermined"):
                phrases = self.intents.get(intent)
                if phrases and (
                    self._says(phrases, s.words) or any(self._says(phrases, x.words) for x in note.sentences)
                ):
                    column = intent
                    break
        raw = entry.cells.get(column)
        if raw is None:
            return None
        sentence_text = note.text[s.start : s.end]
        seventh = _ENCOUNTER_SEVENTH[KnowledgeSuggester._encounter_cue(sentence_text, note.visit_subsequent)]
        code = _complete(self.icd, raw, seventh)
        if code is None:
            return None
        # The conditions written in this sentence (or the note): the manifestation or the condition that
        # relapsed, which go before an adverse effect or underdosing and after a poisoning.
        near = [
            c
            for c in found.values()
            if c.system == SYSTEM
            and not c.code.startswith(("T3", "T4", "T5", "T6", "Z", "V", "W", "X", "Y"))
            and any(note.sentence_index(e.start) in (si - 1, si, si + 1) for e in c.evidence)
        ]
        if not near:
            near = [
                c
                for c in found.values()
                if c.system == SYSTEM and not c.code.startswith(("T3", "T4", "T5", "T6", "Z", "V", "W", "X", "Y"))
            ]
        top = min(_TOP, max((c.score for c in near), default=0.0))
        title = " > ".join(entry.path)
        if kind == "adverse":
            score = top * 0.95 if near else 0.7
            warnings = [f"adverse effect of {title}, listed after the manifestation it caused (guideline I.C.19.e.5.a)"]
        elif kind == "poisoning":
            score = min(_TOP, max(0.85, top + 0.03))
            warnings = [
                f"poisoning by {title} ({column.replace('_', ' ')}), listed before its manifestations "
                "(guideline I.C.19.e.5.b)"
            ]
        else:
            score = top * 0.95 if near else 0.7
            warnings = [
                f"underdosing of {title}: never first-listed; the condition it affects goes first (I.C.19.e.5.c)"
            ]
        out = [TableCode(code, score, [], warnings, after=kind != "poisoning")]
        if kind == "poisoning":
            out[0].before = near
        if kind == "poisoning" and column == "self_harm":
            out[0].replaces = [c.code for c in found.values() if c.code.startswith("T14.91")]
        if kind == "underdosing":
            for z, phrases in self.noncompliance:
                if any(
                    self._says(phrases, note.sentence(x).words)
                    for x in (si - 1, si, si + 1)
                    if 0 <= x < len(note.bounds)
                ):
                    why = [f"noncompliance with {title} documented (I.C.19.e.5.c)"]
                    out.append(TableCode(z, score * 0.95, [], why, after=True))
                    break
        return out


# ----------------------------------------------------------------------------------------------------
class TableCoder:
    """The three parts, each built on first use from its CMS file and its rules file."""

    def __init__(self, tables: CmsTables, icd: ICD10CM) -> None:
        self.tables, self.icd = tables, icd
        self._parts: dict[str, Any] = {}
        self._lock = threading.Lock()

    def _part(self, name: str) -> Any:
        if name in self._parts:
            return self._parts[name]
        with self._lock:
            if name not in self._parts:
                kind, cls = {
                    "external": ("eindex", ExternalCauses),
                    "neoplasm": ("neoplasm", NeoplasmTable),
                    "drug": ("drug", DrugTable),
                }[name]
                book = self.tables.book(kind)
                self._parts[name] = cls(book, self.icd) if book is not None else None
        return self._parts[name]

    @property
    def external_causes(self) -> ExternalCauses | None:
        part: ExternalCauses | None = self._part("external")
        return part

    @property
    def neoplasms(self) -> NeoplasmTable | None:
        part: NeoplasmTable | None = self._part("neoplasm")
        return part

    @property
    def drugs(self) -> DrugTable | None:
        part: DrugTable | None = self._part("drug")
        return part

    def apply(
        self, suggester: KnowledgeSuggester, found: Found, text: str, mentions: list[Mention], encounter: Encounter
    ) -> None:
        note = Note(text, mentions)
        injuries = [
            c
            for c in found.values()
            if c.system == SYSTEM and _INJURY.match(c.code) and self.icd.is_billable(c.code) and len(c.code) == 8
        ]
        # Each part is read only for a note that needs it (a neoplasm word, a drug event, an injury), and
        # only in the sentences that hold its words: substring search first, then those sentences' words.
        where = note.sentences_with(NeoplasmTable.gate()) if self.tables.files.get("neoplasm") else []
        neo = self.neoplasms if where else None
        for tc in neo.find(note, where, encounter, suggester.refine) if neo is not None else []:
            self._add_neoplasm(found, tc)
        where = note.sentences_with(DrugTable.gate()) if self.tables.files.get("drug") else []
        drugs = self.drugs if where else None
        for tc in drugs.find(note, where, found) if drugs is not None else []:
            self._add(found, tc)
        if injuries and self.tables.files.get("eindex"):
            causes = self.external_causes
            if causes is not None:
                injury = max(injuries, key=lambda c: (c.score, -min((e.start for e in c.evidence), default=0)))
                for tc in causes.find(note, injury):
                    tc.score = min(tc.score, min(_TOP, injury.score) - 0.01)
                    self._add(found, tc)

    def _add(self, found: Found, tc: TableCode) -> None:
        key = (SYSTEM, tc.code)
        for c in tc.before:
            c.score = min(c.score, tc.score - 0.01)  # the poisoning is sequenced first (I.C.19.e.5.b)
        for old in tc.replaces:
            gone = found.pop((SYSTEM, old), None)
            if gone is not None:
                tc.evidence.extend(gone.evidence)
                tc.warnings.append(f"replaces {old}: the table code names the cause")
        if key in found:
            cand = found[key]
            cand.add_evidence(tc.evidence)
            for w in tc.warnings:
                if w not in cand.warnings:
                    cand.warnings.append(w)
            if tc.after:
                cand.score = min(cand.score, tc.score)  # sequencing: below the condition it goes after
            return
        found[key] = Candidate(tc.code, SYSTEM, tc.score, list(tc.evidence), list(tc.warnings), [])

    def _add_neoplasm(self, found: Found, tc: TableCode) -> None:
        """Add a table code, or let it replace a less specific code of the same category; never beside a
        neoplasm code the concept matcher already gave for the same words."""
        key = (SYSTEM, tc.code)
        if key in found:
            self._add(found, tc)
            return
        if tc.code.startswith("D49") and any(_is_neoplasm(c.code) for c in found.values() if c.system == SYSTEM):
            return  # "the tumor" beside a neoplasm the note names more precisely is that neoplasm
        same = [c for c in found.values() if c.system == SYSTEM and c.code[:3] == tc.code[:3]]
        vaguer = [c for c in same if self._less_specific(c.code, tc.code)]
        if vaguer:
            for c in vaguer:
                found.pop((SYSTEM, c.code), None)
                tc.evidence.extend(c.evidence)
                tc.score = max(tc.score, c.score)
                tc.warnings.append(f"more specific than {c.code}, from the Neoplasm Table")
            self._add(found, tc)
            return
        span = tc.evidence[0]
        if tc.code[:3] in ("C77", "C78", "C79"):
            self._add(found, tc)  # a secondary category is by site: another site is another condition
            return
        for c in found.values():
            if (
                c.system == SYSTEM
                and c.code[:3] == tc.code[:3]
                and any(e.start < span.end and span.start < e.end for e in c.evidence)
            ):
                return  # these words are coded already in this category (a morphology-specific code: C22.0)
        self._add(found, tc)

    def _less_specific(self, old: str, new: str) -> bool:
        if old != new and new.replace(".", "").startswith(old.replace(".", "")):
            return True  # an ancestor
        if not (self.icd.is_valid(old) and self.icd.is_valid(new)):
            return False
        if new[:3] in ("C77", "C78", "C79") and old[:5] != new[:5]:
            return False  # secondary categories are by site: "unspecified lung" is not a vaguer liver
        return (
            "unspecified" in self.icd.description(old).lower()
            and "unspecified" not in self.icd.description(new).lower()
        )


_CODERS: dict[tuple[int, str], TableCoder | None] = {}
_CODERS_LOCK = threading.Lock()


def table_coder(icd: ICD10CM, settings: Settings | None = None) -> TableCoder | None:
    """The TableCoder over the CMS folder of `settings` (default: the process's settings), one per
    folder in the process; None when no CMS file is there."""
    if settings is None:
        from chartcoder.config import get_settings

        settings = get_settings()
    key = (id(icd), str(settings.cms_dir))
    if key not in _CODERS:
        with _CODERS_LOCK:
            if key not in _CODERS:
                tables = cms_tables(settings=settings)
                _CODERS[key] = TableCoder(tables, icd) if tables.available else None
    return _CODERS[key]
