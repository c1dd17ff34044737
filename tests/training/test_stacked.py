"""`train_pack(..., base=PACK)`: a ranker trained on a practice's charts over a base pack, and the
order-independence of training (the same charts make the same pack, however a file lists them)."""

from __future__ import annotations

import random
import shutil

import pytest

from chartcoder.domain.errors import ChartcoderError, InvalidInputError
from chartcoder.models.pack import load_pack
from chartcoder.models.stacked import FALLBACK_WEIGHT
from chartcoder.training.readers import read_synthetic
from chartcoder.training.train import canonical_order, knowledge_analyses, train_pack


@pytest.fixture(scope="module")
def packs(tmp_path_factory):
    root = tmp_path_factory.mktemp("stacked")
    base = train_pack(read_synthetic("60:21"), root / "base", name="base")
    # The "practice's charts": fewer notes from another seed, so the label spaces differ.
    charts = read_synthetic("30:22")
    stacked = train_pack(charts, root / "stacked", name="practice", base=base)
    return {"root": root, "base": base, "stacked": stacked, "charts": charts}


def test_stacked_pack_records_its_base_and_verifies(packs):
    base, stacked = load_pack(packs["base"]), load_pack(packs["stacked"])
    assert stacked.card.base == {
        "name": "base",
        "version": base.card.version,
        "fallback_weight": FALLBACK_WEIGHT,
    }
    assert stacked.card.ranker_params is not None
    assert stacked.card.ranker_params["base"]["version"] == base.card.version
    primary = set(stacked.ranker.primary.labels_)
    assert stacked.card.label_count == len(primary | set(base.ranker.labels_)) > len(primary)
    assert stacked.card.threshold == stacked.ranker.primary.threshold_


def test_primary_ranks_its_codes_and_the_base_adds_only_codes_the_charts_do_not_hold(packs):
    stacked = load_pack(packs["stacked"]).ranker
    notes = read_synthetic("20:23")
    knowledge = knowledge_analyses(notes, "ICD-10-CM")
    texts = [r.text for r in notes]
    merged = stacked.rank(texts, knowledge)
    own = stacked.primary.rank(texts, knowledge)
    other = stacked.base.rank(texts, knowledge)
    held = set(stacked.primary.labels_)
    added_somewhere = 0
    for got, mine, theirs in zip(merged, own, other, strict=True):
        scores = [s for _, s in got]
        assert scores == sorted(scores, reverse=True)
        proposed = dict(mine)
        # The primary's codes keep their scores and their order.
        assert [(c, s) for c, s in got if c in proposed] == mine
        base_scores = dict(theirs)
        for code, score in got:
            if code in proposed:
                continue
            added_somewhere += 1
            assert code not in held, f"{code} is the charts' to rank, not the base pack's"
            assert score == pytest.approx(FALLBACK_WEIGHT * base_scores[code])
        assert len(got) == len(mine) + sum(1 for c, _ in theirs if c not in held and c not in proposed)
    assert added_somewhere > 0  # the base pack did add codes the 40 charts never held


def test_the_same_charts_in_another_order_make_the_same_pack(packs, tmp_path):
    charts = list(packs["charts"])
    random.Random(5).shuffle(charts)
    again = load_pack(train_pack(charts, tmp_path / "again", name="practice", base=packs["base"]))
    first = load_pack(packs["stacked"])
    assert again.card.version == first.card.version
    assert again.card.training is not None and first.card.training is not None
    assert again.card.training["sha256"] == first.card.training["sha256"]
    notes = read_synthetic("10:24")
    knowledge = knowledge_analyses(notes, "ICD-10-CM")
    texts = [r.text for r in notes]
    assert again.ranker.rank(texts, knowledge) == first.ranker.rank(texts, knowledge)


def test_canonical_order_follows_content_not_position():
    charts = read_synthetic("12:25")
    order = canonical_order(charts)
    reversed_order = canonical_order(charts[::-1])
    assert [charts[i].id for i in order] == [charts[::-1][i].id for i in reversed_order]
    assert sorted(order) == list(range(len(charts)))


