"""Single-label classification metrics: accuracy, and precision / recall / F1 / Matthews
correlation from a confusion matrix counted on the device.

Binary (2 classes): precision, recall and F1 of the positive class 1. More classes: the macro
average over the classes that occur in the labels or the predictions (scikit-learn's
`average="macro"` with its default label set); a class with a zero denominator scores 0.
Matthews correlation uses the multi-class formula, which equals the usual one for 2 classes.
"""
from __future__ import annotations

from typing import Any, Optional

import numpy as np
import paddle

from .base import HubMetric, add, host, ratio

__all__ = ["Accuracy", "Precision", "Recall", "F1", "Matthews"]


class Accuracy(HubMetric):
    """Share of samples whose top-1 class is the label."""

    def __init__(self, name: str = "acc") -> None:
        super().__init__(name)

    def reset(self) -> None:
        self.correct: Any = 0
        self.count = 0

    def compute(self, logits: paddle.Tensor, label: paddle.Tensor) -> tuple[paddle.Tensor, int]:
        # a [N, 1] label meets a [N, 1] prediction as it is: no reshape or cast per step
        pred = paddle.argmax(logits, axis=-1, keepdim=label.ndim == logits.ndim)
        if label.shape != pred.shape:
            label = label.reshape(pred.shape)
        if label.dtype != pred.dtype:
            label = label.astype(pred.dtype)
        hit = paddle.sum(pred == label, dtype="int64")
        return hit, int(label.shape[0])

    def update(self, correct: Any, count: Any) -> None:
        self.correct = self.correct + correct
        self.count += int(count)

    def accumulate(self) -> float:
        return float(host(self.correct)) / self.count if self.count else 0.0

    def statistics(self) -> tuple:
        return (self.correct, self.count) if self.count else ()


_AVERAGES = (None, "binary", "macro")


class ConfusionMetric(HubMetric):
    """Keeps a [C, C] confusion matrix (rows: label, columns: predicted class) and the number of
    rows seen; rows whose label is outside 0..C-1 are left out of the matrix, and `accumulate`
    reports them as an error. One histogram per batch on the device: cell label * C + prediction."""

    def __init__(self, name: str, average: Optional[str] = None) -> None:
        if average not in _AVERAGES:
            raise ValueError(f"average={average!r}: use None (binary for 2 classes, macro otherwise), "
                             f"'binary' or 'macro'.")
        self.average = average
        super().__init__(name)

    def reset(self) -> None:
        self.counts: Any = None  # flat [C*C]
        self.rows = 0
        self.num_classes: Optional[int] = None

    def compute(self, logits: paddle.Tensor, label: paddle.Tensor) -> tuple[paddle.Tensor, int]:
        c = int(logits.shape[-1])
        if c < 2:
            raise ValueError(f"{self.name()}: logits have {c} column(s); a classifier needs one column per "
                             f"class (2 for a binary task).")
        pred = paddle.argmax(logits if len(logits.shape) == 2 else logits.reshape([-1, c]), axis=-1)
        lab = label if len(label.shape) == 1 else label.reshape([-1])
        lab = lab if lab.dtype == paddle.int64 else lab.astype("int64")
        if lab.shape[0] != pred.shape[0]:
            raise ValueError(f"{self.name()}: {pred.shape[0]} rows of logits but {lab.shape[0]} labels; "
                             f"pass one class index per example.")
        cells = paddle.scale(lab, float(c)) + pred  # out-of-range labels land outside [0, C*C)
        return paddle.histogram(cells, bins=c * c, min=0, max=c * c - 1), int(pred.shape[0])

    def update(self, counts: Any, rows: Any) -> None:
        c = int(round(int(counts.shape[0]) ** 0.5))
        if self.num_classes is not None and c != self.num_classes:
            raise ValueError(f"{self.name()}: logits had {self.num_classes} classes, now {c}; "
                             f"every batch must have the same number of classes.")
        self.num_classes = c
        self.counts = add(self.counts, counts)
        self.rows += int(rows)

    def statistics(self) -> tuple:
        return (self.counts, self.rows) if self.counts is not None else ()

    def _check_mergeable(self, other: "HubMetric") -> None:
        if other.average != self.average:
            raise ValueError(f"cannot merge {self.name()} metrics with average={self.average!r} and {other.average!r}")

    def confusion_matrix(self) -> np.ndarray:
        """[C, C] int64 counts, rows the labels and columns the predictions."""
        if self.counts is None:
            return np.zeros((0, 0), dtype=np.int64)
        m = host(self.counts, "int64")
        c = self.num_classes
        outside = self.rows - int(m.sum())
        if outside:
            raise ValueError(f"{self.name()}: {outside} label(s) were outside 0..{c - 1}; labels must be "
                             f"class indices into the {c} columns of the logits.")
        return m.reshape(c, c)

    def _per_class(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        m = self.confusion_matrix()
        tp = np.diag(m)
        fp = m.sum(axis=0) - tp
        fn = m.sum(axis=1) - tp
        present = (m.sum(axis=0) + m.sum(axis=1)) > 0
        return tp, fp, fn, present

    def _average(self, per_class: np.ndarray, present: np.ndarray) -> float:
        c = per_class.shape[0]
        average = self.average or ("binary" if c == 2 else "macro")
        if average == "binary":
            if c != 2:
                raise ValueError(f"{self.name()}: average='binary' needs 2 classes, the logits have {c}.")
            return float(per_class[1])
        return float(per_class[present].mean()) if present.any() else 0.0

    def accumulate(self) -> float:
        tp, fp, fn, present = self._per_class()
        return self._average(self._score(tp, fp, fn), present) if tp.size else 0.0

    def _score(self, tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class Precision(ConfusionMetric):
    """tp / (tp + fp) of class 1 (binary) or averaged over classes (macro)."""

    def __init__(self, name: str = "precision", average: Optional[str] = None) -> None:
        super().__init__(name, average)

    def _score(self, tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> np.ndarray:
        return ratio(tp, tp + fp)


class Recall(ConfusionMetric):
    """tp / (tp + fn) of class 1 (binary) or averaged over classes (macro)."""

    def __init__(self, name: str = "recall", average: Optional[str] = None) -> None:
        super().__init__(name, average)

    def _score(self, tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> np.ndarray:
        return ratio(tp, tp + fn)


class F1(ConfusionMetric):
    """2 tp / (2 tp + fp + fn) of class 1 (binary) or averaged over classes (macro)."""

    def __init__(self, name: str = "f1", average: Optional[str] = None) -> None:
        super().__init__(name, average)

    def _score(self, tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> np.ndarray:
        return ratio(2 * tp, 2 * tp + fp + fn)


class Matthews(ConfusionMetric):
    """Matthews correlation coefficient (multi-class form); 0 when it is undefined."""

    def __init__(self, name: str = "matthews") -> None:
        super().__init__(name)

    def accumulate(self) -> float:
        m = self.confusion_matrix().astype(np.float64)
        if m.size == 0:
            return 0.0
        t, p, correct, total = m.sum(axis=1), m.sum(axis=0), np.trace(m), m.sum()
        cov_tp = correct * total - t @ p
        cov_pp = total * total - p @ p
        cov_tt = total * total - t @ t
        den = cov_tt * cov_pp
        return float(cov_tp / np.sqrt(den)) if den > 0 else 0.0
