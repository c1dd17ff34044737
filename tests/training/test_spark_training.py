"""`chartcoder train --engine spark` in Spark local mode (local[2]): a pack trained with the knowledge
analyses and the ranker's loops on Spark ranks held-out notes exactly as a locally trained pack from
the same records, both packs verify, and the card says where the pack was trained."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chartcoder.models.pack import load_pack, verify_pack
from chartcoder.spark import spark_available
from chartcoder.training.readers import read_synthetic
from chartcoder.training.train import knowledge_analyses, rank_records, train_pack

SPARK_OK, SPARK_WHY = spark_available()
needs_spark = pytest.mark.skipif(not SPARK_OK, reason=f"Spark is not usable here: {SPARK_WHY}")
MASTER = "local[2]"


@pytest.fixture(scope="module")
def session() -> Any:
    """The module's Spark session (started here, so no `chartcoder train` run below owns it)."""
    from chartcoder.spark import get_session

    return get_session(MASTER)


@pytest.fixture(scope="module")
def records() -> list[Any]:
    return read_synthetic("80:3")


@pytest.fixture(scope="module")
def held_out() -> list[Any]:
    return read_synthetic("20:71")


@pytest.fixture(scope="module")
def local_pack(records, tmp_path_factory) -> Path:
    return train_pack(records, tmp_path_factory.mktemp("local") / "pack")


def spark_training() -> Any:
    from chartcoder.training.spark_engine import SparkTraining

    return SparkTraining(MASTER)  # the session is made once (Spark's getOrCreate) and shared


@pytest.fixture(scope="module")
def spark_pack(records, tmp_path_factory) -> Path:
    with spark_training():
        return train_pack(records, tmp_path_factory.mktemp("spark") / "pack")


@pytest.mark.spark
@needs_spark
def test_spark_analyses_are_the_local_ones_in_order(held_out):
    from chartcoder.domain.encounter import Encounter
    from chartcoder.models.service import get_service

    with spark_training():
        remote = knowledge_analyses(held_out, "ICD-10-CM")
    service = get_service()
    assert remote is not None and len(remote) == len(held_out)
    assert remote == [service.analyze(r.text, Encounter.from_dict(r.encounter)) for r in held_out]
    assert knowledge_analyses(held_out, "CPT") is None  # procedures: no knowledge engine, no job


@pytest.mark.spark
@needs_spark
def test_spark_pack_ranks_held_out_notes_as_the_local_pack(local_pack, spark_pack, held_out):
    local, spark = load_pack(local_pack), load_pack(spark_pack)
    assert spark.ranker.labels_ == local.ranker.labels_
    assert spark.ranker.threshold_ == local.ranker.threshold_
    assert spark.ranker.oof_map_ == local.ranker.oof_map_
    assert spark.ranker.desc_words_ == local.ranker.desc_words_
    ranked_local = rank_records(local, held_out)
    ranked_spark = rank_records(spark, held_out)
    assert any(ranked_local)
    for a, b in zip(ranked_local, ranked_spark, strict=True):
        assert [c for c, _ in a] == [c for c, _ in b]  # same codes in the same order
        assert [s for _, s in a] == [s for _, s in b]  # and the same scores, to the last bit
    for key in ("version", "label_count", "threshold", "metrics", "ranker_params", "knowledge_engine"):
        assert getattr(spark.card, key) == getattr(local.card, key)


@pytest.mark.spark
@needs_spark
def test_both_packs_verify_and_the_card_records_the_engine(local_pack, spark_pack):
    verify_pack(local_pack)
    verify_pack(spark_pack)
    local = json.loads((local_pack / "model_card.json").read_text())
    spark = json.loads((spark_pack / "model_card.json").read_text())
    assert local["training"]["engine"] == "local"
    assert spark["training"]["engine"] == "spark"
    assert spark["training"]["master"] == MASTER
    assert spark["training"]["parallelism"] == 2
    # nothing else about the training differs
    for card in (local, spark):
        for key in ("engine", "master", "parallelism", "seconds"):
            card["training"].pop(key, None)
    assert spark["training"] == local["training"]


def _train(*args: str) -> Any:
    """`chartcoder train ARGS` in this process (the module's Spark session and its warm executors serve it)."""
    from typer.testing import CliRunner

    from chartcoder.cli import app

    return CliRunner().invoke(app, ["train", *args])


@pytest.mark.spark
@needs_spark
def test_cli_trains_on_spark_end_to_end(session, tmp_path):
    out = tmp_path / "pack"
    result = _train(
        "--format", "synthetic", "--data", "20:5", "--out", str(out), "--engine", "spark", "--master", MASTER
    )
    assert result.exit_code == 0, result.output
    assert f"training on Spark: {MASTER}" in result.output
    card = verify_pack(out)
    assert card.training is not None
    assert card.training["engine"] == "spark" and card.training["master"] == MASTER
    assert not session.sparkContext._jsc.sc().isStopped()  # the CLI stops only a session it started


@pytest.mark.spark
def test_cli_says_plainly_when_spark_cannot_start(tmp_path, monkeypatch):
    """No Java runtime (JAVA_HOME names a folder without one): exit 2 and one message, no traceback."""
    pytest.importorskip("pyspark")  # without pyspark the message names pyspark, not Java
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "no-java"))
    result = _train("--format", "synthetic", "--data", "20:5", "--out", str(tmp_path / "p"), "--engine", "spark")
    assert result.exit_code == 2, result.output
    assert "--engine spark:" in result.output and "Java" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "p").exists()


def test_cli_refuses_an_unknown_engine_or_a_master_without_spark(tmp_path):
    common = ("--format", "synthetic", "--data", "20:5", "--out", str(tmp_path / "p"))
    bad = _train(*common, "--engine", "dask")
    assert bad.exit_code == 2 and "--engine must be local or spark" in bad.output
    stray = _train(*common, "--master", "local[2]")
    assert stray.exit_code == 2 and "--master is for --engine spark" in stray.output
