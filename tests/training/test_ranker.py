"""The learned CodeRanker on the synthetic CodiEsp-shaped fixture: it must overfit its own training
notes, generalize to the dev notes worded the same way, survive a pack save/load unchanged, and follow
the scikit-learn estimator contract."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest
from sklearn.base import clone
from training_support import CODIESP

from chartcoder.domain.encounter import Encounter
from chartcoder.models.pack import load_pack, save_pack
from chartcoder.models.ranker import CodeRanker, map_to_labels
from chartcoder.training.metrics import mean_average_precision
from chartcoder.training.readers import read_codiesp
from chartcoder.training.records import Record

ICD10CM_SHAPE = re.compile(r"^[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$")


@dataclass
class Fitted:
    ranker: CodeRanker
    returned: Any
    records: list[Record]
    knowledge: list[Any] | None
    progress: list[tuple[str, float]]

    @property
    def texts(self) -> list[str]:
        return [r.text for r in self.records]

    @property
    def gold(self) -> list[list[str]]:
        return [r.positives() for r in self.records]


def analyses(service, records: list[Record]) -> list[Any]:
    return [service.analyze(r.text, Encounter.from_dict(r.encounter)) for r in records]


def fit(records: list[Record], system: str, knowledge: list[Any] | None) -> Fitted:
    progress: list[tuple[str, float]] = []
    ranker = CodeRanker()
    returned = ranker.fit(
        [r.text for r in records],
        [r.positives() for r in records],
        system=system,
        knowledge=knowledge,
        progress=lambda stage, frac: progress.append((stage, frac)),
    )
    return Fitted(ranker, returned, records, knowledge, progress)


def codes(ranked: list[list[tuple[str, float]]]) -> list[list[str]]:
    return [[c for c, _ in x] for x in ranked]


@pytest.fixture(scope="module")
def dx(service) -> Fitted:
    records = read_codiesp(CODIESP, ["train"], "diagnosis")
    return fit(records, "ICD-10-CM", analyses(service, records))


@pytest.fixture(scope="module")
def px() -> Fitted:
    records = [r for r in read_codiesp(CODIESP, ["train"], "procedure") if r.positives()]
    return fit(records, "ICD-10-PCS", None)


def test_fit_returns_self_and_reports_progress(dx, px):
    for f in (dx, px):
        assert f.returned is f.ranker
        fracs = [frac for _, frac in f.progress]
        assert f.progress[-1] == ("done", 1.0)
        assert fracs == sorted(fracs) and all(0.0 <= x <= 1.0 for x in fracs)


def test_learned_state(dx, px):
    assert dx.ranker.system_ == "ICD-10-CM" and dx.ranker.use_knowledge_ is True
    assert dx.ranker.labels_ == sorted({c for g in dx.gold for c in g})
    assert "T40.4X1A" in dx.ranker.labels_  # a code unknown to FY2026 is still a label
    assert px.ranker.system_ == "ICD-10-PCS" and px.ranker.use_knowledge_ is False
    assert px.ranker.labels_ == ["0DTJ4ZZ", "0T9B70Z", "B246ZZZ", "BW03ZZZ"]
    for f in (dx, px):
        assert 0.0 < f.ranker.threshold_ <= 1.0
        assert f.ranker.n_train_ == len(f.records)


@pytest.mark.parametrize("which", ["dx", "px"])
def test_training_notes_rank_their_gold_codes_first(which, request):
    f: Fitted = request.getfixturevalue(which)
    ranked = f.ranker.rank(f.texts, f.knowledge)
    assert len(ranked) == len(f.records)
    assert mean_average_precision(codes(ranked), f.gold) >= 0.8
    top1_right = sum(1 for r, g in zip(ranked, f.gold, strict=True) if r and r[0][0] in g)
    assert top1_right >= 0.8 * len(f.records)
    for r in ranked:
        scores = [s for _, s in r]
        assert scores == sorted(scores, reverse=True)
        assert all(0.0 <= s <= 1.0 for s in scores)
        assert len({c for c, _ in r}) == len(r)


def test_dev_notes_worded_alike_are_coded_alike(dx, px, service):
    dev_dx = read_codiesp(CODIESP, ["dev"], "diagnosis")
    ranked = dx.ranker.rank([r.text for r in dev_dx], analyses(service, dev_dx))
    assert mean_average_precision(codes(ranked), [r.positives() for r in dev_dx]) >= 0.7
    dev_px = read_codiesp(CODIESP, ["dev"], "procedure")
    ranked = px.ranker.rank([r.text for r in dev_px])
    assert mean_average_precision(codes(ranked), [r.positives() for r in dev_px]) >= 0.7


def test_knowledge_engine_candidates_reach_the_ranking(dx, service):
    """Codes the guideline engine finds are candidates even when no training note carried them."""
    text = "Acute asthma exacerbation with wheezing, treated with nebulized albuterol. Hypertension."
    analysis = service.analyze(text, Encounter(setting="inpatient"))
    engine_codes = {
        map_to_labels(s.code, set(dx.ranker.labels_))[0] for s in analysis[0].suggestions if s.system == "ICD-10-CM"
    }
    outside = engine_codes - set(dx.ranker.labels_)
    assert outside, f"fixture expects the engine to suggest a code outside the labels; got {engine_codes}"
    with_knowledge = {c for c, _ in dx.ranker.rank([text], [analysis])[0]}
    without = {c for c, _ in dx.ranker.rank([text], None)[0]}
    assert engine_codes <= with_knowledge
    assert not (outside & without)


def test_icd10cm_ranker_ranks_only_icd10cm_codes(dx, service):
    """A ranker is for one code system; the engine's CPT suggestions (nebulizer treatment, 94640) are
    not ICD-10-CM candidates."""
    text = "Acute asthma exacerbation with wheezing, treated with nebulized albuterol. Hypertension."
    analysis = service.analyze(text, Encounter(setting="inpatient"))
    assert "CPT" in {s.system for s in analysis[0].suggestions}  # the premise
    ranked = [c for c, _ in dx.ranker.rank([text], [analysis])[0]]
    assert [c for c in ranked if not ICD10CM_SHAPE.match(c)] == []


def test_rank_is_deterministic(dx):
    assert dx.ranker.rank(dx.texts, dx.knowledge) == dx.ranker.rank(dx.texts, dx.knowledge)


@pytest.mark.parametrize("which", ["dx", "px"])
def test_save_and_reload_ranks_identically(which, request, tmp_path):
    f: Fitted = request.getfixturevalue(which)
    before = f.ranker.rank(f.texts, f.knowledge)
    out = save_pack(f.ranker, tmp_path / "pack", {"name": f"{which}-test", "version": "1", "system": f.ranker.system_})
    pack = load_pack(out)
    assert pack.ranker is not f.ranker
    assert pack.name == f"{which}-test@1"
    assert pack.ranker.labels_ == f.ranker.labels_
    assert pack.ranker.threshold_ == f.ranker.threshold_
    assert pack.ranker.rank(f.texts, f.knowledge) == before


def test_sklearn_clone_and_params(dx):
    params = dx.ranker.get_params()
    assert params == CodeRanker().get_params()
    assert set(params) == {
        "alpha",
        "n_folds",
        "n_neighbors",
        "top_lr",
        "top_knn",
        "use_knowledge",
        "max_iter",
        "learning_rate",
        "max_leaf_nodes",
        "min_samples_leaf",
        "char_ngrams",
        "knowledge_scope",
        "random_state",
    }
    twin = clone(dx.ranker)
    assert isinstance(twin, CodeRanker) and twin is not dx.ranker
    assert twin.get_params() == params
    assert not hasattr(twin, "labels_") and not hasattr(twin, "reranker_")  # unfitted
    custom = CodeRanker(alpha=0.5, n_folds=4, max_iter=50, use_knowledge=False, random_state=7)
    assert CodeRanker(**custom.get_params()).get_params() == custom.get_params()
    assert clone(custom).get_params() == custom.get_params()
    assert custom.set_params(alpha=2.0) is custom and custom.get_params()["alpha"] == 2.0


def test_knowledge_is_ignored_outside_icd10cm(px, service):
    """Knowledge entries are only used for ICD-10-CM: a PCS ranker given them learns the same model."""
    with_knowledge = fit(px.records, "ICD-10-PCS", analyses(service, px.records))
    assert with_knowledge.ranker.use_knowledge_ is False
    assert with_knowledge.ranker.rank(px.texts, with_knowledge.knowledge) == px.ranker.rank(px.texts)
