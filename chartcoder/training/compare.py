"""Champion against challenger on the same charts: each pack's MAP and P@5, the difference with a
bootstrap confidence interval (charts resampled with replacement), the codes each pack finds better,
a plot, and a plain verdict. A challenger is called better only when the whole 95% interval of its
MAP gain is above zero."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from chartcoder.domain.errors import InvalidInputError
from chartcoder.models.pack import ModelPack
from chartcoder.training import metrics
from chartcoder.training.records import Record
from chartcoder.training.train import Progress, knowledge_analyses

TOP = 10  # a code counts as found when a pack ranks it in its first TOP


def _precision_at(ranked: list[str], gold: set[str], k: int) -> float:
    return sum(1 for c in ranked[:k] if c in gold) / k


def compare_packs(
    champion: ModelPack,
    challenger: ModelPack,
    records: list[Record],
    *,
    n_boot: int = 2000,
    seed: int = 0,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Both packs on the records that hold codes of their system: MAP and P@5 each, their differences
    with bootstrap intervals (`_map_boots` holds the MAP resamples for the plot), the verdict, and
    the codes each pack finds more often in its first TOP."""
    system = champion.ranker.system_
    if challenger.ranker.system_ != system:
        raise InvalidInputError(
            f"the packs rank different code systems ({system} and {challenger.ranker.system_}); compare like with like"
        )
    charts = [r for r in records if r.positives({system})]
    if len(charts) < 5:
        raise InvalidInputError(f"{len(charts)} charts have {system} codes; a comparison needs at least 5")
    gold = [set(r.positives({system})) for r in charts]
    ranked = _rankings(champion, challenger, charts, system, progress)
    ap = {
        k: np.array([metrics.average_precision(r, sorted(g)) for r, g in zip(v, gold, strict=True)])
        for k, v in ranked.items()
    }
    p5 = {k: np.array([_precision_at(r, g, 5) for r, g in zip(v, gold, strict=True)]) for k, v in ranked.items()}
    out: dict[str, Any] = {
        "charts": len(charts),
        "system": system,
        "champion": {"pack": champion.name, "MAP": float(ap["champion"].mean()), "P@5": float(p5["champion"].mean())},
        "challenger": {
            "pack": challenger.name,
            "MAP": float(ap["challenger"].mean()),
            "P@5": float(p5["challenger"].mean()),
        },
        "bootstrap": {"resamples": n_boot, "seed": seed, "confidence": 0.95},
    }
    out.update(_differences({"MAP": ap, "P@5": p5}, n_boot, seed))
    out["verdict"], out["summary"] = _verdict(out["MAP_difference"])
    out["codes_better"], out["codes_worse"] = _code_changes(gold, ranked)
    out["found_in_top"] = TOP
    return out


def _rankings(
    champion: ModelPack, challenger: ModelPack, charts: list[Record], system: str, progress: Progress | None
) -> dict[str, list[list[str]]]:
    """Each pack's ranked codes per chart, by role."""
    # The knowledge engine's analysis of each chart is the same for both packs: made once.
    analyses = knowledge_analyses(charts, system, progress)
    texts = [r.text for r in charts]
    return {
        role: [[c for c, _ in x] for x in pack.ranker.rank(texts, analyses if pack.ranker.use_knowledge_ else None)]
        for role, pack in (("champion", champion), ("challenger", challenger))
    }


def _differences(per_metric: dict[str, dict[str, np.ndarray]], n_boot: int, seed: int) -> dict[str, Any]:
    """Per metric, the challenger's mean per-chart gain and its 95% interval over `n_boot` resamples of
    the charts (the same resamples for every metric); `_map_boots` the MAP gain of each resample."""
    n_charts = len(per_metric["MAP"]["champion"])
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n_charts, size=(n_boot, n_charts))
    out: dict[str, Any] = {}
    for name, per in per_metric.items():
        diff = per["challenger"] - per["champion"]
        boots = diff[idx].mean(axis=1)
        lo, hi = np.percentile(boots, [2.5, 97.5])
        out[f"{name}_difference"] = {"mean": float(diff.mean()), "ci95": [float(lo), float(hi)]}
        if name == "MAP":
            out["_map_boots"] = boots
    return out


