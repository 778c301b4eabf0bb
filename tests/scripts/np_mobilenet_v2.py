"""torchvision's MobileNetV2 forward pass in numpy (float64), straight from its state dict: an
independent reference for the converted Paddle network, with no torch and no paddle."""
from __future__ import annotations

import numpy as np

# (expansion t, output channels c, repeats n, first stride s), as in the MobileNetV2 paper.
SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
            (6, 320, 1, 1))
BN_EPS = 1e-5


def conv2d(x: np.ndarray, weight: np.ndarray, stride: int) -> np.ndarray:
    """x [N, C, H, W], weight [O, C/groups, k, k]; padding (k-1)/2; groups = C / weight.shape[1]."""
    n, c, h, w = x.shape
    o, cg, k, _ = weight.shape
    groups = c // cg
    pad = (k - 1) // 2
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    ho, wo = (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1
    sn, sc, sh, sw = xp.strides
    patches = np.lib.stride_tricks.as_strided(  # im2col: [N, C, Ho, Wo, k, k], no copy
        xp, (n, c, ho, wo, k, k), (sn, sc, sh * stride, sw * stride, sh, sw), writeable=False)
    patches = patches.reshape(n, groups, cg, ho, wo, k, k)
    wg = weight.reshape(groups, o // groups, cg, k, k)
    out = np.einsum("ngchwij,gocij->ngohw", patches, wg, optimize=True)
    return out.reshape(n, o, ho, wo)


def batch_norm(x: np.ndarray, sd: dict, prefix: str) -> np.ndarray:
    scale = sd[prefix + ".weight"] / np.sqrt(sd[prefix + ".running_var"] + BN_EPS)
    shift = sd[prefix + ".bias"] - sd[prefix + ".running_mean"] * scale
    return x * scale[None, :, None, None] + shift[None, :, None, None]


def relu6(x: np.ndarray) -> np.ndarray:
    return np.clip(x, 0.0, 6.0)


def conv_bn_relu(x: np.ndarray, sd: dict, prefix: str, stride: int = 1) -> np.ndarray:
    return relu6(batch_norm(conv2d(x, sd[prefix + ".0.weight"], stride), sd, prefix + ".1"))


def inverted_residual(x: np.ndarray, sd: dict, prefix: str, stride: int, expand: int) -> np.ndarray:
    i, y = 0, x
    if expand != 1:
        y = conv_bn_relu(y, sd, f"{prefix}.conv.0")
        i = 1
    y = conv_bn_relu(y, sd, f"{prefix}.conv.{i}", stride)  # depthwise 3x3
    y = batch_norm(conv2d(y, sd[f"{prefix}.conv.{i + 1}.weight"], 1), sd, f"{prefix}.conv.{i + 2}")
    if stride == 1 and x.shape[1] == y.shape[1]:
        y = x + y
    return y


def forward(sd: dict, images: np.ndarray) -> np.ndarray:
    """images [N, 3, H, W] (normalised) -> ImageNet logits [N, 1000]."""
    sd = {k: np.asarray(v, dtype=np.float64) for k, v in sd.items()}
    x = conv_bn_relu(images.astype(np.float64), sd, "features.0", stride=2)
    index = 1
    for t, _c, n, s in SETTINGS:
        for r in range(n):
            x = inverted_residual(x, sd, f"features.{index}", s if r == 0 else 1, t)
            index += 1
    x = conv_bn_relu(x, sd, f"features.{index}")
    pooled = x.mean(axis=(2, 3))
    return pooled @ sd["classifier.1.weight"].T + sd["classifier.1.bias"]
