"""Classification tasks: a dropout + fc stack head over the feature; logits out, softmax for predict."""
from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np
import paddle
import paddle.nn as nn
from paddle.static import InputSpec

from ..metrics import make_metrics
from ..state import RunState
from .base import BaseTask
from .net import GlobalPool, as_sequence_feature, fc_head, sequence_feature_dim
from .paddlehub1 import result_names
from .text_networks import NETWORKS, build_network, masked_token_feature

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
    otherwise) and "matthews" (the multi-class correlation); `evaluate` reports each by its name.
    `predict(data=..., return_result=True)` gives each example's most probable class by name."""

    scores_form = True  # _calculate_metrics gives PaddleHub 1.5-1.8's (scores, avg_loss, run_speed)
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

    def _postprocessing(self, run_states: Sequence[RunState], label_list: Optional[Sequence[str]] = None) -> Any:
        """Each example's most probable class by name (`label_list`, else the reader's labels), as
        PaddleHub 1.x returned; the run states themselves, with a warning, when no names are known."""
        names = result_names(self, label_list)
        if names is None:
            return list(run_states)
        return [names[int(i)] for rs in run_states for i in np.argmax(rs.run_results[0], axis=-1).reshape(-1)]


class ImageClassifierTask(ClassifierTask):
    """Image classification: the feature may be a 4-D feature map, pooled by the head."""


class TextClassifierTask(ClassifierTask):
    """Text classification: dropout before the fc stack, as PaddleHub's, over `feature` (a pooled
    feature, e.g. `outputs["pooled_output"]`); or, with `network=` (PaddleHub 1.7's "bilstm",
    "bow", "cnn", "dpcnn", "gru", "lstm"), that network over `token_feature` (the per-token
    `outputs["sequence_output"]`), masked to each text's real tokens, then the fc stack (no
    dropout unless `dropout=` asks). `dataset=` (PaddleHub 1.8) is a dataset built with
    `tokenizer=`, trained on without a data_reader."""

    dropout_rate = 0.1

    def __init__(self, feature: Any = None, num_classes: Optional[int] = None, data_reader: Any = None,
                 config: Any = None, hidden_units: Optional[Sequence[int]] = None, metrics_choices: Any = "default",
                 dropout: Optional[float] = None, token_feature: Any = None, network: Optional[str] = None,
                 **kwargs: Any) -> None:
        self.network_name = _predefined_network(network, feature, token_feature)
        if self.network_name is not None:
            ref = as_sequence_feature(token_feature)
            dim = sequence_feature_dim(ref, kwargs.pop("feature_dim", None),
                                       f"TextClassifierTask(network={network!r})")
            feature, kwargs["feature_dim"] = masked_token_feature(ref, dim), dim
            dropout = 0.0 if dropout is None else dropout
        super().__init__(feature, num_classes, data_reader=data_reader, config=config, hidden_units=hidden_units,
                         metrics_choices=metrics_choices, dropout=dropout, **kwargs)

    def _build_net(self) -> list[nn.Layer]:
        if self.network_name is None:
            return super()._build_net()
        network = build_network(self.network_name, self.feature_dim)
        return [network] + fc_head(network.output_dim, self.hidden_units, self.num_classes, self.dropout)


def _predefined_network(network: Optional[str], feature: Any, token_feature: Any) -> Optional[str]:
    """The predefined network asked for (None for the fc head on a pooled feature), or an error
    naming the arguments to give, as PaddleHub 1.x required them."""
    choices = ", ".join(repr(n) for n in NETWORKS)
    if feature is not None and token_feature is not None:
        raise ValueError("TextClassifierTask: pass feature= (a pooled feature, outputs['pooled_output']) or "
                         "token_feature= (outputs['sequence_output'], with network=...), not both.")
    if network is None:
        if token_feature is not None:
            raise ValueError(f"TextClassifierTask: token_feature= is read by a predefined network: add network= (one "
                             f"of {choices}), or pass feature=outputs['pooled_output'] for the fc head alone.")
        if feature is None:
            raise ValueError("TextClassifierTask needs feature=outputs['pooled_output'], or token_feature="
                             f"outputs['sequence_output'] with network= (one of {choices}).")
        return None
    if network not in NETWORKS:
        raise ValueError(f"TextClassifierTask: network={network!r} is not a predefined network; choose one of "
                         f"{choices}.")
    if token_feature is None:
        raise ValueError(f"TextClassifierTask: network={network!r} reads one vector per token: pass token_feature="
                         f"outputs['sequence_output'] (not feature=).")
    return network
