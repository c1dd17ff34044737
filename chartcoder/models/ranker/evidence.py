"""Evidence mining: the word n-grams that the sentences coders cited for a code share (`mine_terms`),
kept as a table of term -> codes with their precision and support and looked up in a note
(`EvidenceIndex`, fitted inside every cross-fitting fold and once on all the training notes).

`EvidenceIndex` is pickled inside every pack (`CodeRanker.evidence_index_`): packs made before the
ranker became a package name it `chartcoder.models.ranker.EvidenceIndex`, later ones by this module.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Sequence

from chartcoder.models.ranker.features import WORD

_STOP = frozenset(
    [
        "the",
        "and",
        "with",
        "without",
        "for",
        "from",
        "that",
        "this",
        "was",
        "were",
        "are",
        "has",
        "have",
        "had",
        "not",
        "but",
        "its",
        "his",
        "her",
        "their",
        "into",
        "onto",
        "then",
        "than",
        "after",
        "before",
        "during",
        "while",
        "which",
        "who",
        "whom",
        "what",
        "when",
        "where",
        "there",
        "also",
        "been",
        "being",
        "both",
        "each",
        "some",
        "such",
        "very",
        "more",
        "most",
        "other",
        "same",
        "only",
        "over",
        "under",
        "about",
        "above",
        "below",
        "between",
        "patient",
        "case",
        "year",
        "years",
        "old",
        "presented",
        "presents",
        "showed",
        "shown",
        "revealed",
        "performed",
        "normal",
    ]
)


def _ngrams(text: str, n_max: int = 3) -> set[tuple[str, ...]]:
    words = [w for w in WORD.findall(text.lower()) if not w.isdigit()]
    out = set()
    for n in range(1, n_max + 1):
        for i in range(len(words) - n + 1):
            gram = tuple(words[i : i + n])
            if any(len(w) >= 4 and w not in _STOP for w in gram):
                out.add(gram)
    return out


NoteGrams = tuple[Counter[tuple[str, ...]], dict[str, set[tuple[str, ...]]]]


def note_grams(text: str, evidence: dict[str, list[str]]) -> NoteGrams:
    """A note's n-grams counted once per sentence, and the n-grams of the sentences cited per code:
    what `mine_terms` counts, computed once per note however many folds reuse it."""
    counts: Counter[tuple[str, ...]] = Counter()
    for sentence in re.split(r"[\n.;]+", text):
        counts.update(_ngrams(sentence))
    cited: dict[str, set[tuple[str, ...]]] = {}
    for code, sentences in evidence.items():
        grams: set[tuple[str, ...]] = set()
        for sentence in sentences:
            grams |= _ngrams(sentence)
        cited[code] = grams
    return counts, cited


def mine_terms(
    texts: Sequence[str],
    evidence: Sequence[dict[str, list[str]]],
    min_support: int = 2,
    min_precision: float = 0.15,
    per_term: int = 5,
    grams: Sequence[NoteGrams] | None = None,
) -> dict[tuple[str, ...], list[tuple[str, float, int]]]:
    """Word n-grams that a code's cited sentences share: term -> [(code, precision, support)].
    Precision is the share of all training sentences with the term that were cited for the code.
    `grams` may hold `note_grams` of each note, computed beforehand."""
    if grams is None:
        grams = [note_grams(t, e) for t, e in zip(texts, evidence, strict=True)]
    term_count: Counter[tuple[str, ...]] = Counter()
    pair_count: Counter[tuple[tuple[str, ...], str]] = Counter()
    for counts, cited in grams:
        term_count.update(counts)
        for code, code_grams in cited.items():
            pair_count.update((g, code) for g in code_grams)
    table: dict[tuple[str, ...], list[tuple[str, float, int]]] = defaultdict(list)
    for (gram, code), support in pair_count.items():
        if support < min_support:
            continue
        precision = support / max(term_count[gram], support)
        if precision >= min_precision:
            table[gram].append((code, precision, support))
    return {g: sorted(v, key=lambda x: (-x[1], x[0]))[:per_term] for g, v in table.items()}


def mined_view(
    text: str, table: dict[tuple[str, ...], list[tuple[str, float, int]]]
) -> dict[str, tuple[int, float, int]]:
    """code -> (distinct mined terms present, best precision, best support) for one note."""
    out: dict[str, list[float]] = {}
    # Every n-gram of the note looked up directly (the table holds only n-grams that passed
    # `_ngrams`' filter), without building the note's filtered n-gram set first.
    words = [w for w in WORD.findall(text.lower()) if not w.isdigit()]
    found = set()
    for n in (1, 2, 3):
        for i in range(len(words) - n + 1):
            gram = tuple(words[i : i + n])
            if gram in table:
                found.add(gram)
    for gram in sorted(found):  # a fixed order: ties on precision keep the same support everywhere
        for code, precision, support in table[gram]:
            row = out.setdefault(code, [0, 0.0, 0])
            row[0] += 1
            if precision > row[1]:
                row[1], row[2] = precision, support
    return {c: (int(v[0]), float(v[1]), int(v[2])) for c, v in out.items()}


EvidenceRow = tuple[int, float, int]
NO_EVIDENCE: EvidenceRow = (0, 0.0, 0)


class EvidenceIndex:
    """What coders cited: the word n-grams that a code's cited sentences share (`mine_terms`), looked
    up in a note. (A sentence-level nearest-neighbour vote over the cited sentences was tried as
    well: it added nothing to CodiEsp dev MAP and cost ~5 ms per note, so it was taken out.)"""

    def fit(
        self,
        texts: Sequence[str],
        evidence: Sequence[dict[str, list[str]]],
        grams: Sequence[NoteGrams] | None = None,
    ) -> EvidenceIndex:
        self.terms_ = mine_terms(texts, evidence, grams=grams)
        return self

    def view(self, text: str) -> dict[str, EvidenceRow]:
        """code -> (mined terms present, best term precision, its support)."""
        return mined_view(text, self.terms_)
