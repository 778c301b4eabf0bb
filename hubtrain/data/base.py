"""BaseDataset: a dataset's splits as lists of examples, and its label list."""
from __future__ import annotations

import copy
import os
import random
from typing import Any, Optional, Sequence

from .example import label_map_of

__all__ = ["BaseDataset", "PHASES", "DatasetMissingError", "dataset_home"]

# Split names and the aliases PaddleHub used for them.
PHASES = {"train": "train", "dev": "dev", "val": "dev", "validate": "dev", "test": "test", "predict": "predict"}


class DatasetMissingError(FileNotFoundError):
    """A dataset's files are not where they are looked for; the message says where to put them."""


def dataset_home() -> str:
    """Where built-in datasets are looked for: $HUBTRAIN_HOME/datasets (default ~/.cache/hubtrain)."""
    home = os.environ.get("HUBTRAIN_HOME") or os.path.join(os.path.expanduser("~"), ".cache", "hubtrain")
    return os.path.join(home, "datasets")


class BaseDataset:
    """Splits of examples, read once. Subclasses read files (`_read_file`) or build examples in
    memory (`_load_split`); readers ask for `get_examples(phase)`."""

    def __init__(self, base_path: Optional[str] = None, train_file: Optional[str] = None,
                 dev_file: Optional[str] = None, test_file: Optional[str] = None,
                 predict_file: Optional[str] = None, label_file: Optional[str] = None,
                 label_list: Optional[Sequence[Any]] = None, train_file_with_header: bool = False,
                 dev_file_with_header: bool = False, test_file_with_header: bool = False,
                 predict_file_with_header: bool = False) -> None:
        self.base_path = base_path
        self.files = {"train": train_file, "dev": dev_file, "test": test_file, "predict": predict_file}
        self.headers = {"train": train_file_with_header, "dev": dev_file_with_header,
                        "test": test_file_with_header, "predict": predict_file_with_header}
        self.label_file = label_file
        self.label_list = list(label_list) if label_list is not None else None
        if self.label_list is None and label_file:
            self.label_list = self._read_label_file(self._path(label_file))
        self._splits: dict[str, list] = {}
        for phase, name in self.files.items():
            if name:
                self._splits[phase] = self._read_file(self._path(name), phase)

    # ---------------------------------------------------------------- reading, for subclasses
    def _path(self, name: str) -> str:
        path = name if self.base_path is None or os.path.isabs(name) else os.path.join(self.base_path, name)
        if not os.path.exists(path):
            raise DatasetMissingError(f"{type(self).__name__}: file not found: {path}; put it there or pass "
                                      f"the right base_path / file name.")
        return path

    def _read_file(self, path: str, phase: str) -> list:
        raise NotImplementedError(f"{type(self).__name__} must define _read_file(path, phase)")

    def _read_label_file(self, path: str) -> list[str]:
        with open(path, encoding="utf-8") as f:
            labels = [line.strip() for line in f if line.strip()]
        if not labels:
            raise ValueError(f"{path}: the label file is empty; write one label per line.")
        return labels

    # ---------------------------------------------------------------- what readers use
    def get_examples(self, phase: str) -> list:
        return self._splits.get(PHASES.get(phase, phase), [])

    def has_split(self, phase: str) -> bool:
        return PHASES.get(phase, phase) in self._splits

    def get_train_examples(self) -> list:
        return self.get_examples("train")

    def get_dev_examples(self) -> list:
        return self.get_examples("dev")

    def get_val_examples(self) -> list:
        return self.get_examples("dev")

    def get_test_examples(self) -> list:
        return self.get_examples("test")

    def get_predict_examples(self) -> list:
        return self.get_examples("predict")

    def get_labels(self) -> list:
        return list(self.label_list or [])

    @property
    def num_labels(self) -> int:
        return len(self.label_list or [])

    @property
    def label_map(self) -> dict:
        return label_map_of(self.get_labels())

    def label_dict(self) -> dict:
        """`{id: label}`, PaddleHub 1.x's `dataset.label_dict()` (the reverse of `reader.label_map`)."""
        return dict(enumerate(self.get_labels()))

    def few_shot(self, per_label: int, seed: int = 0, phase: str = "train") -> "BaseDataset":
        """A copy whose `phase` split keeps `per_label` examples of each label, drawn with `seed`
        (order kept); the other splits are shared. For learning from few labelled examples."""
        if not isinstance(per_label, int) or isinstance(per_label, bool) or per_label < 1:
            raise ValueError(f"few_shot(per_label={per_label!r}): use a whole number >= 1.")
        examples = self.get_examples(phase)
        by_label: dict = {}
        for i, example in enumerate(examples):
            if not isinstance(example.label, (str, int)):
                raise ValueError(f"few_shot() draws per label, but {type(self).__name__}'s {phase} examples carry "
                                 f"{type(example.label).__name__} labels: use it on a single-label dataset.")
            by_label.setdefault(example.label, []).append(i)
        rng = random.Random(seed)
        keep = sorted(i for indices in by_label.values() for i in rng.sample(indices, min(per_label, len(indices))))
        subset = copy.copy(self)
        subset._splits = dict(self._splits, **{PHASES.get(phase, phase): [examples[i] for i in keep]})
        return subset

    @property
    def train_examples(self) -> list:
        return self.get_examples("train")

    @property
    def dev_examples(self) -> list:
        return self.get_examples("dev")

    @property
    def test_examples(self) -> list:
        return self.get_examples("test")

    @property
    def predict_examples(self) -> list:
        return self.get_examples("predict")

    def __repr__(self) -> str:
        sizes = ", ".join(f"{phase}={len(ex)}" for phase, ex in self._splits.items())
        return f"{type(self).__name__}({sizes}, labels={self.num_labels})"
