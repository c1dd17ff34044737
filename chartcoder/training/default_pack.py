"""The default pack: what `chartcoder serve` builds on a machine that has no pack yet.

It learns from the synthetic corpus only (never CodiEsp or any real chart, so it builds anywhere),
on top of the knowledge engine, which carries the ICD-10-CM terminology: every tabular description
and inclusion term, our synonyms and the guideline rules. The corpus is shaped like U.S. documentation:
office, urgent care, ED, discharge, procedure, operative, consult, H&P and imaging notes, about a third
of them in the one-line transcription form ("PREOPERATIVE DIAGNOSIS:,  ...,POSTOPERATIVE DIAGNOSIS:,
Same.,..."), coded by docs/coding-policy.md. Its card records the generator's seeds and a held-out
synthetic evaluation, so `chartcoder models list` shows how it scores. It is signed with the server's
own key (kept in the data folder), which the server trusts without configuration.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from chartcoder.codes.icd10cm import RELEASE
from chartcoder.config import Settings
from chartcoder.models.signing import server_key
from chartcoder.training.readers import ReadReport, read_synthetic
from chartcoder.training.train import records_digest, train_pack

DEFAULT_NAME = "default"
TRAIN_SEED = 0
HOLDOUT_SEED = 1
HOLDOUT_NOTES = 300
# Fewer classifier and neighbour candidates than for real charts (the synthetic label space is small
# and the knowledge engine proposes most of what matters), no character classifier (synthetic notes
# have no spelling variety worth it; it made the pack 120 MB), and every code the knowledge engine
# proposes scored by the terminology re-ranker: fitted on synthetic notes, the main re-ranker's
# label-space features do not carry over to real charts, the monotone terminology one does.
RANKER_PARAMS = {"top_lr": 40, "top_knn": 20, "char_ngrams": False, "knowledge_scope": "all"}


def build_default_pack(
    out: str | Path,
    notes: int = 2000,
    progress: Callable[[str, float], None] | None = None,
    settings: Settings | None = None,
) -> Path:
    """Generate the synthetic corpus, train the diagnosis ranker on it, score it on notes from
    another seed, and write the pack to `out`, signed with the server's own key (data_dir/
    pack-signing.key, made on first use), which the server always trusts."""
    report = ReadReport()
    records = read_synthetic(f"{notes}:{TRAIN_SEED}", report)
    holdout = read_synthetic(f"{HOLDOUT_NOTES}:{HOLDOUT_SEED}")
    sources: list[dict[str, Any]] = [
        {
            "format": "synthetic",
            "data": f"{notes}:{TRAIN_SEED}",
            "records": len(records),
            "sha256": records_digest(records),
        },
        {"format": "terminology", "data": RELEASE, "via": "the knowledge engine's term index"},
    ]
    return train_pack(
        records,
        out,
        task="diagnosis",
        name=DEFAULT_NAME,
        sources=sources,
        progress=progress,
        holdout=holdout,
        ranker_params=RANKER_PARAMS,
        holdout_name=f"synthetic notes, seed {HOLDOUT_SEED}",
        signing_key=server_key(settings),
    )
