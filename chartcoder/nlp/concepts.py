"""Concept matching: finds code-linked mentions in a note from ICD-10-CM descriptions, inclusion terms,
our curated synonyms/abbreviations, and the procedure trigger list.

Terms and note text go through the same normalization (lower case, plural "s" dropped, filler words
such as "of", "the", "unspecified" dropped, laterality words set aside as cues), so "pain in the left
knee", "left knee pain" and the tabular "Pain in left knee" meet on the same key. Abbreviations are
matched case-sensitively so "MI" is not "mi". Matching is leftmost-longest over a prefix table:
O(words x longest term) per sentence, about a millisecond for a long note.
"""

# No `from __future__ import annotations` here: spaCy reads the factory signature at runtime.

import bisect
import gzip
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spacy.language import Language
from spacy.tokens import Doc, Span
from spacy.util import filter_spans

from chartcoder.domain.code_systems import PROCEDURE_SYSTEMS
from chartcoder.domain.errors import ResourceError
from chartcoder.files import private_dir
from chartcoder.nlp.resources import load_yaml_resource

INDEX_FORMAT = "chartcoder.TermIndex.v1"

# Words right after these cues are not facts of the note ("suspected streptococcal", "no macular
# edema"): they must not make a code more specific. Assertions themselves are ConText's job.
_HEDGE = re.compile(
    r"\b(?:suspected|suspect|possible|possibly|probable|probably|likely|questionable|rule out|r/o|no|not|"
    r"without|denies|negative for|versus|vs\.?|concern for|cannot exclude)\b",
    re.I,
)
NEAR = 4  # words either side of a mention that may make its code more specific (a site, a type)
_COORDINATORS = frozenset({"and", "or", "but", "vs", "versus", "plus"})
# Starts only where a number starts: tried at every digit of a 15,000-digit run it took 10 s.
_SIZE_CM = re.compile(r"(?<!\d)(\d+(?:\.\d+)?)\s*(?:cm\b|centimet)", re.I)
_TOKEN = re.compile(r"[A-Za-z0-9]+(?:'[sS])?")
FILLERS = frozenset({"of", "the", "a", "an", "in", "mellitus", "unspecified", "nos", "nec"})
LATERALITY = {
    "left": "left",
    "right": "right",
    "bilateral": "bilateral",
    "lt": "left",
    "rt": "right",
    "both": "bilateral",
}
_ROMAN = {"ii": "2", "iii": "3", "iv": "4"}
_TABULAR_NOISE = re.compile(
    r",?\s*(site not specified|not elsewhere classified|not otherwise specified|unspecified|without foreign body)\b",
    re.I,
)
_PARENS = re.compile(r"\s*[\(\[][^\)\]]*[\)\]]")


_NORMALIZED: dict[str, str] = {}


def normalize_word(raw: str) -> str:
    """Lower case, no possessive, roman numerals as digits, no plural "s" (memoized: notes reuse words)."""
    hit = _NORMALIZED.get(raw)
    if hit is not None:
        return hit
    w = _normalize_word(raw)
    if len(_NORMALIZED) < 500_000:
        _NORMALIZED[raw] = w
    return w


def _normalize_word(raw: str) -> str:
    w = raw.lower()
    if w.endswith("'s"):
        w = w[:-2]
    w = _ROMAN.get(w, w)
    if len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]
    return w


@dataclass(frozen=True)
class Word:
    norm: str
    raw: str
    start: int
    end: int


def words_of(text: str, offset: int = 0) -> tuple[list[Word], list[tuple[str, int, int]]]:
    """Matchable words and the laterality cues set aside, both with character offsets into the note."""
    words: list[Word] = []
    cues: list[tuple[str, int, int]] = []
    for m in _TOKEN.finditer(text):
        raw = m.group(0)
        norm = normalize_word(raw)
        if norm in LATERALITY and (raw.islower() or raw.istitle() or len(raw) > 2):
            cues.append((LATERALITY[norm], offset + m.start(), offset + m.end()))
            continue
        if norm in FILLERS and not raw.isupper():
            continue
        if norm == "unilateral":
            continue
        words.append(Word(norm, raw.removesuffix("'s").removesuffix("'S"), offset + m.start(), offset + m.end()))
    return words, cues


