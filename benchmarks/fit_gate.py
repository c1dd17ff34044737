"""Fit the learned "shown" gate (chartcoder/models/gate.py) on the tune part of the coded U.S. set.

Three steps, each its own command:

    # 1. the served path without the gate, on the tune part: each candidate's features and label
    .venv/bin/python benchmarks/fit_gate.py collect [--rows /tmp/chartcoder_gate_rows.json]
    # 2. cross-fitting: fit on tune-a and score tune-b, fit on tune-b and score tune-a; before/after
    .venv/bin/python benchmarks/fit_gate.py crossfit [--c 0.3] [--threshold 0.5] [--rerank] [--grid]
    # 3. the final fit on all of tune, written to chartcoder/models/resources/gate.yaml
    .venv/bin/python benchmarks/fit_gate.py fit --c 0.3 --threshold 0.5 [--rerank]

The label of a candidate is whether `benchmarks/us_notes.py` counts it right when shown: a gold code, one
of its accepted alternatives or an accepted optional code. The measure part is never read: only notes
of the tune part are collected. The rows hold features, codes and labels, never note text; they stay
outside the repository.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from us_notes import GoldNote, load_gold, score_note, summarize, tune_half  # noqa: E402

RESOURCE = ROOT / "chartcoder" / "models" / "resources" / "gate.yaml"
ROWS = Path("/tmp/chartcoder_gate_rows.json")
TOP_K = 20  # as benchmarks/us_notes.py asks the served path


@dataclass
class Candidate:
    code: str
    system: str
    score: float
    group: str
    evidence: bool
    warnings: list[str]
    features: dict[str, float]
    label: int


def _right(note: GoldNote) -> set[str]:
    return set().union(*(c.codes for c in note.codes)) | set(note.optional)


def collect(rows_path: Path) -> None:
    from chartcoder.config import get_settings
    from chartcoder.domain.encounter import Encounter
    from chartcoder.models.gate import candidate_features
    from chartcoder.models.pack import active_pack_path, load_pack
    from chartcoder.models.service import SuggestionService

    settings = get_settings()
    path = active_pack_path("default", settings.model_dir)
    service = SuggestionService(settings, pack=load_pack(path) if path else None, gate=False)
    out: dict[str, Any] = {"model": service.model_name, "notes": {}}
    for note in (n for n in load_gold() if n.split == "tune"):
        result, context = service.candidates(note.text, Encounter.from_dict(note.encounter), top_k=TOP_K)
        right = _right(note)
        rows = candidate_features(result.suggestions, context)
        out["notes"][note.id] = [
            {
                "code": s.code,
                "system": s.system,
                "score": s.score,
                "group": s.group,
                "evidence": bool(s.evidence),
                "warnings": s.warnings,
                "features": row,
                "label": int(s.code in right),
            }
            for s, row in zip(result.suggestions, rows, strict=True)
        ]
    rows_path.write_text(json.dumps(out), encoding="utf-8")
    print(f"{len(out['notes'])} tune notes, {sum(map(len, out['notes'].values()))} candidates -> {rows_path}")


def _load(rows_path: Path) -> tuple[dict[str, GoldNote], dict[str, list[Candidate]]]:
    raw = json.loads(rows_path.read_text(encoding="utf-8"))
    notes = {n.id: n for n in load_gold() if n.split == "tune"}
    cands = {nid: [Candidate(**c) for c in rows] for nid, rows in raw["notes"].items() if nid in notes}
    return notes, cands


def _matrix(cands: list[Candidate], names: list[str]) -> Any:
    import numpy as np

    return np.array([[c.features.get(n, 0.0) for n in names] for c in cands], dtype=float)


def select_features(spec: str) -> list[str]:
    """The gate's features whose names start with one of the comma-separated prefixes (all when empty)."""
    from chartcoder.models.gate import feature_names

    prefixes = tuple(p.strip() for p in spec.split(",") if p.strip())
    names = [n for n in feature_names() if not prefixes or n.startswith(prefixes)]
    if not names:
        raise SystemExit(f"--features {spec!r} selects none of the gate's features")
    return names


