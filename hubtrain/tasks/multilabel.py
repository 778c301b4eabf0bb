"""Multi-label classification: one independent yes/no per label, sigmoid on each logit."""
from __future__ import annotations

import numpy as np
import paddle
import paddle.nn as nn
from paddle.static import InputSpec

from ..metrics import make_metrics
from .checks import check_labels
from .classifier import ClassifierTask

__all__ = ["MultiLabelClassifierTask"]


class _MeanBCE(nn.Layer):
    """Sigmoid cross-entropy on each logit, averaged over labels and examples."""

    def forward(self, logits: paddle.Tensor, labels: paddle.Tensor) -> paddle.Tensor:
        return nn.functional.binary_cross_entropy_with_logits(logits, labels.astype(logits.dtype))


def _not_flags(labels: np.ndarray) -> np.ndarray:
    flat = labels.reshape(labels.shape[0], -1)
    return ((flat != 0) & (flat != 1)).any(axis=1)


class MultiLabelClassifierTask(ClassifierTask):
    """Several labels per example. Head: (dropout) -> fc stack -> `num_classes` logits, one per
    label; a label is predicted when its sigmoid is >= 0.5. Labels: float32 [N, num_classes] of
    0/1 (MultiLabelClassifyReader's). Loss: sigmoid cross-entropy averaged over labels and
    examples. Metrics: "auc" (mean ROC AUC over labels, the default), "f1", "precision", "recall"
    (each reports its micro and macro average). `predict` gives the sigmoid of each logit."""

    default_metrics = ("auc",)
    allowed_metrics = ("auc", "f1", "precision", "recall")
    dropout_rate = 0.1
    predict_output_names = ("probs",)

    def _add_label(self) -> list[InputSpec]:
        return [InputSpec([None, self.num_classes], "float32", "label")]

    def _add_loss(self) -> nn.Layer:
        return _MeanBCE()

    def _add_metrics(self) -> list:
        return make_metrics(self.metrics_choices, self.allowed_metrics, kind="multi_label")

    def _postprocess(self, outputs: list[paddle.Tensor]) -> list[paddle.Tensor]:
        return [nn.functional.sigmoid(outputs[0])] + list(outputs[1:])

    def _check_batch(self, phase: str, inputs: list, labels: list) -> None:
        super()._check_batch(phase, inputs, labels)
        if labels:
            check_labels(self, labels[0], _not_flags, "multi-label targets must be 0 or 1",
                         f"Give each example {self.num_classes} flags of 0/1, one per label, in label_list order.")
