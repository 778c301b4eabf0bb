"""Image transforms on HWC arrays with OpenCV: `transform(img) -> img`.

Images are (H, W, C) or (H, W) arrays, uint8 (0-255) or float (0-1). Sizes are given as
(width, height), OpenCV's order. `Normalize` turns an image into float32 (x - mean) / std with
mean and std on the 0-1 scale (ImageNet's are the defaults); `ToCHW` makes it channels-first.

Randomness. Every random transform takes `rng` (a `numpy.random.Generator`) when built and/or
when called (`t(img, rng)`, which `Compose` passes down). With neither, each call seeds a fresh
Generator from numpy's global state plus the DataLoader worker id: paddle's DataLoader reseeds
numpy in each worker process from a base seed drawn per epoch and the worker id (see
`paddle.io.get_worker_info()`: `.id`; its `.seed` is the base seed, the same in every worker), so
workers do not repeat each other's augmentations and `np.random.seed(n)` in the main process
makes a run repeatable (`Compose` seeds one such Generator per call and shares it among its
children that have none of their own). A Generator given at construction is used as is in the main process; in
a worker process (where every worker holds an identical forked copy of it) it is replaced, once
per worker and epoch, by a Generator derived from it, the worker's base seed and the worker id.
"""
from __future__ import annotations

import math
import os
from typing import Any, Callable, Optional, Sequence, Union

import cv2
import numpy as np
from paddle.io import get_worker_info

