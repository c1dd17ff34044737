"""Learning curve on CodiEsp: coders' charts added to the default pack's synthetic corpus (issue 6).

Every pack is scored on CodiEsp dev diagnoses (250 cases) as `chartcoder evaluate` scores them:

- step 0: the default pack's recipe alone (2,000 synthetic notes of seed 0, `RANKER_PARAMS`), built
  here as `chartcoder serve` builds `models/default`;
- step N (50, 100, 250, 500 by default): the first N charts of CodiEsp train in a fixed shuffle
  (cases sorted by id, then `random.Random(0).shuffle`, so each slice holds the one before it),
  written to a temporary folder as audited-chart JSONL, every gold code `accepted` with the
  sentences its coder cited (CodiEsp's X file; `--no-evidence` leaves them out), and a pack
  trained on them over the default pack (`--mix stacked`, the default), as

      chartcoder train --source jsonl:SLICE.jsonl --base models/default --task diagnosis

  trains it (the same functions: `parse_source`, `load_records`, `records_digest`, `train_pack`,
  and so the CLI's ranker parameters, `CodeRanker`'s defaults): the charts' ranker ranks every
  code, the default pack's adds the codes the charts do not hold (chartcoder/models/stacked.py).
  `--mix pooled` trains one ranker over both sources instead,

      chartcoder train --source synthetic:2000:0:1 --source jsonl:SLICE.jsonl:WEIGHT --task diagnosis

  with WEIGHT `balanced` by default (2,000 / N, so that both sources weigh the same in total);
- beside each step, the same N charts alone (`--no-alone` leaves these out): for `stacked`, the
  stacked pack's own ranker without the default pack's codes (no second training); for `pooled`,
  a pack trained on the charts alone;
- the reference: CodiEsp train alone, all 500 cases, as `chartcoder train --format codiesp` reads them.

    .venv/bin/python benchmarks/learning_curve.py [--data ../shared/data/codiesp] [--slices 50,100,250,500]
        [--mix stacked|pooled] [--weight balanced|W] [--no-alone] [--no-evidence] [--default-pack DIR] [--quick]
        [--json benchmarks/results/learning_curve.json] [--plot docs/img/learning_curve.png]

`--quick` is a smoke run (150 synthetic notes, slices 20 and 40, 40 dev cases; its numbers mean
nothing). The JSON holds numbers only: no chart text and no case ids leave the data folder.

Data: CodiEsp (CLEF eHealth 2020), CC BY 4.0, doi 10.5281/zenodo.3693570.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import random
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "codiesp"
SHUFFLE_SEED = 0
SYNTHETIC_SEED = 0  # the default pack's (default_pack.TRAIN_SEED)
TASK = "diagnosis"


def shuffled_train(data: Path) -> list[Any]:
    """CodiEsp train diagnoses in the curve's fixed order: sorted by case id, then shuffled."""
    from chartcoder.training.readers import read_codiesp

    records = sorted(read_codiesp(data, ["train"], TASK), key=lambda r: r.id)
    random.Random(SHUFFLE_SEED).shuffle(records)
    return records


def cache_knowledge_analyses() -> None:
    """Analyse each note with the knowledge engine once per run, not once per pack: every pack sees
    the same 2,000 synthetic notes and the same dev cases, and the analysis is deterministic."""
    import chartcoder.training.train as train_module

    analyse = train_module.knowledge_analyses
    memo: dict[tuple[str, str], Any] = {}

    def cached(records: list[Any], system: str, progress: Any = None) -> list[Any] | None:
        if system != "ICD-10-CM":
            return analyse(records, system, progress)
        keys = [(r.text, json.dumps(r.encounter, sort_keys=True)) for r in records]
        todo = {k: r for k, r in zip(keys, records, strict=True) if k not in memo}
        if todo:
            done = analyse(list(todo.values()), system, progress) or []
            memo.update(zip(todo, done, strict=True))
        return [memo[k] for k in keys]

    train_module.knowledge_analyses = cached


def read_sources(specs: list[str]) -> tuple[list[Any], list[float], list[dict[str, Any]]]:
    """Records, per-record weights and the card's source list for `--source` specs, as `chartcoder
    train` reads them."""
    from chartcoder.training.readers import ReadReport
    from chartcoder.training.train import load_records, parse_source, records_digest

    records: list[Any] = []
    weights: list[float] = []
    sources: list[dict[str, Any]] = []
    for spec in specs:
        fmt, where, weight = parse_source(spec)
        report = ReadReport()
        got = load_records(fmt, where, ["train"], TASK, report)
        records += got
        weights += [weight] * len(got)
        sources.append(
            {
                "format": fmt,
                "data": Path(where).name if fmt == "jsonl" else where,
                "records": len(got),
                "weight": weight,
                "sha256": records_digest(got),
            }
        )
    return records, weights, sources


