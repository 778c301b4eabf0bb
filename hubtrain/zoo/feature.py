"""FeatureRef: which output of which backbone a task's head reads."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Union

import paddle

__all__ = ["FeatureRef", "as_feature"]


@dataclass
class FeatureRef:
    """A backbone Layer and the output a head reads from it.

    `output` picks from what the backbone's forward returns: None for the value itself, an index
    for a tuple, a key for a dict. `dim` is the feature's size when known up front; `input_spec`
    the backbone's inputs, when known, for export and shape checks.
    """

    backbone: paddle.nn.Layer
    output: Union[None, int, str] = None
    dim: Optional[int] = None
    input_spec: Optional[list] = None
    name: str = "feature"

    def select(self, value: Any) -> paddle.Tensor:
        return value if self.output is None else value[self.output]


def as_feature(feature: Any) -> FeatureRef:
    """Accept a FeatureRef, anything with `as_feature()` (a hub.Module), or a plain `nn.Layer`."""
    if isinstance(feature, FeatureRef):
        return feature
    if hasattr(feature, "as_feature"):
        return feature.as_feature()
    if isinstance(feature, paddle.nn.Layer):
        return FeatureRef(backbone=feature)
    raise TypeError(
        f"feature must be a module output (module.context(...)[1]['pooled_output']), a hub.Module or a "
        f"paddle.nn.Layer whose forward returns the feature; got {type(feature).__name__}."
    )
