"""Multi-label metrics: logits [N, L] against 0/1 targets [N, L].

A label is predicted when sigmoid(logit) >= 0.5, which is logit >= 0 (tested on the logits so
no sigmoid is computed). Precision, recall and F1 report the micro average (counts summed over
labels) and the macro average (mean of the per-label scores over all L labels, a label with a
zero denominator scoring 0, as scikit-learn's zero_division=0). AUC is the mean ROC AUC over the
labels that have both positive and negative targets; it keeps every logit and ranks them once in
`accumulate` (float64, ties counted 1/2), so it is exact rather than binned. Ranking the logits
rather than the sigmoids avoids the ties float32 sigmoids create for large logits.
"""
from __future__ import annotations

import math
from typing import Any, Optional

import numpy as np
import paddle

from .base import HubMetric, ValuesMetric, add, detached, host, ratio
from .ranking import roc_auc_columns

__all__ = ["MultiLabelAUC", "MultiLabelPrecision", "MultiLabelRecall", "MultiLabelF1"]


def _pair(logits: paddle.Tensor, labels: paddle.Tensor, name: Any) -> tuple[paddle.Tensor, paddle.Tensor]:
    width = int(logits.shape[-1])
    scores = logits if len(logits.shape) == 2 else logits.reshape([-1, width])
    if math.prod(labels.shape) != math.prod(scores.shape):
        raise ValueError(f"{name}: logits have shape {list(logits.shape)} but labels {list(labels.shape)}; "
                         f"pass one 0/1 target per label and example.")
    return scores, (labels if len(labels.shape) == 2 else labels.reshape([-1, width])) > 0.5


class MultiLabelCounts(HubMetric):
    """Keeps per-label counts of predicted positives, positive targets and true positives ([3, L], int64)."""

    def reset(self) -> None:
        self.counts: Any = None

    def compute(self, logits: paddle.Tensor, labels: paddle.Tensor) -> paddle.Tensor:
        scores, positive = _pair(logits, labels, self.name())
        predicted = scores >= 0
        return paddle.stack([predicted, positive, predicted & positive]).astype("int64").sum(axis=1)

    def update(self, counts: Any) -> None:
        if self.counts is not None and tuple(counts.shape) != tuple(self.counts.shape):
            raise ValueError(f"{self.name()}: batches had {self.counts.shape[1]} labels, now {counts.shape[1]}; "
                             f"every batch must have the same number of labels.")
        self.counts = add(self.counts, counts)

    def statistics(self) -> tuple:
        return (self.counts,) if self.counts is not None else ()

    def accumulate(self) -> list[float]:
        if self.counts is None:
            return [0.0, 0.0]
        predicted, positive, tp = host(self.counts, "int64")
        fp, fn = predicted - tp, positive - tp
        micro = float(self._score(tp.sum(), fp.sum(), fn.sum()))
        macro = float(self._score(tp, fp, fn).mean()) if tp.size else 0.0
        return [micro, macro]

    def _score(self, tp: Any, fp: Any, fn: Any) -> np.ndarray:
        raise NotImplementedError


class MultiLabelPrecision(MultiLabelCounts):
    def __init__(self, name: list[str] | None = None) -> None:
        super().__init__(name or ["micro_precision", "macro_precision"])

    def _score(self, tp: Any, fp: Any, fn: Any) -> np.ndarray:
        return ratio(tp, tp + fp)


class MultiLabelRecall(MultiLabelCounts):
    def __init__(self, name: list[str] | None = None) -> None:
        super().__init__(name or ["micro_recall", "macro_recall"])

    def _score(self, tp: Any, fp: Any, fn: Any) -> np.ndarray:
        return ratio(tp, tp + fn)


class MultiLabelF1(MultiLabelCounts):
    def __init__(self, name: list[str] | None = None) -> None:
        super().__init__(name or ["micro_f1", "macro_f1"])

    def _score(self, tp: Any, fp: Any, fn: Any) -> np.ndarray:
        return ratio(2 * tp, 2 * tp + fp + fn)


class MultiLabelAUC(ValuesMetric):
    """Mean ROC AUC over labels (see the module docstring); NaN when no label has both classes."""

    def __init__(self, name: str = "auc") -> None:
        super().__init__(name)
        self._auc: Optional[tuple] = None  # (the statistics it was computed from, per-label AUC)

    def compute(self, logits: paddle.Tensor, labels: paddle.Tensor) -> tuple[paddle.Tensor, paddle.Tensor]:
        scores, positive = _pair(logits, labels, self.name())
        scores = detached(scores)
        return (scores if scores.dtype == paddle.float32 else scores.astype("float32")), positive

    def update(self, scores: Any, positive: Any) -> None:
        if self.batches and scores.shape[1] != self.batches[0][0].shape[1]:
            raise ValueError(f"{self.name()}: batches had {self.batches[0][0].shape[1]} labels, now {scores.shape[1]}; "
                             f"every batch must have the same number of labels.")
        super().update(scores, positive)

    def per_label(self) -> np.ndarray:
        """ROC AUC of each label (NaN where a label lacks positives or negatives)."""
        if not self.batches:
            return np.zeros(0)
        statistics = self.statistics()
        if self._auc is None or self._auc[0] is not statistics:  # computed once per set of batches
            self._auc = (statistics, roc_auc_columns(*statistics))
        return self._auc[1]

    def accumulate(self) -> float:
        auc = self.per_label()
        defined = auc[~np.isnan(auc)]
        return float(defined.mean()) if defined.size else float("nan")
