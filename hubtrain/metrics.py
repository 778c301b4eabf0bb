"""Metrics as `paddle.metric.Metric`s: tensor work in `compute` (on the device), sums in
`update`, one division in `accumulate`.

They keep counts, never averages, so sums over batches or ranks stay exact.
"""
from __future__ import annotations

from typing import Any, Sequence

import paddle

__all__ = ["HubMetric", "Accuracy", "make_metrics"]


class HubMetric(paddle.metric.Metric):
    """Base of hubtrain's metrics. `higher_is_better` tells best-model selection which way to go."""

    higher_is_better = True

    def __init__(self, name: str) -> None:
        super().__init__()
        self._name = name
        self.reset()

    def name(self) -> str:
        return self._name


class Accuracy(HubMetric):
    """Share of samples whose top-1 class is the label."""

    def __init__(self, name: str = "acc") -> None:
        super().__init__(name)

    def reset(self) -> None:
        self.correct: Any = 0
        self.count = 0

    def compute(self, logits: paddle.Tensor, label: paddle.Tensor) -> tuple[paddle.Tensor, int]:
        pred = paddle.argmax(logits, axis=-1)
        hit = (pred == label.reshape(pred.shape).astype(pred.dtype)).astype("int64").sum()
        return hit, int(label.shape[0])

    def update(self, correct: Any, count: Any) -> None:
        self.correct = self.correct + correct
        self.count += int(count)

    def accumulate(self) -> float:
        return float(self.correct) / self.count if self.count else 0.0


_CHOICES = {"acc": Accuracy}


def make_metrics(choices: Sequence[str], allowed: Sequence[str]) -> list[HubMetric]:
    """Metric objects for `metrics_choices`, refusing names the task cannot compute."""
    metrics = []
    for name in choices:
        if name not in allowed or name not in _CHOICES:
            raise ValueError(
                f"metrics_choices names '{name}', which this task cannot compute: choose from {list(allowed)}."
            )
        metrics.append(_CHOICES[name]())
    return metrics