def term_key(term: str) -> tuple[str, ...]:
    return tuple(w.norm for w in words_of(term)[0])


def abbreviation_key(term: str) -> tuple[str, ...]:
    return tuple(w.raw for w in words_of(term)[0])


@dataclass(frozen=True)
class TermTarget:
    """What a matched term points at."""

    code: str
    system: str  # ICD-10-CM | CPT | HCPCS
    source: str  # synonym | description | inclusion | includes | procedure
    requires: tuple[str, ...] = ()
    size_cm: tuple[float, float] | None = None  # wound repairs: the length band the code covers
    site: tuple[str, ...] = ()  # a second requirement: one of these words in the sentence too (lesion excisions)
    needs_size: bool = False  # only when the sentence gives a size in cm (a size band names the code)


SOURCE_RANK = {"synonym": 0, "procedure": 0, "description": 1, "inclusion": 2, "includes": 3}


@dataclass
class TermIndex:
    """Normalized term -> targets (case-insensitive) and abbreviation -> targets (case-sensitive)."""

    terms: dict[tuple[str, ...], list[TermTarget]] = field(default_factory=dict)
    abbreviations: dict[tuple[str, ...], list[TermTarget]] = field(default_factory=dict)
    prefixes: set[tuple[str, ...]] = field(default_factory=set)
    abbreviation_prefixes: set[tuple[str, ...]] = field(default_factory=set)
    max_len: int = 0
    fingerprint: str = ""

    def add(self, key: tuple[str, ...], target: TermTarget, case_sensitive: bool = False) -> None:
        if not key or len(key) > 12:
            return
        table = self.abbreviations if case_sensitive else self.terms
        prefixes = self.abbreviation_prefixes if case_sensitive else self.prefixes
        bucket = table.setdefault(key, [])
        if target not in bucket:
            bucket.append(target)
        for i in range(1, len(key)):
            prefixes.add(key[:i])
        self.max_len = max(self.max_len, len(key))

    def finish(self) -> "TermIndex":
        for table in (self.terms, self.abbreviations):
            for bucket in table.values():
                bucket.sort(key=lambda t: (SOURCE_RANK.get(t.source, 9), len(t.code), t.code))
        return self

    def match(self, words: list[Word]) -> Iterator[tuple[int, int, list[TermTarget]]]:
        """The longest match starting at each word, unless it lies inside an earlier match; yields
        (first word, last word + 1, targets). Overlaps are kept ("diabetes with CKD stage 3b" gives
        both the combination phrase and "CKD stage 3b")."""
        n = len(words)
        covered_to = 0
        for i in range(n):
            best_end, best = -1, None
            for table, prefixes, attr in (
                (self.abbreviations, self.abbreviation_prefixes, "raw"),
                (self.terms, self.prefixes, "norm"),
            ):
                key: tuple[str, ...] = ()
                for j in range(i, min(n, i + self.max_len)):
                    key = (*key, getattr(words[j], attr))
                    hit = table.get(key)
                    if hit is not None and j + 1 > best_end:
                        best_end, best = j + 1, hit
                    if key not in prefixes:
                        break
            if best is not None and best_end > covered_to:
                covered_to = best_end
                yield i, best_end, best


# -------------------------------------------------------------------------------------------------
# Building the index


def _variants(text: str) -> set[str]:
    """Tabular wording -> the phrasings a clinician writes: without parentheses (nonessential
    modifiers), with each modifier placed before the term, and "X of/in Y" inverted to "Y X"."""
    out: set[str] = set()
    base = _TABULAR_NOISE.sub("", text).strip(" ,")
    bare = _PARENS.sub("", base).strip(" ,")
    # The tabular title as written, too: a diagnosis line that quotes it word for word ("Laceration
    # without foreign body of left forearm") must match it.
    verbatim = text.replace("(", "").replace(")", "").strip(" ,")
    for form in {base.replace("(", "").replace(")", ""), bare, verbatim, _PARENS.sub("", text).strip(" ,")}:
        out.add(form)
    for mod in re.findall(r"\(([^)]*)\)", base):
        if "," not in mod and len(mod.split()) <= 3:
            out.add(f"{mod} {bare}")
    for form in list(out):
        m = re.match(r"^(.*?)\s+(?:of|in)\s+(?:the\s+)?(.*)$", form, re.I)
        if m and "," not in m.group(2) and len(m.group(2).split()) <= 4:
            out.add(f"{m.group(2)} {m.group(1)}")
    return {v for v in out if v}


