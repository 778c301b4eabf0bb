"""TaskNet: a backbone, the feature it gives, and a task's head."""
from __future__ import annotations

import inspect
import types
from typing import Any, Optional, Sequence

import paddle
import paddle.nn as nn

from ..zoo.feature import FeatureRef, as_feature
from .feature_cache import MASK_INPUTS

__all__ = ["TaskNet", "GlobalPool", "feature_dim", "fc_head", "with_signature", "sequence_feature_dim",
           "as_sequence_feature"]


class TaskNet(nn.Layer):
    """backbone -> selected feature -> head. What hapi trains and `paddle.jit.save` exports.

    `extra_inputs` names inputs the head takes after the feature (e.g. a sequence length): the
    network is fed the backbone's inputs, then these. A backbone's optional inputs (those its
    forward gives a default) may be left out of a batch: the network is then fed the ones before
    them, then the extra inputs.

    While `backbone_frozen` is set (a training run whose backbone takes no gradient from start to
    end), `train()` leaves the backbone in eval mode: a frozen backbone is a fixed feature
    extractor, so dropout and batch statistics do not change its features from epoch to epoch.
    `feature_cache`, when set, is called in place of the backbone (tasks/feature_cache.py)."""

    def __init__(self, feature: FeatureRef, head: nn.Layer, extra_inputs: Sequence[str] = ()) -> None:
        super().__init__()
        self.backbone = feature.backbone
        self.head = head
        self.feature = feature  # which output of the backbone the head reads (`feature.select`)
        self._extra = len(extra_inputs)
        self.backbone_frozen = False
        self.feature_cache: Any = None
        params = named_inputs(feature.backbone)
        # the input whose zeros mark padding, which the feature cache leaves out of its keys
        self.mask_index = mask_input_index(params)
        # how many inputs a batch must carry at least: the backbone's required ones and the extras
        self.required_inputs = (len([p for p in params if p.default is p.empty]) if params else 1) + self._extra
        if params:
            # all shown as required: an extra input may not follow a defaulted one, and a
            # converted forward is always fed every input (engine/compile.py)
            params = [p.replace(default=inspect.Parameter.empty) for p in params]
            params += [inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD) for name in extra_inputs]
            # paddle.jit (to_static, jit.save) takes a forward's inputs from its signature and refuses
            # *inputs: this instance's forward shows the backbone's named inputs instead.
            self.forward = with_signature(TaskNet.forward, self, params)

    def train(self, mode: bool = True) -> "TaskNet":
        super().train(mode)
        if mode and self.backbone_frozen:
            for layer in (self.backbone, *self.backbone.sublayers()):
                layer.training = False  # the attribute only: Layer.eval() would also switch paddle's tracer
        return self

    def forward(self, *inputs: paddle.Tensor) -> Any:
        split = len(inputs) - self._extra
        cache = self.feature_cache
        if cache is not None and cache.enabled:
            feature = cache(inputs[:split])
        else:
            feature = self.feature.select(self.backbone(*inputs[:split]))
        return self.head(feature, *inputs[split:])


def with_signature(function: Any, instance: nn.Layer, params: list[inspect.Parameter]) -> Any:
    """`function` (taking *inputs) bound to `instance`, showing `params` as its signature."""
    forward = types.FunctionType(function.__code__, function.__globals__, "forward")
    forward.__qualname__ = function.__qualname__
    forward.__signature__ = inspect.Signature(
        [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD), *params])
    return types.MethodType(forward, instance)


def mask_input_index(params: Optional[Sequence[inspect.Parameter]]) -> Optional[int]:
    """The position of the backbone input whose zeros mark padding (`MASK_INPUTS`), if it has one."""
    names = [p.name for p in params or []]
    return next((names.index(n) for n in MASK_INPUTS if n in names), None)


def named_inputs(backbone: nn.Layer) -> Optional[list[inspect.Parameter]]:
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


def _dry_run_shape(ref: FeatureRef) -> Optional[list[int]]:
    """The feature's shape on a batch of one fake input (length 8 where the spec leaves it free)."""
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
    return list(out.shape)


def _dry_run_dim(ref: FeatureRef) -> Optional[int]:
    shape = _dry_run_shape(ref)
    return int(shape[1]) if shape else None


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


def sequence_feature_dim(ref: FeatureRef, given: Optional[int], task: str) -> int:
    """The hidden size of a per-token feature [N, T, H]; a pooled feature is refused."""
    if ref.name == "pooled_output":
        raise ValueError(f"{task} reads one vector per token: pass outputs['sequence_output'] of "
                         f"module.context(...), not outputs['pooled_output'].")
    shape = None if (given or ref.dim) else _dry_run_shape(ref)
    if shape is not None and len(shape) != 3:
        raise ValueError(f"{task} reads one vector per token, [batch, tokens, hidden], but the feature "
                         f"has shape {shape}: pass outputs['sequence_output'] of module.context(...).")
    dim = given or ref.dim or (shape[-1] if shape else None) or _last_weight_dim(ref.backbone)
    if not dim:
        raise ValueError(f"{task}: cannot tell the hidden size of the feature: pass feature_dim=<int>, or "
                         f"inputs=[paddle.static.InputSpec(...)] so a dry run can measure it.")
    return int(dim)


def fc_head(feature_dim: int, hidden_units: Sequence[int], outputs: int, dropout: float = 0.0) -> list[nn.Layer]:
    """Pool the feature, (dropout,) fc + ReLU per hidden size, then an fc to `outputs`."""
    layers: list[nn.Layer] = [GlobalPool()]
    if dropout:
        layers.append(nn.Dropout(dropout))
    size = feature_dim
    for hidden in hidden_units:
        layers += [nn.Linear(size, hidden), nn.ReLU()]
        size = hidden
    layers.append(nn.Linear(size, outputs,
                            weight_attr=paddle.ParamAttr(initializer=nn.initializer.TruncatedNormal(std=0.02)),
                            bias_attr=paddle.ParamAttr(initializer=nn.initializer.Constant(0.0))))
    return layers


def as_sequence_feature(feature: Any) -> FeatureRef:
    """A per-token feature: a hub.Module gives its sequence_output (its default is pooled_output)."""
    if hasattr(feature, "context") and not isinstance(feature, (nn.Layer, FeatureRef)):
        return feature.context(trainable=feature.trainable)[1]["sequence_output"]
    return as_feature(feature)
