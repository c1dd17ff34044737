"""CodiEsp benchmark: train on train, measure on dev, against a plain baseline measured in the same run.

For each task (diagnosis: ICD-10-CM, procedure: ICD-10-PCS) it trains a chartcoder pack with the same
code path as `chartcoder train`, evaluates it as `chartcoder evaluate` does, and fits the baseline
the issue names: TF-IDF + one-vs-rest logistic regression, codes ranked by probability. It reports
MAP, P@k, R@k, F1 at the pack's threshold, ECE, training time, pack size, and suggestion latency
with the learned pack (in-process, p50/p99 over the dev notes).

    .venv/bin/python benchmarks/codiesp.py [--data ../shared/data/codiesp] [--tasks diagnosis,procedure]
        [--json benchmarks/results/codiesp.json] [--skip-baseline] [--zero-shot [--default-pack DIR]]

`--zero-shot` also scores the default pack (synthetic notes + ICD-10-CM terminology, never CodiEsp)
on dev diagnoses: it is built in the run (and timed) unless `--default-pack DIR` names one.

Data: CodiEsp (CLEF eHealth 2020), CC BY 4.0, doi 10.5281/zenodo.3693570.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "codiesp"


def baseline_map(train, dev, system: str) -> tuple[float, float]:
    """TF-IDF + one-vs-rest logistic regression; (dev MAP, seconds to fit)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.preprocessing import MultiLabelBinarizer

    from chartcoder.training.metrics import mean_average_precision

    started = time.perf_counter()
    mlb = MultiLabelBinarizer()
    y = mlb.fit_transform([r.positives({system}) for r in train])
    vec = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    x = vec.fit_transform([r.text for r in train])
    clf = OneVsRestClassifier(LogisticRegression(C=10.0, solver="liblinear"))
    clf.fit(x, y)
    seconds = time.perf_counter() - started
    probs = clf.predict_proba(vec.transform([r.text for r in dev]))
    ranked = [[mlb.classes_[j] for j in row.argsort()[::-1][:100]] for row in probs]
    return mean_average_precision(ranked, [r.positives({system}) for r in dev]), seconds


def latency_with_pack(pack_path: Path, notes: list[str]) -> dict[str, float]:
    from chartcoder.config import get_settings
    from chartcoder.domain.encounter import Encounter
    from chartcoder.models.pack import load_pack
    from chartcoder.models.service import SuggestionService

    service = SuggestionService(get_settings(), pack=load_pack(pack_path))
    for n in notes[:10]:
        service.suggest(n, Encounter(setting="inpatient"))
    times = []
    for n in notes:
        started = time.perf_counter()
        service.suggest(n, Encounter(setting="inpatient"))
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {
        "p50_ms": round(statistics.median(times), 2),
        "p99_ms": round(times[min(len(times) - 1, int(0.99 * len(times)))], 2),
    }


def zero_shot(data: Path, pack: Path | None) -> dict[str, object]:
    from chartcoder.training.default_pack import build_default_pack
    from chartcoder.training.readers import read_codiesp
    from chartcoder.training.train import evaluate_pack

    row: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        if pack is None:
            started = time.perf_counter()
            pack = build_default_pack(Path(tmp) / "default")
            row["build_seconds"] = round(time.perf_counter() - started, 1)
        card = json.loads((pack / "model_card.json").read_text())
        ev = evaluate_pack(pack, read_codiesp(data, ["dev"], "diagnosis"))
        row.update(
            {
                "pack": f"{card['name']}@{card['version']}",
                "MAP": round(ev["MAP"], 4),
                "P@1": round(ev["P@1"], 4),
                "R@10": round(ev["R@10"], 4),
                "ECE": round(ev["ECE"], 4),
                "synthetic_holdout_MAP": card["metrics"].get("MAP"),
                "labels": card["label_count"],
                "pack_mb": round(sum(f.stat().st_size for f in Path(pack).iterdir()) / 1e6, 1),
            }
        )
    return row


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--tasks", default="diagnosis,procedure")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--skip-baseline", action="store_true")
    ap.add_argument("--zero-shot", action="store_true", help="Also score the default pack on dev diagnoses.")
    ap.add_argument("--default-pack", type=Path, default=None, help="A built default pack (else built here).")
    args = ap.parse_args()
    if not (args.data / "train").is_dir():
        print(f"no CodiEsp data at {args.data}", file=sys.stderr)
        return 2

    from chartcoder.training.readers import TASK_SYSTEM, read_codiesp
    from chartcoder.training.train import evaluate_pack, records_digest, train_pack

    results = {}
    for task in [t.strip() for t in args.tasks.split(",") if t.strip()]:
        system = TASK_SYSTEM[task]
        train = read_codiesp(args.data, ["train"], task)
        dev = read_codiesp(args.data, ["dev"], task)
        with tempfile.TemporaryDirectory() as tmp:
            pack_path = Path(tmp) / f"codiesp-{task}"
            started = time.perf_counter()
            train_pack(
                train,
                pack_path,
                task=task,
                name=f"codiesp-{task}",
                sources=[{"format": "codiesp", "splits": ["train"], "sha256": records_digest(train)}],
            )
            train_s = time.perf_counter() - started
            size_mb = sum(f.stat().st_size for f in pack_path.iterdir()) / 1e6
            ev = evaluate_pack(pack_path, dev, Path(tmp) / "report")
            latency = latency_with_pack(pack_path, [r.text for r in dev])
        row = {
            "MAP": round(ev["MAP"], 4),
            "P@1": round(ev["P@1"], 4),
            "P@5": round(ev["P@5"], 4),
            "R@10": round(ev["R@10"], 4),
            "R@20": round(ev["R@20"], 4),
            "micro_f1": round(ev["micro_f1"], 4),
            "macro_f1": round(ev["macro_f1"], 4),
            "ECE": round(ev["ECE"], 4),
            "threshold": round(ev["threshold"], 3),
            "train_seconds": round(train_s, 1),
            "pack_mb": round(size_mb, 1),
            "latency_with_pack": latency,
            "train_records": len(train),
            "dev_records": len(dev),
        }
        if not args.skip_baseline:
            base, base_s = baseline_map(train, dev, system)
            row["baseline_tfidf_ovr_lr_MAP"] = round(base, 4)
            row["baseline_fit_seconds"] = round(base_s, 1)
            row["ratio_to_baseline"] = round(ev["MAP"] / base, 2) if base else None
        results[task] = row
        print(json.dumps({task: row}, indent=2), flush=True)
    if args.zero_shot:
        results["zero_shot_default_pack"] = zero_shot(args.data, args.default_pack)
        print(json.dumps({"zero_shot_default_pack": results["zero_shot_default_pack"]}, indent=2), flush=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