__all__ = ["Transform", "RandomTransform", "Compose", "Resize", "ResizeShorter", "CenterCrop", "RandomCrop",
           "RandomResizedCrop", "RandomHorizontalFlip", "RandomRotation", "ColorJitter", "Normalize", "ToCHW",
           "fresh_rng", "IMAGENET_MEAN", "IMAGENET_STD"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

_INTERPOLATIONS = {"nearest": cv2.INTER_NEAREST, "linear": cv2.INTER_LINEAR, "area": cv2.INTER_AREA,
                   "cubic": cv2.INTER_CUBIC}


def fresh_rng() -> np.random.Generator:
    """A Generator seeded from numpy's global state (which paddle reseeds per worker) and the
    worker id (so workers differ even under a loader that forks without reseeding)."""
    info = get_worker_info()
    worker = 0 if info is None else info.id + 1
    return np.random.default_rng([int(np.random.randint(0, 2 ** 32)), worker])


def _size(width: int, height: Optional[int], what: str) -> tuple[int, int]:
    height = width if height is None else height
    for name, value in (("width", width), ("height", height)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value <= 0:
            raise ValueError(f"{what}: {name} must be a positive int, got {value!r}.")
    return int(width), int(height)


def _check_image(img: Any, what: str) -> np.ndarray:
    if not isinstance(img, np.ndarray) or img.ndim not in (2, 3) or img.shape[0] == 0 or img.shape[1] == 0:
        shape = getattr(img, "shape", None)
        raise ValueError(f"{what}: expects an (H, W) or (H, W, C) numpy array, got {type(img).__name__} "
                         f"with shape {shape}.")
    return img


def _resize(img: np.ndarray, width: int, height: int, interpolation: str) -> np.ndarray:
    h, w = img.shape[:2]
    if (w, h) == (width, height):
        return img
    if interpolation == "auto":  # area averaging only where linear would alias (it is ~5x slower)
        flag = cv2.INTER_AREA if width * 2 <= w or height * 2 <= h else cv2.INTER_LINEAR
    else:
        flag = _INTERPOLATIONS[interpolation]
    out = cv2.resize(img, (width, height), interpolation=flag)
    return out[:, :, None] if img.ndim == 3 and out.ndim == 2 else out


def _value_range(img: np.ndarray) -> tuple[float, float]:
    return (0.0, 255.0) if img.dtype == np.uint8 else (0.0, 1.0)


class Transform:
    """Base: `__call__(img, rng=None) -> img`; deterministic transforms ignore `rng`."""

    def __call__(self, img: np.ndarray, rng: Optional[np.random.Generator] = None) -> np.ndarray:
        raise NotImplementedError

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_") and k != "rng")
        return f"{type(self).__name__}({fields})"


class RandomTransform(Transform):
    """A transform that draws random numbers; see the module docstring for where they come from."""

    def __init__(self, rng: Optional[np.random.Generator] = None) -> None:
        self.rng = rng
        self._worker_key: Optional[tuple] = None
        self._worker_rng: Optional[np.random.Generator] = None

    def generator(self, rng: Optional[np.random.Generator] = None) -> np.random.Generator:
        if rng is not None:
            return rng
        if self.rng is None:
            return fresh_rng()
        info = get_worker_info()
        if info is None:
            return self.rng
        key = (os.getpid(), info.id, info.seed)
        if self._worker_key != key or self._worker_rng is None:
            base = int(self.rng.integers(0, 2 ** 63))
            self._worker_rng = np.random.default_rng([base, int(info.seed), int(info.id)])
            self._worker_key = key
        return self._worker_rng


class Compose(Transform):
    """Apply transforms in order; `rng` given to the call is passed to each hubtrain transform."""

    def __init__(self, transforms: Sequence[Callable]) -> None:
        self.transforms = list(transforms)
        for t in self.transforms:
            if not callable(t):
                raise TypeError(f"Compose: {t!r} is not callable; pass transforms such as Resize(224, 224).")

    def __call__(self, img: np.ndarray, rng: Optional[np.random.Generator] = None) -> np.ndarray:
        shared = None  # one per-call Generator for all children without their own (seeding costs ~15 us)
        for t in self.transforms:
            if rng is None and isinstance(t, RandomTransform) and t.rng is None:
                shared = fresh_rng() if shared is None else shared
                img = t(img, shared)
            elif isinstance(t, Transform):
                img = t(img, rng)
            else:
                img = t(img)
        return img

    def __repr__(self) -> str:
        return "Compose([" + ", ".join(repr(t) for t in self.transforms) + "])"


class Resize(Transform):
    """Resize to exactly (width, height). interpolation: "auto" (area averaging when shrinking
    by 2x or more, else linear), "nearest", "linear", "area" or "cubic"."""

    def __init__(self, width: int, height: Optional[int] = None, interpolation: str = "auto") -> None:
        self.width, self.height = _size(width, height, "Resize")
        if interpolation != "auto" and interpolation not in _INTERPOLATIONS:
            raise ValueError(f"Resize: interpolation must be 'auto' or one of {sorted(_INTERPOLATIONS)}, "
                             f"got {interpolation!r}.")
        self.interpolation = interpolation

    def __call__(self, img: np.ndarray, rng: Optional[np.random.Generator] = None) -> np.ndarray:
        return _resize(_check_image(img, "Resize"), self.width, self.height, self.interpolation)


class ResizeShorter(Transform):
    """Resize so the shorter side is `size`, keeping the aspect ratio."""

    def __init__(self, size: int, interpolation: str = "auto") -> None:
        self.size = _size(size, size, "ResizeShorter")[0]
        self.interpolation = interpolation

    def __call__(self, img: np.ndarray, rng: Optional[np.random.Generator] = None) -> np.ndarray:
        h, w = _check_image(img, "ResizeShorter").shape[:2]
        scale = self.size / min(h, w)
        width, height = max(1, round(w * scale)), max(1, round(h * scale))
        if h <= w:
            height = self.size
        else:
            width = self.size
        return _resize(img, width, height, self.interpolation)


def _crop_fits(img: np.ndarray, width: int, height: int, what: str) -> None:
    h, w = img.shape[:2]
    if width > w or height > h:
        raise ValueError(f"{what}: crop {width}x{height} is larger than the image {w}x{h}; resize first "
                         f"(e.g. ResizeShorter({max(width, height)})).")


class CenterCrop(Transform):
    """Cut the central (width, height) region."""

    def __init__(self, width: int, height: Optional[int] = None) -> None:
        self.width, self.height = _size(width, height, "CenterCrop")

    def __call__(self, img: np.ndarray, rng: Optional[np.random.Generator] = None) -> np.ndarray:
        _crop_fits(_check_image(img, "CenterCrop"), self.width, self.height, "CenterCrop")
        h, w = img.shape[:2]
        top, left = (h - self.height) // 2, (w - self.width) // 2
        return img[top:top + self.height, left:left + self.width]


class RandomCrop(RandomTransform):
    """Cut a (width, height) region at a random place."""

    def __init__(self, width: int, height: Optional[int] = None, rng: Optional[np.random.Generator] = None) -> None:
        super().__init__(rng)
        self.width, self.height = _size(width, height, "RandomCrop")

    def __call__(self, img: np.ndarray, rng: Optional[np.random.Generator] = None) -> np.ndarray:
        _crop_fits(_check_image(img, "RandomCrop"), self.width, self.height, "RandomCrop")
        g = self.generator(rng)
        h, w = img.shape[:2]
        top, left = int(g.integers(0, h - self.height + 1)), int(g.integers(0, w - self.width + 1))
        return img[top:top + self.height, left:left + self.width]


class RandomResizedCrop(RandomTransform):
    """A random region covering `scale` of the area with aspect ratio in `ratio`, resized to
    (width, height); the usual training crop for ImageNet-style backbones."""

    def __init__(self, width: int, height: Optional[int] = None, scale: tuple[float, float] = (0.5, 1.0),
                 ratio: tuple[float, float] = (3 / 4, 4 / 3), rng: Optional[np.random.Generator] = None) -> None:
        super().__init__(rng)
        self.width, self.height = _size(width, height, "RandomResizedCrop")
        if not (0 < scale[0] <= scale[1] <= 1) or not (0 < ratio[0] <= ratio[1]):
            raise ValueError(f"RandomResizedCrop: need 0 < scale[0] <= scale[1] <= 1 and 0 < ratio[0] <= "
                             f"ratio[1]; got scale={scale}, ratio={ratio}.")
        self.scale, self.ratio = tuple(scale), tuple(ratio)

    def __call__(self, img: np.ndarray, rng: Optional[np.random.Generator] = None) -> np.ndarray:
        h, w = _check_image(img, "RandomResizedCrop").shape[:2]
        g = self.generator(rng)
        log_ratio = (math.log(self.ratio[0]), math.log(self.ratio[1]))
        for _ in range(10):
            area = h * w * g.uniform(*self.scale)
            aspect = math.exp(g.uniform(*log_ratio))
            cw, ch = round(math.sqrt(area * aspect)), round(math.sqrt(area / aspect))
            if 0 < cw <= w and 0 < ch <= h:
                top, left = int(g.integers(0, h - ch + 1)), int(g.integers(0, w - cw + 1))
                break
        else:  # no fit in 10 tries (extreme aspect): the largest centred crop within `ratio`
            aspect = min(max(w / h, self.ratio[0]), self.ratio[1])
            cw, ch = (w, min(h, round(w / aspect))) if w / h <= aspect else (min(w, round(h * aspect)), h)
            top, left = (h - ch) // 2, (w - cw) // 2
        return _resize(img[top:top + ch, left:left + cw], self.width, self.height, "auto")


class RandomHorizontalFlip(RandomTransform):
    """Mirror left-right with probability `p`."""

    def __init__(self, p: float = 0.5, rng: Optional[np.random.Generator] = None) -> None:
        super().__init__(rng)
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"RandomHorizontalFlip: p must be in [0, 1], got {p}.")
        self.p = p

    def __call__(self, img: np.ndarray, rng: Optional[np.random.Generator] = None) -> np.ndarray:
        _check_image(img, "RandomHorizontalFlip")
        if self.generator(rng).random() >= self.p:
            return img
        out = cv2.flip(np.ascontiguousarray(img), 1)  # contiguous, unlike img[:, ::-1] (slow to copy later)
        return out[:, :, None] if img.ndim == 3 and out.ndim == 2 else out


class RandomRotation(RandomTransform):
    """Rotate about the centre by an angle drawn from [-degrees, degrees]; borders reflect."""

    def __init__(self, degrees: float = 10.0, rng: Optional[np.random.Generator] = None) -> None:
        super().__init__(rng)
        if degrees < 0:
            raise ValueError(f"RandomRotation: degrees must be >= 0, got {degrees}.")
        self.degrees = float(degrees)

    def __call__(self, img: np.ndarray, rng: Optional[np.random.Generator] = None) -> np.ndarray:
        h, w = _check_image(img, "RandomRotation").shape[:2]
        angle = self.generator(rng).uniform(-self.degrees, self.degrees)
        matrix = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), angle, 1.0)
        out = cv2.warpAffine(np.ascontiguousarray(img), matrix, (w, h), flags=cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_REFLECT_101)
        return out[:, :, None] if img.ndim == 3 and out.ndim == 2 else out


