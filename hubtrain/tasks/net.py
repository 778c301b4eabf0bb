"""TaskNet: a backbone, the feature it gives, and a task's head."""
from __future__ import annotations

import inspect
import types
from typing import Any, Optional

import paddle
import paddle.nn as nn

from ..zoo.feature import FeatureRef

__all__ = ["TaskNet", "GlobalPool", "feature_dim"]


class TaskNet(nn.Layer):
    """backbone -> selected feature -> head. What hapi trains and `paddle.jit.save` exports."""

    def __init__(self, feature: FeatureRef, head: nn.Layer) -> None:
        super().__init__()
        self.backbone = feature.backbone
        self.head = head
        self._output = feature.output
        params = _named_inputs(feature.backbone)
        if params:
            # paddle.jit (to_static, jit.save) takes a forward's inputs from its signature and refuses
            # *inputs: this instance's forward shows the backbone's named inputs instead.
            forward = types.FunctionType(TaskNet.forward.__code__, TaskNet.forward.__globals__, "forward")
            forward.__qualname__ = TaskNet.forward.__qualname__
            forward.__signature__ = inspect.Signature(
                [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD), *params])
            self.forward = types.MethodType(forward, self)

    def forward(self, *inputs: paddle.Tensor) -> Any:
        out = self.backbone(*inputs)
        return self.head(out if self._output is None else out[self._output])


def _named_inputs(backbone: nn.Layer) -> Optional[list[inspect.Parameter]]:
    """The backbone forward's parameters, when they are all plain positional ones."""
    forward = backbone.forward
    forward = getattr(forward, "dygraph_function", forward)  # a @paddle.jit.to_static forward
    try:
        params = list(inspect.signature(forward).parameters.values())
    except (TypeError, ValueError):
        return None
    plain = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    if not params or any(p.kind not in plain for p in params):
        return None
    return [p.replace(kind=inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=inspect.Parameter.empty)
            for p in params]


class GlobalPool(nn.Layer):
    """Average a feature map [N, C, H, W] (or a sequence [N, T, C]) to [N, C]; leave [N, C] alone."""

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        if x.ndim == 4:
            return x.mean(axis=[2, 3])
        if x.ndim == 3:
            return x.mean(axis=1)
        return x


def _dry_run_dim(ref: FeatureRef) -> Optional[int]:
    specs = ref.input_spec
    if not specs:
        return None
    fakes = [paddle.zeros([d if d and d > 0 else (1 if i == 0 else 8) for i, d in enumerate(s.shape)], dtype=s.dtype)
             for s in specs]
    was_training = ref.backbone.training
    ref.backbone.eval()
    with paddle.no_grad():
        out = ref.select(ref.backbone(*fakes))
    if was_training:
        ref.backbone.train()
    return int(out.shape[1])


def _last_weight_dim(layer: nn.Layer) -> Optional[int]:
    for _, sub in reversed(list(layer.named_sublayers(include_self=True))):
        weight = getattr(sub, "weight", None)
        if isinstance(weight, paddle.Tensor) and len(weight.shape) >= 1:
            shape = weight.shape
            return int(shape[1] if len(shape) == 2 else shape[0])
    return None


def feature_dim(ref: FeatureRef, given: Optional[int] = None) -> int:
    """The feature's size: given > declared > a dry run on the input spec > the last weight's shape."""
    dim = given or ref.dim or _dry_run_dim(ref) or _last_weight_dim(ref.backbone)
    if not dim:
        raise ValueError(
            f"cannot tell the size of the feature of {type(ref.backbone).__name__}: pass feature_dim=<int> "
            f"to the task, or inputs=[paddle.static.InputSpec(...)] so a dry run can measure it."
        )
    return int(dim)