def pack_row(pack: Path, dev: list[Any], started: float) -> dict[str, Any]:
    """Dev scores of a pack, with what its card says about its training."""
    from chartcoder.training.train import evaluate_pack

    train_seconds = time.perf_counter() - started
    card = json.loads((pack / "model_card.json").read_text())
    ev = evaluate_pack(pack, dev)
    return {
        "MAP": round(ev["MAP"], 4),
        "P@1": round(ev["P@1"], 4),
        "P@5": round(ev["P@5"], 4),
        "R@10": round(ev["R@10"], 4),
        "ECE": round(ev["ECE"], 4),
        "MAP_out_of_fold": card["metrics"]["MAP_out_of_fold"],
        "labels": card["label_count"],
        "train_records": card["training"]["records"],
        "train_seconds": round(train_seconds, 1),
    }


def primary_row(pack: Path, dev: list[Any], stacked: dict[str, Any]) -> dict[str, Any]:
    """Dev scores of a stacked pack's primary ranker alone: the same charts without the base pack
    (no second training: the primary is the ranker those charts alone make)."""
    from chartcoder.models.pack import ModelPack, load_pack
    from chartcoder.training.train import score_records

    loaded = load_pack(pack)
    ev = score_records(ModelPack(loaded.path, loaded.card, loaded.ranker.primary), dev)
    row = {k: round(ev[k], 4) for k in ("MAP", "P@1", "P@5", "R@10", "ECE")}
    return {
        **row,
        "MAP_out_of_fold": stacked["MAP_out_of_fold"],
        "labels": len(loaded.ranker.primary.labels_),
        "train_records": stacked["train_records"],
        "train_seconds": stacked["train_seconds"],
    }


def jsonl_weight(weight: str, synthetic: int, charts: int) -> float:
    """The audited JSONL source's weight: a number, or `balanced` (synthetic notes / charts, so both
    sources weigh the same in total: 40 for 50 charts, 4 for 500, next to 2,000 synthetic notes)."""
    return synthetic / charts if weight == "balanced" else float(weight)


def run(args: argparse.Namespace) -> dict[str, Any]:
    from chartcoder.training.default_pack import RANKER_PARAMS, build_default_pack
    from chartcoder.training.readers import read_codiesp
    from chartcoder.training.train import records_digest, train_pack

    cache_knowledge_analyses()
    dev = read_codiesp(args.data, ["dev"], TASK)[: args.dev_limit]
    train = shuffled_train(args.data)
    slices = sorted({int(s) for s in args.slices.split(",") if s.strip()})
    if not slices or slices[0] < 1 or slices[-1] > len(train):
        raise SystemExit(f"--slices must be between 1 and {len(train)}; got {args.slices!r}")
    reference_n = len(train) if not args.quick else slices[-1]
    synthetic = f"{args.synthetic}:{SYNTHETIC_SEED}"
    results: dict[str, Any] = {
        "measured_utc": datetime.now(UTC).strftime("%Y-%m-%d %H:%M"),
        "command": " ".join(["benchmarks/learning_curve.py", *sys.argv[1:]]),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "data": "CodiEsp (CLEF eHealth 2020), CC BY 4.0, doi 10.5281/zenodo.3693570",
        "task": TASK,
        "dev_records": len(dev),
        "train_order": {
            "shuffle": f"cases sorted by id, random.Random({SHUFFLE_SEED}).shuffle",
            "sha256": records_digest(train),
        },
        "synthetic": synthetic,
        "mix": args.mix,
        "weight": args.weight if args.mix == "pooled" else None,
        "cited_sentences_in_jsonl": args.evidence,
        "default_pack_ranker_params": RANKER_PARAMS,
        "combined_ranker_params": "CodeRanker defaults (what chartcoder train uses)",
        "steps": [],
        "alone": [],
    }
    total = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        started = time.perf_counter()
        if args.default_pack is not None:
            step0 = args.default_pack
        else:
            step0 = build_default_pack(tmp / "default", notes=args.synthetic)
        results["steps"].append({"charts": 0, **pack_row(step0, dev, started)})
        if args.default_pack is not None:  # built elsewhere: no training time of its own here
            results["steps"][0]["train_seconds"] = None
        print(_line("0: default pack", results["steps"][-1]), flush=True)
        for n in slices:
            run_slice(args, n, train, dev, tmp, step0, synthetic, results)
        # The reference: `chartcoder train --format codiesp --splits train`, in the reader's own order.
        keep = {r.id for r in train[:reference_n]}
        records = [r for r in read_codiesp(args.data, ["train"], TASK) if r.id in keep]
        started = time.perf_counter()
        pack = train_pack(records, tmp / "pack", task=TASK, sources=[{"format": "codiesp", "splits": ["train"]}])
        results["codiesp_alone"] = {"charts": len(records), **pack_row(pack, dev, started)}
        print(_line(f"{len(records)}: CodiEsp alone", results["codiesp_alone"]), flush=True)
    results["total_seconds"] = round(time.perf_counter() - total, 1)
    return results


