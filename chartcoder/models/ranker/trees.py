"""`FlatForest`: a fitted gradient-boosted tree model evaluated for all rows and all trees at once,
the re-rankers' fast path when ranking (the same numbers as scikit-learn's `predict_proba`)."""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier


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
