"""The ranker as a package: packs pickled before it was one (naming `chartcoder.models.ranker.CodeRanker`,
`.EvidenceIndex` and `.char_grams`) and packs pickled after (naming the modules that define them) both
load through the allow-list unpickler and rank the same; both ranker kinds satisfy the `Ranker` protocol.

Packs made before the split are reproduced here, not read from a local build: the same fitted ranker
is pickled with its classes' module set to the package, which is what a pickle of the old single
module recorded (pickle writes a class as `__module__` + name and checks the name resolves to it)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager

import joblib
import pytest
from threadpoolctl import threadpool_limits

import chartcoder.models.ranker as package
from chartcoder.models.pack import PackError, load_pack, save_pack
from chartcoder.models.ranker import CodeRanker, EvidenceIndex, Ranker, char_grams
from chartcoder.models.safe_load import allowed, load_ranker_bytes
from chartcoder.models.stacked import StackedRanker
from chartcoder.training.readers import read_synthetic

OLD = "chartcoder.models.ranker"


@pytest.fixture(scope="module")
def notes() -> list:
    return [r for r in read_synthetic("90:13") if r.positives()]


def small_ranker(notes: list, char_ngrams: bool = True) -> CodeRanker:
    """A ranker fitted in seconds (one native thread: OpenMP threads spinning on a busy machine made
    such a fit take minutes; tests/training/conftest.py)."""
    small = CodeRanker(n_folds=2, top_lr=20, top_knn=10, max_iter=30, char_ngrams=char_ngrams)
    with threadpool_limits(limits=1):
        return small.fit([r.text for r in notes], [r.positives() for r in notes], system="ICD-10-CM")


@pytest.fixture(scope="module")
def ranker(notes) -> CodeRanker:
    return small_ranker(notes[:70])


@contextmanager
def pickled_as_before_the_split() -> Iterator[None]:
    """Within the block, pickles name our pack classes and the analyzer by the package, as the single
    module `chartcoder/models/ranker.py` did."""
    objects = (CodeRanker, EvidenceIndex, char_grams)
    saved = [o.__module__ for o in objects]
    try:
        for o in objects:
            o.__module__ = OLD
        yield
    finally:
        for o, module in zip(objects, saved, strict=True):
            o.__module__ = module


def dump(obj: object, compress: int = 0) -> bytes:
    buffer = io.BytesIO()
    joblib.dump(obj, buffer, compress=compress)
    return buffer.getvalue()


def test_the_package_reexports_what_old_pickles_name():
    for name, where in (("CodeRanker", "estimator"), ("EvidenceIndex", "evidence"), ("char_grams", "vectorize")):
        assert getattr(package, name).__module__ == f"{OLD}.{where}"


def test_pickles_name_the_defining_modules_now_and_the_package_before(ranker):
    assert ranker.char_vectorizer_ is not None and ranker.char_vectorizer_.analyzer is char_grams
    new = dump(ranker)
    with pickled_as_before_the_split():
        old = dump(ranker)
    for module in (b"estimator", b"evidence", b"vectorize"):
        assert b"chartcoder.models.ranker." + module in new
        assert b"chartcoder.models.ranker." + module not in old
    assert b"chartcoder.models.ranker" in old


def test_a_ranker_pickled_before_the_split_loads_and_ranks_the_same(ranker, notes):
    held_out = [r.text for r in notes[70:]]
    expected = ranker.rank(held_out)
    with pickled_as_before_the_split():
        old = dump(ranker, compress=3)
    new = dump(ranker, compress=3)
    for data in (old, new):
        loaded = load_ranker_bytes(data, "ranker.joblib")
        assert type(loaded) is CodeRanker and type(loaded.evidence_index_) is EvidenceIndex
        assert loaded.char_vectorizer_.analyzer is char_grams
        assert loaded.rank(held_out) == expected


def test_signed_packs_from_before_and_after_the_split_load(ranker, notes, tmp_path):
    held_out = [r.text for r in notes[70:]]
    card = {"name": "split", "version": "v1", "system": "ICD-10-CM", "label_count": len(ranker.labels_)}
    with pickled_as_before_the_split():
        before = save_pack(ranker, tmp_path / "before", card)
    after = save_pack(ranker, tmp_path / "after", {**card, "version": "v2"})
    for path in (before, after):
        pack = load_pack(path)
        assert isinstance(pack.ranker, CodeRanker)
        assert pack.ranker.rank(held_out) == ranker.rank(held_out)


@pytest.mark.parametrize(
    ("module", "name"),
    [
        (OLD, "Ranker"),  # classes the package exports that no pack holds
        (OLD, "InvalidParameterError"),
        (OLD, "parallel_fit"),
        (f"{OLD}.trees", "FlatForest"),
        (f"{OLD}.parallel", "parallel_fit"),
        (f"{OLD}.estimator", "KFold"),  # imported there, not defined there
        (f"{OLD}.estimator", "FlatForest"),  # likewise
        ("chartcoder.models.stacked", "CodeRanker"),
        ("chartcoder.models.stacked", "Ranker"),
    ],
)
def test_the_allow_list_admits_only_the_pack_classes(module, name):
    def resolve(m: str, n: str) -> object:
        import importlib

        return getattr(importlib.import_module(m), n)

    with pytest.raises(PackError, match="which a model pack may not hold"):
        allowed(module, name, resolve)


def test_both_ranker_kinds_are_rankers(ranker, notes):
    base = small_ranker(notes[40:], char_ngrams=False)
    stacked = StackedRanker(ranker, base, {"name": "base", "version": "b1"})
    assert isinstance(ranker, Ranker) and isinstance(stacked, Ranker)
    assert not isinstance(CodeRanker(), Ranker)  # unfitted: no labels, threshold or system yet
    assert stacked.rank([notes[0].text])[0][0][0] in set(stacked.labels_)
