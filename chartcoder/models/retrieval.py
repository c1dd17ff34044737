"""Diagnosis-line retrieval: one line of a final diagnostic statement -> the ICD-10-CM codes whose
wording best matches it, with a similarity in [0, 1].

The phrase matcher (chartcoder.nlp.concepts) needs the tabular wording or a curated synonym word for
word. Operative reports and consults name diagnoses in their own words ("Complete tear anterior
cruciate ligament, right knee", "Herniated nucleus pulposus, C5-C6"); this module ranks codes by the
words they share with the line, in any order and any word form.

* Normalization, the same on both sides: lower case, a light suffix stemmer (tear/torn,
  herniated/herniation, stenosis/stenotic, inflamed/inflammation), word forms, stop words and
  abbreviations from `models/resources/retrieval.yaml` (femoral/femur, disk/disc; ACL, HNP, TFCC written
  in capitals), spine levels ("C5-C6" -> the level, "cervical", "mid"; "L4-5" -> "lumbar"). Side words
  (left/right/bilateral) and encounter words (initial/subsequent/sequela) are dropped: they never decide
  the match (they only break ties between a "bilateral" and a one-sided code). The engine picks the
  side and the 7th character afterwards with `KnowledgeSuggester.refine`.
* One document per code: its description, inclusion terms and "includes" notes, our curated synonyms
  (nlp/resources/synonyms.yaml; also with their abbreviations written out), and its ancestors'
  inclusion terms and "includes" notes at half weight. Codes that differ only by side or 7th character
  are one document, represented by the billable child that names no side ("..., unspecified knee")
  when there is one, else by their parent; `Hit.refine` says the engine should refine the code.
* A synonym renames words of its code's title ("cholelithiasis" = "Calculus of gallbladder", K80.20);
  the codes of the same category whose titles contain those words also get the renamed term
  ("cholelithiasis with acute cholecystitis", K80.00). Never across "Other X" and a named kind of X.
* Scoring, per term (a title, an inclusion term, a synonym): a recall-leaning F-measure over IDF
  weights - recall of the line's words (words found elsewhere in the code's document earn partial
  credit), precision over the term's words (a title with words the line does not explain scores lower;
  nonessential modifiers in parentheses and the classification's defaults - "without complications",
  "not elsewhere classified", "current injury" - cost nothing) - scaled by the share of the line's
  words the term names, plus a little TF-IDF cosine over the code document. A code scores its best
  term. Curated synonyms get a small bonus, headers and "Other X" read from its title a small malus,
  and among equal scores billable codes and the classification's default child ("unspecified", "NOS",
  "without ...") come first: the default is chosen only when nothing more specific matches better.
* A line that no code explains well (below SPLIT_BELOW) is also read part by part at "with", "and",
  ";": "Herniated nucleus pulposus, C5-C6, with spinal stenosis" names two diagnoses.

The index is built once per process (~6 s of CPU once ICD-10-CM is loaded) and cached in the data
folder as an `.npz` of sparse matrices plus a gzip JSON of vocabulary and codes, both named by a
fingerprint of the inputs (this file, retrieval.yaml, synonyms.yaml, the ICD-10-CM release); a stale,
truncated or foreign cache is rebuilt. Loading it (~0.4 s, ~22 MB) does not load the ICD-10-CM tables.
A query takes about 0.4 ms (benchmarks/retrieval.py).
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import os
import re
import tempfile
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata, resources
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from chartcoder.domain.errors import ResourceError
from chartcoder.files import private_dir

FORMAT = "chartcoder.DiagnosisRetriever.v1"
DEFAULT_FLOOR = 0.5  # lines that name no diagnosis mostly score below this (benchmarks/retrieval.py)
MAX_LINE_CHARS = 400

# Scoring constants (tuned on the mechanical paraphrase set and the hand-written phrasings).
INHERITED_WEIGHT = 0.5  # ancestors' inclusion terms and "includes" notes in a code's document
PARTIAL_CREDIT = 0.5  # a line word found elsewhere in the code's document, not in the scored term
BETA2 = 1.5  # F-measure beta squared: recall of the line counts 1.5 times precision over the term
COSINE_WEIGHT = 0.03  # a tie-breaker: the code document as a whole
HEADER_FACTOR = 0.97  # a non-billable code that is not a side/7th-character group
SYNONYM_BONUS = 0.02  # the best term is one of our curated synonyms
RELATED_WEIGHT = 0.3  # the site word itself, when the line is read with its broader site (thumb -> hand)
RELATED_ALT_WEIGHT = 0.9  # the broader site words in that reading
OTHER_PENALTY = 0.02  # "Other X" matched by its description when the line names no other type
NEAR_DESCENDANT = 0.05  # a header within this of one of its codes in the list adds nothing
PRECISION_SMOOTH = 2.0  # added to each word's IDF in the precision: frequent head nouns still count
SIDE_PENALTY = 0.015  # the code names a side the line contradicts (bilateral for "left", or the reverse)
COUNT_WEIGHT = 0.2  # similarity scaled by the share of the line's words the term names (by count, not IDF)
OOV_IDF_FACTOR = 0.5  # a line word no code has weighs half the rarest word's IDF
CANDIDATE_TERMS = 96
PRUNE_POSTINGS = 2000  # above this many postings, the most frequent words only score candidates...
PRUNE_SHARE = 0.35  # ...as long as their weight stays under this share of the line's
SPLIT_BELOW = 0.75  # a line no code matches this well is also read part by part
PART_FACTOR = 0.85  # a code that explains one part of the line, not all of it
CONTEXT_WEIGHT = 0.25  # the other parts' words when one part is read
MODIFIER_WEIGHT = 0.3  # a word that grades or sizes the condition ("advanced", "mild"): retrieval.yaml
PAREN_WEIGHT = 0.3  # words in parentheses: what the line adds about its diagnosis, not the diagnosis

SOURCES = ("description", "inclusion", "includes", "synonym", "composite")

# -------------------------------------------------------------------------------------------------
# Normalization

LATERALITY = frozenset({"left", "right", "bilateral", "unilateral", "lt", "rt", "bilat", "both"})
ENCOUNTER = frozenset({"initial", "subsequent", "sequela", "sequelae", "encounter"})
_ROMAN = {"ii": "2", "iii": "3", "iv": "4"}
_PARTS = re.compile(r"\s*(?:;|&|\+|\bwith\b|\band\b|\balso\b)\s*", re.I)
_LINE_SIDES = re.compile(r"\b(?:left|right|lt|rt|unilateral|bilateral|bilat|both)\b", re.I)
_ORDINALS = ["first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth"]
_ORDINALS += ["eleventh", "twelfth"]

_TOKEN = re.compile(r"[A-Za-z0-9]+(?:[-'\u2019][A-Za-z0-9]+)*")
# Spine levels: "C5-C6", "C5-6", "L5-S1", "C5/6", "T12 to L1"; single vertebrae only beside a spine word.
_LEVEL = re.compile(
    r"(?<![A-Za-z0-9.])([CTLS])(\d{1,2})(?:\s*(?:-|\u2013|/|to|through|thru)\s*([CTLS])?(\d{1,2}))?"
    r"(?![A-Za-z0-9]|\.\d)",
    re.I,
)
_SPINE_CONTEXT = re.compile(
    r"\b(?:vertebra[el]?|spine|spinal|fractures?|disc|disk|levels?|body|burst|compression|radiculopathy|"
    r"stenosis|nerve roots?|foramin\w*|facets?|pedicles?|myelopathy|spondyl\w*|lamina\w*)\b",
    re.I,
)
_SPINE_SPAN = {"C": (1, 8), "T": (9, 20), "L": (21, 25), "S": (26, 30)}
# Codes cited inside tabular text: "(C16.1-C16.4)", "(E08.-)", "(S00-T88)".
_CODE_REF = re.compile(
    r"\(?\b[A-Z]\d[0-9A-Z]\.[0-9A-Z-]*(?:\s*-\s*[A-Z]\d[0-9A-Z](?:\.[0-9A-Z-]*)?)?\)?|"
    r"\(\s*[A-Z]\d[0-9A-Z](?:\s*-\s*[A-Z]\d[0-9A-Z])?\s*\)"
)
_PARENS = re.compile(r"\(([^()]*)\)|\[([^\[\]]*)\]")
# What the classification assumes when the line is silent; costs nothing and marks a default code.
_DEFAULTS = re.compile(
    r"\b(?:not elsewhere classified|not otherwise specified|not specified as [a-z-]+|not intractable|"
    r"uncomplicated|with routine healing|current injury|site not specified|(?:of )?unspecified site|"
    r"site unspecified|unspecified|NOS)\b",
    re.I,
)
# "without X" (up to a comma, a semicolon or a "with"): the words are negated, optional in a term.
# A few things are negated before the site the title names after them ("Laceration without foreign
# body of thumb", "fracture without intracondylar extension of lower end of femur"): the clause ends there.
_WITHOUT = re.compile(
    r"\bwithout(?: mention of)?\s+((?:foreign bod(?:y|ies)|intra-?articular extension|intracondylar extension|"
    r"intercondylar fracture)\b|[^,;]*?(?=\s*(?:[,;]|\bwith\b|$)))",
    re.I,
)


def _resource() -> dict[str, Any]:
    from chartcoder.nlp.resources import load_yaml_resource

    data = load_yaml_resource("retrieval.yaml", "chartcoder.models.resources")
    if not isinstance(data, dict) or not isinstance(data.get("abbreviations"), dict):
        raise ResourceError("retrieval.yaml: expected 'abbreviations' and 'word_forms' mappings")
    return data


def _stop_words() -> frozenset[str]:
    words = _resource().get("stop_words") or []
    if not isinstance(words, list) or not words or not all(isinstance(w, str) for w in words):
        raise ResourceError("retrieval.yaml: expected a 'stop_words' list of strings (quote yes/no/on/off)")
    return frozenset(w.lower() for w in words)


_STOP = _stop_words()


@lru_cache(maxsize=1)
def _word_forms() -> dict[str, str]:
    return {str(k).lower(): str(v).lower() for k, v in (_resource().get("word_forms") or {}).items()}


@lru_cache(maxsize=1)
def _abbreviations() -> dict[str, str]:
    return {str(k): str(v) for k, v in _resource()["abbreviations"].items()}


@lru_cache(maxsize=1)
def _related() -> dict[str, list[str]]:
    """Line word -> broader words the classification uses for the site (thumb -> hand), weighed low."""
    out: dict[str, list[str]] = {}
    for k, v in (_resource().get("related") or {}).items():
        out[stem(str(k))] = [stem(str(w)) for w in (v if isinstance(v, list) else [v])]
    return out


@lru_cache(maxsize=1)
def _modifiers() -> frozenset[str]:
    words = _resource().get("modifiers") or []
    if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
        raise ResourceError("retrieval.yaml: expected 'modifiers' to be a list of strings")
    return frozenset(w.lower() for w in words)


@lru_cache(maxsize=1)
def _digit_names() -> tuple[re.Pattern[str] | None, dict[str, str]]:
    """Finger and toe names clinicians use ("second toe", "pinky") -> the classification's names."""
    names = {str(k).lower(): str(v) for k, v in (_resource().get("digit_names") or {}).items()}
    if not names:
        return None, names
    alternatives = "|".join(re.escape(k) for k in sorted(names, key=len, reverse=True))
    return re.compile(rf"\b(?:{alternatives})\b", re.I), names


