"""The tasks of `CodeRanker.fit` (run through `parallel.map_tasks`): a cross-fitting fold, the
re-ranker's training rows for a chunk of notes, and the tree fits behind out-of-fold scores. Each gets
its inputs as arguments and returns plain arrays, dicts and fitted models, so the caller can place the
results by fold or note index whether the task ran here or on another process or machine."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import GroupKFold
from threadpoolctl import threadpool_limits

from chartcoder.models.ranker.engine_view import knowledge_view
from chartcoder.models.ranker.evidence import EvidenceIndex, EvidenceRow, NoteGrams
from chartcoder.models.ranker.features import FEATURES, WORD
from chartcoder.models.ranker.generators import fit_dual_ridge, knn_scores
from chartcoder.models.ranker.parallel import map_tasks

if TYPE_CHECKING:
    from chartcoder.models.ranker.estimator import CodeRanker


def oof_and_final(
    make_model: Callable[[], HistGradientBoostingClassifier],
    F: np.ndarray,
    y: np.ndarray,
    weights: np.ndarray,
    groups: np.ndarray,
) -> tuple[np.ndarray, HistGradientBoostingClassifier]:
    """Out-of-fold scores of a tree model (three folds by note) and the model fitted on every row,
    the four fits as tasks (`map_tasks`): what calibration sees, and what ranks."""
    raw = np.zeros(len(y))
    splits = list(GroupKFold(n_splits=3).split(F, y, groups))
    tasks = [*((tr, te) for tr, te in splits), (None, None)]
    *oof_parts, final = list(
        map_tasks(
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


def cross_fit_fold(
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
    Y = Y_tr.toarray() if hasattr(Y_tr, "toarray") else Y_tr
    alpha = params["alpha"]
    # One BLAS thread for the solves, wherever the fold runs: a solve's last bits depend on how many
    # threads sum it (Spark's Python workers get OMP_NUM_THREADS=1, a local process all cores), and
    # those bits can move a tree split downstream. Pinned, local and Spark training make the same pack.
    with threadpool_limits(limits=1, user_api="blas"):
        lr = fit_dual_ridge(K_tr, Y, alpha).predict(K_te)
        knn = knn_scores(K_te, Y, params["n_neighbors"])
        lr2 = fit_dual_ridge(Kc_tr, Y, alpha).predict(Kc_te) if Kc_tr is not None and Kc_te is not None else None
    index = EvidenceIndex().fit(texts_tr, evidence_tr, grams=grams_tr)
    mined = [index.view(t) for t in texts_te]
    prior = dict(Counter(c for g in gold_tr for c in set(g)))
    return lr, knn, lr2, mined, prior


def candidate_rows(
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
        words = set(WORD.findall(text.lower()))
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