def fit_gate(cands: list[Candidate], c_value: float, threshold: float, rerank: bool, features: str = "") -> Any:
    """A Gate fitted on these candidates with evidence (the others are never shown): a standardized
    logistic regression with L2 penalty C over the selected features."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    from chartcoder.models.gate import Gate

    names = select_features(features)
    cands = [c for c in cands if c.evidence]
    x = _matrix(cands, names)
    y = np.array([c.label for c in cands])
    means = x.mean(axis=0)
    scales = x.std(axis=0)
    scales[scales == 0] = 1.0
    model = LogisticRegression(C=c_value, max_iter=5000).fit((x - means) / scales, y)
    return Gate(
        names=tuple(names),
        means=tuple(float(v) for v in means),
        scales=tuple(float(v) for v in scales),
        coefficients=tuple(float(v) for v in model.coef_[0]),
        intercept=float(model.intercept_[0]),
        threshold=threshold,
        rerank=rerank,
    )


def _served(cands: list[Candidate], gate: Any) -> list[Any]:
    """The served list of one note from its ungated candidates: gated (when a gate is given) and ordered."""
    from chartcoder.models.schema import Evidence, Group, Suggestion
    from chartcoder.models.service import order_suggestions

    ev = [Evidence(0, 0, "", "present", None)]
    sugg = [
        Suggestion(c.code, c.system, "", c.score, ev if c.evidence else [], list(c.warnings), cast(Group, c.group))
        for c in cands
    ]
    if gate is None:
        return sugg
    return order_suggestions(gate.decide(sugg, [c.features for c in cands]))


def evaluate(notes: dict[str, GoldNote], cands: dict[str, list[Candidate]], ids: list[str], gate: Any) -> dict:
    scores = [score_note(notes[i], _served(cands[i], gate)) for i in ids]
    out = {"all": summarize(scores)}
    for src in sorted({notes[i].source for i in ids}):
        out[src] = summarize([s for s, i in zip(scores, ids, strict=True) if notes[i].source == src])
    return out


def _auc(gate: Any, cands: list[Candidate]) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score([c.label for c in cands], [gate.probability(c.features) for c in cands]))


def crossfit(rows_path: Path, c_value: float, threshold: float, rerank: bool, features: str = "") -> dict[str, Any]:
    """Fit on one half and score the other, both ways; the ungated served path beside it."""
    notes, cands = _load(rows_path)
    halves = {h: sorted(i for i in cands if tune_half(i) == h) for h in "ab"}
    report: dict[str, Any] = {}
    for train, test in (("a", "b"), ("b", "a")):
        gate = fit_gate([c for i in halves[train] for c in cands[i]], c_value, threshold, rerank, features)
        report[f"fit {train}, score {test}"] = {
            "before": evaluate(notes, cands, halves[test], None),
            "after": evaluate(notes, cands, halves[test], gate),
            "auc": round(_auc(gate, [c for i in halves[test] for c in cands[i] if c.evidence]), 4),
        }
    return report


def _line(m: dict[str, Any]) -> str:
    keys = ("recall_at_10", "first_listed_top3", "shown_precision", "shown_per_note", "shown_recall")
    return " ".join(f"{k}={m[k]}" for k in keys) + f" forbidden={m['forbidden_shown_notes']}"


def print_report(report: dict[str, Any]) -> None:
    for direction, r in report.items():
        print(f"== {direction} (held-out AUC {r['auc']})")
        for part in r["before"]:
            print(f"  {part:9} before {_line(r['before'][part])}")
            print(f"  {part:9} after  {_line(r['after'][part])}")


def grid(rows_path: Path, rerank: bool, features: str) -> None:
    """Held-out shown precision and recall over C and threshold, both directions (model selection)."""
    for c_value in (0.01, 0.03, 0.1, 0.3, 1.0):
        for threshold in (0.4, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85):
            rep = crossfit(rows_path, c_value, threshold, rerank, features)
            cells = []
            for direction, r in rep.items():
                m = r["after"]["all"]
                cells.append(
                    f"{direction[4]}>{direction[-1]} P={m['shown_precision']} R={m['shown_recall']} "
                    f"r10={m['recall_at_10']} f3={m['first_listed_top3']} n={m['shown_per_note']}"
                )
            print(f"C={c_value} t={threshold}: " + " | ".join(cells))


def write_resource(gate: Any, c_value: float, card: dict[str, Any], serve: bool) -> None:
    import yaml

    data = {
        "card": {
            "what": "P(candidate is a code a coder reports) = sigmoid(intercept + sum(coef * (x - mean) / scale))",
            "fitted_on": "benchmarks/data/us_notes tune part (both halves); never the measure part",
            "refit": "benchmarks/fit_gate.py collect && benchmarks/fit_gate.py fit",
            "l2_c": c_value,
            **card,
        },
        "serve": serve,
        "threshold": gate.threshold,
        "rerank": gate.rerank,
        "intercept": round(gate.intercept, 6),
        "features": list(gate.names),
        "coefficients": [round(v, 6) for v in gate.coefficients],
        "means": [round(v, 6) for v in gate.means],
        "scales": [round(v, 6) for v in gate.scales],
    }
    header = "# The learned shown/consider gate (chartcoder/models/gate.py); written by benchmarks/fit_gate.py fit.\n"
    RESOURCE.write_text(header + yaml.safe_dump(data, sort_keys=False, width=120), encoding="utf-8")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("step", choices=["collect", "crossfit", "fit"])
    ap.add_argument("--rows", type=Path, default=ROWS)
    ap.add_argument("--c", type=float, default=0.3, help="L2 regularization C of the logistic regression.")
    ap.add_argument("--threshold", type=float, default=0.5, help="Probability at which a candidate is shown.")
    ap.add_argument("--rerank", action="store_true", help="Re-order the shown group by probability too.")
    ap.add_argument("--serve", action="store_true", help="fit: the served path uses the gate written.")
    ap.add_argument("--grid", action="store_true", help="crossfit: every C and threshold of the grid.")
    ap.add_argument("--features", default="", help="Comma-separated feature name prefixes (default: all).")
    args = ap.parse_args()
    if args.step == "collect":
        collect(args.rows)
    elif args.step == "crossfit" and args.grid:
        grid(args.rows, args.rerank, args.features)
    elif args.step == "crossfit":
        print_report(crossfit(args.rows, args.c, args.threshold, args.rerank, args.features))
    else:
        notes, cands = _load(args.rows)
        rows = [c for cs in cands.values() for c in cs]
        gate = fit_gate(rows, args.c, args.threshold, args.rerank, args.features)
        card = {"notes": len(cands), "candidates": len(rows), "positives": sum(c.label for c in rows)}
        write_resource(gate, args.c, card, args.serve)
        print(f"wrote {RESOURCE} ({card})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