def rename_digits(text: str) -> str:
    """The text with fingers and toes named as the classification names them ("fifth finger" ->
    "little finger"), so that the side and site words of a line meet the titles' words."""
    pattern, names = _digit_names()
    if pattern is None:
        return text
    ordinal = {"2nd": "second", "3rd": "third", "4th": "fourth", "5th": "fifth", "1st": "first"}
    text = re.sub(r"\b([1-5](?:st|nd|rd|th))\b", lambda m: ordinal[m.group(1).lower()], text, flags=re.I)
    return pattern.sub(lambda m: names[m.group(0).lower()], text)


# A measurement (size, share, dose, count of units): how much, never which diagnosis.
_MEASURE = re.compile(
    r"(?<![A-Za-z0-9.])(?:\d+(?:\.\d+)?\s*(?:-|to|x)\s*)?\d+(?:\.\d+)?\s*"
    r"(?:%|percent\b|cm\b|mm\b|ml\b|cc\b|mg\b|mcg\b|kg\b|g\b|lbs?\b|units?\b|mmhg\b|"
    r"prism diopters?\b|diopters?\b|o'?clock\b)|(?<![A-Za-z0-9.])\d{1,2}:\d{2}\b",
    re.I,
)
# Where the words naming a diagnosis end and the plan or the comment begins: a sentence end, a line
# break, or a dash with spaces around it ("Hyperlipidemia - LDL 82, continue atorvastatin").
_HEAD_END = re.compile(r"(?<=[A-Za-z0-9)\]])\.(?=\s+\S)|\n|\s(?:-{1,2}|\u2013|\u2014)\s")


def diagnosis_head(text: str, start: int, end: int) -> tuple[int, int]:
    """The span of a diagnosis line that names the diagnosis: up to its first sentence end, line
    break or spaced dash ("Generalized anxiety disorder - improving on SSRI. Increase ..." -> the
    disorder), the whole line when that would leave fewer than four characters."""
    m = _HEAD_END.search(text, start, end)
    if m is not None and len(text[start : m.start()].strip(_TRIM)) >= 4:
        end = m.start()
    return _trim(text, start, end)


_ABBREVIATION_TOKEN = re.compile(r"\b[A-Z][A-Z0-9]{1,5}\b")


def expand_abbreviations(text: str) -> str | None:
    """The text with the abbreviations of retrieval.yaml written out ("hip DJD" -> "hip degenerative
    joint disease"), or None when it has none."""
    abbreviations = _abbreviations()
    out, n = _ABBREVIATION_TOKEN.subn(lambda m: abbreviations.get(m.group(0), m.group(0)), text)
    return out if n and out != text else None


_SUFFIXES = (
    ("ious", ""),
    ("ical", ""),
    ("ies", "y"),
    ("ing", ""),
    ("ion", ""),
    ("ive", ""),
    ("ous", ""),
    ("ity", ""),
    ("ment", ""),
    ("ness", ""),
    ("ed", ""),
    ("ic", ""),
    ("al", ""),
    ("ae", "a"),
    ("e", ""),
    ("y", ""),
)
_WHOLE = (("otic", "osis"), ("itic", "itis"), ("emic", "emia"))


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """The light stemmer: word forms and a few suffixes, so that herniated/herniation/herniate,
    fracture/fractured/fractures, stenosis/stenotic and prostate/prostatic meet. Stems need not be
    words; both sides of the match go through the same function."""
    w = word.lower().replace("\u2019", "'")
    if w.endswith("'s"):
        w = w[:-2]
    w = w.strip("'")
    forms = _word_forms()
    w = forms.get(w) or (forms[w[:-1]] if w.endswith("s") and w[:-1] in forms else w)
    w = _ROMAN.get(w, w)
    if len(w) <= 3 or not w.isalpha():
        return w
    for end, repl in _WHOLE:
        if w.endswith(end) and len(w) > len(end) + 2:
            return w[: -len(end)] + repl
    if w.endswith(("itis", "osis", "iasis", "sis")):
        return w
    if w.endswith("ies") and len(w) > 5:
        w = w[:-3] + "y"  # arteries/artery, ovaries/ovary, injuries/injury: the plural meets its singular
    elif w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]
    for _ in range(3):
        for end, repl in _SUFFIXES:
            if w.endswith(end) and len(w) - len(end) + len(repl) >= 4:
                w = w[: -len(end)] + repl
                break
        else:
            break
    # inflamm(ation) / inflam(ed): a doubled final consonant is one
    if len(w) > 4 and w[-1] == w[-2] and w[-1] not in "aeiouls":
        w = w[:-1]
    return w


def _spine_index(letter: str, number: int) -> int | None:
    lo, hi = _SPINE_SPAN[letter]
    idx = lo + number - 1
    return idx if lo <= idx <= hi else None


# A spine level's words: (query words with weights, the same words for a document, the level first).
_LevelWords = tuple[list[tuple[str, float]], list[str]]


def _level_words(m: re.Match[str], spine_context: bool) -> _LevelWords | None:
    """(query words with weights, the same words for a document: the level token first) for a spine
    level match, or None when the match is not a spine level."""
    a, n1 = m.group(1).upper(), int(m.group(2))
    i1 = _spine_index(a, n1)
    if i1 is None:
        return None
    region = {"C": "cervical", "T": "thoracic", "L": "lumbar", "S": "sacral"}
    if m.group(4) is None:
        if not spine_context:
            return None
        words = [(f"{a}{n1}".lower(), 0.5), (region[a], 1.0)]
        if n1 <= len(_ORDINALS):
            words.append((_ORDINALS[n1 - 1], 0.5))
        return words, [w for w, _ in words]
    b = (m.group(3) or a).upper()
    n2 = int(m.group(4))
    i2 = _spine_index(b, n2)
    if i2 is None or i2 <= i1:
        return None
    token = f"{a}{n1}{b}{n2}".lower()
    words = [(token, 0.5), (f"{a}{n1}".lower(), 0.15), (f"{b}{n2}".lower(), 0.15)]
    if a == b:
        words.append((region[a], 1.0))
        if a == "C" and (n1, n2) in {(4, 5), (5, 6), (6, 7)}:
            words.append(("mid", 0.3))
        if a == "C" and (n1, n2) in {(1, 2), (2, 3), (3, 4)}:
            words.append(("high", 0.3))
    elif (a, b) == ("C", "T"):
        words.append(("cervicothoracic", 1.0))
    elif (a, b) == ("T", "L"):
        words.append(("thoracolumbar", 1.0))
    elif (a, b) == ("L", "S"):
        words.append(("lumbosacral", 1.0))
    else:
        words += [(region[a], 0.5), (region[b], 0.5)]
    return words, [w for w, _ in words]


def _spine_levels(text: str, spine_context: bool) -> tuple[list[_LevelWords], list[str]]:
    """(the spine levels in the text, as `_level_words` gives them; the pieces of text around them)."""
    levels: list[_LevelWords] = []
    rest: list[str] = []
    pos = 0
    for m in _LEVEL.finditer(text):
        lv = _level_words(m, spine_context)
        if lv is None:
            continue
        levels.append(lv)
        rest.append(text[pos : m.start()])
        pos = m.end()
    rest.append(text[pos:])
    return levels, rest


