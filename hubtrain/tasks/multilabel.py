"""Multi-label classification: one independent yes/no per label, sigmoid on each logit."""
from __future__ import annotations

from collections import OrderedDict
from typing import Any, Optional, Sequence

import numpy as np
import paddle
import paddle.nn as nn
from paddle.static import InputSpec

from ..metrics import MultiLabelAUC, make_metrics
from ..runs.results import Figures
from ..state import RunState
from .checks import check_labels
from .classifier import ClassifierTask
from .paddlehub1 import result_names

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
    (each reports its micro and macro average). `predict` gives the sigmoid of each logit;
    `predict(data=..., return_result=True)` gives per example `[{label: 0 or 1}, ...]`, one dict
    per label in label order, as PaddleHub 1.x did. `_calculate_metrics` reports "auc" (the mean)
    followed by "auc_<label>" for each label, as PaddleHub 1.x keyed them."""

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

    def _metric_details(self, metrics: Sequence[Any]) -> dict:
        """Each label's ROC AUC, "auc_<label>" (NaN for a label without both classes)."""
        aucs = next((m.per_label() for m in metrics if isinstance(m, MultiLabelAUC)), None)
        if aucs is None or not len(aucs):
            return {}
        names = self._label_names() or [str(i) for i in range(len(aucs))]
        return {f"auc_{name}": float(value) for name, value in zip(names, aucs)}

    def _paddlehub1_scores(self, found: Figures) -> "OrderedDict[str, float]":
        scores: OrderedDict = OrderedDict()
        for name, value in found.values.items():
            scores[name] = value
            if name == "auc":
                scores.update((k, v) for k, v in found.details.items() if k.startswith("auc_"))
        return scores

    def _postprocessing(self, run_states: Sequence[RunState], label_list: Optional[Sequence[str]] = None) -> Any:
        """Per example, `[{label: 1 if its sigmoid >= 0.5 else 0}, ...]` in label order; the run
        states themselves, with a warning, when the labels have no names."""
        names = result_names(self, label_list)
        if names is None:
            return list(run_states)
        return [[{name: int(p >= 0.5)} for name, p in zip(names, row)]
                for rs in run_states for row in np.asarray(rs.run_results[0]).reshape(-1, len(names))]

    def _check_batch(self, phase: str, inputs: list, labels: list) -> None:
        super()._check_batch(phase, inputs, labels)
        if labels:
            check_labels(self, labels[0], _not_flags, "multi-label targets must be 0 or 1",
                         f"Give each example {self.num_classes} flags of 0/1, one per label, in label_list order.")