def _stoplist() -> set[tuple[str, ...]]:
    data = load_yaml_resource("concept_stoplist.yaml")
    return {term_key(t) for t in (data or {}).get("single_words", [])}


@dataclass(frozen=True)
class WordVariants:
    """nlp/resources/word_variants.yaml, normalized: the tabular's word -> the words notes write for it."""

    nouns: dict[str, tuple[str, ...]]
    adjectives: dict[str, tuple[str, ...]]

    def keys(self, key: tuple[str, ...]) -> list[tuple[str, ...]]:
        """The term key with one word replaced by each word notes write for it; an adjective only
        before another word."""
        out: list[tuple[str, ...]] = []
        for i, word in enumerate(key):
            alternatives = self.nouns.get(word, ())
            if i < len(key) - 1:
                alternatives += self.adjectives.get(word, ())
            out.extend((*key[:i], alt, *key[i + 1 :]) for alt in alternatives)
        return out


def load_word_variants() -> WordVariants:
    data = load_yaml_resource("word_variants.yaml")
    if not isinstance(data, dict) or set(data) - {"nouns", "adjectives"}:
        raise ResourceError("word_variants.yaml: expected the mappings 'nouns' and 'adjectives'")
    tables: list[dict[str, tuple[str, ...]]] = []
    for name in ("nouns", "adjectives"):
        table: dict[str, tuple[str, ...]] = {}
        for word, alternatives in (data.get(name) or {}).items():
            if not isinstance(alternatives, list) or not alternatives:
                raise ResourceError(f"word_variants.yaml {name}.{word}: expected a list of words")
            key, alts = term_key(str(word)), [term_key(str(a)) for a in alternatives]
            if len(key) != 1 or any(len(a) != 1 for a in alts):
                raise ResourceError(f"word_variants.yaml {name}.{word}: one word each, not a filler")
            table[key[0]] = tuple(dict.fromkeys(a[0] for a in alts if a != key))
        tables.append(table)
    return WordVariants(*tables)


def _synonym_entries() -> list[dict[str, Any]]:
    data = load_yaml_resource("synonyms.yaml")
    if not isinstance(data, list):
        raise ResourceError("synonyms.yaml: expected a list of {code, terms, abbreviations}")
    for i, entry in enumerate(data):
        if not isinstance(entry, dict) or "code" not in entry:
            raise ResourceError(f"synonyms.yaml entry {i + 1}: expected a mapping with a 'code'")
        unknown = set(entry) - {"code", "terms", "abbreviations", "note"}
        if unknown:
            raise ResourceError(f"synonyms.yaml entry {i + 1} ({entry['code']}): unknown keys {sorted(unknown)}")
    return data


def _procedure_entries() -> list[dict[str, Any]]:
    data = load_yaml_resource("procedures.yaml", "chartcoder.models.resources")
    if not isinstance(data, list):
        raise ResourceError("procedures.yaml: expected a list of {code, system, terms}")
    for i, entry in enumerate(data):
        unknown = set(entry) - {
            "code",
            "system",
            "terms",
            "abbreviations",
            "requires",
            "size_cm",
            "site",
            "needs_size",
            "note",
        }
        if unknown or "code" not in entry:
            raise ResourceError(f"procedures.yaml entry {i + 1}: expected code/system/terms, got {sorted(entry)}")
    return data


def build_term_index(icd: Any | None = None) -> TermIndex:
    """Build the index from ICD-10-CM (chapters 1-19 and 21-22; external causes left out) and our
    resource files. Takes a few seconds; `load_term_index` caches the result on disk."""
    from chartcoder.codes.icd10cm import icd10cm

    icd = icd or icd10cm()
    index = TermIndex()
    stop = _stoplist()
    _add_synonym_terms(index)
    _add_procedure_terms(index)
    _add_tabular_terms(index, icd, stop, load_word_variants())
    return index.finish()