def _is_abbreviation_shape(raw: str) -> bool:
    """Two or more capitals: "ACL", "AFib", "T2DM" (not "Fracture")."""
    if raw.islower() or raw.istitle():
        return False
    return sum(1 for c in raw if c.isupper()) >= 2


def _abbreviation_key(raw: str) -> str:
    return "#" + re.sub(r"[^a-z0-9]", "", raw.lower())


# A line word: its alternatives (each a list of (token, weight)); most words have one.
Slot = list[list[tuple[str, float]]]


def _doc_tokens(text: str) -> list[str]:
    """Tokens of a piece of tabular or synonym text (capitalized abbreviations as '#abbr')."""
    out: list[str] = []
    levels, pieces = _spine_levels(text, bool(_SPINE_CONTEXT.search(text)))
    for _, document_words in levels:
        out.extend(stem(w) if not re.match(r"^[a-z]\d", w) else w for w in document_words)
    for piece in pieces:
        for m in _TOKEN.finditer(piece):
            out.extend(_doc_word(m.group(0)))
    return out


# Hyphenated words whose joined form the classification also writes as one word ("gastro-esophageal" /
# "gastroesophageal"): read as that one word. Set by build_index from the texts it indexes.
_COMPOUNDS: frozenset[str] = frozenset()


def _set_compounds(compounds: frozenset[str]) -> None:
    global _COMPOUNDS
    if compounds != _COMPOUNDS:
        _COMPOUNDS = compounds
        _doc_word.cache_clear()
        term_words.cache_clear()


@lru_cache(maxsize=200_000)
def _doc_word(raw: str) -> tuple[str, ...]:
    low = raw.lower().replace("\u2019", "'")
    if low.endswith("'s"):
        raw, low = raw[:-2], low[:-2]
    if _is_abbreviation_shape(raw) and raw.upper() == raw and low not in _ROMAN and low not in _STOP:
        return (_abbreviation_key(raw),)
    if "-" in raw and low.replace("-", "") in _COMPOUNDS:
        return (stem(low.replace("-", "")),)
    if "-" in raw or "'" in raw:
        return tuple(t for part in re.split(r"[-']", raw) if part for t in _doc_word(part))
    if low in _STOP or low in LATERALITY or low in ENCOUNTER or (len(low) == 1 and not low.isdigit()):
        return ()
    return (stem(low),)


@dataclass(frozen=True)
class TermWords:
    required: frozenset[str]
    optional: frozenset[str]
    default: bool


@lru_cache(maxsize=65_536)
def term_words(text: str) -> TermWords:
    """A tabular term's words: required, optional (nonessential modifiers in parentheses, eponyms in
    brackets, negated words of a "without" clause as '~word', spine-level expansions), and whether the
    term states one of the classification's defaults."""
    t = _CODE_REF.sub(" ", text)
    optional: set[str] = set()
    default = False
    for m in _PARENS.finditer(t):
        optional.update(_doc_tokens(m.group(1) or m.group(2) or ""))
    t = _PARENS.sub(" ", t)
    for m in _WITHOUT.finditer(t):
        default = True
        optional.update("~" + w for w in _doc_tokens(m.group(1)))
    t = _WITHOUT.sub(" ", t)
    if _DEFAULTS.search(t):
        default = True
        t = _DEFAULTS.sub(" ", t)
    required: list[str] = []
    levels, rest = _spine_levels(t, bool(_SPINE_CONTEXT.search(text)))
    for _, document_words in levels:
        required.append(document_words[0])  # the level itself; its vertebrae, region and ordinal are optional
        optional.update(w if re.match(r"^[a-z]\d", w) else stem(w) for w in document_words[1:])
    for piece in rest:
        for m in _TOKEN.finditer(piece):
            required.extend(_doc_word(m.group(0)))
    req = frozenset(required)
    return TermWords(req, frozenset(optional) - req, default)


@dataclass(frozen=True)
class Query:
    """A normalized diagnosis line: its word slots, each with one or more alternatives."""

    slots: list[Slot]
    sides: frozenset[str] = frozenset()  # "one" (left, right, unilateral) and/or "both" (bilateral)

    def variants(self, limit: int = 4) -> list[dict[str, float]]:
        out: list[dict[str, float]] = [{}]
        for slot in self.slots:
            alts = slot if len(out) * len(slot) <= limit else slot[:1]
            nxt = []
            for base in out:
                for alt in alts:
                    d = dict(base)
                    for tok, w in alt:
                        d[tok] = max(d.get(tok, 0.0), w)
                    nxt.append(d)
            out = nxt
        return [v for v in out if v]


def analyze_line(
    line: str, vocabulary: dict[str, int] | None = None, memo: dict[tuple[str, bool], list[Slot]] | None = None
) -> Query:
    """Normalize a diagnosis line into word slots (see Query). `vocabulary` decides between an
    abbreviation's curated token and its expansion (both are tried when both exist); `memo` caches
    each token's slots for that vocabulary."""
    text = _MEASURE.sub(" ", rename_digits(line[:MAX_LINE_CHARS]))
    text, slots = _aside_slots(text)
    for m in _WITHOUT.finditer(text):
        for tok in _doc_tokens(m.group(1)):
            slots.append([[("~" + tok, 1.0)]])
    text = _WITHOUT.sub(" ", text)
    levels, rest = _spine_levels(text, bool(_SPINE_CONTEXT.search(text)))
    for query_words, _ in levels:
        slots.append([[(w if re.match(r"^[a-z]\d", w) else stem(w), weight) for w, weight in query_words]])
    tokens = [m.group(0) for piece in rest for m in _TOKEN.finditer(piece)]
    slots.extend(_word_slots(tokens, vocabulary or {}, memo))
    _read_broader_sites(slots)
    sides = set()
    for m in _LINE_SIDES.finditer(line[:MAX_LINE_CHARS]):
        sides.add("both" if m.group(0).lower() in {"bilateral", "bilat", "both"} else "one")
    return Query(slots, frozenset(sides))


def _aside_slots(text: str) -> tuple[str, list[Slot]]:
    """(the text without its parenthesized words, their slots). Words in parentheses qualify the
    diagnosis ("gastric ulcer (lesser curvature, Forrest IIa)"): they count at a low weight. A line
    that is all parentheses is read as it is."""
    aside = [m.group(1) or m.group(2) or "" for m in _PARENS.finditer(text)]
    if not aside or not _PARENS.sub(" ", text).strip(_TRIM):
        return text, []
    slots: list[Slot] = [[[(tok, PAREN_WEIGHT)]] for piece in aside for tok in _doc_tokens(piece)]
    return _PARENS.sub(" ", text), slots


def _word_slots(
    tokens: list[str], vocab: dict[str, int], memo: dict[tuple[str, bool], list[Slot]] | None
) -> list[Slot]:
    """The slots of a line's words; a line mostly in capitals may spell plain words in capitals."""
    letters = [t for t in tokens if any(c.isalpha() for c in t)]
    shouting = bool(letters) and sum(t.isupper() for t in letters) > 0.6 * len(letters)
    modifiers = _modifiers()
    slots: list[Slot] = []
    for raw in tokens:
        if raw.lower() in modifiers:
            slots.append([[(stem(raw.lower()), MODIFIER_WEIGHT)]])
            continue
        if memo is None:
            slots.extend(_query_word(raw, vocab, shouting))
            continue
        hit = memo.get((raw, shouting))
        if hit is None:
            hit = _query_word(raw, vocab, shouting)
            if len(memo) < 100_000:
                memo[(raw, shouting)] = hit
        slots.extend(hit)
    return slots


def _read_broader_sites(slots: list[Slot]) -> None:
    """A site the classification names only by a broader site ("forehead" -> "other part of head"):
    the line is also read with the broader words in its place, and the site word kept lightly."""
    related = _related()
    for i, slot in enumerate(slots):
        if len(slot) == 1 and len(slot[0]) == 1 and slot[0][0][1] >= 1.0 and slot[0][0][0] in related:
            tok = slot[0][0][0]
            slots[i] = [slot[0], [(tok, RELATED_WEIGHT), *((w, RELATED_ALT_WEIGHT) for w in related[tok])]]


def _query_word(raw: str, vocab: dict[str, int], shouting: bool) -> list[Slot]:
    """The slots of one line token: an abbreviation may be its curated '#abbr' token or its expansion
    (both tried); a word in a line written in capitals may also be a plain word."""
    low = raw.lower().replace("\u2019", "'")
    if low.endswith("'s"):
        raw, low = raw[:-2], low[:-2]
    abbreviations = _abbreviations()
    key = _abbreviation_key(raw)
    upper = raw.upper()
    shaped = low not in _ROMAN and (_is_abbreviation_shape(raw) or (raw == upper and upper in abbreviations))
    alts: Slot = []
    if shaped:
        if key in vocab:
            alts.append([(key, 1.0)])
        expansion = abbreviations.get(raw) or abbreviations.get(upper)
        if expansion:
            alts.append([(t, 1.0) for t in _doc_tokens(expansion)])
        if alts and not shouting:
            return [alts]
    elif ("-" in raw or "'" in raw) and key in vocab:  # "A-fib"
        return [[[(key, 1.0)]]]
    if "-" in raw and stem(low.replace("-", "")) in vocab:  # "gastro-esophageal"
        return [[[(stem(low.replace("-", "")), 1.0)]]]
    if "-" in raw or "'" in raw:
        return [s for part in re.split(r"[-']", raw) if part for s in _query_word(part, vocab, shouting)]
    if low in _STOP or low in LATERALITY or low in ENCOUNTER or (len(low) == 1 and not low.isdigit()):
        return []
    word = stem(low)
    if alts:  # a line in capitals: the plain word, or the abbreviation it may be
        return [[[(word, 1.0)], *alts]] if word in vocab else [alts]
    if word not in vocab and len(low) >= 2:
        if key in vocab:  # "covid", "hiv"
            return [[[(key, 1.0)]]]
        expansion = abbreviations.get(upper)
        if expansion:  # "acl tear"
            return [[[(t, 1.0) for t in _doc_tokens(expansion)]]]
    return [[[(word, 1.0)]]]


