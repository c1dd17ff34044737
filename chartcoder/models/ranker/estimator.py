"""`CodeRanker`, the estimator: candidates from the three generators, one row of FEATURES per
candidate, the re-rankers fitted on out-of-fold rows, calibration and the decision threshold.

Follows the scikit-learn contract: `__init__` stores hyperparameters, `fit` validates them
(`PARAMETER_CONSTRAINTS`) and returns self, learned state ends in `_`.

`CodeRanker` is pickled inside every pack: packs made before the ranker became a package name it
`chartcoder.models.ranker.CodeRanker` (the package re-exports it), later ones by this module. Its
pickled state is its `__dict__` as `fit` leaves it: a new fitted attribute would be missing from every
pack already built, so `rank` must not need one.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from scipy.sparse import csr_matrix
from sklearn.base import BaseEstimator
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.isotonic import IsotonicRegression
from sklearn.model_selection import KFold
from sklearn.preprocessing import MultiLabelBinarizer

from chartcoder.models.ranker.blas import one_blas_thread
from chartcoder.models.ranker.calibration import best_threshold, calibrate, grouped_map
from chartcoder.models.ranker.engine_view import KnowledgeView, description_words, knowledge_view
from chartcoder.models.ranker.evidence import NO_EVIDENCE, EvidenceIndex, EvidenceRow, NoteGrams, note_grams
from chartcoder.models.ranker.features import FEATURES, KNOWLEDGE_FEATURES, MONOTONE, WORD
from chartcoder.models.ranker.generators import fit_dual_ridge, knn_scores
from chartcoder.models.ranker.parallel import FIT_JOBS, map_tasks, note_chunks
from chartcoder.models.ranker.params import Constraint, Flag, Interval, NoneValue, Options, validate_params
from chartcoder.models.ranker.tasks import candidate_rows, cross_fit_fold, oof_and_final
from chartcoder.models.ranker.trees import FlatForest
from chartcoder.models.ranker.vectorize import FastTfidf, char_vectorizer, word_vectorizer

Progress = Callable[[str, float], None]
_RAW_ASSERTIONS = ("present", "negated", "uncertain", "family", "historical", "assessment", "via_parent")


@dataclass
class _OutOfFold:
    """Per training note, what models fitted on the other folds say about it."""

    lr: np.ndarray
    knn: np.ndarray
    lr2: np.ndarray
    mined: list[dict[str, EvidenceRow]]
    prior: list[dict[str, int]]


@dataclass
class _CandidateTable:
    """The re-ranker's training rows: features, labels, weights and the note of each row."""

    F: np.ndarray
    y: np.ndarray
    weights: np.ndarray
    groups: np.ndarray


