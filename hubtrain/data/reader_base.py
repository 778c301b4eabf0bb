"""BaseReader: a dataset's examples -> a paddle.io.Dataset of model inputs, and the collate
that batches them. Tasks ask a reader for `get_dataset(phase)`, `collate_fn` and
`examples_dataset(raw)`; hapi's DataLoader (and its workers) does the rest."""
from __future__ import annotations

from typing import Any, Callable, Iterator, Optional, Sequence

import numpy as np
from paddle.io import Dataset

from .base import PHASES
from .example import label_map_of

__all__ = ["BaseReader", "EncodedDataset"]


class EncodedDataset(Dataset):
    """Examples encoded on access (in DataLoader workers), or all at once when `eager`."""

    def __init__(self, examples: Sequence[Any], encode: Callable[[Any], tuple], eager: bool = False) -> None:
        super().__init__()
        self.examples = list(examples)
        self._encode = encode
        self._encoded = [encode(ex) for ex in self.examples] if eager else None

    def __getitem__(self, index: int) -> tuple:
        if self._encoded is not None:
            return self._encoded[index]
        return self._encode(self.examples[index])

    def __len__(self) -> int:
        return len(self.examples)

    def lengths(self) -> Optional[np.ndarray]:
        """Each example's length (its first field's size, e.g. tokens), for batches grouped by
        length; None when the examples are encoded only on access."""
        if self._encoded is None:
            return None
        return np.array([np.size(fields[0]) for fields in self._encoded], dtype=np.int64)


class BaseReader:
    """Subclasses define `_encode(example, phase)` -> tuple of numpy arrays (inputs, then labels
    unless phase is "predict") and `_example_from_raw(item)`; `collate_fn` stacks by default."""

    eager = False  # encode a whole split up front (e.g. to count truncations once)
    random_seed: Optional[int] = None  # seeds data_generator's shuffling when set

    def __init__(self, dataset: Any = None) -> None:
        self.dataset = dataset
        self._datasets: dict[str, EncodedDataset] = {}
        self._lookup: Optional[dict] = None

    # ---------------------------------------------------------------- for subclasses
    def _encode(self, example: Any, phase: str) -> tuple:
        raise NotImplementedError(f"{type(self).__name__} must define _encode(example, phase)")

    def _example_from_raw(self, item: Any, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define _example_from_raw(item, index)")

    def _after_encoding(self, dataset: EncodedDataset, phase: str) -> None:
        """Called once a split is built (e.g. to report truncations)."""

    # ---------------------------------------------------------------- PaddleHub 1.x's reader attributes
    @property
    def label_map(self) -> dict:
        """`{label: id}`: each label of the dataset's label list and its index, the id a label
        becomes (PaddleHub 1.x's `reader.label_map`; {} without a dataset or a label list)."""
        labels = self.dataset.get_labels() if self.dataset is not None else []
        return label_map_of(labels or [])

    def _label_map(self) -> dict:
        """Label (or its string form, as a file gives it) -> index in the dataset's label list."""
        if self._lookup is None:
            self._lookup = {str(label): i for label, i in self.label_map.items()}
            self._lookup.update(self.label_map)
        return self._lookup

    @property
    def num_examples(self) -> dict:
        """Examples per split read so far: {"train": n, "dev": n, "test": n}, -1 for a split not yet read."""
        return {phase: len(self._datasets[phase]) if phase in self._datasets else -1
                for phase in ("train", "dev", "test")}

    def get_train_examples(self) -> list:
        return self.dataset.get_train_examples() if self.dataset is not None else []

    def get_dev_examples(self) -> list:
        return self.dataset.get_dev_examples() if self.dataset is not None else []

    def get_test_examples(self) -> list:
        return self.dataset.get_test_examples() if self.dataset is not None else []

    # ---------------------------------------------------------------- what tasks use
    def get_dataset(self, phase: str) -> Optional[EncodedDataset]:
        phase = PHASES.get(phase, phase)
        if phase not in self._datasets:
            if self.dataset is None or not self.dataset.has_split(phase):
                return None
            examples = self.dataset.get_examples(phase)
            built = EncodedDataset(examples, _Encoder(self, phase), eager=self.eager)
            self._after_encoding(built, phase)
            self._datasets[phase] = built
        return self._datasets[phase]

    def examples_dataset(self, data: Sequence[Any]) -> EncodedDataset:
        """Raw items (PaddleHub's `predict(data=[["text"], ...])`) as a predict dataset."""
        examples = [self._example_from_raw(item, i) for i, item in enumerate(data)]
        built = EncodedDataset(examples, _Encoder(self, "predict"), eager=self.eager)
        self._after_encoding(built, "predict")
        return built

    def collate_fn(self, batch: Sequence[tuple]) -> list[np.ndarray]:
        return [np.stack(field) for field in zip(*batch)]

    def data_generator(self, batch_size: int = 1, phase: str = "train", shuffle: bool = True,
                       data: Optional[Sequence[Any]] = None, return_list: bool = True) -> Callable[[], Iterator]:
        """PaddleHub's generator of collated batches, for code that loops by hand."""
        dataset = self.examples_dataset(data) if data is not None else self.get_dataset(phase)
        if dataset is None:
            raise ValueError(f"{type(self).__name__}: the dataset has no '{phase}' split.")

        def generate() -> Iterator:
            rng = np.random.RandomState(self.random_seed) if self.random_seed is not None else np.random
            order = rng.permutation(len(dataset)) if shuffle and phase == "train" else np.arange(len(dataset))
            for start in range(0, len(order), batch_size):
                yield self.collate_fn([dataset[int(i)] for i in order[start:start + batch_size]])
        return generate


class _Encoder:
    """A picklable `encode(example)` for one phase (DataLoader workers may pickle it)."""

    def __init__(self, reader: BaseReader, phase: str) -> None:
        self.reader, self.phase = reader, phase

    def __call__(self, example: Any) -> tuple:
        return self.reader._encode(example, self.phase)
