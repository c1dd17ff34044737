"""benchmarks/learning_curve.py without its training runs: the slices, the weights, the JSONL it
writes, and the table and plot it makes of results. (A real run takes minutes: `--quick`.)"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from chartcoder.training.readers import read_audited_jsonl, write_audited_jsonl

ROOT = Path(__file__).resolve().parents[2]
CODIESP = ROOT.parent / "shared" / "data" / "codiesp"
_spec = importlib.util.spec_from_file_location("learning_curve", ROOT / "benchmarks" / "learning_curve.py")
assert _spec is not None and _spec.loader is not None
learning_curve = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(learning_curve)


def _row(charts: int, value: float, **extra: object) -> dict[str, object]:
    scores = {"MAP": value, "P@1": 0.8, "P@5": 0.5, "R@10": 0.4, "ECE": 0.01, "MAP_out_of_fold": 0.5}
    return {"charts": charts, **scores, "labels": 900, "train_records": 10, "train_seconds": 1.0, **extra}


def test_balanced_weight_gives_both_sources_the_same_total():
    assert learning_curve.jsonl_weight("balanced", 2000, 50) == 40
    assert learning_curve.jsonl_weight("balanced", 2000, 500) == 4
    assert learning_curve.jsonl_weight("3", 2000, 500) == 3


def test_table_and_plot_from_results(tmp_path):
    results = {
        "weight": "balanced",
        "synthetic": "2000:0",
        "steps": [_row(0, 0.25, train_seconds=None), _row(50, 0.37, weight=40.0), _row(500, 0.50, weight=4.0)],
        "alone": [_row(50, 0.40), _row(500, 0.53)],
        "codiesp_alone": _row(500, 0.53),
    }
    text = learning_curve.table(results)
    assert "| 0 (default pack) |  | 0.250 |" in text and "| - |" in text
    assert "| 50 | 40 | 0.370 |" in text and text.rstrip().endswith("| |")
    assert "| 500, CodiEsp alone (reference) | | 0.530 |" in text
    learning_curve.plot(results, tmp_path / "curve.png")
    assert (tmp_path / "curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads(json.dumps(results)) == results  # what --json writes: numbers and labels only


@pytest.mark.skipif(not (CODIESP / "train").is_dir(), reason="CodiEsp is not at ../shared/data/codiesp")
def test_slices_are_fixed_and_nested_and_keep_codes_and_cited_sentences(tmp_path):
    first = learning_curve.shuffled_train(CODIESP)
    again = learning_curve.shuffled_train(CODIESP)
    assert [r.id for r in first] == [r.id for r in again]  # the same order every run
    assert [r.id for r in first] != sorted(r.id for r in first)  # shuffled, not the reader's order
    path = tmp_path / "slice.jsonl"
    write_audited_jsonl(first[:20], path)
    back = read_audited_jsonl(path)
    assert [(r.id, r.text, r.positives()) for r in back] == [(r.id, r.text, r.positives()) for r in first[:20]]
    assert all(c.decision == "accepted" for r in back for c in r.codes)
    cited = {(r.id, code): sentences for r in first[:20] for code, sentences in r.evidence.items()}
    kept = {(r.id, code): sentences for r in back for code, sentences in r.evidence.items()}
    assert kept and all(cited[key] == sentences for key, sentences in kept.items())


def test_table_and_plot_of_a_stacked_run(tmp_path):
    results = {
        "mix": "stacked",
        "weight": None,
        "synthetic": "2000:0",
        "steps": [_row(0, 0.25, train_seconds=None), _row(50, 0.40, weight=None), _row(500, 0.533, weight=None)],
        "alone": [_row(50, 0.398), _row(500, 0.532)],
        "codiesp_alone": _row(500, 0.532),
    }
    text = learning_curve.table(results)
    assert "| 50 |  | 0.400 |" in text and "| 500 |  | 0.533 |" in text  # no weight: one source
    assert text.splitlines()[3].endswith("| 0.398 |")
    learning_curve.plot(results, tmp_path / "curve.png")
    assert (tmp_path / "curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
