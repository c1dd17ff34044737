"""The ranker's smaller parts: character n-grams, header codes standing for their billable children,
the terminology re-ranker that scores codes no training chart held, out-of-fold MAP, and the
synthetic reader's data spec."""

from __future__ import annotations

import pytest

from chartcoder.domain.encounter import Encounter
from chartcoder.domain.errors import InvalidInputError
from chartcoder.models.ranker import CodeRanker, char_grams, knowledge_view
from chartcoder.models.ranker.engine_view import header_children
from chartcoder.training.metrics import mean_average_precision
from chartcoder.training.readers import ReadReport, read_synthetic
from chartcoder.training.train import knowledge_analyses


def test_char_grams_stay_inside_words_and_ignore_case():
    grams = char_grams("Type 2 DIABETES")
    assert " dia" in grams and "abet" in grams and "tes " in grams and " type" in grams
    assert not any("e 2" in g for g in grams)  # never across a word boundary
    assert char_grams("") == []
    assert char_grams("ab") == [" ab", "ab ", " ab "]


def testheader_children():
    assert "N46.01" in header_children("N46.0")  # organic azoospermia: few children, all kept
    assert set(header_children("C50.91")) == {"C50.911", "C50.912", "C50.919"}
    big = header_children("R10")  # many leaves: only the unspecified/other ones, at most eight
    assert 0 < len(big) <= 8 and all(c[-1] in "09" for c in big)
    assert header_children("I10") == ()  # billable already
    assert header_children("not a code") == ()


def test_a_header_mention_stands_for_its_children(service):
    analysis = service.analyze("Semen analysis showed azoospermia.", Encounter(setting="inpatient"))
    view = knowledge_view(analysis, set())
    assert "N46.0" in view.raw
    assert view.raw["N46.01"]["via_parent"] >= 1
    assert view.first["N46.01"] == view.first["N46.0"]


def test_synthetic_spec():
    report = ReadReport()
    records = read_synthetic("12:3", report)
    assert len(records) == 12 and report.records == 12
    assert records[0].id == "syn-3-00000"
    assert read_synthetic("12:3")[5].text == records[5].text  # deterministic
    for bad in ("", "abc", "0", "12:x", "-4", "1:2:3"):
        with pytest.raises(InvalidInputError, match="N or N:SEED"):
            read_synthetic(bad)


@pytest.fixture(scope="module")
def synthetic_ranker(service):
    records = read_synthetic("160:11")
    ranker = CodeRanker(top_lr=30, top_knn=15).fit(
        [r.text for r in records],
        [r.positives({"ICD-10-CM"}) for r in records],
        knowledge=knowledge_analyses(records, "ICD-10-CM"),
        evidence=[r.evidence for r in records],
    )
    return ranker, records


def test_out_of_fold_map_is_measured_and_overfits_training_notes(synthetic_ranker, service):
    ranker, records = synthetic_ranker
    assert 0.3 < ranker.oof_map_ <= 1.0
    ranked = ranker.rank([r.text for r in records], knowledge_analyses(records, "ICD-10-CM"))
    assert mean_average_precision(
        [[c for c, _ in x] for x in ranked], [r.positives({"ICD-10-CM"}) for r in records]
    ) > (ranker.oof_map_)


def test_codes_outside_the_label_space_are_scored_by_what_the_note_says(synthetic_ranker, service):
    ranker, _ = synthetic_ranker
    assert ranker.kn_reranker_ is not None
    note = "Assessment and plan:\n1. Situs inversus totalis, incidental.\n2. Denies chest pain."
    assert "Q89.3" not in ranker.labels_  # no synthetic note held it
    ranked = ranker.rank([note], [service.analyze(note, Encounter(setting="outpatient"))])[0]
    scores = dict(ranked)
    assert "Q89.3" in scores
    assert ranked[0][0] == "Q89.3", ranked[:5]
    assert scores["Q89.3"] > scores.get("R07.9", 0.0)  # the negated mention scores lower