def _add_synonym_terms(index: TermIndex) -> None:
    """Our synonyms, then the Alphabetic Index conventions written as terms (index_conventions.yaml)."""
    from chartcoder.nlp.index_terms import synonym_entries as index_convention_entries

    for entry in _synonym_entries() + index_convention_entries():
        code = str(entry["code"])
        target = TermTarget(code, "ICD-10-CM", "synonym")
        for t in entry.get("terms") or []:
            for variant in _variants(str(t)):
                key = term_key(variant)
                index.add(key, target)
                if len(key) == 2:  # "knee pain" / "pain in the knee", "hip OA" / "OA of the hip"
                    index.add((key[1], key[0]), target)
        for a in entry.get("abbreviations") or []:
            index.add(abbreviation_key(str(a)), target, case_sensitive=True)


def _add_procedure_terms(index: TermIndex) -> None:
    """The procedure terms of procedures.yaml, with what each needs the note to state."""
    for entry in _procedure_entries():
        target = TermTarget(
            str(entry["code"]),
            str(entry.get("system", "CPT")),
            "procedure",
            tuple(term_key(str(r))[0] for r in entry.get("requires") or [] if term_key(str(r))),
            (float(entry["size_cm"][0]), float(entry["size_cm"][1])) if entry.get("size_cm") else None,
            tuple(term_key(str(r))[0] for r in entry.get("site") or [] if term_key(str(r))),
            bool(entry.get("needs_size")),
        )
        for t in entry.get("terms") or []:
            index.add(term_key(str(t)), target)
        for a in entry.get("abbreviations") or []:
            index.add(abbreviation_key(str(a)), target, case_sensitive=True)


def _add_tabular_terms(index: TermIndex, icd: Any, stop: set[tuple[str, ...]], variants: WordVariants) -> None:
    """Each code's description and inclusion terms, and a category's "includes" notes, also as notes
    word the same anatomy (word_variants.yaml); a lone stop word, a word of three letters or fewer,
    and a key of numbers only are left out."""
    cm = icd._cm
    for code in icd.all_codes:
        if code[0] in "VWXY":
            continue
        sources = [("description", str(cm.get_description(code)))]
        sources += [("inclusion", t) for t in cm.get_inclusion_term(code) or []]
        if cm.is_category(code):
            sources += [("includes", t) for t in cm.get_includes(code) or []]
        for source, text in sources:
            target = TermTarget(code, "ICD-10-CM", source)
            for variant in _variants(text):
                key = term_key(variant)
                if len(key) == 1 and (key in stop or len(key[0]) <= 3):
                    continue
                if key and all(k.isdigit() for k in key):
                    continue
                index.add(key, target)
                for other in variants.keys(key):  # "Undescended testicle" as notes write it
                    index.add(other, target)


def _fingerprint() -> str:
    from importlib import resources

    h = hashlib.sha256(INDEX_FORMAT.encode())
    for pkg, name in (
        ("chartcoder.nlp.resources", "synonyms.yaml"),
        ("chartcoder.nlp.resources", "index_conventions.yaml"),
        ("chartcoder.nlp.resources", "concept_stoplist.yaml"),
        ("chartcoder.nlp.resources", "word_variants.yaml"),
        ("chartcoder.models.resources", "procedures.yaml"),
    ):
        h.update(resources.files(pkg).joinpath(name).read_bytes())
    h.update(Path(__file__).read_bytes())
    h.update(Path(__file__).with_name("index_terms.py").read_bytes())
    return h.hexdigest()[:16]


_INDEX: TermIndex | None = None


def _index_to_json(index: TermIndex) -> dict[str, Any]:
    targets: dict[TermTarget, int] = {}

    def ref(t: TermTarget) -> int:
        return targets.setdefault(t, len(targets))

    terms = [[list(k), [ref(t) for t in v]] for k, v in index.terms.items()]
    abbreviations = [[list(k), [ref(t) for t in v]] for k, v in index.abbreviations.items()]
    return {
        "format": INDEX_FORMAT,
        "fingerprint": index.fingerprint,
        "targets": [
            [
                t.code,
                t.system,
                t.source,
                list(t.requires),
                list(t.size_cm) if t.size_cm else None,
                list(t.site),
                t.needs_size,
            ]
            for t in targets
        ],
        "terms": terms,
        "abbreviations": abbreviations,
    }


