"""Classification tasks: a dropout + fc stack head over the feature; logits out, softmax for predict."""
from __future__ import annotations

from typing import Any, Optional, Sequence

import paddle
import paddle.nn as nn
from paddle.static import InputSpec

from ..metrics import make_metrics
from .base import BaseTask
from .net import GlobalPool

__all__ = ["ClassifierTask", "ImageClassifierTask", "TextClassifierTask"]


class _LabelCheckedCE(nn.Layer):
    """Cross-entropy whose out-of-range-label error names the task's classes."""

    def __init__(self, num_classes: int) -> None:
        super().__init__()
        self.num_classes = num_classes

    def forward(self, logits: paddle.Tensor, label: paddle.Tensor) -> paddle.Tensor:
        try:
            return nn.functional.cross_entropy(logits, label)
        except (IndexError, ValueError) as e:
            raise ValueError(
                f"a label is outside [0, {self.num_classes}): the task was built with num_classes="
                f"{self.num_classes}. Check the dataset's labels (or label_list), or raise num_classes. "
                f"Paddle said: {str(e).splitlines()[0]}"
            ) from None


class ClassifierTask(BaseTask):
    """Single-label classification over `num_classes`. Metrics: "acc" (default), "f1",
    "precision", "recall" (of class 1 for two classes, the macro average over the classes
    otherwise) and "matthews" (the multi-class correlation); `evaluate` reports each by its name."""

    default_metrics = ("acc",)
    allowed_metrics = ("acc", "f1", "precision", "recall", "matthews")
    dropout_rate = 0.0
    predict_output_names = ("probs",)
    predicts_class_probabilities = True

    def __init__(self, feature: Any, num_classes: int, data_reader: Any = None, config: Any = None,
                 hidden_units: Optional[Sequence[int]] = None, metrics_choices: Any = "default",
                 dropout: Optional[float] = None, **kwargs: Any) -> None:
        if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 2:
            raise ValueError(f"num_classes = {num_classes!r} is not accepted: use a whole number >= 2 "
                             f"(the number of labels in the dataset, e.g. dataset.num_labels).")
        if hidden_units is not None and (not isinstance(hidden_units, (list, tuple))
                                         or not all(isinstance(h, int) and h > 0 for h in hidden_units)):
            raise ValueError(f"hidden_units = {hidden_units!r} is not accepted: use a list of layer sizes, e.g. [128].")
        self.num_classes = num_classes
        self.hidden_units = list(hidden_units or [])
        self.dropout = self.dropout_rate if dropout is None else dropout
        super().__init__(feature, config=config, data_reader=data_reader, metrics_choices=metrics_choices, **kwargs)

    def _build_net(self) -> list[nn.Layer]:
        layers: list[nn.Layer] = [GlobalPool()]
        if self.dropout:
            layers.append(nn.Dropout(self.dropout))
        size = self.feature_dim
        for hidden in self.hidden_units:
            layers += [nn.Linear(size, hidden), nn.ReLU()]
            size = hidden
        layers.append(nn.Linear(size, self.num_classes,
                                weight_attr=paddle.ParamAttr(initializer=nn.initializer.TruncatedNormal(std=0.02)),
                                bias_attr=paddle.ParamAttr(initializer=nn.initializer.Constant(0.0))))
        return layers

    def _add_label(self) -> list[InputSpec]:
        return [InputSpec([None, 1], "int64", "label")]

    def _add_loss(self) -> nn.Layer:
        return _LabelCheckedCE(self.num_classes)

    def _add_metrics(self) -> list:
        return make_metrics(self.metrics_choices, self.allowed_metrics,
                            owner=f"{type(self).__name__} (a single-label classifier)")

    def _postprocess(self, outputs: list[paddle.Tensor]) -> list[paddle.Tensor]:
        return [nn.functional.softmax(outputs[0], axis=-1)] + list(outputs[1:])


class ImageClassifierTask(ClassifierTask):
    """Image classification: the feature may be a 4-D feature map, pooled by the head."""


class TextClassifierTask(ClassifierTask):
    """Text classification: dropout before the fc stack, as PaddleHub's."""

    dropout_rate = 0.1