# -------------------------------------------------------------------------------------------------
# The index


@dataclass(frozen=True)
class Hit:
    """A retrieved code. `refine` is True when the code stands for siblings that differ only by side
    or 7th character (or is a header): the engine should pass it through KnowledgeSuggester.refine."""

    code: str
    description: str
    similarity: float
    billable: bool
    refine: bool
    matched: str  # the term that matched best (a composite reads "<title> [<synonym>]")
    source: str  # description | inclusion | includes | synonym | composite
    # For the best code of one part of a line that names two diagnoses ("X with Y"), how well it
    # matches that part (its `similarity` is lowered: it does not explain the whole line); else 0.
    part_similarity: float = 0.0


@dataclass
class _Index:
    fingerprint: str
    vocabulary: list[str]
    idf: np.ndarray  # (V,) float32
    codes: list[str]
    descriptions: list[str]
    flags: np.ndarray  # (C,) uint8: FLAG_* bits (billable, side group, default, bilateral, one side, other)
    term_code: np.ndarray  # (T,) int32
    term_source: np.ndarray  # (T,) uint8, index into SOURCES
    term_text: list[str]
    term_total: np.ndarray  # (T,) float32: IDF mass of the term's required words
    members: dict[str, str]  # code -> the indexed code that stands for it (when not itself)
    compounds: list[str]  # hyphenated words read as one (see _COMPOUNDS)
    term_words: sp.csr_matrix  # (V, T) the term's words: 1 required, 2 optional
    code_words: sp.csr_matrix  # (V, C) TF-IDF of the code documents, l2-normalized per code
    code_union: sp.csr_matrix  # (V, C) same entries: 1 the code's own word, INHERITED_WEIGHT an ancestor's


FLAG_BILLABLE, FLAG_GROUP, FLAG_DEFAULT, FLAG_BILATERAL, FLAG_ONE_SIDE, FLAG_OTHER = 1, 2, 4, 8, 16, 32
_SIDED = re.compile(r"\b(?:left|right|bilateral)\b", re.I)
_SIDED_ALL = re.compile(r"\b(?:left|right|bilateral|unilateral)\b", re.I)


def _fingerprint() -> str:
    h = hashlib.sha256(FORMAT.encode())
    for pkg, name in (
        ("chartcoder.models.resources", "retrieval.yaml"),
        ("chartcoder.nlp.resources", "synonyms.yaml"),
        ("chartcoder.nlp.resources", "index_conventions.yaml"),
    ):
        h.update(resources.files(pkg).joinpath(name).read_bytes())
    h.update(resources.files("chartcoder.nlp").joinpath("index_terms.py").read_bytes())
    h.update(Path(__file__).read_bytes())
    from chartcoder.codes.icd10cm import RELEASE

    h.update(RELEASE.encode())
    with contextlib.suppress(metadata.PackageNotFoundError):
        h.update(metadata.version("simple-icd-10-cm").encode())
    return h.hexdigest()[:16]


_SIDE_WORDS = frozenset({"left", "right", "bilateral", "unilateral", "unspecified"})


def _side_key(description: str) -> tuple[str, ...]:
    """A description's words without side words ("right", "unspecified", "bilateral"): siblings equal
    on this differ only by side. "Other" stays: "Other X" and "Unspecified X" are different codes."""
    words = (m.group(0) for m in _TOKEN.finditer(description.lower()))
    return tuple(sorted({stem(w) for w in words if w not in _SIDE_WORDS}))


def _is_other(description: str) -> bool:
    """A residual code: "Other X" (not "Other and unspecified X")."""
    d = description.lower()
    return d.startswith("other ") and not d.startswith("other and unspecified")


def _synonym_entries() -> list[dict[str, Any]]:
    from chartcoder.nlp.index_terms import synonym_entries as index_convention_entries
    from chartcoder.nlp.resources import load_yaml_resource

    data = load_yaml_resource("synonyms.yaml")
    if not isinstance(data, list):
        raise ResourceError("synonyms.yaml: expected a list of {code, terms, abbreviations}")
    # The Alphabetic Index conventions too (index_conventions.yaml), a few word sets per code: the
    # retriever reads words in any order and form, so every template's word order adds nothing.
    return [e for e in data if isinstance(e, dict) and "code" in e] + index_convention_entries(retrieval=True)


@dataclass(frozen=True)
class _Tree:
    """The codes the index reads (external causes V-Y and 7th-character extensions left out): their
    parents and children among them, descriptions, and notes as (source, text), source 1 an inclusion
    term and 2 an "includes" note."""

    codes: list[str]
    parent_of: dict[str, str | None]
    children: dict[str, list[str]]
    desc: dict[str, str]
    notes: dict[str, list[tuple[int, str]]]


def _code_tree(icd: Any) -> _Tree:
    cm = icd._cm
    base = [c for c in icd.all_codes if c[0] not in "VWXY" and not cm.is_extended_subcategory(c)]
    in_base = set(base)
    children: dict[str, list[str]] = {}
    parent_of: dict[str, str | None] = {}
    for c in base:
        p = icd.parent(c)
        parent_of[c] = p if p in in_base and p != c else None
        if parent_of[c]:
            children.setdefault(str(p), []).append(c)
    desc = {c: str(cm.get_description(c)) for c in base}
    code_notes = {
        c: [(1, str(t)) for t in cm.get_inclusion_term(c) or []] + [(2, str(t)) for t in cm.get_includes(c) or []]
        for c in base
    }
    return _Tree(base, parent_of, children, desc, code_notes)


def _compounds_in(tree: _Tree, synonym_entries: list[dict[str, Any]]) -> frozenset[str]:
    """Hyphenated words that the indexed texts also write as one word (see _COMPOUNDS)."""
    texts = list(tree.desc.values()) + [t for n in tree.notes.values() for _, t in n]
    texts += [str(t) for e in synonym_entries for t in e.get("terms") or []]
    plain = {m.group(0).lower() for t in texts for m in _TOKEN.finditer(t) if "-" not in m.group(0)}
    hyphenated = {m.group(0).lower().replace("-", "") for t in texts for m in _TOKEN.finditer(t) if "-" in m.group(0)}
    return frozenset(hyphenated & plain)


def _side_groups(icd: Any, tree: _Tree) -> tuple[dict[str, str], set[str]]:
    """(code -> the code whose document stands for it, the codes that stand for a side or
    7th-character group). Siblings that differ only by side are one document: the billable child that
    names no side ("unspecified knee") stands for them, else their parent (whose other children stay
    apart)."""
    cm, desc, children = icd._cm, tree.desc, tree.children
    key = {c: _side_key(desc[c]) for c in tree.codes}
    rep: dict[str, str] = {c: c for c in tree.codes}
    group_rep: set[str] = set()
    for c in reversed(tree.codes):  # children before parents: nested groups collapse bottom-up
        kids = [k for k in children.get(c, []) if rep[k] == k and not children.get(k)]
        if len(kids) < 2:
            continue
        by_key: dict[tuple[str, ...], list[str]] = {}
        for k in kids:
            by_key.setdefault(key[k], []).append(k)
        whole = len(by_key) == 1 and len(kids) == len(children.get(c, []))
        for members in by_key.values():
            head = _side_group_head(cm, desc, c, members)
            if head is None:
                continue
            for m in [c, *members] if whole or head == c else members:
                rep[m] = head
            group_rep.add(head)
    # Codes whose only children add a 7th character stand for them, as a group does.
    for c in tree.codes:
        if rep[c] == c and not children.get(c) and not cm.is_leaf(c) and icd.seventh_characters(c):
            group_rep.add(c)
    # Resolve chains (a child's group head folded into its parent's group).
    for c in tree.codes:
        r = rep[c]
        while rep[r] != r:
            r = rep[r]
        rep[c] = r
    return rep, group_rep


def _side_group_head(cm: Any, desc: dict[str, str], parent: str, members: list[str]) -> str | None:
    """The code that stands for siblings equal but for their side, or None when they are no such group."""
    if len(members) < 2 or not any(_SIDED.search(desc[m]) for m in members):
        return None
    unsided = [m for m in members if cm.is_leaf(m) and not _SIDED.search(desc[m])]
    # Without such a child the parent stands for them (refine can move a header to any
    # descendant, but a non-billable code only to its own 7th characters).
    return unsided[0] if unsided else parent