def _index_from_json(data: dict[str, Any]) -> TermIndex:
    targets = [
        TermTarget(c, sy, so, tuple(rq), (sz[0], sz[1]) if sz else None, tuple(st), bool(ns))
        for c, sy, so, rq, sz, st, ns in data["targets"]
    ]
    index = TermIndex(fingerprint=data["fingerprint"])
    for key, refs in data["terms"]:
        for r in refs:
            index.add(tuple(key), targets[r])
    for key, refs in data["abbreviations"]:
        for r in refs:
            index.add(tuple(key), targets[r], case_sensitive=True)
    return index.finish()


def load_term_index(cache_dir: Path | None = None) -> TermIndex:
    """The process-wide term index, from the on-disk cache when its fingerprint matches.

    The cache is plain JSON (gzip), not pickle: a file in the data folder is never executed."""
    global _INDEX
    if _INDEX is not None:
        return _INDEX
    fp = _fingerprint()
    path = cache_dir / f"term-index-{fp}.json.gz" if cache_dir else None
    if path and path.exists():
        try:
            with gzip.open(path, "rt", encoding="utf-8") as fh:
                data = json.load(fh)
            if data.get("format") == INDEX_FORMAT and data.get("fingerprint") == fp:
                _INDEX = _index_from_json(data)
                return _INDEX
        except (OSError, ValueError, KeyError, TypeError, EOFError):
            pass  # a stale, truncated or foreign cache is rebuilt
    index = build_term_index()
    index.fingerprint = fp
    if path:
        _write_cache(path, index)
    _INDEX = index
    return index


def _write_cache(path: Path, index: TermIndex) -> None:
    try:
        private_dir(path.parent)  # 0700; mkstemp makes the file 0600
        fd, tmp_name = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as raw, gzip.open(raw, "wt", encoding="utf-8", compresslevel=3) as fh:
            json.dump(_index_to_json(index), fh, separators=(",", ":"))
        os.replace(tmp_name, path)
        for old in path.parent.glob("term-index-*"):  # caches of other resource versions
            if old != path and not old.name.endswith(".tmp"):
                old.unlink(missing_ok=True)
    except OSError:
        pass


# -------------------------------------------------------------------------------------------------
# The spaCy component


@dataclass
class Mention:
    """A matched term in a note: exact character offsets, targets, and the cues around it."""

    start: int
    end: int
    text: str
    targets: list[TermTarget]
    sentence: tuple[int, int]
    laterality: list[str] = field(default_factory=list)
    laterality_spans: list[tuple[str, int, int, str]] = field(default_factory=list)  # side, start, end, text
    section: str | None = None
    # Filled by the ConText stage:
    negated: bool = False
    historical: bool = False
    family: bool = False
    hypothetical: bool = False
    uncertain: bool = False
    other_person: bool = False  # someone else's condition (a spouse, coworker, contact): never the patient's
    sentence_words: frozenset[str] = frozenset()
    near_words: frozenset[str] = frozenset()  # the mention's words and asserted ones within NEAR words

    @property
    def assertion(self) -> str:
        for flag in ("negated", "other_person", "family", "hypothetical", "uncertain", "historical"):
            if getattr(self, flag):
                return flag
        return "present"


if not Doc.has_extension("mentions"):
    Doc.set_extension("mentions", default=None)
if not Doc.has_extension("note_words"):
    Doc.set_extension("note_words", default=frozenset())
if not Span.has_extension("mention"):
    Span.set_extension("mention", default=None)


@Language.factory("chartcoder_concepts", default_config={"cache_dir": None})
def create_concept_matcher(nlp: Language, name: str, cache_dir: str | None) -> "ConceptMatcher":
    return ConceptMatcher(load_term_index(Path(cache_dir) if cache_dir else None))


def _in_band(band: tuple[float, float] | None, size: float) -> bool:
    return band is None or band[0] <= size <= band[1]


