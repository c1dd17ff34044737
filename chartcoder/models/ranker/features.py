"""The names of the re-rankers' feature columns, and the ranker version packs are checked against.

The version digests these lists: a pack whose trees expect other columns is refused when its card is
read (`chartcoder.models.pack`), before it is unpickled, not at its first note.
"""

from __future__ import annotations

import hashlib
import re

# One row per candidate code, in this column order (`CodeRanker._features`).
FEATURES = [
    "clf_score",
    "clf_rank",
    "char_clf_score",
    "char_clf_rank",
    "clf_margin_in_category",
    "knn_score",
    "knn_rank",
    "knn_votes",
    "kn_score",
    "kn_rank",
    "kn_present",
    "kn_mapped",
    "kn_header",
    "raw_present",
    "raw_negated",
    "raw_uncertain",
    "raw_family",
    "raw_historical",
    "raw_assessment",
    "raw_via_parent",
    "first_mention_pos",
    "mention_words",
    "mined_terms",
    "mined_precision",
    "mined_support",
    "prior_log",
    "unseen",
    "cat_lr_max",
    "cat_knowledge",
    "cat_candidates",
    "desc_overlap",
    "code_len",
    "n_candidates",
]
# What the knowledge engine says about a code, whatever codes the training charts held: the features
# of the terminology re-ranker, which scores candidates outside the learned label space.
KNOWLEDGE_FEATURES = [
    "kn_score",
    "kn_rank",
    "kn_present",
    "kn_mapped",
    "kn_header",
    "raw_present",
    "raw_negated",
    "raw_uncertain",
    "raw_family",
    "raw_historical",
    "raw_assessment",
    "raw_via_parent",
    "first_mention_pos",
    "mention_words",
    "cat_knowledge",
    "desc_overlap",
    "code_len",
]
# The terminology re-ranker's monotone constraints (`CodeRanker._knowledge_model`).
MONOTONE = {
    "kn_score": 1,
    "kn_rank": -1,
    "kn_present": 1,
    "raw_present": 1,
    "raw_assessment": 1,
    "first_mention_pos": -1,
    "mention_words": 1,
    "desc_overlap": 1,
}
# The version packs are checked against: the ranker's generation and a digest of its feature lists,
# so a pack whose trees expect other features is refused before it is loaded, not at its first note.
RANKER_NAME = (
    "chartcoder.CodeRanker.v3-"
    + hashlib.sha256(
        "\n".join([*FEATURES, "--", *KNOWLEDGE_FEATURES, "--", "scopes:outside,all"]).encode()
    ).hexdigest()[:8]
)
# A word of a note, as every part of the ranker splits text.
WORD = re.compile(r"[a-z0-9]+")
