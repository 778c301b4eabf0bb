"""Tie-aware ranks and ROC AUC in numpy float64, column by column and without Python loops.

Used once per evaluation by the metrics that need every value (AUC, Spearman): ranking cannot be
summed batch by batch, so those metrics keep the values and rank them in `accumulate`.
"""
from __future__ import annotations

import numpy as np

__all__ = ["average_ranks", "roc_auc_columns", "pearson_of"]


def average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks along axis 0; tied values share the mean of their ranks (scipy's 'average')."""
    values = np.asarray(values, dtype=np.float64)
    flat = values.ndim == 1
    x = values[:, None] if flat else values
    n = x.shape[0]
    if n == 0:
        return np.zeros_like(values)
    order = np.argsort(x, axis=0, kind="stable")
    ordered = np.take_along_axis(x, order, axis=0)
    index = np.arange(n)[:, None]
    first = np.ones(x.shape, dtype=bool)
    first[1:] = ordered[1:] != ordered[:-1]
    last = np.ones(x.shape, dtype=bool)
    last[:-1] = first[1:]
    group_start = np.maximum.accumulate(np.where(first, index, 0), axis=0)
    group_end = np.minimum.accumulate(np.where(last, index, n)[::-1], axis=0)[::-1]
    sorted_ranks = (group_start + group_end) / 2.0 + 1.0
    ranks = np.empty_like(sorted_ranks)
    np.put_along_axis(ranks, order, sorted_ranks, axis=0)
    return ranks[:, 0] if flat else ranks


def roc_auc_columns(scores: np.ndarray, positive: np.ndarray) -> np.ndarray:
    """ROC AUC of each column of `scores` [N, L] against the 0/1 `positive` [N, L], exact with
    ties (a tied positive/negative pair counts 1/2: the Mann-Whitney statistic). NaN for a
    column without both classes."""
    positive = np.asarray(positive, dtype=bool)
    ranks = average_ranks(scores)
    n_pos = positive.sum(axis=0).astype(np.float64)
    n_neg = positive.shape[0] - n_pos
    rank_sum = np.where(positive, ranks, 0.0).sum(axis=0)
    auc = np.full(n_pos.shape, np.nan)
    both = (n_pos > 0) & (n_neg > 0)
    auc[both] = (rank_sum[both] - n_pos[both] * (n_pos[both] + 1) / 2) / (n_pos[both] * n_neg[both])
    return auc


def pearson_of(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson correlation in float64; NaN when either side is constant or empty."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.size == 0:
        return float("nan")
    dx, dy = x - x.mean(), y - y.mean()
    den = np.sqrt((dx @ dx) * (dy @ dy))
    return float((dx @ dy) / den) if den > 0 else float("nan")
