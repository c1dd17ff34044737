"""Train a model pack from coded charts, and evaluate a pack on held-out charts with a report."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from chartcoder.codes.icd10cm import RELEASE
from chartcoder.domain.code_systems import CodeSystem
from chartcoder.domain.encounter import Encounter
from chartcoder.domain.errors import InvalidInputError
from chartcoder.models.card import ModelCard
from chartcoder.models.pack import ModelPack, load_pack, save_pack
from chartcoder.models.ranker import RANKER_NAME, CodeRanker, Ranker
from chartcoder.models.stacked import StackedRanker
from chartcoder.training import metrics
from chartcoder.training.readers import (
    TASK_SYSTEM,
    ReadReport,
    read_audited_jsonl,
    read_codiesp,
    read_mimic,
    read_synthetic,
)
from chartcoder.training.records import Record

FORMATS = ("codiesp", "jsonl", "mimic", "synthetic")
Progress = Callable[[str, float], None]


def load_records(
    fmt: str, data: str | Path, splits: list[str] | None, task: str, report: ReadReport | None = None
) -> list[Record]:
    """Records from one source. `splits` applies to CodiEsp; `task` picks diagnoses or procedures."""
    check_task(task)
    report = report if report is not None else ReadReport()
    if fmt == "codiesp":
        return read_codiesp(data, splits or ["train"], task, report)
    if fmt == "jsonl":
        return read_audited_jsonl(data, report)
    if fmt == "mimic":
        return read_mimic(data, report)
    if fmt == "synthetic":
        return read_synthetic(str(data), report)
    raise InvalidInputError(f"The 'format' parameter must be one of {', '.join(FORMATS)}. Got {fmt!r}.")


def parse_source(spec: str) -> tuple[str, str, float]:
    """`FORMAT:PATH[:WEIGHT]` (e.g. `jsonl:audits.jsonl:3`, `synthetic:2000:1`) as (format, path,
    weight). For `synthetic`, PATH is its N[:SEED] spec, so a weight needs all three parts."""
    fmt, _, rest = spec.partition(":")
    if fmt not in FORMATS or not rest:
        raise InvalidInputError(
            f"--source must be FORMAT:PATH[:WEIGHT] with FORMAT one of {', '.join(FORMATS)}; got {spec!r}"
        )
    path, weight = rest, 1.0
    head, sep, tail = rest.rpartition(":")
    if sep and head and (fmt != "synthetic" or head.count(":") == 1):
        try:
            weight = float(tail)
            path = head
        except ValueError:
            path, weight = rest, 1.0
    if not weight > 0:
        raise InvalidInputError(f"--source {spec!r}: the weight must be a positive number")
    return fmt, path, weight


def check_task(task: str) -> str:
    if task not in TASK_SYSTEM:
        raise InvalidInputError(f"The 'task' parameter must be one of {', '.join(sorted(TASK_SYSTEM))}. Got {task!r}.")
    return TASK_SYSTEM[task]


def records_digest(records: list[Record]) -> str:
    """SHA-256 over the notes and their codes, in order: what the pack was trained on."""
    h = hashlib.sha256()
    for r in records:
        h.update(r.id.encode())
        h.update(b"\0")
        h.update(r.text.encode("utf-8", "surrogatepass"))
        h.update(b"\0")
        h.update(",".join(f"{c.system}:{c.code}:{c.decision}" for c in r.codes).encode())
        h.update(b"\n")
    return h.hexdigest()


def canonical_order(records: list[Record], weights: list[float] | None = None) -> list[int]:
    """Indices of the records sorted by a digest of their content (note, codes, decisions, cited
    sentences, encounter), then id and weight: the order training reads them in. The ranker's folds
    and ties follow the order of its notes; sorting by content makes a pack depend on which charts it
    learned from, not on how a file happened to list them."""

    def key(i: int) -> tuple[str, str, float]:
        r = records[i]
        h = hashlib.sha256(r.text.encode("utf-8", "surrogatepass"))
        h.update(json.dumps([[c.system, c.code, c.decision] for c in r.codes], sort_keys=True).encode())
        h.update(json.dumps(r.evidence, sort_keys=True, ensure_ascii=False).encode("utf-8", "surrogatepass"))
        h.update(json.dumps(r.encounter, sort_keys=True, default=str).encode())
        return (h.hexdigest(), r.id, weights[i] if weights is not None else 1.0)

    return sorted(range(len(records)), key=key)


def knowledge_analyses(records: list[Record], system: str, progress: Progress | None = None) -> list[Any] | None:
    """The knowledge engine's view of every note (ICD-10-CM only; procedures use the learned parts).
    Inside `chartcoder.training.spark_engine.SparkTraining` the notes are analysed on Spark."""
    if system != CodeSystem.ICD10CM:
        return None
    engine = _training_engine()
    if engine is not None:
        return engine.analyses(records, progress)
    from chartcoder.models.service import get_service

    service = get_service()
    out = []
    for i, r in enumerate(records):
        out.append(service.analyze(r.text, Encounter.from_dict(r.encounter)))
        if progress and i % 25 == 0:
            progress("knowledge engine", i / max(len(records), 1))
    return out


def train_pack(
    records: list[Record],
    out: str | Path,
    *,
    task: str = "diagnosis",
    name: str | None = None,
    sources: list[dict[str, Any]] | None = None,
    progress: Progress | None = None,
    ranker_params: dict[str, Any] | None = None,
    holdout: list[Record] | None = None,
    holdout_name: str = "",
    weights: list[float] | None = None,
    base: str | Path | None = None,
    signing_key: Any = None,
) -> Path:
    """Fit a CodeRanker on the records' positive codes (rejected codes weigh as negatives) and write
    a verified pack. `weights` weighs each record (one per record, e.g. per training source). With
    `base` (a pack folder), the pack stacks the ranker fitted here over the base pack's ranker, which
    only adds codes these records do not hold (chartcoder.models.stacked). The card's metrics hold
    the out-of-fold MAP on the training notes and, when `holdout` records are given, every
    evaluation metric on them. The pack is signed with `signing_key` (an Ed25519 private key; default
    the trainer's key, CHARTCODER_PACK_SIGNING_KEY).

    The records are read in an order of their content (`canonical_order`), so the same charts make
    the same pack whatever order the files list them in."""
    system = check_task(task)
    _check_weights(records, weights)
    base_pack = load_pack(base) if base is not None else None
    if base_pack is not None and base_pack.card.system != system:
        raise InvalidInputError(f"--base {base}: that pack codes {base_pack.card.system}; task {task!r} codes {system}")
    usable, usable_weights = _usable(records, weights, system)
    started = time.perf_counter()
    knowledge = knowledge_analyses(usable, system, progress)
    ranker = _fit(CodeRanker(**(ranker_params or {})), usable, usable_weights, system, knowledge, progress)
    model: Ranker = ranker
    base_card: dict[str, Any] = {}
    stacked: StackedRanker | None = None
    if base_pack is not None:
        stacked, base_card = _stack(ranker, base_pack)
        model = stacked
    seconds = time.perf_counter() - started
    digest = records_digest(usable)
    card = _training_card(
        model,
        name=name or f"{task}-ranker",
        task=task,
        # The version names what the pack learned: its records, and for a stacked pack also its base.
        version=digest if stacked is None else _stacked_version(digest, base_card, stacked.fallback_weight),
        knowledge_engine=_engine_name() if knowledge is not None else None,
        training={
            "sources": sources or [],
            "records": len(usable),
            "sha256": digest,
            "seconds": round(seconds, 1),
            **_engine_card(),
        },
        base=(
            {
                "name": base_card.get("name"),
                "version": base_card.get("version"),
                "fallback_weight": stacked.fallback_weight,
            }
            if stacked is not None
            else None
        ),
    )
    if holdout:
        result = score_records(ModelPack(Path(out), card, model), holdout, progress)
        card = card.with_metrics(
            {
                **{k: round(v, 4) for k, v in result.items() if isinstance(v, float)},
                "evaluated_on": f"{holdout_name or 'held-out records'} ({len(holdout)} records)",
            }
        )
    return save_pack(model, out, card, signing_key)


def _check_weights(records: list[Record], weights: list[float] | None) -> None:
    if weights is not None and len(weights) != len(records):
        raise InvalidInputError(f"{len(weights)} weights for {len(records)} records; give one per record")
    if weights is not None and any(not w > 0 for w in weights):
        raise InvalidInputError("record weights must be positive numbers")


def _usable(records: list[Record], weights: list[float] | None, system: str) -> tuple[list[Record], list[float] | None]:
    """The records with codes of `system` (at least 10) and their weights, in an order of their content."""
    order = canonical_order(records, weights)
    records = [records[i] for i in order]
    weights = [weights[i] for i in order] if weights is not None else None
    keep = [i for i, r in enumerate(records) if r.positives({system})]
    usable = [records[i] for i in keep]
    if len(usable) < 10:
        raise InvalidInputError(f"{len(usable)} records have {system} codes; training needs at least 10")
    return usable, [weights[i] for i in keep] if weights is not None else None


def _fit(
    ranker: CodeRanker,
    records: list[Record],
    weights: list[float] | None,
    system: str,
    knowledge: list[Any] | None,
    progress: Progress | None,
) -> CodeRanker:
    """Fit on the records' positive codes, their rejected codes as negatives and their cited evidence."""
    return ranker.fit(
        [r.text for r in records],
        [r.positives({system}) for r in records],
        system=system,
        knowledge=knowledge,
        negatives=[r.negatives({system}) for r in records],
        sample_weight=weights,
        evidence=[r.evidence for r in records],
        progress=progress,
    )


def _stack(ranker: CodeRanker, base_pack: ModelPack) -> tuple[StackedRanker, dict[str, Any]]:
    """`ranker` over the base pack's ranker, and the base pack's card. Over a stacked pack, stack over
    its base: the charts given here take the place of the charts that pack learned from (an export
    holds every finalized chart), rather than nesting one pack in the next at every retraining."""
    if isinstance(base_pack.ranker, StackedRanker):
        inner, base_card = base_pack.ranker.base, base_pack.ranker.base_card
    else:
        inner, base_card = base_pack.ranker, base_pack.card.to_dict()
    return StackedRanker(ranker, inner, base_card), base_card


def _training_card(
    model: Ranker,
    *,
    name: str,
    task: str,
    version: str,
    knowledge_engine: str | None,
    training: dict[str, Any],
    base: dict[str, Any] | None,
) -> ModelCard:
    """The card of a freshly trained pack (save_pack adds the format, versions and time)."""
    return ModelCard.from_dict(
        {
            "name": name,
            "version": version[:12],
            "ranker": RANKER_NAME,
            "ranker_params": model.get_params(),
            "task": task,
            "system": model.system_,
            "code_set_release": RELEASE,
            "knowledge_engine": knowledge_engine,
            "training": training,
            "base": base,
            "label_count": len(model.labels_),
            "threshold": model.threshold_,
            "metrics": {"MAP_out_of_fold": round(model.oof_map_, 4)},
        }
    )


def _training_engine() -> Any:
    """The Spark training engine whose block encloses this call (`chartcoder train --engine spark`),
    or None to train in this process."""
    from chartcoder.training.spark_engine import active_engine

    return active_engine()


def _engine_card() -> dict[str, Any]:
    """Where the pack was trained, for the card's "training" section: {"engine": "local"}, or
    "spark" with the master URL and the parallelism."""
    from chartcoder.training.spark_engine import engine_card

    return engine_card()


def _stacked_version(records_sha256: str, base_card: dict[str, Any], fallback_weight: float) -> str:
    """A stacked pack's version: its records' digest with the base pack's name and version and the
    weight, so the same charts alone, over another base or at another weight are other versions."""
    h = hashlib.sha256(records_sha256.encode())
    h.update(f"\0base:{base_card.get('name')}@{base_card.get('version')}\0weight:{fallback_weight!r}".encode())
    return h.hexdigest()


def _engine_name() -> str:
    from chartcoder.models.knowledge import ENGINE_VERSION

    return ENGINE_VERSION


def rank_records(
    pack: ModelPack, records: list[Record], progress: Progress | None = None
) -> list[list[tuple[str, float]]]:
    knowledge = knowledge_analyses(records, pack.ranker.system_, progress) if pack.ranker.use_knowledge_ else None
    return pack.ranker.rank([r.text for r in records], knowledge)


def evaluate_pack(
    pack_path: str | Path, records: list[Record], out_dir: str | Path | None = None, progress: Progress | None = None
) -> dict[str, Any]:
    """MAP, P@k, R@k, micro/macro F1 at the pack's threshold, ECE; JSON + Markdown + PNG plots."""
    pack = load_pack(pack_path)
    result = score_records(pack, records, progress)
    if out_dir is not None:
        write_report(result, result.pop("_scores"), result.pop("_correct"), Path(out_dir))
    else:
        result.pop("_scores")
        result.pop("_correct")
    return result


def score_records(pack: ModelPack, records: list[Record], progress: Progress | None = None) -> dict[str, Any]:
    """Every evaluation metric of a loaded pack on coded records (the report's numbers)."""
    system = pack.ranker.system_  # the card's system too: `check_ranker` refuses a pack where they differ
    started = time.perf_counter()
    ranked = rank_records(pack, records, progress)
    seconds = time.perf_counter() - started
    gold = [r.positives({system}) for r in records]
    codes = [[c for c, _ in x] for x in ranked]
    threshold = float(pack.card.threshold if pack.card.threshold is not None else pack.ranker.threshold_)
    predicted = [[c for c, s in x if s >= threshold] for x in ranked]
    scores = [s for x in ranked for _, s in x]
    correct = [c in set(g) for x, g in zip(ranked, gold, strict=True) for c, _ in x]
    result: dict[str, Any] = {
        "pack": pack.name,
        "records": len(records),
        "records_with_codes": sum(1 for g in gold if g),
        "MAP": metrics.mean_average_precision(codes, gold),
        "threshold": threshold,
        **{k: v for k, v in metrics.f1_scores(predicted, gold).items()},
        "ECE": metrics.expected_calibration_error(scores, correct),
        "ms_per_note": 1000 * seconds / max(len(records), 1),
    }
    for k in (1, 5, 10, 20):
        p, r = metrics.precision_recall_at_k(codes, gold, k)
        result[f"P@{k}"] = p
        result[f"R@{k}"] = r
    result["calibration"] = metrics.calibration_curve(scores, correct)
    result["_scores"], result["_correct"] = scores, correct
    return result


def write_report(result: dict[str, Any], scores: list[float], correct: list[bool], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import precision_recall_curve

    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    rows = [f"| {k} | {v:.4f} |" for k, v in result.items() if isinstance(v, float)]
    md = [
        f"# Evaluation of {result['pack']}",
        "",
        f"{result['records']} records ({result['records_with_codes']} with codes).",
        "",
        "| metric | value |",
        "|---|---:|",
        *rows,
        "",
        "![precision-recall](precision_recall.png) ![calibration](calibration.png)",
        "",
    ]
    (out / "report.md").write_text("\n".join(md), encoding="utf-8")
    if scores:
        precision, recall, _ = precision_recall_curve(correct, scores)
        fig, ax = plt.subplots(figsize=(5, 4))
        ax.plot(recall, precision)
        ax.set_xlabel("recall (of candidates)")
        ax.set_ylabel("precision")
        ax.set_title("Precision-recall over ranked candidates")
        fig.tight_layout()
        fig.savefig(out / "precision_recall.png", dpi=110)
        plt.close(fig)
        fig, ax = plt.subplots(figsize=(5, 4))
        cal = result["calibration"]
        ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect")
        ax.plot([b["mean_score"] for b in cal], [b["accuracy"] for b in cal], marker="o", label="chartcoder")
        ax.set_xlabel("score")
        ax.set_ylabel("fraction correct")
        ax.set_title(f"Calibration (ECE {result['ECE']:.3f})")
        ax.legend()
        fig.tight_layout()
        fig.savefig(out / "calibration.png", dpi=110)
        plt.close(fig)
