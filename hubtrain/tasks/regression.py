"""Regression: one number per example from the pooled feature."""
from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np
import paddle
import paddle.nn as nn
from paddle.static import InputSpec

from ..metrics import make_metrics
from .base import BaseTask
from .checks import check_labels
from .net import fc_head

__all__ = ["RegressionTask"]


class _MSE(nn.Layer):
    def forward(self, pred: paddle.Tensor, label: paddle.Tensor) -> paddle.Tensor:
        return nn.functional.mse_loss(pred, label.reshape(pred.shape).astype(pred.dtype))


def _not_finite(labels: np.ndarray) -> np.ndarray:
    return ~np.isfinite(labels.reshape(labels.shape[0], -1).astype(np.float64)).all(axis=1)


class RegressionTask(BaseTask):
    """Head: dropout -> fc stack (`hidden_units`) -> fc(1) on the (pooled) feature. Labels:
    float32 [N, 1] (RegressionReader's). Loss: mean squared error. Metrics: "pearson" (default),
    "spearman", "mse". `predict` gives the predicted value, [N, 1];
    `predict(data=..., return_result=True)` one number per example, as PaddleHub 1.x did."""

    scores_form = True  # _calculate_metrics gives PaddleHub 1.5-1.8's (scores, avg_loss, run_speed)
    default_metrics = ("pearson",)
    allowed_metrics = ("pearson", "spearman", "mse")
    output_names = ("pred",)

    def __init__(self, feature: Any, data_reader: Any = None, config: Any = None,
                 hidden_units: Optional[Sequence[int]] = None, metrics_choices: Any = "default",
                 dropout: float = 0.1, **kwargs: Any) -> None:
        if hidden_units is not None and (not isinstance(hidden_units, (list, tuple))
                                         or not all(isinstance(h, int) and h > 0 for h in hidden_units)):
            raise ValueError(f"hidden_units = {hidden_units!r} is not accepted: use a list of layer sizes, e.g. [128].")
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"RegressionTask: dropout={dropout!r} should be in [0, 1), e.g. 0.1.")
        self.hidden_units = list(hidden_units or [])
        self.dropout = float(dropout)
        super().__init__(feature, config=config, data_reader=data_reader, metrics_choices=metrics_choices, **kwargs)

    def _build_net(self) -> list[nn.Layer]:
        return fc_head(self.feature_dim, self.hidden_units, 1, self.dropout)

    def _add_label(self) -> list[InputSpec]:
        return [InputSpec([None, 1], "float32", "label")]

    def _add_loss(self) -> nn.Layer:
        return _MSE()

    def _add_metrics(self) -> list:
        return make_metrics(self.metrics_choices, self.allowed_metrics, kind="regression")

    def _check_batch(self, phase: str, inputs: list, labels: list) -> None:
        super()._check_batch(phase, inputs, labels)
        if labels:
            check_labels(self, labels[0], _not_finite, "a regression target is not a finite number",
                         "Drop the example or give it a number (NaN and infinity cannot be fitted).")
