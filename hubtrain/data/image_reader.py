"""ImageClassificationReader: image examples -> (CHW float32 image, int64 [1] label).

    reader = hub.reader.ImageClassificationReader(
        image_width=module.get_expected_image_width(), image_height=module.get_expected_image_height(),
        images_mean=module.get_pretrained_images_mean(), images_std=module.get_pretrained_images_std(),
        dataset=dataset)

Images are decoded lazily in `__getitem__` of the reader's datasets, so DataLoader workers do the
decoding. Each image becomes RGB, is resized to (height, width) (or, for the train split with
`data_augmentation=True`, randomly cropped, resized and mirrored), scaled to 0-1, normalised with
mean/std (0-1 scale, in RGB order; ImageNet's unless given or the dataset has `images_mean` /
`images_std`), made channels-first, and finally its channels are put in `channel_order`.
"""
from __future__ import annotations

import os
from typing import Any, Optional, Sequence

import numpy as np

from .base import PHASES
from .example import ImageExample, label_index
from .image_io import read_image, to_rgb_uint8
from .reader_base import BaseReader
from .transforms import (IMAGENET_MEAN, IMAGENET_STD, Compose, Normalize, RandomHorizontalFlip,
                         RandomResizedCrop, Resize, ToCHW, Transform)

__all__ = ["ImageClassificationReader", "CHANNEL_ORDERS"]

# Where each output channel comes from in an RGB image.
CHANNEL_ORDERS = {"RGB": (0, 1, 2), "RBG": (0, 2, 1), "GBR": (1, 2, 0), "GRB": (1, 0, 2), "BGR": (2, 1, 0),
                  "BRG": (2, 0, 1)}


def _three(values: Any, name: str) -> tuple[float, float, float]:
    array = np.asarray(values, dtype=np.float64).reshape(-1)
    if array.size == 1:
        array = np.repeat(array, 3)
    if array.size != 3 or not np.all(np.isfinite(array)):
        raise ValueError(f"ImageClassificationReader: {name} needs 3 finite values (R, G, B on the 0-1 scale), "
                         f"got {values!r}.")
    return tuple(float(v) for v in array)


class ImageClassificationReader(BaseReader):
    """Reads images by path (list-file datasets) or as arrays (built-in array datasets).
    `train_transform` / `eval_transform` (HWC uint8 -> HWC) may be replaced after construction;
    scaling, normalisation, CHW and channel order always follow them."""

    eager = False

    def __init__(self, image_width: int, image_height: int, dataset: Any = None, channel_order: str = "RGB",
                 images_mean: Optional[Sequence[float]] = None, images_std: Optional[Sequence[float]] = None,
                 data_augmentation: bool = False, random_seed: Optional[int] = None) -> None:
        super().__init__(dataset)
        self.random_seed = random_seed  # PaddleHub's: seeds data_generator's shuffling
        for name, value in (("image_width", image_width), ("image_height", image_height)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"ImageClassificationReader: {name} must be a positive int, got {value!r}.")
        if channel_order not in CHANNEL_ORDERS:
            raise ValueError(f"ImageClassificationReader: channel_order must be one of {list(CHANNEL_ORDERS)}, "
                             f"got {channel_order!r}.")
        self.image_width, self.image_height = int(image_width), int(image_height)
        self.channel_order = channel_order
        self.data_augmentation = bool(data_augmentation)
        if images_mean is None:
            images_mean = getattr(dataset, "images_mean", None)
        if images_std is None:
            images_std = getattr(dataset, "images_std", None)
        self.images_mean = _three(IMAGENET_MEAN if images_mean is None else images_mean, "images_mean")
        self.images_std = _three(IMAGENET_STD if images_std is None else images_std, "images_std")
        if min(self.images_std) <= 0:
            raise ValueError(f"ImageClassificationReader: images_std values must be > 0, got {self.images_std}.")
        self.train_transform: Transform = Compose([RandomResizedCrop(self.image_width, self.image_height),
                                                   RandomHorizontalFlip()])
        self.eval_transform: Transform = Resize(self.image_width, self.image_height)
        self._to_input = Compose([Normalize(self.images_mean, self.images_std), ToCHW()])
        self._order = np.array(CHANNEL_ORDERS[channel_order])

    # ---------------------------------------------------------------- BaseReader
    def load_image(self, example: ImageExample) -> np.ndarray:
        """The example's image as RGB HWC (uint8, or float32 0-1 for float arrays)."""
        if isinstance(example.image, (str, os.PathLike)):
            return read_image(os.fspath(example.image), example.source)
        return to_rgb_uint8(example.image, example.source)

    def preprocess(self, image: np.ndarray, augment: bool = False) -> np.ndarray:
        """An RGB HWC image -> the network's CHW float32 input."""
        image = (self.train_transform if augment else self.eval_transform)(image)
        chw = self._to_input(image)
        if self.channel_order != "RGB":
            chw = chw[self._order]
        return np.ascontiguousarray(chw, dtype=np.float32)

    def _encode(self, example: Any, phase: str) -> tuple:
        if not isinstance(example, ImageExample):
            example = self._example_from_raw(example)
        augment = self.data_augmentation and PHASES.get(phase, phase) == "train"
        image = self.preprocess(self.load_image(example), augment)
        if phase == "predict":
            return (image,)
        return image, np.array([self._label_id(example)], dtype=np.int64)

    def _label_id(self, example: ImageExample) -> int:
        label = example.label
        if label is None:
            raise ValueError(f"{example.source or 'an example'}: no label, but this split needs one; add the "
                             f"label or use the example for predict only.")
        if isinstance(label, (int, np.integer)) and not isinstance(label, bool):
            num = getattr(self.dataset, "num_labels", None)
            if num and not 0 <= int(label) < num:
                raise ValueError(f"{example.source or 'an example'}: label index {int(label)} is out of range "
                                 f"for {num} classes.")
            return int(label)
        label_map = getattr(self.dataset, "label_map", None) or {}
        return label_index(label, label_map, example.source)

    def _example_from_raw(self, item: Any, index: int = 0, where: Optional[str] = None) -> ImageExample:
        """A path, an image array, an ImageExample, or any of these wrapped in a 1-item list;
        `where` names it in errors (default: its place in predict's data)."""
        where = where or f"predict data[{index}]"
        if isinstance(item, (list, tuple)) and len(item) == 1:
            item = item[0]
        if isinstance(item, ImageExample):
            return item
        if isinstance(item, (str, os.PathLike)):
            return ImageExample(image=os.fspath(item), source=where)
        if isinstance(item, np.ndarray):
            return ImageExample(image=item, source=where)
        raise TypeError(f"{where}: an image example is a file path or an (H, W[, C]) uint8 array in RGB order "
                        f"(alone or in a 1-item list); got {type(item).__name__}.")

    def __repr__(self) -> str:
        return (f"ImageClassificationReader({self.image_width}x{self.image_height}, channel_order="
                f"{self.channel_order!r}, augmentation={self.data_augmentation})")
