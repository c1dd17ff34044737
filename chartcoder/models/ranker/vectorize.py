"""The notes' TF-IDF vectors: the word and character vectorizers the ranker fits, the character
analyzer, and `FastTfidf`, which transforms with a fitted vectorizer without its per-call overhead.

`char_grams` is the character vectorizer's analyzer, so a pack with character n-grams pickles a
reference to it: packs made before the ranker became a package name it `chartcoder.models.ranker.char_grams`,
later ones by this module (both are on the unpickler's allow-list, chartcoder.models.safe_load).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np
from scipy.sparse import csr_matrix
from sklearn.feature_extraction.text import TfidfVectorizer


def word_vectorizer() -> TfidfVectorizer:
    """Word uni- and bigrams: what the classifier and the neighbours read."""
    return TfidfVectorizer(
        ngram_range=(1, 2), min_df=2, max_df=0.9, sublinear_tf=True, max_features=150_000, strip_accents="unicode"
    )


def char_vectorizer() -> TfidfVectorizer:
    """Character 3- to 5-grams inside words: the second classifier's input."""
    return TfidfVectorizer(analyzer=char_grams, min_df=2, max_df=0.9, sublinear_tf=True, max_features=200_000)


@lru_cache(maxsize=65_536)
def _word_char_grams(word: str) -> tuple[str, ...]:
    """3- to 5-character pieces of one word padded with spaces (" diab", "abet", "tes ")."""
    padded = f" {word} "
    return tuple(padded[i : i + n] for n in (3, 4, 5) for i in range(len(padded) - n + 1)) or (padded,)


def char_grams(text: str) -> list[str]:
    """The character n-grams of a note, word by word (inside word boundaries, like scikit-learn's
    'char_wb'), from a per-word cache: notes repeat their words, and this runs on every suggestion."""
    out: list[str] = []
    for word in text.lower().split():
        out.extend(_word_char_grams(word))
    return out


class FastTfidf:
    """`TfidfVectorizer.transform` for a fitted vectorizer, without its per-call validation and
    sparse-matrix round trips: the vectorizer's own analyzer, vocabulary and idf, counted in Python
    and built as one CSR matrix. Same matrix as the vectorizer's (checked in the tests); anything
    other than plain l2/sublinear/idf settings goes to the vectorizer itself."""

    def __init__(self, vectorizer: TfidfVectorizer) -> None:
        self.vectorizer = vectorizer
        self.ok = vectorizer.norm == "l2" and vectorizer.use_idf and not vectorizer.binary
        self.analyze = vectorizer.build_analyzer()
        self.vocabulary = vectorizer.vocabulary_
        self.idf = np.asarray(vectorizer.idf_, dtype=np.float64)
        self.sublinear = vectorizer.sublinear_tf
        # Character n-grams never cross a word, so a note's counts are the sum of its words' counts:
        # each distinct word is looked up once (and cached), not each of its dozens of pieces.
        self.by_word = vectorizer.analyzer is char_grams
        self._word_columns: dict[str, np.ndarray] = {}

    def _columns(self, word: str) -> np.ndarray:
        cols = self._word_columns.get(word)
        if cols is None:
            vocabulary = self.vocabulary
            cols = np.asarray(
                [j for j in (vocabulary.get(g) for g in _word_char_grams(word)) if j is not None], dtype=np.int64
            )
            if len(self._word_columns) > 200_000:  # bounded: a stream of novel words cannot grow it forever
                self._word_columns.clear()
            self._word_columns[word] = cols
        return cols

    def _counts(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """Sorted column indices and their counts for one text."""
        if self.by_word:
            words = Counter(text.lower().split())
            cols = [self._columns(w) for w in words]
            if not cols:
                return np.zeros(0, np.int64), np.zeros(0)
            times = np.repeat(np.fromiter(words.values(), np.float64, len(words)), [c.size for c in cols])
            columns, where = np.unique(np.concatenate(cols), return_inverse=True)
            return columns, np.bincount(where, weights=times, minlength=columns.size)
        seen: Counter[int] = Counter()
        vocabulary = self.vocabulary
        for gram in self.analyze(text):
            j = vocabulary.get(gram)
            if j is not None:
                seen[j] += 1
        columns = np.asarray(sorted(seen), dtype=np.int64)
        return columns, np.asarray([seen[j] for j in columns.tolist()], dtype=np.float64)

    def transform(self, texts: Sequence[str]) -> Any:
        if not self.ok:
            return self.vectorizer.transform(texts)
        indptr = [0]
        indices: list[np.ndarray] = []
        counts: list[np.ndarray] = []
        for text in texts:
            columns, n = self._counts(text)
            indices.append(columns)
            counts.append(n)
            indptr.append(indptr[-1] + columns.size)
        col = np.concatenate(indices).astype(np.int32) if indices else np.zeros(0, np.int32)
        data = np.concatenate(counts).astype(np.float64) if counts else np.zeros(0)
        if self.sublinear:
            data = np.log(data) + 1.0
        data *= self.idf[col]
        bounds = np.asarray(indptr)
        for i in range(len(texts)):  # l2 per row
            row = data[bounds[i] : bounds[i + 1]]
            norm = math.sqrt(float(row @ row))
            if norm > 0:
                row /= norm
        return csr_matrix((data, col, bounds), shape=(len(texts), self.idf.size))
