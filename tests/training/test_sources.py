"""Training on several sources at once (issue 6): `--source FORMAT:PATH[:WEIGHT]`, one weight per
source carried to every record, the pack card naming each source with its weight and hash."""

from __future__ import annotations

import json

import pytest
from training_support import JSONL, finish, start

from chartcoder.domain.errors import InvalidInputError
from chartcoder.training.train import parse_source, train_pack


@pytest.mark.parametrize(
    "spec, parsed",
    [
        ("jsonl:audits.jsonl:3", ("jsonl", "audits.jsonl", 3.0)),
        ("jsonl:audits.jsonl", ("jsonl", "audits.jsonl", 1.0)),
        ("jsonl:/data/a:b.jsonl:0.5", ("jsonl", "/data/a:b.jsonl", 0.5)),
        ("synthetic:2000", ("synthetic", "2000", 1.0)),
        ("synthetic:2000:7", ("synthetic", "2000:7", 1.0)),  # N:SEED, no weight
        ("synthetic:2000:7:2", ("synthetic", "2000:7", 2.0)),
        ("codiesp:../shared/data/codiesp:1.5", ("codiesp", "../shared/data/codiesp", 1.5)),
    ],
)
def test_source_specs(spec, parsed):
    assert parse_source(spec) == parsed


@pytest.mark.parametrize("spec", ["parquet:x", "jsonl", "jsonl:", "jsonl:a.jsonl:0", "jsonl:a.jsonl:-2"])
def test_bad_source_specs_are_clear_errors(spec):
    with pytest.raises(InvalidInputError, match="--source"):
        parse_source(spec)


def test_weights_must_match_and_be_positive(tmp_path):
    from chartcoder.training.readers import read_synthetic

    records = read_synthetic("20:1")
    with pytest.raises(InvalidInputError, match="one per record"):
        train_pack(records, tmp_path / "p", weights=[1.0])
    with pytest.raises(InvalidInputError, match="positive"):
        train_pack(records, tmp_path / "p", weights=[0.0] * len(records))


def test_train_on_synthetic_notes_and_audited_charts_at_once(tmp_path):
    out = tmp_path / "pack"
    run = finish(
        start(
            "train",
            "--source",
            "synthetic:120:3:1",
            "--source",
            f"jsonl:{JSONL / 'audited.jsonl'}:3",
            "--task",
            "diagnosis",
            "--out",
            str(out),
        ),
        timeout=600,
    )
    assert run.returncode == 0, run.explain()
    card = json.loads((out / "model_card.json").read_text())
    sources = card["training"]["sources"]
    assert [(s["format"], s["weight"]) for s in sources] == [("synthetic", 1.0), ("jsonl", 3.0)]
    assert sources[0]["records"] == 120 and sources[1]["records"] >= 1
    assert all(len(s["sha256"]) == 64 for s in sources)
    both = finish(start("train", "--data", str(JSONL / "audited.jsonl"), "--source", "synthetic:50", "--out", str(out)))
    assert both.returncode == 2 and "either --data" in both.stderr