class _Terms:
    """The index's terms as (code index, source, text, words), each (code, words) once, and the codes
    that have a term stating one of the classification's defaults."""

    def __init__(self) -> None:
        self.items: list[tuple[int, int, str, TermWords]] = []
        self.default_codes: set[int] = set()
        self._seen: set[tuple[int, frozenset[str], frozenset[str]]] = set()

    def add(self, ci: int, source: int, text: str, tw: TermWords | None = None) -> None:
        if tw is None:
            expanded = expand_abbreviations(text)  # "BPH with LUTS": also with the words written out
            if expanded:
                self.add(ci, source, expanded)
            tw = term_words(text)
        if not tw.required and not tw.optional:
            return
        if tw.default:
            self.default_codes.add(ci)
        sig = (ci, tw.required, tw.optional)
        if sig in self._seen:
            return
        self._seen.add(sig)
        self.items.append((ci, source, text, tw))


def _add_synonyms(
    terms: _Terms, entries: list[dict[str, Any]], tree: _Tree, rep: dict[str, str], pos: dict[str, int]
) -> tuple[dict[str, list[str]], list[tuple[str, str]]]:
    """Curated synonyms become terms of the code they name. Returns (parent -> synonym terms that
    join its notes, (code, synonym term) pairs). A synonym of an "unspecified" code names the condition
    of its parent too ("herniated cervical disc" for M50.20, "Other cervical disc displacement,
    unspecified cervical region"): its words join the parent's notes, which every descendant inherits
    at half weight (M50.222, "... at C5-C6 level")."""
    parent_synonyms: dict[str, list[str]] = {}
    synonym_pairs: list[tuple[str, str]] = []
    for entry in entries:
        code = str(entry["code"])
        target = code if code in rep else code[:-1].rstrip("X").rstrip(".") if len(code) > 7 else code
        if target not in rep:
            continue
        ci = pos[rep[target]]
        texts = [str(t) for t in entry.get("terms") or []]
        for t in texts:
            terms.add(ci, 3, t)
            synonym_pairs.append((target, t))
        for a in entry.get("abbreviations") or []:
            terms.add(ci, 3, str(a), TermWords(frozenset({_abbreviation_key(str(a))}), frozenset(), False))
        parent = tree.parent_of.get(target)
        if parent and "unspecified" in tree.desc[target].lower():
            parent_synonyms.setdefault(parent, []).extend(texts)
    return parent_synonyms, synonym_pairs


def _inherited_words(tree: _Tree, pos: dict[str, int], parent_synonyms: dict[str, list[str]]) -> dict[int, set[str]]:
    """Per indexed code (`pos`: code -> its index): the words of its ancestors' notes (and of the
    synonyms that joined them)."""
    note_words: dict[str, frozenset[str]] = {}  # a code's notes and its ancestors' notes

    def lineage_words(code: str | None) -> frozenset[str]:
        if not code:
            return frozenset()
        hit = note_words.get(code)
        if hit is None:
            words: set[str] = set(lineage_words(tree.parent_of.get(code)))
            for text in [t for _, t in tree.notes.get(code, [])] + parent_synonyms.get(code, []):
                tw = term_words(text)
                words |= tw.required | tw.optional
            hit = note_words[code] = frozenset(words)
        return hit

    return {ci: set(lineage_words(tree.parent_of.get(c))) for c, ci in pos.items()}


def _add_renamed_synonyms(
    terms: _Terms, tree: _Tree, rep: dict[str, str], pos: dict[str, int], pairs: list[tuple[str, str]]
) -> None:
    """A synonym renames words of its code's description ("cholelithiasis" for "Calculus of
    gallbladder", K80.20; "stenosing tenosynovitis" for "Trigger finger", M65.30): the codes of the
    same category whose descriptions contain that wording get a term with the rename applied
    ("Calculus of gallbladder with acute cholecystitis" -> "cholelithiasis with acute cholecystitis",
    K80.00; "Trigger finger, ring finger" -> "stenosing tenosynovitis, ring", M65.34-)."""
    desc = tree.desc
    by_category: dict[str, list[str]] = {}
    for c in pos:  # the indexed codes, in order
        by_category.setdefault(c[:3], []).append(c)
    for target, text in pairs:
        wx = term_words(desc[target]).required
        ws = term_words(text)
        remove, add = wx - ws.required, ws.required - wx
        if not add or len(add) > 3 or len(remove) > 4 or not wx:
            continue
        if not remove and "unspecified" not in desc[target].lower():
            continue  # a synonym that only adds words adds them to its own (default) code
        own_code = rep[target]
        other = _is_other(desc[target])
        for c in by_category.get(target[:3], []):
            # "Other X" is what X's named kinds are not: a synonym of one kind never renames it
            # ("serous otitis media" is not "Other chronic nonsuppurative otitis media").
            if c == own_code or _is_other(desc[c]) != other:
                continue
            tw = term_words(desc[c])
            if not wx <= tw.required:
                continue
            required = (tw.required - remove) | add
            renamed = TermWords(frozenset(required), (tw.optional | ws.optional) - required, tw.default)
            terms.add(pos[c], 4, f"{desc[c]} [{text}]", renamed)


@dataclass(frozen=True)
class _Documents:
    """The code documents as TF-IDF: vocabulary, its index, IDF, and the (V, C) word-major matrices."""

    vocabulary: list[str]
    vocab_map: dict[str, int]
    idf: np.ndarray
    code_words: sp.csr_matrix
    code_union: sp.csr_matrix


