"""Regression metrics: predictions [N, 1] against float targets [N, 1].

Pearson keeps the count, means and centred sums of squares and products of what it has seen and
merges a batch's into them with Chan's parallel update (exact, and stable where raw sums of
squares would cancel). Spearman ranks all values, so it keeps them and ranks once in
`accumulate` (ties share their mean rank, as scipy's spearmanr). Both are NaN when either side
is constant. MSE keeps the sum of squared errors and the count.
"""
from __future__ import annotations

from typing import Any, Optional

import numpy as np
import paddle

from .base import HubMetric, ValuesMetric, add, detached, host
from .ranking import average_ranks, pearson_of

__all__ = ["Pearson", "Spearman", "MeanSquaredError"]


def _flat_pair(pred: paddle.Tensor, label: paddle.Tensor, name: Any) -> tuple[paddle.Tensor, paddle.Tensor]:
    x = detached(pred).reshape([-1]).astype("float64")
    y = label.reshape([-1]).astype("float64")
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"{name}: {x.shape[0]} predictions but {y.shape[0]} targets; "
                         f"pass one prediction per target (shape [N, 1]).")
    return x, y


def _stack(values: list, like: Any) -> Any:
    return paddle.stack(values) if isinstance(like, paddle.Tensor) else np.stack(values)


class Pearson(HubMetric):
    """Pearson correlation between predictions and targets."""

    def __init__(self, name: str = "pearson") -> None:
        super().__init__(name)

    def reset(self) -> None:
        self.n = 0
        self.moments: Any = None  # mean_x, mean_y, sum dx^2, sum dy^2, sum dx*dy

    def compute(self, pred: paddle.Tensor, label: paddle.Tensor) -> tuple[Optional[paddle.Tensor], int]:
        x, y = _flat_pair(pred, label, self.name())
        n = int(x.shape[0])
        if n == 0:
            return None, 0
        mx, my = x.mean(), y.mean()
        dx, dy = x - mx, y - my
        return paddle.stack([mx, my, (dx * dx).sum(), (dy * dy).sum(), (dx * dy).sum()]), n

    def update(self, moments: Any, n: Any) -> None:
        n = int(n)
        if n == 0:
            return
        if self.moments is None:
            self.moments, self.n = moments, n
            return
        a = self.moments
        b = moments if isinstance(moments, type(a)) else (
            paddle.to_tensor(np.asarray(moments), dtype="float64") if isinstance(a, paddle.Tensor) else host(moments))
        na, total = self.n, self.n + n
        weight = na * n / total
        ddx, ddy = b[0] - a[0], b[1] - a[1]
        self.moments = _stack([a[0] + ddx * (n / total), a[1] + ddy * (n / total), a[2] + b[2] + ddx * ddx * weight,
                               a[3] + b[3] + ddy * ddy * weight, a[4] + b[4] + ddx * ddy * weight], a)
        self.n = total

    def statistics(self) -> tuple:
        return (self.moments, self.n) if self.n else ()

    def accumulate(self) -> float:
        if not self.n:
            return float("nan")
        _, _, sxx, syy, sxy = host(self.moments, "float64")
        den = np.sqrt(sxx * syy)
        return float(sxy / den) if den > 0 else float("nan")


class Spearman(ValuesMetric):
    """Spearman rank correlation: Pearson of the tie-averaged ranks."""

    def __init__(self, name: str = "spearman") -> None:
        super().__init__(name)

    def compute(self, pred: paddle.Tensor, label: paddle.Tensor) -> tuple[paddle.Tensor, paddle.Tensor]:
        return _flat_pair(pred, label, self.name())

    def accumulate(self) -> float:
        if not self.batches:
            return float("nan")
        x, y = self.statistics()
        return pearson_of(average_ranks(x), average_ranks(y))


class MeanSquaredError(HubMetric):
    """Mean of (prediction - target)^2; lower is better."""

    higher_is_better = False

    def __init__(self, name: str = "mse") -> None:
        super().__init__(name)

    def reset(self) -> None:
        self.total: Any = None
        self.count = 0

    def compute(self, pred: paddle.Tensor, label: paddle.Tensor) -> tuple[paddle.Tensor, int]:
        x, y = _flat_pair(pred, label, self.name())
        return ((x - y) * (x - y)).sum(), int(x.shape[0])

    def update(self, total: Any, count: Any) -> None:
        self.total = add(self.total, total)
        self.count += int(count)

    def statistics(self) -> tuple:
        return (self.total, self.count) if self.count else ()

    def accumulate(self) -> float:
        return float(host(self.total, "float64")) / self.count if self.count else float("nan")
