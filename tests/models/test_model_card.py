"""The typed model card reads and writes `model_card.json` exactly as packs hold it: every key kept,
nulls kept as nulls, absent keys left out, unknown keys carried through, a wrong type refused with
the key named."""

from __future__ import annotations

import json

import pytest
from threadpoolctl import threadpool_limits

from chartcoder.models.card import ModelCard
from chartcoder.models.pack import CARD, PACK_FORMAT, PackError, read_card, save_pack, verify_pack
from chartcoder.models.ranker import RANKER_NAME, CodeRanker
from chartcoder.training.readers import read_synthetic

# The shape `chartcoder train` writes (the default pack's card, shortened).
TRAINED = {
    "base": None,
    "chartcoder_version": "0.1.0",
    "code_set_release": "ICD-10-CM FY2026 (April 1 2026 tabular, simple-icd-10-cm 1.5.0)",
    "created": "2026-12-07T20:38:48+00:00",
    "format": "chartcoder.pack.v1",
    "knowledge_engine": "chartcoder-knowledge-v1 (0.1.0)",
    "label_count": 965,
    "metrics": {"MAP": 0.8896, "MAP_out_of_fold": 0.9433, "evaluated_on": "synthetic notes, seed 1 (300 records)"},
    "name": "default",
    "ranker": "chartcoder.CodeRanker.v3-cf960985",
    "ranker_params": {"alpha": 0.7, "char_ngrams": False, "knowledge_scope": "all", "max_leaf_nodes": 15},
    "system": "ICD-10-CM",
    "task": "diagnosis",
    "threshold": 0.375,
    "training": {
        "engine": "local",
        "records": 2000,
        "sources": [{"data": "2000:0", "format": "synthetic", "records": 2000}],
    },
    "version": "80753bc7f464",
}


def test_a_trained_card_round_trips_key_for_key():
    card = ModelCard.from_dict(TRAINED)
    assert card.to_dict() == TRAINED
    assert json.dumps(card.to_dict(), sort_keys=True) == json.dumps(TRAINED, sort_keys=True)
    assert (card.name, card.version, card.ref) == ("default", "80753bc7f464", "default@80753bc7f464")
    assert (card.system, card.task, card.label_count, card.threshold) == ("ICD-10-CM", "diagnosis", 965, 0.375)
    assert card.base is None and "base" in card.to_dict()  # held as null, written as null
    assert card.extra == {}


def test_partial_cards_and_unknown_keys_are_kept_as_they_are():
    partial = {"name": "x", "version": "1", "system": "ICD-10-PCS", "knowledge_engine": None, "notes": [1, "two"]}
    card = ModelCard.from_dict(partial)
    assert card.to_dict() == partial  # no key added (task, metrics...) and none dropped
    assert card.extra == {"notes": [1, "two"]} and card.task is None and "task" not in card.to_dict()
    assert ModelCard.from_dict({}).to_dict() == {}


def test_with_metrics_adds_to_the_metrics():
    card = ModelCard.from_dict({**TRAINED, "metrics": {"MAP_out_of_fold": 0.5}})
    more = card.with_metrics({"MAP": 0.4, "evaluated_on": "held-out records (3 records)"})
    assert more.metrics == {"MAP_out_of_fold": 0.5, "MAP": 0.4, "evaluated_on": "held-out records (3 records)"}
    assert card.metrics == {"MAP_out_of_fold": 0.5}  # the card itself is unchanged
    assert ModelCard.from_dict({"metrics": None}).with_metrics({"MAP": 1.0}).to_dict() == {"metrics": {"MAP": 1.0}}


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("name", 3, "'name' must be a string or null, not int"),
        ("label_count", 2.5, "'label_count' must be a whole number or null, not float"),
        ("label_count", True, "'label_count' must be a whole number or null, not bool"),
        ("threshold", "0.5", "'threshold' must be a number or null, not str"),
        ("metrics", [], "'metrics' must be a JSON object or null, not list"),
    ],
)
def test_a_wrong_type_is_refused_naming_the_key(key, value, message, tmp_path):
    with pytest.raises(ValueError, match=message):
        ModelCard.from_dict({**TRAINED, key: value})
    (tmp_path / CARD).write_text(json.dumps({**TRAINED, key: value}), encoding="utf-8")
    with pytest.raises(PackError, match=f"{CARD}: {message}"):
        read_card(tmp_path)


def test_a_whole_number_threshold_is_a_number():
    assert ModelCard.from_dict({"threshold": 1}).threshold == 1


@pytest.fixture(scope="module")
def small_ranker() -> CodeRanker:
    notes = [r for r in read_synthetic("60:5") if r.positives()]
    small = CodeRanker(n_folds=2, top_lr=20, top_knn=10, max_iter=20, char_ngrams=False)
    with threadpool_limits(limits=1):  # one native thread: see tests/training/conftest.py
        return small.fit([r.text for r in notes], [r.positives() for r in notes], system="ICD-10-CM")


def test_save_pack_writes_the_card_as_before_from_a_dict_or_a_card(small_ranker, tmp_path):
    given = {"name": "t", "version": "1", "system": "ICD-10-CM", "knowledge_engine": None, "metrics": {}}
    from_dict = save_pack(small_ranker, tmp_path / "a", given)
    from_card = save_pack(small_ranker, tmp_path / "b", ModelCard.from_dict(given))
    for pack in (from_dict, from_card):
        text = (pack / CARD).read_text(encoding="utf-8")
        written = json.loads(text)
        # What save_pack always wrote: its four fields, then the caller's, as sorted, indented JSON.
        expected = {
            "format": PACK_FORMAT,
            "ranker": RANKER_NAME,
            "chartcoder_version": written["chartcoder_version"],
            "created": written["created"],
            **given,
        }
        assert text == json.dumps(expected, indent=2, sort_keys=True) + "\n"
        card = verify_pack(pack)
        assert isinstance(card, ModelCard) and card.to_dict() == written
