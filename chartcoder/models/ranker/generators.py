"""The two learned candidate generators: a multi-label text classifier (ridge regression onto every
code, in its dual form) and nearest coded neighbours (cosine over the same TF-IDF vectors)."""

from __future__ import annotations

import numpy as np
from sklearn.kernel_ridge import KernelRidge


def fit_dual_ridge(K: np.ndarray, Y: np.ndarray, alpha: float) -> KernelRidge:
    """The multi-label text classifier: ridge regression onto every code at once, solved in its
    dual from the notes' linear kernel K = X X^T (one n x n system however many codes there are;
    a per-code logistic regression over ~2,000 codes took minutes for what this does in a second).
    Scores of new notes are (X_new X^T) @ dual_coef_."""
    return KernelRidge(alpha=alpha, kernel="precomputed").fit(K, Y)


def knn_scores(sims: np.ndarray, Y_train: np.ndarray, n_neighbors: int) -> np.ndarray:
    """Neighbour votes: per note, the codes of its `n_neighbors` most similar training notes weighted
    by similarity. `sims` holds the notes' cosine similarity to the training notes (TF-IDF rows are
    L2-normalized, so it is X @ X_train.T)."""
    k = min(n_neighbors, Y_train.shape[0])
    idx = np.argpartition(-sims, k - 1, axis=1)[:, :k]
    out = np.zeros((sims.shape[0], Y_train.shape[1]))
    for i in range(sims.shape[0]):
        w = sims[i, idx[i]]
        total = w.sum()
        if total > 0:
            out[i] = (w[:, None] * Y_train[idx[i]]).sum(axis=0) / total
    return out
