"""The learned code ranker: candidates from three generators, a re-ranker over their features,
calibrated scores and a decision threshold chosen on held-out data.

Candidate generators, all per note:
  (a) knowledge: the guideline engine's suggestions and the raw concept mentions with their
      assertions (negated, uncertain, family, history), mapped into the label space;
  (b) a multi-label text classifier (TF-IDF + ridge regression onto every code, in its dual form);
  (c) nearest coded neighbours (cosine over the same TF-IDF vectors).
The re-ranker (gradient-boosted trees) learns how to combine them; it is trained on out-of-fold
classifier and neighbour scores (cross-fitting), so it never sees scores of notes those models were
fitted on. Isotonic calibration turns its output into probabilities.

Follows the scikit-learn contract: `__init__` stores hyperparameters, `fit` returns self, learned
state ends in `_`.
"""

from __future__ import annotations

import hashlib
import math
import re
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
from scipy.sparse import csr_matrix
from sklearn.base import BaseEstimator
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.isotonic import IsotonicRegression
from sklearn.kernel_ridge import KernelRidge
from sklearn.model_selection import GroupKFold, KFold
from sklearn.preprocessing import MultiLabelBinarizer
from threadpoolctl import ThreadpoolController, threadpool_limits

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
_WORD = re.compile(r"[a-z0-9]+")
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
_MONOTONE = {
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


@dataclass
class KnowledgeView:
    """What the knowledge engine says about one note, keyed by code in the label space."""

    score: dict[str, float]
    rank: dict[str, int]
    mapped: set[str]
    header: set[str]
    raw: dict[str, Counter[str]]
    first: dict[str, float] = field(default_factory=dict)  # earliest mention, as a share of the note
    words: dict[str, int] = field(default_factory=dict)  # most words in one matched term


def map_to_labels(code: str, labels: Collection[str]) -> tuple[str, bool]:
    """A FY2026 code in the label space, or its nearest ancestor that is (R05.9 -> R05); the code
    itself when neither is."""
    if code in labels:
        return code, False
    flat = code.replace(".", "")
    for cut in range(len(flat) - 1, 2, -1):
        cand = flat[:3] + ("." + flat[3:cut] if cut > 3 else "")
        if cand in labels:
            return cand, True
    return code, False


def knowledge_view(analysis: Any, labels: set[str], system: str = "ICD-10-CM") -> KnowledgeView:
    """Turn the service's analysis (suggestions and raw mentions) into per-code evidence, for the
    codes of one system (a diagnosis ranker never ranks the engine's CPT codes)."""
    suggestions, mentions = analysis
    score: dict[str, float] = {}
    rank: dict[str, int] = {}
    mapped: set[str] = set()
    header: set[str] = set()
    for i, s in enumerate(x for x in suggestions.suggestions if x.system == system):
        code, was_mapped = map_to_labels(s.code, labels)
        if code in score:
            continue
        score[code] = s.score
        rank[code] = i + 1
        if was_mapped:
            mapped.add(code)
        if any("header code" in w for w in s.warnings):
            header.add(code)
    raw: dict[str, Counter[str]] = defaultdict(Counter)
    first: dict[str, float] = {}
    words: dict[str, int] = {}
    length = max((m.end for m in mentions), default=1)
    for m in mentions:
        if m.targets[0].system != system:
            continue
        code, _ = map_to_labels(m.targets[0].code, labels)
        raw[code][m.assertion] += 1
        first[code] = min(first.get(code, 1.0), m.start / length)
        words[code] = max(words.get(code, 0), len(m.text.split()))
        if m.section == "assessment_plan":
            raw[code]["assessment"] += 1
    # A mention the matcher could only place at a header (N46.0) stands for its likeliest billable
    # codes too, which coders pick (N46.01).
    for code, counts in list(raw.items()):
        for child in _header_children(code):
            if child not in raw:
                raw[child]["via_parent"] += sum(counts.values())
                first.setdefault(child, first.get(code, 1.0))
                words.setdefault(child, words.get(code, 0))
    return KnowledgeView(score, rank, mapped, header, dict(raw), first, words)


_CHILDREN_CACHE: dict[str, tuple[str, ...]] = {}


def _header_children(code: str, limit: int = 8) -> tuple[str, ...]:
    """The billable codes a non-billable ICD-10-CM header most likely stands for: its billable
    children when few, else the unspecified/other ones (ending in 0 or 9)."""
    hit = _CHILDREN_CACHE.get(code)
    if hit is not None:
        return hit
    from chartcoder.codes.icd10cm import icd10cm

    icd = icd10cm()
    out: tuple[str, ...] = ()
    if icd.is_valid(code) and not icd.is_billable(code):
        leaves = icd.billable_descendants(code)
        if len(leaves) <= limit:
            out = tuple(leaves)
        else:
            depth = len(code.replace(".", "")) + 2
            out = tuple([c for c in leaves if c[-1] in "09" and len(c.replace(".", "")) <= depth][:limit])
    _CHILDREN_CACHE[code] = out
    return out


class CodeRanker(BaseEstimator):  # type: ignore[misc]
    """Learned ranker over candidate codes for one code system.

    Parameters
    ----------
    alpha : ridge regularization of the multi-label text classifier.
    n_folds : folds for cross-fitting classifier and neighbour scores.
    n_neighbors : neighbours consulted per note.
    top_lr, top_knn : candidates taken from each learned generator.
    use_knowledge : add the knowledge engine's candidates and features (ICD-10-CM only).
    random_state : seed for folds and trees.
    """

    def __init__(
        self,
        alpha: float = 0.7,
        n_folds: int = 5,
        n_neighbors: int = 15,
        top_lr: int = 100,
        top_knn: int = 50,
        use_knowledge: bool = True,
        max_iter: int = 200,
        learning_rate: float = 0.1,
        max_leaf_nodes: int = 15,
        min_samples_leaf: int = 40,
        char_ngrams: bool = True,
        knowledge_scope: str = "outside",
        random_state: int = 0,
    ) -> None:
        self.alpha = alpha
        self.n_folds = n_folds
        self.n_neighbors = n_neighbors
        self.top_lr = top_lr
        self.top_knn = top_knn
        self.use_knowledge = use_knowledge
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.char_ngrams = char_ngrams
        self.knowledge_scope = knowledge_scope
        self.random_state = random_state

    # -- generators ------------------------------------------------------------------------------
    def _vectorizer(self) -> TfidfVectorizer:
        return TfidfVectorizer(
            ngram_range=(1, 2), min_df=2, max_df=0.9, sublinear_tf=True, max_features=150_000, strip_accents="unicode"
        )

    def _char_vectorizer(self) -> TfidfVectorizer:
        return TfidfVectorizer(analyzer=char_grams, min_df=2, max_df=0.9, sublinear_tf=True, max_features=200_000)

    def _fit_generators(self, K: np.ndarray, Y: np.ndarray) -> KernelRidge:
        """The multi-label text classifier: ridge regression onto every code at once, solved in its
        dual from the notes' linear kernel K = X X^T (one n x n system however many codes there are;
        a per-code logistic regression over ~2,000 codes took minutes for what this does in a second).
        Scores of new notes are (X_new X^T) @ dual_coef_."""
        return KernelRidge(alpha=self.alpha, kernel="precomputed").fit(K, Y)

    def _knn_scores(self, X_train: Any, Y_train: np.ndarray, X: Any, sims: np.ndarray | None = None) -> np.ndarray:
        """Neighbour votes. TF-IDF rows are L2-normalized, so the dot product is the cosine; `sims`
        may be given when the caller already has X @ X_train.T."""
        if sims is None:
            sims = (X @ X_train.T).toarray()
        k = min(self.n_neighbors, Y_train.shape[0])
        idx = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        out = np.zeros((sims.shape[0], Y_train.shape[1]))
        for i in range(sims.shape[0]):
            w = sims[i, idx[i]]
            total = w.sum()
            if total > 0:
                out[i] = (w[:, None] * Y_train[idx[i]]).sum(axis=0) / total
        return out

    # -- features --------------------------------------------------------------------------------
    def _candidates(
        self,
        lr: np.ndarray,
        knn: np.ndarray,
        kv: KnowledgeView | None,
        mined: dict[str, EvidenceRow],
        lr2: np.ndarray,
    ) -> list[str]:
        labels = self.labels_
        order_lr = list(np.argsort(-lr)[: self.top_lr])
        if self.char_ngrams:
            order_lr += list(np.argsort(-lr2)[: self.top_lr // 2])
        order_knn = [j for j in np.argsort(-knn)[: self.top_knn] if knn[j] > 0]
        cands = [labels[j] for j in order_lr] + [labels[j] for j in order_knn]
        cands += [c for c, _ in sorted(mined.items(), key=lambda kv_: (-kv_[1][1], kv_[0]))[:30] if mined[c][1] >= 0.3]
        if kv is not None:
            cands += list(kv.score) + list(kv.raw)
        return list(dict.fromkeys(cands))

    def _features(
        self,
        text_words: set[str],
        lr: np.ndarray,
        knn: np.ndarray,
        kv: KnowledgeView | None,
        cands: list[str],
        mined: dict[str, EvidenceRow],
        lr2: np.ndarray,
        prior: dict[str, int] | None = None,
    ) -> np.ndarray:
        """One row of FEATURES per candidate. `prior` counts each code's training notes; in fitting it
        is the count over the other folds only, so a code seen only in this note's fold is unseen,
        as a code seen in no training note is when ranking."""
        prior = self.prior_ if prior is None else prior
        index = self.label_index_
        lr_rank = np.empty_like(lr)
        lr_rank[np.argsort(-lr)] = np.arange(1, lr.size + 1)
        lr2_rank = np.empty_like(lr2)
        lr2_rank[np.argsort(-lr2)] = np.arange(1, lr2.size + 1)

        knn_rank = np.empty_like(knn)
        knn_rank[np.argsort(-knn)] = np.arange(1, knn.size + 1)
        by_cat: dict[str, list[str]] = defaultdict(list)
        for c in cands:
            by_cat[c[:3]].append(c)
        cat_kn: Counter[str] = Counter()  # knowledge mentions per category: hierarchy agreement
        if kv is not None:
            for code, counts in kv.raw.items():
                cat_kn[code[:3]] += sum(counts.values())
        rows = []
        n = float(len(cands))
        for c in cands:
            j = index.get(c)
            p = float(lr[j]) if j is not None else 0.0
            cat_lr = max((float(lr[index[o]]) for o in by_cat[c[:3]] if o != c and o in index), default=0.0)
            raw = kv.raw.get(c, Counter()) if kv else Counter()
            rows.append(
                [
                    p,
                    float(lr_rank[j]) if j is not None else float(lr.size + 1),
                    float(lr2[j]) if j is not None else 0.0,
                    float(lr2_rank[j]) if j is not None else float(lr.size + 1),
                    p - cat_lr,
                    float(knn[j]) if j is not None else 0.0,
                    float(knn_rank[j]) if j is not None and knn[j] > 0 else 999.0,
                    float(knn[j] * self.n_neighbors) if j is not None else 0.0,
                    kv.score.get(c, 0.0) if kv else 0.0,
                    float(kv.rank.get(c, 999)) if kv else 999.0,
                    1.0 if kv and c in kv.score else 0.0,
                    1.0 if kv and c in kv.mapped else 0.0,
                    1.0 if kv and c in kv.header else 0.0,
                    float(raw.get("present", 0)),
                    float(raw.get("negated", 0)),
                    float(raw.get("uncertain", 0)),
                    float(raw.get("family", 0)),
                    float(raw.get("historical", 0)),
                    float(raw.get("assessment", 0)),
                    float(raw.get("via_parent", 0)),
                    kv.first.get(c, 1.5) if kv else 1.5,
                    float(kv.words.get(c, 0)) if kv else 0.0,
                    *[float(x) for x in mined.get(c, _NO_EVIDENCE)],
                    math.log1p(prior.get(c, 0)),
                    0.0 if prior.get(c, 0) else 1.0,
                    cat_lr,
                    float(cat_kn.get(c[:3], 0)) - float(sum(raw.values())),
                    float(len(by_cat[c[:3]])),
                    self._desc_overlap(c, text_words),
                    float(len(c.replace(".", ""))),
                    n,
                ]
            )
        return np.asarray(rows, dtype=float)

    def _desc_overlap(self, code: str, text_words: set[str]) -> float:
        words = self.desc_words_.get(code)
        if words is None:
            words = _description_words(code, self.system_)
            self.desc_words_[code] = words
        if not words:
            return 0.0
        return len(words & text_words) / len(words)

    def _reranker(self) -> HistGradientBoostingClassifier:
        return HistGradientBoostingClassifier(
            max_iter=self.max_iter,
            learning_rate=self.learning_rate,
            max_leaf_nodes=self.max_leaf_nodes,
            min_samples_leaf=self.min_samples_leaf,
            l2_regularization=1.0,
            random_state=self.random_state,
        )

    def _feature_worker(self) -> CodeRanker:
        """What `_candidates` and `_features` read, without the vectorizers or kernels: the copy of
        the ranker that a candidate task is shipped with."""
        worker = type(self)(**self.get_params())
        worker.system_ = self.system_
        worker.use_knowledge_ = self.use_knowledge_
        worker.labels_ = self.labels_
        worker.label_index_ = self.label_index_
        worker.prior_ = self.prior_
        worker.desc_words_ = dict(self.desc_words_)
        return worker

    # -- fit / predict -----------------------------------------------------------------------------
    def fit(
        self,
        texts: Sequence[str],
        gold: Sequence[Sequence[str]],
        *,
        system: str = "ICD-10-CM",
        knowledge: Sequence[Any] | None = None,
        negatives: Sequence[Sequence[str]] | None = None,
        sample_weight: Sequence[float] | None = None,
        evidence: Sequence[dict[str, list[str]]] | None = None,
        progress: Callable[[str, float], None] | None = None,
    ) -> CodeRanker:
        """Fit on notes and their gold codes. `knowledge` holds the service's analysis per note
        (None to leave the knowledge generator out); `negatives` holds codes coders rejected, which
        weigh double as negatives; `sample_weight` weighs each note (e.g. per training source);
        `evidence` holds, per note, the sentences a coder cited for each code (terms are mined from
        them)."""
        report = progress or (lambda stage, frac: None)
        self._train_t = None  # caches of the previous fit
        self._forests: dict[str, FlatForest] = {}
        if self.knowledge_scope not in ("outside", "all"):
            raise ValueError(f"knowledge_scope must be 'outside' or 'all'; got {self.knowledge_scope!r}")
        self.system_ = system
        self.use_knowledge_ = bool(self.use_knowledge and knowledge is not None and system == "ICD-10-CM")
        mlb = MultiLabelBinarizer()
        Y = mlb.fit_transform([list(dict.fromkeys(g)) for g in gold]).astype(np.float64)
        self.labels_ = list(mlb.classes_)
        self.label_index_ = {c: i for i, c in enumerate(self.labels_)}
        self.prior_ = dict(Counter(c for g in gold for c in set(g)))
        self.desc_words_: dict[str, frozenset[str]] = {}
        self.vectorizer_ = self._vectorizer()
        X = self.vectorizer_.fit_transform(texts)
        self.char_vectorizer_: TfidfVectorizer | None = self._char_vectorizer() if self.char_ngrams else None
        X2 = self.char_vectorizer_.fit_transform(texts) if self.char_vectorizer_ is not None else None
        n = X.shape[0]
        report("classifier (cross-fitted)", 0.05)
        lr_oof = np.zeros(Y.shape)
        knn_oof = np.zeros(Y.shape)
        lr2_oof = np.zeros(Y.shape)
        evidence = list(evidence) if evidence is not None else [{} for _ in range(n)]
        mined_oof: list[dict[str, EvidenceRow]] = [{} for _ in range(n)]
        prior_oof: list[dict[str, int]] = [{} for _ in range(n)]
        folds = KFold(n_splits=min(self.n_folds, n), shuffle=True, random_state=self.random_state)
        # Both kernels once (n x n); every fold's classifier and neighbours read slices of them.
        K_word = (X @ X.T).toarray()
        K_char = (X2 @ X2.T).toarray() if X2 is not None else None
        grams = [note_grams(t, e) for t, e in zip(texts, evidence, strict=True)]
        # The loops below are tasks (`_map_tasks`): in turn here by default, or joblib tasks inside
        # `parallel_fit` (chartcoder train --engine spark). Each task gets only its slices, and the
        # results are placed by fold or note index, so the numbers do not depend on where they ran.
        jobs = _FIT_JOBS.get()
        splits = list(folds.split(np.arange(n)))
        fold_tasks = (
            (
                self.get_params(),
                K_word[np.ix_(tr, tr)],
                K_word[np.ix_(te, tr)],
                K_char[np.ix_(tr, tr)] if K_char is not None else None,
                K_char[np.ix_(te, tr)] if K_char is not None else None,
                csr_matrix(Y[tr]) if jobs is not None else Y[tr],
                [texts[i] for i in tr],
                [evidence[i] for i in tr],
                [grams[i] for i in tr],
                [texts[i] for i in te],
                [gold[i] for i in tr],
            )
            for tr, te in splits
        )
        for f, ((_, te), fold) in enumerate(zip(splits, _map_tasks(_cross_fit_fold, fold_tasks), strict=True)):
            lr_oof[te], knn_oof[te], lr2_te, mined_te, fold_prior = fold
            if lr2_te is not None:
                lr2_oof[te] = lr2_te
            for i, mined in zip(te, mined_te, strict=True):
                mined_oof[i] = mined
                prior_oof[i] = fold_prior
            report("classifier (cross-fitted)", 0.05 + 0.45 * (f + 1) / len(splits))
        # Candidates and their features, note by note (in chunks of notes when run as tasks).
        chunks = _note_chunks(n, jobs)
        worker = self if jobs is None else self._feature_worker()
        note_tasks = (
            (
                worker,
                lo,
                list(texts[lo:hi]),
                lr_oof[lo:hi],
                knn_oof[lo:hi],
                lr2_oof[lo:hi],
                list(knowledge[lo:hi]) if self.use_knowledge_ and knowledge is not None else None,
                mined_oof[lo:hi],
                prior_oof[lo:hi],
                list(gold[lo:hi]),
                list(negatives[lo:hi]) if negatives else None,
                [float(w) for w in sample_weight[lo:hi]] if sample_weight is not None else None,
            )
            for lo, hi in chunks
        )
        parts = []
        for c, part in enumerate(_map_tasks(_candidate_rows, note_tasks)):
            parts.append(part[:4])
            for code, words in part[4].items():  # the description words the task looked up
                self.desc_words_.setdefault(code, words)
            report("candidates", 0.5 + 0.05 * (c + 1) / len(chunks))
        F = np.vstack([p[0] for p in parts])
        y = np.asarray([v for p in parts for v in p[1]])
        wts = np.asarray([v for p in parts for v in p[2]])
        report("re-ranker", 0.55)
        # Out-of-fold re-ranker scores (folds by note) are what calibration and the threshold see;
        # the final re-ranker on every row is fitted beside the three folds.
        groups_arr = np.asarray([v for p in parts for v in p[3]])
        raw_oof, final = _oof_and_final(self._reranker, F, y, wts, groups_arr)
        self.calibrator_ = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(raw_oof, y)
        calibrated_oof = self.calibrator_.predict(raw_oof)
        self.threshold_ = _best_threshold(calibrated_oof, y, groups_arr)
        self.oof_map_ = _grouped_map(calibrated_oof, y, groups_arr, [len(set(g)) for g in gold])
        report("re-ranker", 0.8)
        self.reranker_ = final
        self._fit_knowledge_reranker(F, y, wts, groups_arr)
        report("final classifier", 0.85)
        self.generators_ = self._fit_generators(K_word, Y)
        self.char_generators_ = self._fit_generators(K_char, Y) if K_char is not None else None
        self.X2_train_t_ = X2.T.tocsr() if X2 is not None else None
        self.evidence_index_ = EvidenceIndex().fit(list(texts), evidence, grams=grams)
        self.X_train_ = X
        self.Y_train_ = Y
        self.n_train_ = n
        report("done", 1.0)
        return self

    def _fit_knowledge_reranker(self, F: np.ndarray, y: np.ndarray, wts: np.ndarray, groups: np.ndarray) -> None:
        """The terminology re-ranker: learns, from knowledge features alone, how far to trust the
        engine's mentions, so that a code no training chart held is scored on what the note says
        about it rather than written off as unseen."""
        self.kn_columns_ = [FEATURES.index(f) for f in KNOWLEDGE_FEATURES]
        self.kn_reranker_: HistGradientBoostingClassifier | None = None
        if not self.use_knowledge_:
            return
        mention_cols = [FEATURES.index(f) for f in KNOWLEDGE_FEATURES[2:12]]
        self.kn_mention_columns_ = mention_cols
        mask = F[:, mention_cols].sum(axis=1) > 0
        if mask.sum() < 50 or len(set(y[mask])) < 2 or len(np.unique(groups[mask])) < 3:
            return
        Fk, yk, wk, gk = F[mask][:, self.kn_columns_], y[mask], wts[mask], groups[mask]
        raw, final = _oof_and_final(self._knowledge_model, Fk, yk, wk, gk)
        self.kn_calibrator_ = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(raw, yk)
        self.kn_reranker_ = final

    def _knowledge_model(self) -> HistGradientBoostingClassifier:
        # Monotone where the direction is a fact about coding, not about one corpus: a higher engine
        # score, a present or assessment mention, a longer matched term or more description words
        # never make a code less likely; a later rank or a later first mention never more likely.
        # This is what lets a model fitted on synthetic notes carry over to real charts.
        return HistGradientBoostingClassifier(
            max_iter=100,
            learning_rate=0.1,
            max_leaf_nodes=15,
            min_samples_leaf=40,
            monotonic_cst=[_MONOTONE.get(f, 0) for f in KNOWLEDGE_FEATURES],
            random_state=self.random_state,
        )

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_train_t", None)  # caches derived from fitted state, rebuilt on first use
        state.pop("_forests", None)
        state.pop("_fast_tfidf", None)
        return state

    def _tfidf(self, name: str) -> FastTfidf:
        cache: dict[str, FastTfidf] = self.__dict__.setdefault("_fast_tfidf", {})
        vectorizer = getattr(self, name)
        if name not in cache or cache[name].vectorizer is not vectorizer:
            cache[name] = FastTfidf(vectorizer)
        return cache[name]

    def _forest(self, name: str) -> FlatForest:
        forests: dict[str, FlatForest] = self.__dict__.setdefault("_forests", {})
        model = getattr(self, name)
        if name not in forests or forests[name].model is not model:
            forests[name] = FlatForest(model)
        return forests[name]

    def rank(self, texts: Sequence[str], knowledge: Sequence[Any] | None = None) -> list[list[tuple[str, float]]]:
        """For each note, (code, calibrated score) best first."""
        X = self._tfidf("vectorizer_").transform(texts)
        # One kernel serves both generators: the dual ridge predicts K @ dual_coef_, and K is the
        # neighbours' cosine similarity (computing it twice, with two sparse transposes, cost ~5 ms).
        if getattr(self, "_train_t", None) is None:
            self._train_t = self.X_train_.T.tocsr()
        K = (X @ self._train_t).toarray()
        with one_blas_thread():
            lr = np.asarray(K @ self.generators_.dual_coef_).reshape(X.shape[0], len(self.labels_))
        knn = self._knn_scores(self.X_train_, self.Y_train_, X, sims=K)
        if self.char_vectorizer_ is not None and self.char_generators_ is not None:
            K2 = (self._tfidf("char_vectorizer_").transform(texts) @ self.X2_train_t_).toarray()
            with one_blas_thread():
                lr2 = np.asarray(K2 @ self.char_generators_.dual_coef_).reshape(X.shape[0], len(self.labels_))
        else:
            lr2 = np.zeros_like(lr)
        label_set = set(self.labels_)
        out: list[list[tuple[str, float]]] = []
        for i, text in enumerate(texts):
            kv = (
                knowledge_view(knowledge[i], label_set, self.system_)
                if self.use_knowledge_ and knowledge is not None
                else None
            )
            mined = self.evidence_index_.view(text)
            cands = self._candidates(lr[i], knn[i], kv, mined, lr2[i])
            if not cands:
                out.append([])
                continue
            feats = self._features(set(_WORD.findall(text.lower())), lr[i], knn[i], kv, cands, mined, lr2[i])
            raw = self._forest("reranker_").predict_proba1(feats)
            probs = calibrate(self.calibrator_, raw)
            if self.kn_reranker_ is not None:
                if self.knowledge_scope == "all":  # every code the knowledge engine proposed
                    outside = (feats[:, self.kn_mention_columns_].sum(axis=1) > 0) | np.asarray(
                        [c not in self.label_index_ for c in cands]
                    )
                else:  # only codes outside the label space
                    outside = np.asarray([c not in self.label_index_ for c in cands])
                if outside.any():
                    kn = self._forest("kn_reranker_").predict_proba1(feats[outside][:, self.kn_columns_])
                    probs[outside] = calibrate(self.kn_calibrator_, kn)
                    raw[outside] = kn
            # Calibration is a step function: ties in the calibrated score are broken by the
            # re-ranker's own score, then by candidate order (strongest classifier codes first).
            order = np.lexsort((np.arange(len(cands)), -raw, -probs))
            out.append([(cands[j], float(probs[j])) for j in order])
        return out


class _OneBlasThread:
    """Within the block, BLAS runs on one thread: the classifiers' products (one note's kernel row
    times the dual coefficients, 2,000 x 965) as the cross-fitting folds computed them in training
    (`_cross_fit_fold` pins one thread too). One note's product is too small to gain from a second
    thread: waking it cost 1.9 ms where one thread takes 0.75 ms, and 6 ms on a loaded machine where
    the second thread waits for a core. Re-entrant and shared by threads: the first to enter sets one
    thread, the last to leave restores the count, so concurrent requests all rank on one thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._depth = 0
        self._libs: list[Any] | None = None
        self._saved: list[int] = []

    def __enter__(self) -> None:
        with self._lock:
            if self._depth == 0:
                if self._libs is None:
                    self._libs = list(ThreadpoolController().select(user_api="blas").lib_controllers)
                self._saved = [lib.get_num_threads() for lib in self._libs]
                for lib in self._libs:
                    lib.set_num_threads(1)
            self._depth += 1

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._depth -= 1
            if self._depth == 0:
                for lib, n in zip(self._libs or [], self._saved, strict=True):
                    lib.set_num_threads(n)


_ONE_BLAS_THREAD = _OneBlasThread()


def one_blas_thread() -> _OneBlasThread:
    """The process-wide one-BLAS-thread block (`_OneBlasThread`)."""
    return _ONE_BLAS_THREAD


# -- the loops of `fit` as tasks ----------------------------------------------------------------------
# `CodeRanker.fit` runs its cross-fitting folds, its candidate building (in chunks of notes) and its
# tree fits through `_map_tasks`. By default they run one after the other in this process, exactly as
# a plain loop. Inside `parallel_fit(n_jobs)` they are joblib tasks under whatever joblib backend is
# active: `chartcoder train --engine spark` makes that joblibspark's, so every task is a Spark task.
# A task gets its inputs as arguments (kernel slices, the notes of its chunk) and returns plain
# arrays, dicts and fitted models; the caller places them by fold or note index, so a parallel fit
# gives the numbers a sequential one does.
_FIT_JOBS: ContextVar[int | None] = ContextVar("chartcoder_fit_jobs", default=None)
_FIT_BACKEND: ContextVar[str | None] = ContextVar("chartcoder_fit_backend", default=None)


@contextmanager
def parallel_fit(n_jobs: int | None = -1, backend: str | None = None) -> Iterator[None]:
    """Within the block, `CodeRanker.fit` hands its independent loops to `joblib.Parallel(n_jobs)`,
    on `backend` (a registered joblib backend name such as "spark" or "loky"; None: whatever
    `joblib.parallel_config` has made active). `n_jobs=None` keeps the sequential loops."""
    jobs, chosen = _FIT_JOBS.set(n_jobs), _FIT_BACKEND.set(backend)
    try:
        yield
    finally:
        _FIT_BACKEND.reset(chosen)
        _FIT_JOBS.reset(jobs)


def _map_tasks(func: Callable[..., Any], tasks: Iterable[tuple[Any, ...]]) -> Iterator[Any]:
    """`func(*task)` for every task, in the tasks' order, as they finish."""
    jobs = _FIT_JOBS.get()
    if jobs is None:
        return (func(*task) for task in tasks)
    from joblib import Parallel, delayed

    # One task per batch: a task is already a sizeable piece of work, and joblib's automatic
    # batching would otherwise pack several into one (Spark) task at first. (joblibspark cannot
    # return results as they come, so they come all at once, in order.)
    runner = Parallel(n_jobs=jobs, backend=_FIT_BACKEND.get(), batch_size=1)
    return iter(runner(delayed(func)(*task) for task in tasks))


def _note_chunks(n: int, jobs: int | None) -> list[tuple[int, int]]:
    """Contiguous (start, stop) ranges of notes: all of them at once when fitting runs sequentially,
    else about four chunks per worker so that uneven chunks even out, of 100 to 500 notes (a chunk
    of fewer notes costs more to schedule than to compute)."""
    if jobs is None or n == 0:
        return [(0, n)]
    workers = jobs if jobs > 0 else 8
    size = max(100, min(500, math.ceil(n / (4 * workers))))
    return [(lo, min(lo + size, n)) for lo in range(0, n, size)]


def _oof_and_final(
    make_model: Callable[[], HistGradientBoostingClassifier],
    F: np.ndarray,
    y: np.ndarray,
    weights: np.ndarray,
    groups: np.ndarray,
) -> tuple[np.ndarray, HistGradientBoostingClassifier]:
    """Out-of-fold scores of a tree model (three folds by note) and the model fitted on every row,
    the four fits as tasks (`_map_tasks`): what calibration sees, and what ranks."""
    raw = np.zeros(len(y))
    splits = list(GroupKFold(n_splits=3).split(F, y, groups))
    tasks = [*((tr, te) for tr, te in splits), (None, None)]
    *oof_parts, final = list(
        _map_tasks(
            _fit_trees,
            (
                (make_model(), F[tr], y[tr], weights[tr], F[te])
                if tr is not None
                else (make_model(), F, y, weights, None)
                for tr, te in tasks
            ),
        )
    )
    for (_, te), part in zip(splits, oof_parts, strict=True):
        raw[te] = part
    return raw, final


def _cross_fit_fold(
    params: dict[str, Any],
    K_tr: np.ndarray,
    K_te: np.ndarray,
    Kc_tr: np.ndarray | None,
    Kc_te: np.ndarray | None,
    Y_tr: Any,
    texts_tr: list[str],
    evidence_tr: list[dict[str, list[str]]],
    grams_tr: list[NoteGrams],
    texts_te: list[str],
    gold_tr: list[Sequence[str]],
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, list[dict[str, EvidenceRow]], dict[str, int]]:
    """One cross-fitting fold: the classifiers on word and character kernels and the neighbours,
    fitted on the fold's training notes (rows and columns `tr` of the kernels) and scoring its held-out
    notes (rows `te`); the terms mined from the training notes' evidence looked up in the held-out
    notes; and the codes' counts over the training notes. `Y_tr` may come as a sparse matrix."""
    ranker = CodeRanker(**params)
    Y = Y_tr.toarray() if hasattr(Y_tr, "toarray") else Y_tr
    # One BLAS thread for the solves, wherever the fold runs: a solve's last bits depend on how many
    # threads sum it (Spark's Python workers get OMP_NUM_THREADS=1, a local process all cores), and
    # those bits can move a tree split downstream. Pinned, local and Spark training make the same pack.
    with threadpool_limits(limits=1, user_api="blas"):
        lr = ranker._fit_generators(K_tr, Y).predict(K_te)
        knn = ranker._knn_scores(None, Y, None, sims=K_te)
        lr2 = ranker._fit_generators(Kc_tr, Y).predict(Kc_te) if Kc_tr is not None and Kc_te is not None else None
    index = EvidenceIndex().fit(texts_tr, evidence_tr, grams=grams_tr)
    mined = [index.view(t) for t in texts_te]
    prior = dict(Counter(c for g in gold_tr for c in set(g)))
    return lr, knn, lr2, mined, prior


def _candidate_rows(
    ranker: CodeRanker,
    start: int,
    texts: list[str],
    lr: np.ndarray,
    knn: np.ndarray,
    lr2: np.ndarray,
    knowledge: list[Any] | None,
    mined: list[dict[str, EvidenceRow]],
    priors: list[dict[str, int]],
    gold: list[Sequence[str]],
    negatives: list[Sequence[str]] | None,
    sample_weight: list[float] | None,
) -> tuple[np.ndarray, list[int], list[float], list[int], dict[str, frozenset[str]]]:
    """The re-ranker's training rows for consecutive notes from `start` on: their candidates (with the
    codes coders rejected), one row of FEATURES per candidate, its label, weight and note index; and
    the ranker's description-word cache, which the caller merges into its own."""
    label_set = set(ranker.labels_)
    rows, labels, weights, groups = [], [], [], []
    for k, text in enumerate(texts):
        view = knowledge_view(knowledge[k], label_set, ranker.system_) if knowledge is not None else None
        words = set(_WORD.findall(text.lower()))
        cands = ranker._candidates(lr[k], knn[k], view, mined[k], lr2[k])
        gold_k = set(gold[k])
        neg_k = set(negatives[k]) if negatives else set()
        for c in neg_k - set(cands):
            cands.append(c)
        rows.append(ranker._features(words, lr[k], knn[k], view, cands, mined[k], lr2[k], priors[k]))
        labels += [1 if c in gold_k else 0 for c in cands]
        w = sample_weight[k] if sample_weight is not None else 1.0
        weights += [w * (2.0 if c in neg_k else 1.0) for c in cands]
        groups += [start + k] * len(cands)
    block = np.vstack(rows) if rows else np.zeros((0, len(FEATURES)))
    return block, labels, weights, groups, ranker.desc_words_


def _fit_trees(
    model: HistGradientBoostingClassifier,
    F: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    F_test: np.ndarray | None,
) -> Any:
    """Fit gradient-boosted trees; the P(class 1) of `F_test`'s rows when given, else the model."""
    model.fit(F, y, sample_weight=w)
    return model if F_test is None else model.predict_proba(F_test)[:, 1]


_STOP = frozenset(
    [
        "the",
        "and",
        "with",
        "without",
        "for",
        "from",
        "that",
        "this",
        "was",
        "were",
        "are",
        "has",
        "have",
        "had",
        "not",
        "but",
        "its",
        "his",
        "her",
        "their",
        "into",
        "onto",
        "then",
        "than",
        "after",
        "before",
        "during",
        "while",
        "which",
        "who",
        "whom",
        "what",
        "when",
        "where",
        "there",
        "also",
        "been",
        "being",
        "both",
        "each",
        "some",
        "such",
        "very",
        "more",
        "most",
        "other",
        "same",
        "only",
        "over",
        "under",
        "about",
        "above",
        "below",
        "between",
        "patient",
        "case",
        "year",
        "years",
        "old",
        "presented",
        "presents",
        "showed",
        "shown",
        "revealed",
        "performed",
        "normal",
    ]
)


def _ngrams(text: str, n_max: int = 3) -> set[tuple[str, ...]]:
    words = [w for w in _WORD.findall(text.lower()) if not w.isdigit()]
    out = set()
    for n in range(1, n_max + 1):
        for i in range(len(words) - n + 1):
            gram = tuple(words[i : i + n])
            if any(len(w) >= 4 and w not in _STOP for w in gram):
                out.add(gram)
    return out


NoteGrams = tuple[Counter[tuple[str, ...]], dict[str, set[tuple[str, ...]]]]


def note_grams(text: str, evidence: dict[str, list[str]]) -> NoteGrams:
    """A note's n-grams counted once per sentence, and the n-grams of the sentences cited per code:
    what `mine_terms` counts, computed once per note however many folds reuse it."""
    counts: Counter[tuple[str, ...]] = Counter()
    for sentence in re.split(r"[\n.;]+", text):
        counts.update(_ngrams(sentence))
    cited: dict[str, set[tuple[str, ...]]] = {}
    for code, sentences in evidence.items():
        grams: set[tuple[str, ...]] = set()
        for sentence in sentences:
            grams |= _ngrams(sentence)
        cited[code] = grams
    return counts, cited


def mine_terms(
    texts: Sequence[str],
    evidence: Sequence[dict[str, list[str]]],
    min_support: int = 2,
    min_precision: float = 0.15,
    per_term: int = 5,
    grams: Sequence[NoteGrams] | None = None,
) -> dict[tuple[str, ...], list[tuple[str, float, int]]]:
    """Word n-grams that a code's cited sentences share: term -> [(code, precision, support)].
    Precision is the share of all training sentences with the term that were cited for the code.
    `grams` may hold `note_grams` of each note, computed beforehand."""
    if grams is None:
        grams = [note_grams(t, e) for t, e in zip(texts, evidence, strict=True)]
    term_count: Counter[tuple[str, ...]] = Counter()
    pair_count: Counter[tuple[tuple[str, ...], str]] = Counter()
    for counts, cited in grams:
        term_count.update(counts)
        for code, code_grams in cited.items():
            pair_count.update((g, code) for g in code_grams)
    table: dict[tuple[str, ...], list[tuple[str, float, int]]] = defaultdict(list)
    for (gram, code), support in pair_count.items():
        if support < min_support:
            continue
        precision = support / max(term_count[gram], support)
        if precision >= min_precision:
            table[gram].append((code, precision, support))
    return {g: sorted(v, key=lambda x: (-x[1], x[0]))[:per_term] for g, v in table.items()}


def mined_view(
    text: str, table: dict[tuple[str, ...], list[tuple[str, float, int]]]
) -> dict[str, tuple[int, float, int]]:
    """code -> (distinct mined terms present, best precision, best support) for one note."""
    out: dict[str, list[float]] = {}
    # Every n-gram of the note looked up directly (the table holds only n-grams that passed
    # `_ngrams`' filter), without building the note's filtered n-gram set first.
    words = [w for w in _WORD.findall(text.lower()) if not w.isdigit()]
    found = set()
    for n in (1, 2, 3):
        for i in range(len(words) - n + 1):
            gram = tuple(words[i : i + n])
            if gram in table:
                found.add(gram)
    for gram in sorted(found):  # a fixed order: ties on precision keep the same support everywhere
        for code, precision, support in table[gram]:
            row = out.setdefault(code, [0, 0.0, 0])
            row[0] += 1
            if precision > row[1]:
                row[1], row[2] = precision, support
    return {c: (int(v[0]), float(v[1]), int(v[2])) for c, v in out.items()}


EvidenceRow = tuple[int, float, int]
_NO_EVIDENCE: EvidenceRow = (0, 0.0, 0)


class EvidenceIndex:
    """What coders cited: the word n-grams that a code's cited sentences share (`mine_terms`), looked
    up in a note. (A sentence-level nearest-neighbour vote over the cited sentences was tried as
    well: it added nothing to CodiEsp dev MAP and cost ~5 ms per note, so it was taken out.)"""

    def fit(
        self,
        texts: Sequence[str],
        evidence: Sequence[dict[str, list[str]]],
        grams: Sequence[NoteGrams] | None = None,
    ) -> EvidenceIndex:
        self.terms_ = mine_terms(texts, evidence, grams=grams)
        return self

    def view(self, text: str) -> dict[str, EvidenceRow]:
        """code -> (mined terms present, best term precision, its support)."""
        return mined_view(text, self.terms_)


@lru_cache(maxsize=65_536)
def _word_char_grams(word: str) -> tuple[str, ...]:
    """3- to 5-character pieces of one word padded with spaces (" diab", "abet", "tes ")."""
    padded = f" {word} "
    return tuple(padded[i : i + n] for n in (3, 4, 5) for i in range(len(padded) - n + 1)) or (padded,)


def char_grams(text: str) -> list[str]:
    """The character n-grams of a note, word by word (inside word boundaries, like scikit-learn's
    'char_wb'), from a per-word cache: notes repeat their words, and this runs on every suggestion."""
    out: list[str] = []
    for word in text.lower().split():
        out.extend(_word_char_grams(word))
    return out


class FlatForest:
    """A fitted binary HistGradientBoostingClassifier evaluated for all rows and all trees at once.

    scikit-learn predicts tree by tree, and for the ~100 candidates of one note its per-tree
    overhead was most of the ranking time (5 ms for 200 trees). Here every tree's leaves are
    numbered left to right, and each split node carries a bit mask of the leaves that stay reachable
    when a row goes right (all but those of its left subtree). A row's leaf in a tree is then the
    lowest bit left after AND-ing the masks of the splits it fails, which is a handful of array
    operations with no loop over depth (the bit-vector scheme of Lucchese et al., "QuickScorer",
    SIGIR 2015). Same numbers as `predict_proba`: `tests/training/test_ranker_parts.py` checks it.
    Falls back to scikit-learn for models it does not understand (categorical splits, more than
    64 leaves, more than two classes)."""

    def __init__(self, model: HistGradientBoostingClassifier) -> None:
        self.model = model
        self.ok = False
        try:
            trees = [p[0].nodes for p in model._predictors]
            if len(model.classes_) != 2 or any(t["is_categorical"].any() for t in trees):
                return
            shapes = [_tree_masks(t) for t in trees]
        except (AttributeError, KeyError, ValueError, IndexError, TypeError):
            return
        n_leaves = max(len(leaves) for _, _, leaves in shapes)
        if n_leaves > 64:
            return
        self.dtype = np.uint16 if n_leaves <= 16 else np.uint32 if n_leaves <= 32 else np.uint64
        full = np.iinfo(self.dtype).max
        n_split = max(1, max(len(splits) for splits, _, _ in shapes))
        n_trees = len(trees)
        # Padding splits never fire (threshold +inf, mask all ones).
        feature = np.zeros((n_trees, n_split), np.intp)
        threshold = np.full((n_trees, n_split), np.inf)
        missing_right = np.zeros((n_trees, n_split), bool)
        mask = np.full((n_trees, n_split), full, self.dtype)
        self.value = np.zeros((n_trees, n_leaves))
        for t, (nodes, (splits, masks, leaves)) in enumerate(zip(trees, shapes, strict=True)):
            k = len(splits)
            feature[t, :k] = nodes["feature_idx"][splits]
            threshold[t, :k] = nodes["num_threshold"][splits]
            missing_right[t, :k] = ~nodes["missing_go_to_left"][splits].astype(bool)
            mask[t, :k] = [full ^ m for m in masks]
            self.value[t, : len(leaves)] = nodes["value"][leaves]
        self.feature, self.threshold = feature.ravel(), threshold.ravel()[:, None]
        self.missing_right, self.mask = missing_right.ravel()[:, None], mask.ravel()[:, None]
        self.full = self.dtype(full)
        self.shape = (n_trees, n_split)
        self.trees = np.arange(n_trees)[:, None]
        self.baseline = float(np.ravel(model._baseline_prediction)[0])
        self.ok = True

    def predict_proba1(self, X: np.ndarray) -> np.ndarray:
        """P(class 1) per row."""
        if not self.ok or X.shape[0] == 0:
            return np.asarray(self.model.predict_proba(X)[:, 1])
        x = np.ascontiguousarray(X.T)[self.feature]  # (trees * splits, rows)
        right = x > self.threshold  # NaN compares False: it goes left...
        if np.isnan(x).any():  # ...unless the tree sent missing values right
            right |= np.isnan(x) & self.missing_right
        kept = np.where(right, self.mask, self.full).reshape(*self.shape, X.shape[0])
        alive = np.bitwise_and.reduce(kept, axis=1)  # (trees, rows)
        lowest = alive & (~alive + self.dtype(1))
        leaf = np.frexp(lowest.astype(np.float64))[1] - 1
        raw = self.value[self.trees, leaf].sum(axis=0) + self.baseline
        return 1.0 / (1.0 + np.exp(-raw))


def calibrate(calibrator: IsotonicRegression, raw: np.ndarray) -> np.ndarray:
    """`calibrator.predict(raw)` for a fitted IsotonicRegression with out_of_bounds="clip", without
    its input validation (a third of a millisecond per call, as long as the interpolation itself)."""
    if calibrator.out_of_bounds != "clip" or calibrator.X_thresholds_.size < 2:
        return np.asarray(calibrator.predict(raw))
    clipped = np.clip(np.asarray(raw, dtype=np.float64), calibrator.X_min_, calibrator.X_max_)
    return np.interp(clipped, calibrator.X_thresholds_, calibrator.y_thresholds_)


class FastTfidf:
    """`TfidfVectorizer.transform` for a fitted vectorizer, without its per-call validation and
    sparse-matrix round trips: the vectorizer's own analyzer, vocabulary and idf, counted in Python
    and built as one CSR matrix. Same matrix as the vectorizer's (checked in the tests); anything
    other than plain l2/sublinear/idf settings goes to the vectorizer itself."""

    def __init__(self, vectorizer: TfidfVectorizer) -> None:
        self.vectorizer = vectorizer
        self.ok = vectorizer.norm == "l2" and vectorizer.use_idf and not vectorizer.binary
        self.analyze = vectorizer.build_analyzer()
        self.vocabulary = vectorizer.vocabulary_
        self.idf = np.asarray(vectorizer.idf_, dtype=np.float64)
        self.sublinear = vectorizer.sublinear_tf
        # Character n-grams never cross a word, so a note's counts are the sum of its words' counts:
        # each distinct word is looked up once (and cached), not each of its dozens of pieces.
        self.by_word = vectorizer.analyzer is char_grams
        self._word_columns: dict[str, np.ndarray] = {}

    def _columns(self, word: str) -> np.ndarray:
        cols = self._word_columns.get(word)
        if cols is None:
            vocabulary = self.vocabulary
            cols = np.asarray(
                [j for j in (vocabulary.get(g) for g in _word_char_grams(word)) if j is not None], dtype=np.int64
            )
            if len(self._word_columns) > 200_000:  # bounded: a stream of novel words cannot grow it forever
                self._word_columns.clear()
            self._word_columns[word] = cols
        return cols

    def _counts(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """Sorted column indices and their counts for one text."""
        if self.by_word:
            words = Counter(text.lower().split())
            cols = [self._columns(w) for w in words]
            if not cols:
                return np.zeros(0, np.int64), np.zeros(0)
            times = np.repeat(np.fromiter(words.values(), np.float64, len(words)), [c.size for c in cols])
            columns, where = np.unique(np.concatenate(cols), return_inverse=True)
            return columns, np.bincount(where, weights=times, minlength=columns.size)
        seen: Counter[int] = Counter()
        vocabulary = self.vocabulary
        for gram in self.analyze(text):
            j = vocabulary.get(gram)
            if j is not None:
                seen[j] += 1
        columns = np.asarray(sorted(seen), dtype=np.int64)
        return columns, np.asarray([seen[j] for j in columns.tolist()], dtype=np.float64)

    def transform(self, texts: Sequence[str]) -> Any:
        if not self.ok:
            return self.vectorizer.transform(texts)
        indptr = [0]
        indices: list[np.ndarray] = []
        counts: list[np.ndarray] = []
        for text in texts:
            columns, n = self._counts(text)
            indices.append(columns)
            counts.append(n)
            indptr.append(indptr[-1] + columns.size)
        col = np.concatenate(indices).astype(np.int32) if indices else np.zeros(0, np.int32)
        data = np.concatenate(counts).astype(np.float64) if counts else np.zeros(0)
        if self.sublinear:
            data = np.log(data) + 1.0
        data *= self.idf[col]
        bounds = np.asarray(indptr)
        for i in range(len(texts)):  # l2 per row
            row = data[bounds[i] : bounds[i + 1]]
            norm = math.sqrt(float(row @ row))
            if norm > 0:
                row /= norm
        return csr_matrix((data, col, bounds), shape=(len(texts), self.idf.size))


def _tree_masks(nodes: np.ndarray) -> tuple[list[int], list[int], list[int]]:
    """For one tree: its split nodes, for each the bits of the leaves in its left subtree, and its
    leaves in left-to-right order."""
    splits: list[int] = []
    masks: list[int] = []
    leaves: list[int] = []

    def walk(i: int) -> tuple[int, int]:  # the span of leaf numbers under node i
        if nodes["is_leaf"][i]:
            leaves.append(i)
            return len(leaves) - 1, len(leaves)
        lo, mid = walk(int(nodes["left"][i]))
        _, hi = walk(int(nodes["right"][i]))
        splits.append(i)
        masks.append(((1 << (mid - lo)) - 1) << lo)
        return lo, hi

    walk(0)
    return splits, masks, leaves


def _grouped_map(scores: np.ndarray, y: np.ndarray, groups: np.ndarray, n_gold: Sequence[int]) -> float:
    """MAP of out-of-fold rankings: per note, candidates by score, over all of the note's gold codes
    (those no generator proposed count as missed). Rows of a note are contiguous."""
    aps = []
    notes, starts = np.unique(groups, return_index=True)
    bounds = dict(
        zip(notes.tolist(), zip(starts.tolist(), [*starts[1:].tolist(), len(groups)], strict=True), strict=True)
    )
    for g, total in enumerate(n_gold):
        if total == 0:
            continue
        lo, hi = bounds.get(g, (0, 0))
        hits = y[lo:hi][np.argsort(-scores[lo:hi], kind="stable")]
        ranks = np.flatnonzero(hits) + 1
        aps.append(float(np.sum(np.arange(1, ranks.size + 1) / ranks)) / total if ranks.size else 0.0)
    return float(np.mean(aps)) if aps else 0.0


def _best_threshold(scores: np.ndarray, y: np.ndarray, groups: np.ndarray) -> float:
    """The score threshold that maximizes micro-F1 of the predicted code sets."""
    order = np.argsort(-scores)
    tp = np.cumsum(y[order])
    fp = np.cumsum(1 - y[order])
    total_pos = y.sum()
    f1 = 2 * tp / (tp + fp + total_pos)
    best = int(np.argmax(f1))
    return float(scores[order][best])


def _description_words(code: str, system: str) -> frozenset[str]:
    if system != "ICD-10-CM":
        return frozenset()
    from chartcoder.codes.icd10cm import icd10cm

    icd = icd10cm()
    if not icd.is_valid(code):
        return frozenset()
    stop = {"of", "the", "and", "or", "with", "without", "in", "to", "other", "unspecified", "specified", "due"}
    return frozenset(w for w in _WORD.findall(icd.description(code).lower()) if w not in stop and len(w) > 2)
