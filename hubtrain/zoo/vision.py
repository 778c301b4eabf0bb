"""Vision backbones from paddle.vision.models, cut before their classifier."""
from __future__ import annotations

from typing import Any, Callable, Optional

import paddle
import paddle.nn as nn
import paddle.vision.models as models
from paddle.static import InputSpec

__all__ = ["VisionBackbone", "ARCHITECTURES", "build_architecture", "IMAGENET_MEAN", "IMAGENET_STD"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# Architectures whose constructors take num_classes/with_pool, so the classifier can be left out.
ARCHITECTURES: dict[str, Callable[..., nn.Layer]] = {
    name: getattr(models, name) for name in (
        "resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnext50_32x4d", "wide_resnet50_2",
        "mobilenet_v1", "mobilenet_v2", "mobilenet_v3_small", "mobilenet_v3_large",
        "vgg11", "vgg16", "densenet121", "shufflenet_v2_x1_0", "squeezenet1_1", "googlenet",
    )
}


def build_architecture(arch: str, **kwargs: Any) -> nn.Layer:
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown vision architecture {arch!r}; paddle.vision.models offers "
                         f"{', '.join(sorted(ARCHITECTURES))}.")
    kwargs = dict(kwargs, pretrained=False)  # weights come from the zoo, never from a download
    return ARCHITECTURES[arch](**kwargs)


class VisionBackbone(nn.Layer):
    """image [N, 3, H, W] -> (feature_map [N, C, h, w], pooled_feature [N, C])."""

    def __init__(self, arch: str, arch_kwargs: Optional[dict] = None) -> None:
        super().__init__()
        kwargs = dict(arch_kwargs or {})
        kwargs.update(num_classes=-1, with_pool=False)
        self.arch = arch
        self.body = build_architecture(arch, **kwargs)

    def set_trainable(self, trainable: bool) -> None:
        for param in self.parameters():
            param.stop_gradient = not trainable

    def forward(self, image: paddle.Tensor) -> tuple[paddle.Tensor, paddle.Tensor]:
        feature_map = self.body(image)
        return feature_map, feature_map.mean(axis=[2, 3])

    def load_weights(self, state: dict, source: str) -> list[str]:
        """Load the body's weights from a whole-model state dict; returns the keys not used
        (the ImageNet classifier). A body parameter missing or of the wrong shape is an error."""
        own = self.body.state_dict()
        missing = [k for k in own if k not in state]
        if missing:
            raise ValueError(f"{source}: no weights for {len(missing)} of {self.arch}'s parameters "
                             f"(first: {missing[:3]}); is this file a {self.arch}?")
        wrong = [f"{k}: file {list(state[k].shape)} vs model {list(own[k].shape)}"
                 for k in own if list(state[k].shape) != list(own[k].shape)]
        if wrong:
            raise ValueError(f"{source}: shape mismatch for {len(wrong)} tensors, first: {wrong[0]}.")
        self.body.set_state_dict({k: state[k] for k in own})
        return [k for k in state if k not in own]


def image_input_spec(height: int, width: int) -> list[InputSpec]:
    return [InputSpec([None, 3, height, width], "float32", "image")]