class ConceptMatcher:
    """Sets `doc._.mentions` and `doc.ents` (label DX or PROC) for the ConText stage."""

    def __init__(self, index: TermIndex) -> None:
        self.index = index

    def __call__(self, doc: Doc) -> Doc:
        text = doc.text
        sections = doc._.sections
        mentions: list[Mention] = []
        note_words: set[str] = set()
        for sent in doc.sents:
            s_start, s_end = sent.start_char, sent.end_char
            words, cues = words_of(text[s_start:s_end], s_start)
            if not words:
                continue
            vocab = frozenset(w.norm for w in words)
            note_words |= vocab
            hedged = self._hedged(text, s_start, s_end, words)
            sizes = [float(x) for x in _SIZE_CM.findall(text, s_start, s_end)]
            for i, j, targets in self.index.match(words):
                kept = [
                    t
                    for t in targets
                    if (not t.requires or any(r in vocab for r in t.requires))
                    and (not t.site or any(r in vocab for r in t.site))
                    and (t.size_cm is None or not sizes or any(t.size_cm[0] <= x <= t.size_cm[1] for x in sizes))
                    # an excised diameter is the largest size given ("1 cm margins, 3.4 cm in all")
                    and (not t.needs_size or (bool(sizes) and _in_band(t.size_cm, max(sizes))))
                ]
                if not kept:
                    continue
                # A target whose extra requirement is met is the more specific reading.
                kept.sort(key=lambda t: 0 if t.requires else 1)
                start, end = words[i].start, words[j - 1].end
                lat_spans = [(side, a, b, text[a:b]) for side, a, b in self._laterality(cues, start, end)]
                lat = list(dict.fromkeys(span[0] for span in lat_spans))
                mentions.append(
                    Mention(
                        start=start,
                        end=end,
                        text=text[start:end],
                        targets=kept,
                        sentence=(s_start, s_end),
                        laterality=lat,
                        laterality_spans=lat_spans,
                        section=sections.at(start) if sections is not None else None,
                        sentence_words=vocab,
                        near_words=self._near(words, i, j, hedged),
                    )
                )
        spans = []
        for m in mentions:
            span = doc.char_span(m.start, m.end, label=self._label(m), alignment_mode="expand")
            if span is not None:
                span._.mention = m
                spans.append(span)
        doc.ents = filter_spans(spans)
        doc._.mentions = mentions
        doc._.note_words = frozenset(note_words)
        return doc

    @staticmethod
    def _hedged(text: str, start: int, end: int, words: list[Word]) -> set[int]:
        """Indices of the sentence's words that come right after a hedge or negation cue."""
        starts = [w.start for w in words]
        hedged: set[int] = set()
        for cue in _HEDGE.finditer(text, start, end):
            first = bisect.bisect_left(starts, cue.end())
            hedged.update(range(first, min(first + 3, len(words))))
        return hedged

    @staticmethod
    def _near(words: list[Word], i: int, j: int, hedged: set[int]) -> frozenset[str]:
        """The mention's words and up to NEAR asserted words either side, not across "and"/"or"/"but"
        (in "cellulitis of right leg and left arm abscess" the arm is not the cellulitis's)."""
        out = {w.norm for w in words[i:j]}
        for step, stop in ((-1, max(-1, i - NEAR - 1)), (1, min(len(words), j + NEAR))):
            k = i - 1 if step < 0 else j
            while k != stop:
                if words[k].norm in _COORDINATORS:
                    break
                if k not in hedged:
                    out.add(words[k].norm)
                k += step
        return frozenset(out)

    @staticmethod
    def _label(m: Mention) -> str:
        return "PROC" if m.targets[0].system in PROCEDURE_SYSTEMS else "DX"

    @staticmethod
    def _laterality(cues: Iterable[tuple[str, int, int]], start: int, end: int) -> list[tuple[str, int, int]]:
        """Laterality words of the sentence within 60 characters of the mention, nearest first."""
        near = []
        for side, c_start, c_end in cues:
            dist = start - c_end if c_end <= start else c_start - end if c_start >= end else 0
            if dist <= 60:
                near.append((dist, side, c_start, c_end))
        near.sort()
        return [(side, c_start, c_end) for _, side, c_start, c_end in near]
