"""Ranking and classification metrics against values worked out by hand."""

from __future__ import annotations

import pytest

from chartcoder.training.metrics import (
    average_precision,
    calibration_curve,
    expected_calibration_error,
    f1_scores,
    mean_average_precision,
    precision_recall_at_k,
)


def test_average_precision_hand_computed():
    # hits at ranks 1 and 3: (1/1 + 2/3) / 2
    assert average_precision(["a", "x", "b"], ["a", "b"]) == pytest.approx((1 + 2 / 3) / 2)
    # hits at ranks 2 and 4: (1/2 + 2/4) / 2
    assert average_precision(["x", "a", "y", "b"], ["a", "b"]) == pytest.approx(0.5)
    assert average_precision(["a", "b"], ["a", "b"]) == 1.0
    assert average_precision(["b", "a"], ["a", "b"]) == 1.0  # order among gold codes does not matter


def test_average_precision_missed_gold_codes_count_in_the_denominator():
    assert average_precision(["a"], ["a", "b"]) == pytest.approx(0.5)
    assert average_precision(["x", "y"], ["a"]) == 0.0
    assert average_precision([], ["a"]) == 0.0
    assert average_precision(["a"], []) == 0.0


def test_average_precision_duplicates_count_once():
    # the repeated "a" takes no rank: same as [a, x, b]
    assert average_precision(["a", "a", "x", "b"], ["a", "b"]) == pytest.approx((1 + 2 / 3) / 2)
    assert average_precision(["a", "A", "b"], ["a", "b"]) == 1.0
    # a repeated gold code is one gold code
    assert average_precision(["a", "x", "b"], ["a", "b", "a", "B"]) == pytest.approx((1 + 2 / 3) / 2)


def test_average_precision_is_case_insensitive_and_exact():
    assert average_precision(["J18.9", "x", "I10"], ["j18.9", "i10"]) == pytest.approx((1 + 2 / 3) / 2)
    # exact codes: a parent or a child is not the gold code, and the dot matters
    assert average_precision(["J18", "J18.90", "J189"], ["J18.9"]) == 0.0


def test_mean_average_precision_skips_cases_without_gold():
    rankings = [["a", "x", "b"], ["c"], ["z"]]
    golds = [["a", "b"], ["d"], []]
    assert mean_average_precision(rankings, golds) == pytest.approx(((1 + 2 / 3) / 2 + 0.0) / 2)
    assert mean_average_precision([["a"]], [[]]) == 0.0
    with pytest.raises(ValueError):
        mean_average_precision([["a"], ["b"]], [["a"]])


def test_precision_recall_at_k():
    rankings = [["a", "x", "b", "y"], ["c", "d"]]
    golds = [["a", "b"], ["d"]]
    # k=1: case 1 hits a (P 1, R 1/2); case 2 misses (P 0, R 0)
    assert precision_recall_at_k(rankings, golds, 1) == pytest.approx((0.5, 0.25))
    # k=2: case 1 {a,x} (P 1/2, R 1/2); case 2 {c,d} (P 1/2, R 1)
    assert precision_recall_at_k(rankings, golds, 2) == pytest.approx((0.5, 0.75))
    # k=4: case 1 (P 2/4, R 1); case 2 has two codes, still over k (P 1/4, R 1)
    assert precision_recall_at_k(rankings, golds, 4) == pytest.approx((0.375, 1.0))


def test_precision_recall_at_k_dedupes_ignores_case_and_skips_uncoded():
    rankings = [["A", "a", "b"], ["q"]]
    golds = [["a", "B"], []]
    assert precision_recall_at_k(rankings, golds, 2) == pytest.approx((1.0, 1.0))
    assert precision_recall_at_k([["a"]], [[]], 3) == (0.0, 0.0)


def test_f1_micro_and_macro():
    predicted = [["a", "b"], ["A"]]
    golds = [["a"], ["a", "c"]]
    # tp: a, a (2); fp: b (1); fn: c (1) -> micro P = R = F1 = 2/3
    # macro over gold labels: a (2tp -> 1.0), c (1fn -> 0.0); b is not a gold label
    f1 = f1_scores(predicted, golds)
    assert f1["micro_precision"] == pytest.approx(2 / 3)
    assert f1["micro_recall"] == pytest.approx(2 / 3)
    assert f1["micro_f1"] == pytest.approx(2 / 3)
    assert f1["macro_f1"] == pytest.approx(0.5)


def test_f1_unbalanced_precision_and_recall():
    predicted = [["a"], [], ["c", "x", "y"]]
    golds = [["a", "b"], ["b"], ["c"]]
    # tp 2 (a, c), fp 2 (x, y), fn 2 (b, b): P = 2/4, R = 2/4
    # per label: a 2/(2) = 1, b 0/(0+0+2) = 0, c 1
    f1 = f1_scores(predicted, golds)
    assert (f1["micro_precision"], f1["micro_recall"]) == pytest.approx((0.5, 0.5))
    assert f1["micro_f1"] == pytest.approx(0.5)
    assert f1["macro_f1"] == pytest.approx(2 / 3)
    assert f1_scores([[]], [[]]) == {"micro_precision": 0.0, "micro_recall": 0.0, "micro_f1": 0.0, "macro_f1": 0.0}


def test_ece_perfectly_calibrated_is_zero():
    scores = [0.25] * 4 + [0.75] * 4
    correct = [True, False, False, False] + [True, True, True, False]
    assert expected_calibration_error(scores, correct) == pytest.approx(0.0, abs=1e-12)


def test_ece_overconfident():
    # every score 0.95, half right: |0.5 - 0.95|
    assert expected_calibration_error([0.95] * 4, [True, False, True, False]) == pytest.approx(0.45)
    # two bins of half the cases each: 0.5 * |0.5 - 0.9| + 0.5 * |0 - 0.1|
    assert expected_calibration_error([0.9, 0.9, 0.1, 0.1], [True, False, False, False]) == pytest.approx(0.25)
    assert expected_calibration_error([1.0, 0.0], [False, True]) == pytest.approx(1.0)
    assert expected_calibration_error([], []) == 0.0


def test_ece_calibrated_beats_overconfident_on_the_same_outcomes():
    correct = [True, False, False, False] * 5
    calibrated = expected_calibration_error([0.25] * 20, correct)
    overconfident = expected_calibration_error([0.95] * 20, correct)
    assert calibrated == pytest.approx(0.0, abs=1e-12)
    assert overconfident == pytest.approx(0.7)


def test_calibration_curve_bins():
    scores = [0.05, 0.05, 0.55, 0.95, 0.95, 0.95, 1.0]
    correct = [False, False, True, True, True, False, True]
    curve = calibration_curve(scores, correct)
    assert [b["count"] for b in curve] == [2, 1, 4]
    assert [b["bin_low"] for b in curve] == pytest.approx([0.0, 0.5, 0.9])
    assert [b["bin_high"] for b in curve] == pytest.approx([0.1, 0.6, 1.0])
    assert curve[0]["accuracy"] == 0.0 and curve[0]["mean_score"] == pytest.approx(0.05)
    assert curve[2]["accuracy"] == pytest.approx(0.75)
    assert curve[2]["mean_score"] == pytest.approx((0.95 * 3 + 1.0) / 4)
    assert sum(b["count"] for b in curve) == len(scores)