def _code_documents(terms: _Terms, inherited: dict[int, set[str]], n_codes: int) -> _Documents:
    """Code documents: own words (once per term), then the ancestors' notes."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    own: list[list[str]] = [[] for _ in range(n_codes)]
    for ci, _, _, tw in terms.items:
        own[ci].extend(sorted(tw.required | tw.optional))
    docs = [own[ci] + sorted(inherited[ci] - set(own[ci])) for ci in range(n_codes)]
    vectorizer = TfidfVectorizer(analyzer=lambda d: d, sublinear_tf=True, norm="l2", dtype=np.float32, lowercase=False)
    doc_matrix = vectorizer.fit_transform(docs).astype(np.float32)  # (C, V)
    vocab_map: dict[str, int] = {str(w): int(i) for w, i in vectorizer.vocabulary_.items()}
    vocabulary = [""] * len(vocab_map)
    for w, i in vocab_map.items():
        vocabulary[i] = w
    idf = np.asarray(vectorizer.idf_, dtype=np.float32)

    code_words = sp.csr_matrix(doc_matrix.T, dtype=np.float32)  # (V, C)
    code_words.sort_indices()
    own_sets = [set(o) for o in own]
    union_data = np.empty_like(code_words.data)
    for row in range(code_words.shape[0]):
        word = vocabulary[row]
        a, b = code_words.indptr[row], code_words.indptr[row + 1]
        union_data[a:b] = [1.0 if word in own_sets[ci] else INHERITED_WEIGHT for ci in code_words.indices[a:b]]
    code_union = sp.csr_matrix((union_data, code_words.indices, code_words.indptr), shape=code_words.shape)
    return _Documents(vocabulary, vocab_map, idf, code_words, code_union)


def _term_matrix(terms: _Terms, documents: _Documents) -> tuple[sp.csr_matrix, np.ndarray]:
    """((V, T) the terms' words, 1 required and 2 optional; (T,) the IDF mass of each term's required words)."""
    vocab_map, idf = documents.vocab_map, documents.idf
    t_rows, t_cols, t_kind = [], [], []
    term_total = np.zeros(len(terms.items), np.float32)
    for ti, (_, _, _, tw) in enumerate(terms.items):
        for w in tw.required:
            t_rows.append(vocab_map[w])
            t_cols.append(ti)
            t_kind.append(1.0)
        for w in tw.optional:
            t_rows.append(vocab_map[w])
            t_cols.append(ti)
            t_kind.append(2.0)
        term_total[ti] = sum(float(idf[vocab_map[w]]) + PRECISION_SMOOTH for w in tw.required)
    term_matrix = sp.csr_matrix(
        (np.asarray(t_kind, np.float32), (np.asarray(t_rows), np.asarray(t_cols))),
        shape=(len(documents.vocabulary), len(terms.items)),
    )
    return term_matrix, term_total


def _code_flags(
    cm: Any, desc: dict[str, str], indexed: list[str], group_rep: set[str], defaults: set[int]
) -> np.ndarray:
    """(C,) FLAG_* bits of each indexed code."""
    flags = np.zeros(len(indexed), np.uint8)
    for ci, c in enumerate(indexed):
        if cm.is_leaf(c):
            flags[ci] |= FLAG_BILLABLE
        if c in group_rep:
            flags[ci] |= FLAG_GROUP
        if ci in defaults or "unspecified" in desc[c].lower():
            flags[ci] |= FLAG_DEFAULT
        if _is_other(desc[c]):
            flags[ci] |= FLAG_OTHER
        sides = {m.group(0).lower() for m in _SIDED_ALL.finditer(desc[c])}
        if "bilateral" in sides:
            flags[ci] |= FLAG_BILATERAL
        if sides - {"bilateral"}:
            flags[ci] |= FLAG_ONE_SIDE
    return flags


def build_index(icd: Any | None = None) -> _Index:
    """Build the index from ICD-10-CM (external causes V-Y left out) and synonyms.yaml."""
    from chartcoder.codes.icd10cm import icd10cm

    icd = icd or icd10cm()
    tree = _code_tree(icd)
    synonym_entries = _synonym_entries()
    compounds = _compounds_in(tree, synonym_entries)
    _set_compounds(compounds)
    rep, group_rep = _side_groups(icd, tree)
    indexed = [c for c in tree.codes if rep[c] == c]
    pos = {c: i for i, c in enumerate(indexed)}

    # Terms of each indexed code: its own, and those of the codes it stands for.
    terms = _Terms()
    for c in tree.codes:
        ci = pos[rep[c]]
        terms.add(ci, 0, tree.desc[c])
        for source, text in tree.notes.get(c, []):
            terms.add(ci, source, text)
    parent_synonyms, synonym_pairs = _add_synonyms(terms, synonym_entries, tree, rep, pos)
    inherited = _inherited_words(tree, pos, parent_synonyms)
    _add_renamed_synonyms(terms, tree, rep, pos, synonym_pairs)

    documents = _code_documents(terms, inherited, len(indexed))
    term_matrix, term_total = _term_matrix(terms, documents)
    return _Index(
        fingerprint="",
        vocabulary=documents.vocabulary,
        idf=documents.idf,
        codes=indexed,
        descriptions=[tree.desc[c] for c in indexed],
        flags=_code_flags(icd._cm, tree.desc, indexed, group_rep, terms.default_codes),
        term_code=np.asarray([t[0] for t in terms.items], np.int32),
        term_source=np.asarray([t[1] for t in terms.items], np.uint8),
        term_text=[t[2] for t in terms.items],
        term_total=term_total,
        members={c: r for c, r in rep.items() if r != c},
        compounds=sorted(compounds),
        term_words=term_matrix,
        code_words=documents.code_words,
        code_union=documents.code_union,
    )


# -------------------------------------------------------------------------------------------------
# Cache: <cache_dir>/dx-retrieval-<fingerprint>.npz (matrices and arrays) and .json.gz (the rest)

_MATRICES = ("term_words", "code_words", "code_union")
_ARRAYS = ("idf", "flags", "term_code", "term_source", "term_total")


def _cache_paths(cache_dir: Path, fp: str) -> tuple[Path, Path]:
    return cache_dir / f"dx-retrieval-{fp}.npz", cache_dir / f"dx-retrieval-{fp}.json.gz"


def save_index(index: _Index, cache_dir: Path) -> None:
    """Write the index atomically (temporary files, then rename); errors leave no cache behind."""
    npz_path, json_path = _cache_paths(cache_dir, index.fingerprint)
    arrays: dict[str, np.ndarray] = {"fingerprint": np.asarray([index.fingerprint])}
    for name in _MATRICES:
        m: sp.csr_matrix = getattr(index, name)
        arrays[f"{name}_data"] = m.data
        arrays[f"{name}_indices"] = m.indices
        arrays[f"{name}_indptr"] = m.indptr
        arrays[f"{name}_shape"] = np.asarray(m.shape, np.int64)
    for name in _ARRAYS:
        arrays[name] = getattr(index, name)
    payload = {
        "format": FORMAT,
        "fingerprint": index.fingerprint,
        "vocabulary": index.vocabulary,
        "codes": index.codes,
        "descriptions": index.descriptions,
        "term_text": index.term_text,
        "members": index.members,
        "compounds": index.compounds,
    }
    tmp_files: list[str] = []
    try:
        private_dir(cache_dir)  # 0700; mkstemp makes the files 0600
        fd, tmp_npz = tempfile.mkstemp(prefix=npz_path.name, suffix=".tmp", dir=cache_dir)
        tmp_files.append(tmp_npz)
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **arrays)  # type: ignore[arg-type]
        fd, tmp_json = tempfile.mkstemp(prefix=json_path.name, suffix=".tmp", dir=cache_dir)
        tmp_files.append(tmp_json)
        with os.fdopen(fd, "wb") as raw, gzip.open(raw, "wt", encoding="utf-8", compresslevel=3) as fh:
            json.dump(payload, fh, separators=(",", ":"))
        os.replace(tmp_npz, npz_path)
        os.replace(tmp_json, json_path)
        tmp_files.clear()
        for old in cache_dir.glob("dx-retrieval-*"):  # caches of other input versions
            if old not in (npz_path, json_path) and not old.name.endswith(".tmp"):
                old.unlink(missing_ok=True)
    except OSError:
        pass  # a read-only data folder: the index lives in memory only
    finally:
        for name in tmp_files:
            Path(name).unlink(missing_ok=True)


def load_index(cache_dir: Path, fp: str) -> _Index | None:
    """The cached index when both files are there, readable, and of this fingerprint; else None."""
    npz_path, json_path = _cache_paths(cache_dir, fp)
    if not (npz_path.exists() and json_path.exists()):
        return None
    try:
        with gzip.open(json_path, "rt", encoding="utf-8") as fh:
            payload = json.load(fh)
        if payload.get("format") != FORMAT or payload.get("fingerprint") != fp:
            return None
        with np.load(npz_path, allow_pickle=False) as z:
            if str(z["fingerprint"][0]) != fp:
                return None
            mats = {
                name: sp.csr_matrix(
                    (z[f"{name}_data"], z[f"{name}_indices"], z[f"{name}_indptr"]),
                    shape=tuple(int(x) for x in z[f"{name}_shape"]),
                )
                for name in _MATRICES
            }
            arrs = {name: np.asarray(z[name]) for name in _ARRAYS}
        index = _Index(
            fingerprint=fp,
            vocabulary=[str(w) for w in payload["vocabulary"]],
            codes=[str(c) for c in payload["codes"]],
            descriptions=[str(d) for d in payload["descriptions"]],
            term_text=[str(t) for t in payload["term_text"]],
            members={str(k): str(v) for k, v in payload["members"].items()},
            compounds=[str(c) for c in payload["compounds"]],
            **arrs,
            **mats,
        )
        _check(index)
        return index
    except Exception:  # noqa: BLE001 - truncated, corrupt (BadZipFile, EOFError...) or foreign: rebuilt
        return None


def _check(index: _Index) -> None:
    """Shapes agree with one another (a cache that passes this cannot index out of bounds)."""
    v, c, t = len(index.vocabulary), len(index.codes), len(index.term_text)
    ok = (
        index.idf.shape == (v,)
        and index.flags.shape == (c,)
        and len(index.descriptions) == c
        and all(getattr(index, n).shape == (t,) for n in ("term_code", "term_source", "term_total"))
        and index.term_words.shape == (v, t)
        and index.code_words.shape == (v, c)
        and np.array_equal(index.code_words.indptr, index.code_union.indptr)
        and np.array_equal(index.code_words.indices, index.code_union.indices)
        and (t == 0 or (int(index.term_code.min()) >= 0 and int(index.term_code.max()) < c))
        and (t == 0 or int(index.term_source.max()) < len(SOURCES))
    )
    for name in _MATRICES:
        getattr(index, name).check_format(full_check=True)
    if not ok:
        raise ValueError("inconsistent retrieval index")


# -------------------------------------------------------------------------------------------------
# The retriever


class DiagnosisRetriever:
    """Ranks ICD-10-CM codes for one diagnosis line. Build or load once per process
    (`DiagnosisRetriever(cache_dir)` or `load_retriever(cache_dir)`); `search` is read-only and
    thread-safe."""

    def __init__(self, cache_dir: Path | str | None = None, *, icd: Any | None = None, floor: float = DEFAULT_FLOOR):
        self.floor = floor
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        fp = _fingerprint()
        index = load_index(self.cache_dir, fp) if self.cache_dir is not None else None
        self.from_cache = index is not None
        if index is None:
            index = build_index(icd)
            index.fingerprint = fp
            if self.cache_dir is not None:
                save_index(index, self.cache_dir)
        self._ix = index
        _set_compounds(frozenset(index.compounds))
        self._vocab = {w: i for i, w in enumerate(index.vocabulary)}
        self._code_pos = {c: i for i, c in enumerate(index.codes)}
        self._oov = float(index.idf.max()) * OOV_IDF_FACTOR if len(index.idf) else 1.0
        # Raw CSR arrays for the query products (a handful of rows each).
        self._mats = {name: (m.indptr, m.indices, m.data) for name in _MATRICES for m in [getattr(index, name)]}
        self._n_terms = len(index.term_text)
        self._n_codes = len(index.codes)
        self._synonym = np.where(index.term_source == SOURCES.index("synonym"), SYNONYM_BONUS, 0.0)
        complete = (index.flags & (FLAG_BILLABLE | FLAG_GROUP)) > 0
        self._factor = np.where(complete, 1.0, HEADER_FACTOR)
        self._words: dict[tuple[str, bool], list[Slot]] = {}  # line token -> slots (memo)
        self._last_left_out = threading.local()  # _score -> search: words the best term leaves out
        self._flags: list[int] = index.flags.tolist()
        self._sources: list[int] = index.term_source.tolist()

    # -- public API -------------------------------------------------------------------------
    @property
    def fingerprint(self) -> str:
        return self._ix.fingerprint

    def __len__(self) -> int:
        return self._n_codes

    def representative(self, code: str) -> str | None:
        """The indexed code that stands for `code` (itself, its side/7th-character group, or None)."""
        c = code.strip().upper()
        if "." not in c and len(c) > 3:
            c = c[:3] + "." + c[3:]
        for cand in (c, c[:-1].rstrip("X").rstrip(".") if len(c) == 8 else None):
            if cand is None:
                continue
            if cand in self._code_pos:
                return cand
            if cand in self._ix.members:
                return self._ix.members[cand]
        return None

    def search(self, line: str, k: int = 5, floor: float | None = None) -> list[Hit]:
        """At most k codes for one diagnosis line, best first, each with similarity >= floor."""
        floor = self.floor if floor is None else floor
        query = analyze_line(line, self._vocab, self._words)
        best: dict[int, tuple[float, int]] = {}
        left_out = 0  # the line's words the best term leaves out
        top = 0.0
        for variant in query.variants():
            self._last_left_out.value = 0
            for ci, (score, ti) in self._score(variant).items():
                if ci not in best or score > best[ci][0]:
                    best[ci] = (score, ti)
                if score > top:
                    top, left_out = score, self._last_left_out.value
        part_tops: dict[int, float] = {}
        if top < SPLIT_BELOW or left_out >= 2:
            # No one code explains the whole line: it may name two diagnoses ("Herniated nucleus
            # pulposus, C5-C6, with spinal stenosis"). Each part is read with the rest as context, and
            # each part's best code gets a place in the list.
            for variant in self._part_variants(line):
                scores = self._score(variant)
                if scores:
                    head = max(scores, key=lambda ci: scores[ci][0])
                    part_tops[head] = max(part_tops.get(head, 0.0), scores[head][0])
                for ci, (score, ti) in scores.items():
                    score *= PART_FACTOR
                    if ci not in best or score > best[ci][0]:
                        best[ci] = (score, ti)
        return self._hits(self._rank(best, query, floor), k, part_tops)

    def _rank(self, best: dict[int, tuple[float, int]], query: Query, floor: float) -> list[tuple[Any, ...]]:
        """(-similarity, tie-breakers..., code, code index, term index) for codes at or above the floor,
        best first: billable (or side-group) codes, then the classification's default, then shorter."""
        all_flags, sources, codes = self._flags, self._sources, self._ix.codes
        both, one = "both" in query.sides, "one" in query.sides
        scored = []
        for ci, (score, ti) in best.items():
            flags = all_flags[ci]
            if flags & FLAG_BILATERAL and not both or flags & FLAG_ONE_SIDE and both and not one:
                score -= SIDE_PENALTY
            if flags & FLAG_OTHER and sources[ti] == 0:
                score -= OTHER_PENALTY  # "Other X" read from its title: the line names no other type
            if score >= floor:
                code = codes[ci]
                complete = 0 if flags & (FLAG_BILLABLE | FLAG_GROUP) else 1
                default = 0 if flags & FLAG_DEFAULT else 1
                scored.append((-round(min(1.0, score), 6), complete, default, len(code), code, ci, ti))
        scored.sort()
        return scored

    def _hits(self, scored: list[tuple[Any, ...]], k: int, part_tops: dict[int, float]) -> list[Hit]:
        ix, all_flags = self._ix, self._flags
        chosen: list[tuple[Any, ...]] = []
        for entry in scored:
            if len(chosen) >= k:
                break
            code, ci = entry[4], entry[5]
            # A header adds nothing beside one of its codes that matches about as well.
            if not all_flags[ci] & FLAG_BILLABLE and any(
                other[4].startswith(code) and other[4] != code and -other[0] >= -entry[0] - NEAR_DESCENDANT
                for other in scored
            ):
                continue
            chosen.append(entry)
        for entry in scored:  # each part of a two-diagnosis line keeps its best code in the list
            if entry[5] in part_tops and entry not in chosen:
                for i in range(len(chosen) - 1, 0, -1):
                    if chosen[i][5] not in part_tops:
                        chosen[i] = entry
                        break
        chosen.sort()
        out = []
        for neg, _, _, _, code, ci, ti in chosen:
            flags = all_flags[ci]
            billable = bool(flags & FLAG_BILLABLE)
            out.append(
                Hit(
                    code=code,
                    description=ix.descriptions[ci],
                    similarity=round(min(1.0, max(0.0, -neg)), 4),
                    billable=billable,
                    refine=bool(flags & FLAG_GROUP) or not billable,
                    matched=ix.term_text[ti],
                    source=SOURCES[int(ix.term_source[ti])],
                    part_similarity=round(min(1.0, part_tops.get(ci, 0.0)), 4),
                )
            )
        return out

    __call__ = search

    # -- scoring ----------------------------------------------------------------------------
    def _part_variants(self, line: str) -> list[dict[str, float]]:
        """One query per part of a line split at "with", "and", ";", "&", "+": the part's words at
        their weight, the other parts' words at CONTEXT_WEIGHT (a site named once serves both)."""
        parts = [p for p in _PARTS.split(line[:MAX_LINE_CHARS]) if p and p.strip()]
        if len(parts) < 2:
            return []
        analyzed = [analyze_line(p, self._vocab, self._words).variants(limit=1) for p in parts]
        words = [a[0] if a else {} for a in analyzed]
        out = []
        for i, own in enumerate(words):
            if not own:
                continue
            variant: dict[str, float] = {}
            for j, other in enumerate(words):
                if j != i:
                    for tok, w in other.items():
                        variant[tok] = max(variant.get(tok, 0.0), w * CONTEXT_WEIGHT)
            for tok, w in own.items():
                variant[tok] = max(variant.get(tok, 0.0), w)
            out.append(variant)
        return out

    def _score(self, variant: dict[str, float]) -> dict[int, tuple[float, int]]:
        """Per code: (score, best term) for one variant of the line. The sparse products (the query
        row times the word-major matrices) run over the query words' postings only. The most frequent
        words ("fracture", "injury") do not propose candidates while their weight is small: they only
        add to the candidates the rarer words propose (a term with none of those cannot score well)."""
        q = self._line_weights(variant)
        sums = self._term_sums(q) if q is not None else None
        if q is None or sums is None:
            return {}
        union, cosine = self._document_sums(q, sums)
        f = self._similarity(q, sums, union, cosine)
        top = int(np.argmax(f))
        self._last_left_out.value = round((1.0 - float(sums.covered[top])) * q.words)
        return _best_term_per_code(sums.touched, f, sums.codes)

    def _line_weights(self, variant: dict[str, float]) -> _LineWeights | None:
        known = [(self._vocab[t], w) for t, w in variant.items() if t in self._vocab]
        oov = sum(w for t, w in variant.items() if t not in self._vocab) * self._oov
        if not known:
            return None
        words = sum(1 for w in variant.values() if w >= 1.0)  # the line's own words (not expansions)
        ids = [i for i, _ in known]
        mult = np.asarray([w for _, w in known], np.float64)
        q1 = self._ix.idf[ids].astype(np.float64)
        qm = q1 * mult
        qp = q1 + PRECISION_SMOOTH  # the same weights as the terms' totals
        own = (mult >= 1.0) / max(words, 1)
        return _LineWeights(ids, q1, qm, qp, own, float(qm.sum()) + oov, words)

    def _term_sums(self, q: _LineWeights) -> _TermSums | None:
        """Per term that holds a proposing word of the line: the line's words in it, summed with each
        of their weights; None when no term does."""
        t_ptr, t_idx, t_kind = self._mats["term_words"]
        spans = [(int(t_ptr[i]), int(t_ptr[i + 1])) for i in q.ids]
        lengths = [b - a for a, b in spans]
        frequent = _frequent_words(lengths, q.qm)
        kept = [j for j in range(len(q.ids)) if j not in frequent]
        cols = np.concatenate([t_idx[spans[j][0] : spans[j][1]] for j in kept])
        if not len(cols):
            return None
        kind = np.concatenate([t_kind[spans[j][0] : spans[j][1]] for j in kept])
        word = np.repeat(np.asarray(kept), [lengths[j] for j in kept])
        order = np.argsort(cols, kind="stable")
        cols, word, required = cols[order], word[order], kind[order] == 1
        starts = np.flatnonzero(np.concatenate(([True], cols[1:] != cols[:-1])))
        touched = cols[starts]
        # Per term: IDF x weight of the line's words in it, their share of the line's words (by count),
        # and the precision weights of the line's words among all / the required words of the term.
        weights = np.stack([q.qm, q.own, q.qp, q.qp])[:, word]
        weights[3] *= required
        matched, covered, explained_all, explained_req = np.add.reduceat(weights, starts, axis=1)
        for j in frequent:
            hit, at = _members(t_idx[spans[j][0] : spans[j][1]], touched)
            matched += hit * q.qm[j]
            covered += hit * q.own[j]
            explained_all += hit * q.qp[j]
            explained_req += (hit & (t_kind[spans[j][0] : spans[j][1]][at] == 1)) * q.qp[j]
        codes = self._ix.term_code[touched]
        return _TermSums(touched, codes, matched, covered, explained_all, explained_req, kept, frequent)

    def _document_sums(self, q: _LineWeights, sums: _TermSums) -> tuple[np.ndarray, np.ndarray]:
        """Per candidate term's code: the line's words in its whole document (own words 1, ancestors'
        notes INHERITED_WEIGHT) and the TF-IDF cosine."""
        ids, codes = q.ids, sums.codes
        c_ptr, c_idx, c_tfidf = self._mats["code_words"]
        c_union = self._mats["code_union"][2]
        c_spans = [(int(c_ptr[ids[j]]), int(c_ptr[ids[j] + 1])) for j in sums.kept]
        c_cols = np.concatenate([c_idx[a:b] for a, b in c_spans])
        c_word = np.repeat(np.asarray(sums.kept), [b - a for a, b in c_spans])
        union_w = np.concatenate([c_union[a:b] for a, b in c_spans])
        tfidf = np.concatenate([c_tfidf[a:b] for a, b in c_spans])
        union = np.bincount(c_cols, q.qm[c_word] * union_w, self._n_codes)[codes]
        cosine = np.bincount(c_cols, q.q1[c_word] * tfidf, self._n_codes)[codes]
        if sums.frequent:
            code_ids, code_of = np.unique(codes, return_inverse=True)
            for j in sums.frequent:
                a, b = int(c_ptr[ids[j]]), int(c_ptr[ids[j] + 1])
                hit, at = _members(c_idx[a:b], code_ids)
                union += (np.where(hit, c_union[a:b][at], 0.0) * q.qm[j])[code_of]
                cosine += (np.where(hit, c_tfidf[a:b][at], 0.0) * q.q1[j])[code_of]
        return union, cosine

    def _similarity(self, q: _LineWeights, sums: _TermSums, union: np.ndarray, cosine: np.ndarray) -> np.ndarray:
        """Per candidate term: recall of the line (words elsewhere in the code's document earn partial
        credit) and precision over the term's words (optional words the line names are credit, never a
        cost) as an F-measure, with the synonym bonus, the document cosine, the share of the line's
        words the term names and the header factor."""
        touched, matched = sums.touched, sums.matched
        explained_all, explained_req = sums.explained_all, sums.explained_req
        recall = (matched + PARTIAL_CREDIT * np.maximum(0.0, union - matched)) / q.total
        precision = explained_all / np.maximum(self._ix.term_total[touched] + explained_all - explained_req, 1e-9)
        np.minimum(precision, 1.0, out=precision)
        f = (1 + BETA2) * precision * recall / np.maximum(BETA2 * precision + recall, 1e-12)
        f += self._synonym[touched]
        f = (1 - COSINE_WEIGHT) * f + (COSINE_WEIGHT / max(float(np.sqrt(q.q1 @ q.q1)), 1e-12)) * cosine
        f *= 1 - COUNT_WEIGHT + COUNT_WEIGHT * sums.covered
        f *= self._factor[sums.codes]
        return f