def test_a_base_pack_of_another_code_system_is_refused(packs):
    # Checked before anything is trained: a procedure pack cannot stack over a diagnosis pack.
    with pytest.raises(InvalidInputError, match="that pack codes ICD-10-CM"):
        train_pack(packs["charts"], packs["root"] / "proc", task="procedure", base=packs["base"])


def test_a_tampered_base_pack_is_refused(packs, tmp_path):
    copy = tmp_path / "base"
    shutil.copytree(packs["base"], copy)
    card = copy / "model_card.json"
    card.write_text(card.read_text().replace('"base"', '"BASE"', 1))
    with pytest.raises(ChartcoderError, match="manifest"):
        train_pack(packs["charts"], tmp_path / "out", base=copy)


def test_train_cli_base_option(packs, tmp_path):
    from typer.testing import CliRunner

    from chartcoder.cli import app

    runner = CliRunner()
    out = tmp_path / "cli-stacked"
    done = runner.invoke(app, ["train", "--source", "synthetic:20:27", "--base", str(packs["base"]), "--out", str(out)])
    assert done.exit_code == 0, done.output
    card = load_pack(out).card
    assert card.base is not None and card.base["name"] == "base" and card.base["fallback_weight"] == FALLBACK_WEIGHT
    missing = runner.invoke(
        app, ["train", "--source", "synthetic:20:27", "--base", str(tmp_path / "nope"), "--out", str(tmp_path / "x")]
    )
    assert missing.exit_code == 2 and "nope" in missing.output
    assert not (tmp_path / "x").exists()


def test_a_stacked_pack_has_a_version_of_its_own_and_does_not_nest(packs, tmp_path):
    stacked = load_pack(packs["stacked"])
    # The same charts alone would carry the records' digest as version; stacked, the base counts too.
    assert stacked.card.training is not None and stacked.card.version != stacked.card.training["sha256"][:12]
    # Retraining over the stacked pack stacks over its base: no pack inside a pack inside a pack.
    again = load_pack(train_pack(read_synthetic("20:28"), tmp_path / "next", name="next", base=packs["stacked"]))
    base = load_pack(packs["base"])
    assert again.card.base is not None
    assert again.card.base["name"] == "base" and again.card.base["version"] == base.card.version
    assert type(again.ranker.base).__name__ == "CodeRanker"
    assert again.ranker.base.labels_ == base.ranker.labels_


def test_every_feature_column_has_its_name(packs):
    """The re-rankers read columns by name (the terminology re-ranker picks KNOWLEDGE_FEATURES out of
    FEATURES): a row one column wider than the names would shift every column after the gap."""
    from chartcoder.models.ranker import FEATURES, KNOWLEDGE_FEATURES

    ranker = load_pack(packs["base"]).ranker
    assert ranker.reranker_.n_features_in_ == len(FEATURES)
    assert [FEATURES[i] for i in ranker.kn_columns_] == KNOWLEDGE_FEATURES
    notes = read_synthetic("3:29")
    knowledge = knowledge_analyses(notes, "ICD-10-CM")
    from chartcoder.models.ranker import knowledge_view

    kv = knowledge_view(knowledge[0], set(ranker.labels_))
    text = notes[0].text
    X = ranker._tfidf("vectorizer_").transform([text])
    K = (X @ ranker.X_train_.T).toarray()
    lr = (K @ ranker.generators_.dual_coef_).reshape(-1)
    knn = ranker._knn_scores(ranker.X_train_, ranker.Y_train_, X, sims=K)[0]
    mined = ranker.evidence_index_.view(text)
    cands = ranker._candidates(lr, knn, kv, mined, lr * 0)
    rows = ranker._features(set(text.lower().split()), lr, knn, kv, cands, mined, lr * 0)
    assert rows.shape == (len(cands), len(FEATURES))