def run_slice(
    args: argparse.Namespace,
    n: int,
    train: list[Any],
    dev: list[Any],
    tmp: Path,
    step0: Path,
    synthetic: str,
    results: dict[str, Any],
) -> None:
    """The packs trained with the first `n` training charts, scored on dev; their rows go to `results`."""
    from chartcoder.training.readers import write_audited_jsonl
    from chartcoder.training.train import train_pack

    jsonl = tmp / f"codiesp-train-{n}.jsonl"
    charts = train[:n] if args.evidence else [dataclasses.replace(r, evidence={}) for r in train[:n]]
    write_audited_jsonl(charts, jsonl)
    if args.mix == "stacked":  # chartcoder train --source jsonl:SLICE.jsonl --base DEFAULT
        records, _, sources = read_sources([f"jsonl:{jsonl}"])
        started = time.perf_counter()
        pack = train_pack(records, tmp / "pack", task=TASK, sources=sources, base=step0)
        row = {"charts": n, "weight": None, "sources": [*specs_public([f"jsonl:{jsonl}"]), "--base default"]}
        results["steps"].append({**row, **pack_row(pack, dev, started)})
        print(_line(f"{n}: JSONL over default", results["steps"][-1]), flush=True)
        if args.alone:  # the stacked pack's own ranker, without the default pack's codes
            results["alone"].append({"charts": n, **primary_row(pack, dev, results["steps"][-1])})
            print(_line(f"{n}: JSONL alone", results["alone"][-1]), flush=True)
        return
    weight = jsonl_weight(args.weight, args.synthetic, n)
    specs = [f"synthetic:{synthetic}:1", f"jsonl:{jsonl}:{weight:g}"]
    records, weights, sources = read_sources(specs)
    started = time.perf_counter()
    pack = train_pack(records, tmp / "pack", task=TASK, sources=sources, weights=weights)
    row = {"charts": n, "weight": round(weight, 3), "sources": specs_public(specs)}
    results["steps"].append({**row, **pack_row(pack, dev, started)})
    print(_line(f"{n}: synthetic + JSONL", results["steps"][-1]), flush=True)
    if args.alone:  # the same charts without the synthetic notes: what the default pack adds
        records, _, sources = read_sources([f"jsonl:{jsonl}"])
        started = time.perf_counter()
        pack = train_pack(records, tmp / "pack", task=TASK, sources=sources)
        results["alone"].append({"charts": n, **pack_row(pack, dev, started)})
        print(_line(f"{n}: JSONL alone", results["alone"][-1]), flush=True)


def specs_public(specs: list[str]) -> list[str]:
    """The --source specs with the temporary folder left out."""
    out = []
    for spec in specs:
        fmt, _, rest = spec.partition(":")
        out.append(f"{fmt}:{Path(rest).name}" if fmt == "jsonl" else spec)
    return out


def _line(label: str, row: dict[str, Any]) -> str:
    return (
        f"{label:<24} MAP {row['MAP']:.4f}  P@1 {row['P@1']:.3f}  R@10 {row['R@10']:.3f}  "
        f"OOF MAP {row['MAP_out_of_fold']:.4f}  labels {row['labels']:>5}  {_seconds(row):>6} s"
    )