@dataclass(frozen=True)
class _LineWeights:
    """One variant of a line over the words the index knows: their rows (`ids`), IDF (`q1`), IDF times
    the word's weight in the line (`qm`), precision weight (`qp`) and share of the line's own words
    (`own`); `total` also counts the words the index does not know, `words` is the line's own words."""

    ids: list[int]
    q1: np.ndarray
    qm: np.ndarray
    qp: np.ndarray
    own: np.ndarray
    total: float
    words: int


@dataclass(frozen=True)
class _TermSums:
    """Per candidate term (`touched`, of code `codes`): the sums of the line's words in it, by IDF x
    weight (`matched`), by count (`covered`), and by precision weight among all its words and among
    its required words. `kept` are the line's words that proposed the terms, `frequent` the rest."""

    touched: np.ndarray
    codes: np.ndarray
    matched: np.ndarray
    covered: np.ndarray
    explained_all: np.ndarray
    explained_req: np.ndarray
    kept: list[int]
    frequent: list[int]


def _frequent_words(lengths: list[int], qm: np.ndarray) -> list[int]:
    """The line's words (positions) with the longest postings that only add to the candidates the
    others propose: above PRUNE_POSTINGS postings in all, while their weight stays under PRUNE_SHARE
    of the line's, and never every word."""
    frequent: list[int] = []
    if sum(lengths) > PRUNE_POSTINGS:
        budget = PRUNE_SHARE * float(qm.sum())
        for j in sorted(range(len(lengths)), key=lambda j: -lengths[j]):
            if lengths[j] < PRUNE_POSTINGS // 4 or len(frequent) + 1 >= len(lengths) or qm[j] > budget:
                break
            frequent.append(j)
            budget -= qm[j]
    return frequent