def test_a_mistyped_model_setting_is_an_error(tmp_path):
    from chartcoder.config import Settings
    from chartcoder.models.pack import PackError
    from chartcoder.models.service import service_from_settings

    with pytest.raises(PackError, match="CHARTCODER_MODEL='defualt'"):
        service_from_settings(Settings(model="defualt", model_dir=tmp_path))


def test_header_children_carry_the_header_evidence():
    from chartcoder.models.schema import Evidence
    from chartcoder.models.service import _header_evidence

    ev = [Evidence(10, 21, "azoospermia", "present", None)]
    assert _header_evidence("N46.01", {"N46.0": ev}) == ev
    assert _header_evidence("N46.01", {"N46": ev}) == ev
    assert _header_evidence("N46.01", {"N47.0": ev}) == []


def test_flat_forest_matches_scikit_learn(synthetic_ranker):
    import numpy as np

    from chartcoder.models.ranker.trees import FlatForest

    ranker, _ = synthetic_ranker
    rng = np.random.default_rng(0)
    for model in (ranker.reranker_, ranker.kn_reranker_):
        forest = FlatForest(model)
        assert forest.ok
        X = rng.normal(0, 3, size=(300, model.n_features_in_))
        X[::7, 2] = np.nan  # missing values take the trained side
        assert np.allclose(forest.predict_proba1(X), model.predict_proba(X)[:, 1], atol=1e-9)


def test_flat_forest_handles_wider_trees_and_falls_back_past_64_leaves():
    import numpy as np
    from sklearn.ensemble import HistGradientBoostingClassifier

    from chartcoder.models.ranker.trees import FlatForest

    rng = np.random.default_rng(1)
    X = rng.normal(size=(3000, 6))
    y = (X[:, 0] * X[:, 1] + np.sin(3 * X[:, 2]) + rng.normal(0, 0.3, 3000) > 0).astype(int)
    X[::11, 3] = np.nan
    for leaves, dtype in ((31, np.uint32), (60, np.uint64), (100, None)):
        model = HistGradientBoostingClassifier(max_iter=20, max_leaf_nodes=leaves, min_samples_leaf=5).fit(X, y)
        forest = FlatForest(model)
        assert forest.ok is (dtype is not None)
        if dtype is not None:
            assert forest.dtype is dtype
        assert np.allclose(forest.predict_proba1(X[:500]), model.predict_proba(X[:500])[:, 1], atol=1e-9)


def test_fast_tfidf_and_calibration_match_scikit_learn(synthetic_ranker):
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.isotonic import IsotonicRegression

    from chartcoder.models.ranker.calibration import calibrate
    from chartcoder.models.ranker.vectorize import FastTfidf, char_grams

    ranker, records = synthetic_ranker
    texts = [r.text for r in records[:40]] + ["", "Ünïcode café naïve résumé", "zzzz qqqq"]
    for vectorizer in (
        ranker.vectorizer_,
        TfidfVectorizer(analyzer=char_grams, sublinear_tf=True).fit(texts),
        TfidfVectorizer(norm="l1").fit(texts),  # handed back to scikit-learn
    ):
        fast = FastTfidf(vectorizer).transform(texts)
        slow = vectorizer.transform(texts)
        assert fast.shape == slow.shape
        assert np.allclose(fast.toarray(), slow.toarray(), atol=1e-12)
    rng = np.random.default_rng(0)
    raw = rng.uniform(0, 1, 500)
    iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(raw, rng.uniform(0, 1, 500) < raw)
    probe = np.concatenate([rng.uniform(-0.5, 1.5, 200), raw[:50]])
    assert np.allclose(calibrate(iso, probe), iso.predict(probe), atol=1e-12)
    assert np.allclose(calibrate(ranker.calibrator_, probe), ranker.calibrator_.predict(probe), atol=1e-12)