def table(results: dict[str, Any]) -> str:
    alone = {r["charts"]: r for r in results["alone"]}
    rows = [
        "| CodiEsp train charts | JSONL weight | dev MAP | P@1 | R@10 | out-of-fold MAP | labels | seconds "
        "| charts alone: dev MAP |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in results["steps"]:
        n = s["charts"]
        label = "0 (default pack)" if n == 0 else str(n)
        weight = f"{s['weight']:g}" if n and s.get("weight") is not None else ""
        other = f"{alone[n]['MAP']:.3f}" if n in alone else ""
        rows.append(f"| {label} | {weight} | {_cells(s)} | {other} |")
    ref = results["codiesp_alone"]
    rows.append(f"| {ref['charts']}, CodiEsp alone (reference) | | {_cells(ref)} | |")
    return "\n".join(rows)


def _cells(r: dict[str, Any]) -> str:
    return (
        f"{r['MAP']:.3f} | {r['P@1']:.3f} | {r['R@10']:.3f} | {r['MAP_out_of_fold']:.3f} | {r['labels']} "
        f"| {_seconds(r)}"
    )


def _seconds(r: dict[str, Any]) -> str:
    return "-" if r["train_seconds"] is None else f"{r['train_seconds']:.0f}"


def plot(results: dict[str, Any], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = [s["charts"] for s in results["steps"]]
    ys = [s["MAP"] for s in results["steps"]]
    ref = results["codiesp_alone"]
    if results.get("mix", "pooled") == "stacked":
        label = "CodiEsp charts over the default pack (train --base)"
    else:
        weight = "balanced" if results["weight"] == "balanced" else f"weight {results['weight']}"
        label = f"default pack's synthetic notes + CodiEsp charts, pooled ({weight})"
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    ax.plot(xs, ys, marker="o", label=label)
    for x, y in zip(xs, ys, strict=True):
        ax.annotate(f"{y:.3f}", (x, y), textcoords="offset points", xytext=(0, 7), ha="center", fontsize=8)
    if results["alone"]:
        ax.plot(
            [r["charts"] for r in results["alone"]],
            [r["MAP"] for r in results["alone"]],
            marker="s",
            linestyle="--",
            color="tab:orange",
            label="the same CodiEsp charts alone",
        )
    ax.axhline(
        ref["MAP"], linestyle=":", color="grey", label=f"CodiEsp train alone ({ref['charts']}): {ref['MAP']:.3f}"
    )
    ax.set_xlabel("CodiEsp train charts (audited JSONL)")
    ax.set_ylabel("CodiEsp dev diagnosis MAP")
    ax.set_title("Coders' charts on top of the default pack")
    top = max([*ys, ref["MAP"], *(r["MAP"] for r in results["alone"])])
    ax.set_ylim(0, top + 0.08)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--slices", default="50,100,250,500", help="CodiEsp train charts per step, comma-separated.")
    ap.add_argument(
        "--mix",
        choices=["stacked", "pooled"],
        default="stacked",
        help="stacked: train on the charts with --base the default pack (what docs/models.md recommends); "
        "pooled: one ranker over the synthetic notes and the charts together, weighed by --weight.",
    )
    ap.add_argument(
        "--weight", default="balanced", help="Pooled only: the JSONL source's weight, a number or 'balanced'."
    )
    ap.add_argument("--no-alone", dest="alone", action="store_false", help="Skip the charts-alone packs.")
    ap.add_argument(
        "--no-evidence",
        dest="evidence",
        action="store_false",
        help="Write the charts without the sentences their coders cited (as the review export does today).",
    )
    ap.add_argument("--synthetic", type=int, default=2000, help="Synthetic notes (the default pack's 2,000).")
    ap.add_argument("--json", type=Path, default=None, help="Write the results here.")
    ap.add_argument("--plot", type=Path, default=None, help="Write the PNG plot here.")
    ap.add_argument("--default-pack", type=Path, default=None, help="A built default pack (else built here).")
    ap.add_argument("--quick", action="store_true", help="Smoke run: tiny corpus and slices, meaningless numbers.")
    args = ap.parse_args(argv)
    args.dev_limit = None
    if args.quick:
        args.synthetic, args.slices, args.dev_limit = 150, "20,40", 40
    if args.weight != "balanced":
        try:
            if not float(args.weight) > 0:
                raise ValueError
        except ValueError:
            ap.error(f"--weight must be a positive number or 'balanced'; got {args.weight!r}")
    if not (args.data / "train").is_dir():
        print(f"no CodiEsp data at {args.data}", file=sys.stderr)
        return 2
    results = run(args)
    print()
    print(table(results))
    print(f"\ntotal {results['total_seconds']:.0f} s")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    if args.plot:
        plot(results, args.plot)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