class CodeRanker(BaseEstimator):  # type: ignore[misc]
    """Learned ranker over candidate codes for one code system.

    Parameters
    ----------
    alpha : ridge regularization of the multi-label text classifier.
    n_folds : folds for cross-fitting classifier and neighbour scores.
    n_neighbors : neighbours consulted per note.
    top_lr, top_knn : candidates taken from each learned generator.
    use_knowledge : add the knowledge engine's candidates and features (ICD-10-CM only).
    max_iter, learning_rate, max_leaf_nodes, min_samples_leaf : the re-ranker's gradient boosting.
    char_ngrams : add a second classifier over character n-grams.
    knowledge_scope : which candidates the terminology re-ranker scores: "outside" the label space,
        or "all" the knowledge engine proposed.
    random_state : seed for folds and trees.
    """

    # What each parameter may hold, checked by `fit` (scikit-learn's `_parameter_constraints`, as data).
    PARAMETER_CONSTRAINTS: ClassVar[dict[str, list[Constraint]]] = {
        "alpha": [Interval("real", 0, None, closed="left")],
        "n_folds": [Interval("int", 2, None, closed="left")],
        "n_neighbors": [Interval("int", 1, None, closed="left")],
        "top_lr": [Interval("int", 0, None, closed="left")],
        "top_knn": [Interval("int", 0, None, closed="left")],
        "use_knowledge": [Flag()],
        "max_iter": [Interval("int", 1, None, closed="left")],
        "learning_rate": [Interval("real", 0, None, closed="neither")],
        "max_leaf_nodes": [Interval("int", 2, None, closed="left"), NoneValue()],
        "min_samples_leaf": [Interval("int", 1, None, closed="left")],
        "char_ngrams": [Flag()],
        "knowledge_scope": [Options(("outside", "all"))],
        "random_state": [Interval("int", 0, 2**32 - 1, closed="both"), NoneValue()],
    }

    # Fitted state that code typed against `Ranker` reads (set by `fit`; absent before it).
    system_: str
    labels_: list[str]
    label_index_: dict[str, int]
    threshold_: float
    use_knowledge_: bool
    oof_map_: float

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

    def _validate_params(self) -> None:
        """Every hyperparameter against PARAMETER_CONSTRAINTS (an InvalidParameterError naming the
        first that is out of range)."""
        validate_params(type(self).__name__, self.get_params(deep=False), self.PARAMETER_CONSTRAINTS)

    # -- generators ------------------------------------------------------------------------------
    def _knn_scores(self, X_train: Any, Y_train: np.ndarray, X: Any, sims: np.ndarray | None = None) -> np.ndarray:
        """Neighbour votes. TF-IDF rows are L2-normalized, so the dot product is the cosine; `sims`
        may be given when the caller already has X @ X_train.T."""
        if sims is None:
            sims = (X @ X_train.T).toarray()
        return knn_scores(sims, Y_train, self.n_neighbors)

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
        scores = _LearnedScores(lr, _ranks(lr), lr2, _ranks(lr2), knn, _ranks(knn), self.n_neighbors)
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
            cat_lr = max((float(lr[index[o]]) for o in by_cat[c[:3]] if o != c and o in index), default=0.0)
            raw = kv.raw.get(c, Counter()) if kv else Counter()
            rows.append(
                [
                    *scores.columns(j, cat_lr),
                    *_knowledge_columns(c, kv, raw),
                    *[float(x) for x in mined.get(c, NO_EVIDENCE)],
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
            words = description_words(code, self.system_)
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

    # -- fit -------------------------------------------------------------------------------------
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
        progress: Progress | None = None,
    ) -> CodeRanker:
        """Fit on notes and their gold codes. `knowledge` holds the service's analysis per note
        (None to leave the knowledge generator out); `negatives` holds codes coders rejected, which
        weigh double as negatives; `sample_weight` weighs each note (e.g. per training source);
        `evidence` holds, per note, the sentences a coder cited for each code (terms are mined from
        them)."""
        report = progress or (lambda stage, frac: None)
        self._train_t = None  # caches of the previous fit
        self._forests: dict[str, FlatForest] = {}
        self._validate_params()
        self.system_ = system
        self.use_knowledge_ = bool(self.use_knowledge and knowledge is not None and system == "ICD-10-CM")
        mlb = MultiLabelBinarizer()
        Y = mlb.fit_transform([list(dict.fromkeys(g)) for g in gold]).astype(np.float64)
        self.labels_ = list(mlb.classes_)
        self.label_index_ = {c: i for i, c in enumerate(self.labels_)}
        self.prior_ = dict(Counter(c for g in gold for c in set(g)))
        self.desc_words_: dict[str, frozenset[str]] = {}
        self.vectorizer_ = word_vectorizer()
        X = self.vectorizer_.fit_transform(texts)
        self.char_vectorizer_: TfidfVectorizer | None = char_vectorizer() if self.char_ngrams else None
        X2 = self.char_vectorizer_.fit_transform(texts) if self.char_vectorizer_ is not None else None
        report("classifier (cross-fitted)", 0.05)
        notes_evidence = list(evidence) if evidence is not None else [{} for _ in range(X.shape[0])]
        # Both kernels once (n x n); every fold's classifier and neighbours read slices of them.
        K_word = (X @ X.T).toarray()
        K_char = (X2 @ X2.T).toarray() if X2 is not None else None
        grams = [note_grams(t, e) for t, e in zip(texts, notes_evidence, strict=True)]
        oof = self._cross_fit(K_word, K_char, Y, texts, gold, notes_evidence, grams, report)
        table = self._candidate_table(oof, texts, gold, knowledge, negatives, sample_weight, report)
        report("re-ranker", 0.55)
        final = self._fit_calibrated(table, [len(set(g)) for g in gold])
        report("re-ranker", 0.8)
        self.reranker_ = final
        self._fit_knowledge_reranker(table.F, table.y, table.weights, table.groups)
        report("final classifier", 0.85)
        self.generators_ = fit_dual_ridge(K_word, Y, self.alpha)
        self.char_generators_ = fit_dual_ridge(K_char, Y, self.alpha) if K_char is not None else None
        self.X2_train_t_ = X2.T.tocsr() if X2 is not None else None
        self.evidence_index_ = EvidenceIndex().fit(list(texts), notes_evidence, grams=grams)
        self.X_train_ = X
        self.Y_train_ = Y
        self.n_train_ = X.shape[0]
        report("done", 1.0)
        return self

    def _cross_fit(
        self,
        K_word: np.ndarray,
        K_char: np.ndarray | None,
        Y: np.ndarray,
        texts: Sequence[str],
        gold: Sequence[Sequence[str]],
        evidence: list[dict[str, list[str]]],
        grams: list[NoteGrams],
        report: Progress,
    ) -> _OutOfFold:
        """Classifier, neighbour and mined-term scores of every training note from models fitted on
        the other folds. The folds are tasks (`map_tasks`): in turn here by default, or joblib tasks
        inside `parallel_fit` (chartcoder train --engine spark). Each task gets only its slices, and
        the results are placed by fold, so the numbers do not depend on where they ran."""
        n = Y.shape[0]
        oof = _OutOfFold(
            np.zeros(Y.shape), np.zeros(Y.shape), np.zeros(Y.shape), [{} for _ in range(n)], [{} for _ in range(n)]
        )
        folds = KFold(n_splits=min(self.n_folds, n), shuffle=True, random_state=self.random_state)
        jobs = FIT_JOBS.get()
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
        for f, ((_, te), fold) in enumerate(zip(splits, map_tasks(cross_fit_fold, fold_tasks), strict=True)):
            oof.lr[te], oof.knn[te], lr2_te, mined_te, fold_prior = fold
            if lr2_te is not None:
                oof.lr2[te] = lr2_te
            for i, mined in zip(te, mined_te, strict=True):
                oof.mined[i] = mined
                oof.prior[i] = fold_prior
            report("classifier (cross-fitted)", 0.05 + 0.45 * (f + 1) / len(splits))
        return oof

    def _candidate_table(
        self,
        oof: _OutOfFold,
        texts: Sequence[str],
        gold: Sequence[Sequence[str]],
        knowledge: Sequence[Any] | None,
        negatives: Sequence[Sequence[str]] | None,
        sample_weight: Sequence[float] | None,
        report: Progress,
    ) -> _CandidateTable:
        """Candidates and their features from the out-of-fold scores, note by note (in chunks of
        notes, as tasks, inside `parallel_fit`)."""
        jobs = FIT_JOBS.get()
        chunks = note_chunks(len(texts), jobs)
        worker = self if jobs is None else self._feature_worker()
        note_tasks = (
            (
                worker,
                lo,
                list(texts[lo:hi]),
                oof.lr[lo:hi],
                oof.knn[lo:hi],
                oof.lr2[lo:hi],
                list(knowledge[lo:hi]) if self.use_knowledge_ and knowledge is not None else None,
                oof.mined[lo:hi],
                oof.prior[lo:hi],
                list(gold[lo:hi]),
                list(negatives[lo:hi]) if negatives else None,
                [float(w) for w in sample_weight[lo:hi]] if sample_weight is not None else None,
            )
            for lo, hi in chunks
        )
        parts = []
        for c, part in enumerate(map_tasks(candidate_rows, note_tasks)):
            parts.append(part[:4])
            for code, words in part[4].items():  # the description words the task looked up
                self.desc_words_.setdefault(code, words)
            report("candidates", 0.5 + 0.05 * (c + 1) / len(chunks))
        return _CandidateTable(
            np.vstack([p[0] for p in parts]),
            np.asarray([v for p in parts for v in p[1]]),
            np.asarray([v for p in parts for v in p[2]]),
            np.asarray([v for p in parts for v in p[3]]),
        )

    def _fit_calibrated(self, table: _CandidateTable, n_gold: list[int]) -> HistGradientBoostingClassifier:
        """Out-of-fold re-ranker scores (folds by note) are what calibration and the threshold see;
        the final re-ranker on every row, fitted beside the three folds, is returned."""
        raw_oof, final = oof_and_final(self._reranker, table.F, table.y, table.weights, table.groups)
        self.calibrator_ = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(raw_oof, table.y)
        calibrated_oof = self.calibrator_.predict(raw_oof)
        self.threshold_ = best_threshold(calibrated_oof, table.y, table.groups)
        self.oof_map_ = grouped_map(calibrated_oof, table.y, table.groups, n_gold)
        return final

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
        raw, final = oof_and_final(self._knowledge_model, Fk, yk, wk, gk)
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
            monotonic_cst=[MONOTONE.get(f, 0) for f in KNOWLEDGE_FEATURES],
            random_state=self.random_state,
        )

    # -- rank ------------------------------------------------------------------------------------
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

    def _generator_scores(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Classifier, neighbour and character-classifier scores of every label for each note."""
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
        return lr, knn, lr2

    def rank(self, texts: Sequence[str], knowledge: Sequence[Any] | None = None) -> list[list[tuple[str, float]]]:
        """For each note, (code, calibrated score) best first."""
        lr, knn, lr2 = self._generator_scores(texts)
        label_set = set(self.labels_)
        out: list[list[tuple[str, float]]] = []
        for i, text in enumerate(texts):
            kv = (
                knowledge_view(knowledge[i], label_set, self.system_)
                if self.use_knowledge_ and knowledge is not None
                else None
            )
            out.append(self._rank_note(text, lr[i], knn[i], lr2[i], kv))
        return out

    def _rank_note(
        self, text: str, lr: np.ndarray, knn: np.ndarray, lr2: np.ndarray, kv: KnowledgeView | None
    ) -> list[tuple[str, float]]:
        mined = self.evidence_index_.view(text)
        cands = self._candidates(lr, knn, kv, mined, lr2)
        if not cands:
            return []
        feats = self._features(set(WORD.findall(text.lower())), lr, knn, kv, cands, mined, lr2)
        raw = self._forest("reranker_").predict_proba1(feats)
        probs = calibrate(self.calibrator_, raw)
        if self.kn_reranker_ is not None:
            self._rescore_by_knowledge(feats, cands, raw, probs)
        # Calibration is a step function: ties in the calibrated score are broken by the
        # re-ranker's own score, then by candidate order (strongest classifier codes first).
        order = np.lexsort((np.arange(len(cands)), -raw, -probs))
        return [(cands[j], float(probs[j])) for j in order]

    def _rescore_by_knowledge(self, feats: np.ndarray, cands: list[str], raw: np.ndarray, probs: np.ndarray) -> None:
        """The terminology re-ranker's scores (in place) for the candidates it speaks for: codes
        outside the label space, and with knowledge_scope "all" every code the engine mentioned."""
        outside = np.asarray([c not in self.label_index_ for c in cands])
        if self.knowledge_scope == "all":  # every code the knowledge engine proposed
            outside |= feats[:, self.kn_mention_columns_].sum(axis=1) > 0
        if outside.any():
            kn = self._forest("kn_reranker_").predict_proba1(feats[outside][:, self.kn_columns_])
            probs[outside] = calibrate(self.kn_calibrator_, kn)
            raw[outside] = kn


@dataclass
class _LearnedScores:
    """One note's learned-generator scores of every label and their ranks (1 = best)."""

    lr: np.ndarray
    lr_rank: np.ndarray
    lr2: np.ndarray
    lr2_rank: np.ndarray
    knn: np.ndarray
    knn_rank: np.ndarray
    n_neighbors: int

    def columns(self, j: int | None, cat_lr: float) -> list[float]:
        """The classifier and neighbour columns of FEATURES for label j (None: outside the labels)."""
        if j is None:
            unranked = float(self.lr.size + 1)
            return [0.0, unranked, 0.0, unranked, 0.0 - cat_lr, 0.0, 999.0, 0.0]
        p = float(self.lr[j])
        return [
            p,
            float(self.lr_rank[j]),
            float(self.lr2[j]),
            float(self.lr2_rank[j]),
            p - cat_lr,
            float(self.knn[j]),
            float(self.knn_rank[j]) if self.knn[j] > 0 else 999.0,
            float(self.knn[j] * self.n_neighbors),
        ]


def _ranks(scores: np.ndarray) -> np.ndarray:
    """1 for the highest score, 2 for the next, ... (as floats, in the scores' order)."""
    rank = np.empty_like(scores)
    rank[np.argsort(-scores)] = np.arange(1, scores.size + 1)
    return rank


def _knowledge_columns(code: str, kv: KnowledgeView | None, raw: Counter[str]) -> list[float]:
    """The knowledge engine's columns of FEATURES for one candidate (`raw`: its mentions' counts)."""
    raw_columns = [float(raw.get(k, 0)) for k in _RAW_ASSERTIONS]
    if kv is None:
        return [0.0, 999.0, 0.0, 0.0, 0.0, *raw_columns, 1.5, 0.0]
    return [
        kv.score.get(code, 0.0),
        float(kv.rank.get(code, 999)),
        1.0 if code in kv.score else 0.0,
        1.0 if code in kv.mapped else 0.0,
        1.0 if code in kv.header else 0.0,
        *raw_columns,
        kv.first.get(code, 1.5),
        float(kv.words.get(code, 0)),
    ]