class ColorJitter(RandomTransform):
    """Scale brightness by a factor in [1 - brightness, 1 + brightness] and contrast (about the
    image mean) by one in [1 - contrast, 1 + contrast]; values are clipped to the dtype's range."""

    def __init__(self, brightness: float = 0.2, contrast: float = 0.2,
                 rng: Optional[np.random.Generator] = None) -> None:
        super().__init__(rng)
        for name, value in (("brightness", brightness), ("contrast", contrast)):
            if not 0.0 <= value < 1.0:
                raise ValueError(f"ColorJitter: {name} must be in [0, 1), got {value}.")
        self.brightness, self.contrast = float(brightness), float(contrast)

    def __call__(self, img: np.ndarray, rng: Optional[np.random.Generator] = None) -> np.ndarray:
        _check_image(img, "ColorJitter")
        g = self.generator(rng)
        b = g.uniform(1 - self.brightness, 1 + self.brightness)
        c = g.uniform(1 - self.contrast, 1 + self.contrast)
        x = img.astype(np.float32)
        mean = float(x.mean())
        x = ((x - mean) * c + mean) * b
        low, high = _value_range(img)
        np.clip(x, low, high, out=x)
        return np.rint(x).astype(np.uint8) if img.dtype == np.uint8 else x


class Normalize(Transform):
    """float32 (x - mean) / std per channel, mean and std on the 0-1 scale; uint8 input is
    divided by 255 first, float input is taken as 0-1.

    The result is computed plane by plane into a channels-first buffer and returned as an HWC
    view of it, so a following `ToCHW` costs nothing; this is several times faster than numpy's
    broadcasting over a trailing axis of 3."""

    def __init__(self, mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD) -> None:
        self.mean = np.asarray(mean, np.float32).reshape(-1)
        self.std = np.asarray(std, np.float32).reshape(-1)
        if self.mean.shape != self.std.shape:
            raise ValueError(f"Normalize: mean and std need the same length, got {self.mean.size} and "
                             f"{self.std.size}.")
        if np.any(self.std <= 0):
            raise ValueError(f"Normalize: std values must be > 0, got {self.std.tolist()}.")

    def __call__(self, img: np.ndarray, rng: Optional[np.random.Generator] = None) -> np.ndarray:
        _check_image(img, "Normalize")
        channels = 1 if img.ndim == 2 else img.shape[2]
        if self.mean.size not in (1, channels):
            raise ValueError(f"Normalize: {self.mean.size} mean/std values for an image with {channels} "
                             f"channels.")
        mean = np.broadcast_to(self.mean, (channels,))
        std = np.broadcast_to(self.std, (channels,))
        unit = 1.0 / 255.0 if img.dtype == np.uint8 else 1.0
        if img.dtype not in (np.uint8, np.float32):
            img = img.astype(np.float32)
        planes = [img] if img.ndim == 2 else cv2.split(np.ascontiguousarray(img))
        out = np.empty((channels,) + img.shape[:2], np.float32)
        for c, plane in enumerate(planes):
            np.multiply(plane, np.float32(unit / std[c]), out=out[c])
            out[c] -= np.float32(mean[c] / std[c])
        return out[0] if img.ndim == 2 else out.transpose(1, 2, 0)

    def __repr__(self) -> str:
        return f"Normalize(mean={self.mean.tolist()}, std={self.std.tolist()})"


class ToCHW(Transform):
    """(H, W, C) -> (C, H, W), contiguous; (H, W) -> (1, H, W)."""

    def __call__(self, img: np.ndarray, rng: Optional[np.random.Generator] = None) -> np.ndarray:
        _check_image(img, "ToCHW")
        return np.ascontiguousarray(img[None] if img.ndim == 2 else img.transpose(2, 0, 1))


TransformLike = Union[Transform, Callable[[np.ndarray], np.ndarray]]