def _best_term_per_code(touched: np.ndarray, f: np.ndarray, codes: np.ndarray) -> dict[int, tuple[float, int]]:
    """Per code: (score, term) of its best term among the CANDIDATE_TERMS best."""
    if len(touched) > CANDIDATE_TERMS:
        keep = np.argpartition(-f, CANDIDATE_TERMS)[:CANDIDATE_TERMS]
        touched, f, codes = touched[keep], f[keep], codes[keep]
    order = np.lexsort((-f, codes))  # by code, best term first
    codes, f, touched = codes[order], f[order], touched[order]
    first = np.ones(len(codes), bool)
    first[1:] = codes[1:] != codes[:-1]
    return {
        ci: (score, ti)
        for ci, score, ti in zip(codes[first].tolist(), f[first].tolist(), touched[first].tolist(), strict=True)
    }


def _members(postings: np.ndarray, items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(is each item in the sorted postings, its position there or 0)."""
    if not len(postings):
        return np.zeros(len(items), bool), np.zeros(len(items), np.int64)
    at = np.minimum(np.searchsorted(postings, items), len(postings) - 1)
    hit = postings[at] == items
    return hit, np.where(hit, at, 0)


_RETRIEVERS: dict[str, DiagnosisRetriever] = {}
_LOCK = threading.Lock()


def load_retriever(cache_dir: Path | str | None = None) -> DiagnosisRetriever:
    """The process-wide retriever for a cache folder (built or loaded once)."""
    key = str(Path(cache_dir).resolve()) if cache_dir is not None else ""
    with _LOCK:
        hit = _RETRIEVERS.get(key)
        if hit is None:
            hit = _RETRIEVERS[key] = DiagnosisRetriever(cache_dir)
        return hit


# -------------------------------------------------------------------------------------------------
# Splitting a final diagnostic statement into one span per diagnosis

_NUMBER = re.compile(r"(?:#\s*(\d{1,2})[.):]?|(\d{1,2})\s*[.)]|\((\d{1,2})\))\s+(?=\S)")
_MARKER_AFTER = frozenset(" \t\r\n,;:.(")
_BULLET = re.compile(r"^\s*(?:[-*\u2022\u2013]|\d{1,2}\s*[.)])\s+")
_EMPTY_ITEM = re.compile(
    r"^(?:same(?:\s+as\s+(?:above|before|the\s+)?(?:pre-?\s*op(?:erative)?(?:\s+diagnos[ie]s)?)?)?|none|n/?a|nil|"
    r"deferred|see above)$",
    re.I,
)
_TRIM = " \t\r\n,;:.-\u2022*"


def diagnosis_lines(text: str, spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """One (start, end) span per diagnosis in the given section bodies: numbered items ("1. ... 2. ...",
    also on one line as transcription writes them), else lines and semicolons. Offsets index `text`
    exactly; items are trimmed of spaces and list punctuation, and "Same", "None", "N/A" items are
    skipped."""
    out: list[tuple[int, int]] = []
    for start, end in spans:
        start, end = max(0, start), min(len(text), end)
        if start >= end:
            continue
        pieces = _numbered(text, start, end)
        if pieces is None:
            pieces = []
            for a, b in _split(text, start, end, "\n"):
                pieces.extend(_split(text, a, b, ";"))
        else:
            pieces = [p for a, b in pieces for p in _split(text, a, b, ";")]
        for a, b in pieces:
            a, b = _trim(text, a, b)
            if b > a and not _EMPTY_ITEM.match(text[a:b]):
                out.append((a, b))
    return out


def _numbered(text: str, start: int, end: int) -> list[tuple[int, int]] | None:
    """Items between the markers of a numbered list (1, 2, 3... in order), or None without one. Of
    several candidates with the number expected next, the last before the following number is the
    marker ("1. Diabetes mellitus type 2. 2. Hypertension")."""
    candidates: list[tuple[int, int, int]] = []  # (number, marker start, item start)
    for m in _NUMBER.finditer(text, start, end):
        if m.start() > start and text[m.start() - 1] not in _MARKER_AFTER:
            continue
        candidates.append((int(m.group(1) or m.group(2) or m.group(3)), m.start(), m.end()))
    markers: list[tuple[int, int]] = []
    expected: int | None = None
    for i, (n, a, b) in enumerate(candidates):
        if (expected is None and n in (0, 1)) or n == expected:
            later = [c for c in candidates[i + 1 :] if c[0] == n + 1]
            stop = later[0][1] if later else end
            if any(c[0] == n and c[1] < stop for c in candidates[i + 1 :]):
                continue  # a later candidate with this number comes before the next number
            markers.append((a, b))
            expected = n + 1
    if not markers or (len(markers) == 1 and text[start : markers[0][0]].strip(_TRIM)):
        return None
    items = []
    head = text[start : markers[0][0]]
    if head.strip(_TRIM):
        items.append((start, markers[0][0]))
    for i, (_, item_start) in enumerate(markers):
        item_end = markers[i + 1][0] if i + 1 < len(markers) else end
        items.append((item_start, item_end))
    return items


def _split(text: str, start: int, end: int, sep: str) -> list[tuple[int, int]]:
    out = []
    a = start
    while True:
        i = text.find(sep, a, end)
        if i < 0:
            out.append((a, end))
            return out
        out.append((a, i))
        a = i + 1


def _trim(text: str, a: int, b: int) -> tuple[int, int]:
    m = _BULLET.match(text, a, b)
    if m:
        a = m.end()
    while a < b and text[a] in _TRIM:
        a += 1
    while b > a and text[b - 1] in _TRIM:
        b -= 1
    # a closing parenthesis or quote kept with its opening one
    return a, b
