"""`chartcoder models compare`: two packs on the same held-out charts, bootstrap intervals for the
MAP and P@5 differences, codes that got better or worse, a plot, and a verdict that says 'better'
only when the whole interval is above zero."""

from __future__ import annotations

import json

import pytest
from training_support import finish, start

from chartcoder.domain.errors import InvalidInputError
from chartcoder.models.pack import load_pack
from chartcoder.training.compare import compare_packs, write_comparison
from chartcoder.training.readers import read_synthetic, write_audited_jsonl
from chartcoder.training.train import train_pack


@pytest.fixture(scope="module")
def packs(tmp_path_factory):
    """A weak champion (40 notes) and a stronger challenger (300 notes), and held-out charts of
    another seed as audited JSONL."""
    root = tmp_path_factory.mktemp("compare")
    weak = train_pack(read_synthetic("40:1"), root / "weak", name="weak")
    strong = train_pack(read_synthetic("300:2"), root / "strong", name="strong")
    holdout = root / "holdout.jsonl"
    write_audited_jsonl(read_synthetic("80:9"), holdout)
    return weak, strong, holdout


def test_a_clearly_better_challenger_is_called_better(packs, tmp_path):
    from chartcoder.training.readers import read_audited_jsonl

    weak, strong, holdout = packs
    charts = read_audited_jsonl(holdout)
    result = compare_packs(load_pack(weak), load_pack(strong), charts, n_boot=500)
    lo, hi = result["MAP_difference"]["ci95"]
    assert result["challenger"]["MAP"] > result["champion"]["MAP"] and 0 < lo <= hi
    assert result["verdict"] == "better" and result["summary"].startswith("The challenger is better")
    assert result["codes_better"] and all(c["challenger"] > c["champion"] for c in result["codes_better"])
    assert all(c["challenger"] < c["champion"] for c in result["codes_worse"])
    # the other way round it is worse; a pack against itself is no clear difference
    assert compare_packs(load_pack(strong), load_pack(weak), charts, n_boot=500)["verdict"] == "worse"
    same = compare_packs(load_pack(strong), load_pack(strong), charts, n_boot=500)
    assert same["verdict"] == "no clear difference" and same["MAP_difference"]["ci95"] == [0.0, 0.0]
    files = write_comparison(result, tmp_path / "report")
    assert [f.name for f in files] == ["comparison.json", "comparison.md", "comparison.png"]
    assert files[2].read_bytes()[:4] == b"\x89PNG" and "better" in files[1].read_text()


def test_too_few_charts_is_a_clear_error(packs):
    weak, strong, _ = packs
    with pytest.raises(InvalidInputError, match="at least 5"):
        compare_packs(load_pack(weak), load_pack(strong), read_synthetic("3:4"))


def test_cli_compare_prints_the_verdict_and_writes_the_report(packs, tmp_path):
    weak, strong, holdout = packs
    run = finish(
        start(
            "models", "compare", str(weak), str(strong), "--format", "jsonl", "--data", str(holdout),
            "--boot", "300", "--report", str(tmp_path / "r"),
        )
    )  # fmt: skip
    assert run.returncode == 0, run.explain()
    assert "The challenger is better" in run.stdout and "MAP" in run.stdout
    assert json.loads((tmp_path / "r" / "comparison.json").read_text())["verdict"] == "better"
