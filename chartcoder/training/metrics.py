"""Ranking and classification metrics for code suggestion, as the CodiEsp task defines them."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def average_precision(ranked: Sequence[str], gold: Sequence[str]) -> float:
    """CodiEsp AP: sum of precision@k at each gold code found at rank k, over the number of gold
    codes; codes compared lower-cased and exact; a code predicted twice counts once."""
    gold_set = {g.lower() for g in gold}
    if not gold_set:
        return 0.0
    seen: set[str] = set()
    hits, total = 0, 0.0
    k = 0
    for code in ranked:
        c = code.lower()
        if c in seen:
            continue
        seen.add(c)
        k += 1
        if c in gold_set:
            hits += 1
            total += hits / k
    return total / len(gold_set)


def mean_average_precision(rankings: Sequence[Sequence[str]], golds: Sequence[Sequence[str]]) -> float:
    """MAP over cases that have at least one gold code (as the official CodiEsp script does)."""
    aps = [average_precision(r, g) for r, g in zip(rankings, golds, strict=True) if g]
    return float(np.mean(aps)) if aps else 0.0


def precision_recall_at_k(
    rankings: Sequence[Sequence[str]], golds: Sequence[Sequence[str]], k: int
) -> tuple[float, float]:
    ps, rs = [], []
    for r, g in zip(rankings, golds, strict=True):
        if not g:
            continue
        gold = {x.lower() for x in g}
        top = list(dict.fromkeys(x.lower() for x in r))[:k]
        hit = len(gold & set(top))
        ps.append(hit / k)
        rs.append(hit / len(gold))
    return (float(np.mean(ps)) if ps else 0.0, float(np.mean(rs)) if rs else 0.0)


def f1_scores(predicted: Sequence[Sequence[str]], golds: Sequence[Sequence[str]]) -> dict[str, float]:
    """Micro and macro (over gold labels) precision/recall/F1 of predicted code sets."""
    tp_total = fp_total = fn_total = 0
    per_label: dict[str, list[int]] = {}
    for p, g in zip(predicted, golds, strict=True):
        ps, gs = {x.lower() for x in p}, {x.lower() for x in g}
        for c in ps | gs:
            counts = per_label.setdefault(c, [0, 0, 0])
            if c in ps and c in gs:
                counts[0] += 1
            elif c in ps:
                counts[1] += 1
            else:
                counts[2] += 1
        tp_total += len(ps & gs)
        fp_total += len(ps - gs)
        fn_total += len(gs - ps)
    precision = tp_total / (tp_total + fp_total) if tp_total + fp_total else 0.0
    recall = tp_total / (tp_total + fn_total) if tp_total + fn_total else 0.0
    micro = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    macro_values = []
    for tp, fp, fn in per_label.values():
        if tp + fn == 0:
            continue  # macro over labels that occur in the gold standard
        macro_values.append(2 * tp / (2 * tp + fp + fn))
    return {
        "micro_precision": precision,
        "micro_recall": recall,
        "micro_f1": micro,
        "macro_f1": float(np.mean(macro_values)) if macro_values else 0.0,
    }


def expected_calibration_error(scores: Sequence[float], correct: Sequence[bool], bins: int = 10) -> float:
    """ECE with equal-width bins: sum over bins of |accuracy - mean score| weighted by bin size."""
    s = np.asarray(scores, dtype=float)
    y = np.asarray(correct, dtype=float)
    if s.size == 0:
        return 0.0
    edges = np.linspace(0.0, 1.0, bins + 1)
    idx = np.clip(np.digitize(s, edges[1:-1], right=True), 0, bins - 1)
    ece = 0.0
    for b in range(bins):
        mask = idx == b
        if mask.any():
            ece += mask.mean() * abs(y[mask].mean() - s[mask].mean())
    return float(ece)


def calibration_curve(scores: Sequence[float], correct: Sequence[bool], bins: int = 10) -> list[dict[str, float]]:
    s = np.asarray(scores, dtype=float)
    y = np.asarray(correct, dtype=float)
    edges = np.linspace(0.0, 1.0, bins + 1)
    idx = np.clip(np.digitize(s, edges[1:-1], right=True), 0, bins - 1)
    out = []
    for b in range(bins):
        mask = idx == b
        if mask.any():
            out.append(
                {
                    "bin_low": float(edges[b]),
                    "bin_high": float(edges[b + 1]),
                    "count": int(mask.sum()),
                    "mean_score": float(s[mask].mean()),
                    "accuracy": float(y[mask].mean()),
                }
            )
    return out
