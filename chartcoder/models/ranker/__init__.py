"""The learned code ranker: candidates from three generators, a re-ranker over their features,
calibrated scores and a decision threshold chosen on held-out data.

Candidate generators, all per note:
  (a) knowledge: the guideline engine's suggestions and the raw concept mentions with their
      assertions (negated, uncertain, family, history), mapped into the label space (`engine_view`);
  (b) a multi-label text classifier (TF-IDF + ridge regression onto every code, in its dual form);
  (c) nearest coded neighbours (cosine over the same TF-IDF vectors) (`generators`).
The re-ranker (gradient-boosted trees) learns how to combine them; it is trained on out-of-fold
classifier and neighbour scores (cross-fitting), so it never sees scores of notes those models were
fitted on. Isotonic calibration turns its output into probabilities (`calibration`).

The package, by concern:
  estimator     CodeRanker: fit (cross-fitting, candidate rows, re-rankers) and rank
  params        scikit-learn-style validation of the constructor's parameters
  protocol      Ranker, what code that takes "a ranker" relies on (CodeRanker and StackedRanker)
  features      the feature columns' names and RANKER_NAME, the version packs are checked against
  engine_view   the knowledge engine's evidence per code
  evidence      terms mined from the sentences coders cited
  generators    the dual ridge classifier and the neighbour votes
  vectorize     the TF-IDF vectorizers, the character analyzer and FastTfidf
  trees         FlatForest, the re-rankers evaluated for all trees at once
  calibration   the isotonic calibrator's fast path, the threshold, the out-of-fold MAP
  blas          one BLAS thread for one note's products
  parallel      parallel_fit and the task runner fit's loops go through
  tasks         the tasks themselves (a fold, a chunk of candidate rows, tree fits)

Packs pickle the ranker by class path. Packs made before this was a package name
`chartcoder.models.ranker.CodeRanker`, `chartcoder.models.ranker.EvidenceIndex` and
`chartcoder.models.ranker.char_grams`: the names below keep resolving (they are what a pack holds, so
they stay here whatever else moves), and the allow-list unpickler (chartcoder.models.safe_load) accepts
them under either path. Everything else is imported from its module.
"""

from chartcoder.models.ranker.engine_view import knowledge_view, map_to_labels
from chartcoder.models.ranker.estimator import CodeRanker
from chartcoder.models.ranker.evidence import EvidenceIndex
from chartcoder.models.ranker.features import FEATURES, KNOWLEDGE_FEATURES, RANKER_NAME
from chartcoder.models.ranker.parallel import parallel_fit
from chartcoder.models.ranker.params import InvalidParameterError
from chartcoder.models.ranker.protocol import Ranker
from chartcoder.models.ranker.vectorize import char_grams

__all__ = [
    "FEATURES",
    "KNOWLEDGE_FEATURES",
    "RANKER_NAME",
    "CodeRanker",
    "EvidenceIndex",
    "InvalidParameterError",
    "Ranker",
    "char_grams",
    "knowledge_view",
    "map_to_labels",
    "parallel_fit",
]