def _verdict(map_difference: dict[str, Any]) -> tuple[str, str]:
    """(verdict, the sentence that says it): better or worse only when the whole interval says so."""
    lo, hi = map_difference["ci95"]
    gain = f"{map_difference['mean']:+.3f} (95% CI {lo:+.3f} to {hi:+.3f})"
    if lo > 0:
        return "better", f"The challenger is better: its MAP changes by {gain}."
    if hi < 0:
        return "worse", f"The challenger is worse: its MAP changes by {gain}."
    return "no clear difference", f"No clear difference: the MAP change {gain} includes zero. Keep the champion."


def _code_changes(
    gold: list[set[str]], ranked: dict[str, list[list[str]]]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(codes the challenger finds more often, codes it finds less often), at most 25 each, the
    largest changes first: per code, in how many of the charts that hold it each pack ranks it in its
    first TOP."""
    found: dict[str, dict[str, int]] = defaultdict(lambda: {"charts": 0, "champion": 0, "challenger": 0})
    for i, g in enumerate(gold):
        tops = {k: set(v[i][:TOP]) for k, v in ranked.items()}
        for code in g:
            found[code]["charts"] += 1
            for k in tops:
                found[code][k] += code in tops[k]
    changes: list[dict[str, Any]] = [
        {"code": c, **n, "change": n["challenger"] - n["champion"]}
        for c, n in found.items()
        if n["challenger"] != n["champion"]
    ]
    changes.sort(key=lambda x: (-int(x["change"]), str(x["code"])))
    better = [c for c in changes if int(c["change"]) > 0][:25]
    worse = sorted((c for c in changes if int(c["change"]) < 0), key=lambda x: (int(x["change"]), str(x["code"])))[:25]
    return better, worse


def write_comparison(result: dict[str, Any], out_dir: str | Path) -> list[Path]:
    """comparison.json, comparison.md and comparison.png (the bootstrap distribution of the MAP gain)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    boots = result.pop("_map_boots")
    (out / "comparison.json").write_text(json.dumps(result, indent=2))
    lines = [
        f"# {result['challenger']['pack']} against {result['champion']['pack']}",
        "",
        result["summary"],
        "",
        f"{result['charts']} charts ({result['system']}); bootstrap of {result['bootstrap']['resamples']} resamples.",
        "",
        "| | champion | challenger | difference | 95% CI |",
        "|---|---:|---:|---:|---|",
    ]
    for m in ("MAP", "P@5"):
        d = result[f"{m}_difference"]
        lines.append(
            f"| {m} | {result['champion'][m]:.3f} | {result['challenger'][m]:.3f} | {d['mean']:+.3f} | "
            f"{d['ci95'][0]:+.3f} to {d['ci95'][1]:+.3f} |"
        )
    for title, key in (
        ("Codes the challenger finds more often", "codes_better"),
        ("Codes it finds less often", "codes_worse"),
    ):
        lines += ["", f"## {title} (in its first {result['found_in_top']})", ""]
        lines += [
            f"- {c['code']}: {c['champion']} -> {c['challenger']} of {c['charts']} charts" for c in result[key]
        ] or ["- none"]
    (out / "comparison.md").write_text("\n".join(lines) + "\n")
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.hist(boots, bins=40, color="#4a6fa5")
    lo, hi = result["MAP_difference"]["ci95"]
    for x in (lo, hi):
        ax.axvline(x, color="#333333", linestyle="--", linewidth=1)
    ax.axvline(0, color="#b00020", linewidth=1.5)
    ax.set_xlabel("challenger MAP - champion MAP (bootstrap)")
    ax.set_ylabel("resamples")
    ax.set_title(result["verdict"])
    fig.tight_layout()
    fig.savefig(out / "comparison.png", dpi=120)
    plt.close(fig)
    result["_map_boots"] = boots
    return [out / "comparison.json", out / "comparison.md", out / "comparison.png"]
