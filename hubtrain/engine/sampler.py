"""A batch sampler whose order is a pure function of (seed, epoch), so a run can stop and resume
at any batch: paddle's samplers shuffle from a global RNG or from an epoch counter they
advance themselves, so their order cannot be recovered after a restart."""
from __future__ import annotations

import math
from typing import Iterator, Optional, Sequence

import numpy as np

__all__ = ["ResumableBatchSampler"]


class ResumableBatchSampler:
    """Batches of dataset indices for one rank.

    Under several ranks rank r takes positions r, r + nranks, ... of the order. For training the
    order is first padded by repeating its first indices until every rank gets the same number of
    batches (as `paddle.io.DistributedBatchSampler` does: the ranks must step together); for
    evaluation (`pad=False`) it is not, so no sample counts twice.

    With `lengths` (one per sample) and `shuffle`, batches hold samples of similar length, as
    Hugging Face's `group_by_length`: the shuffled order is cut into windows of `window` batches
    (of every rank), each window is sorted by length and cut into batches, and the batches are
    shuffled within their window. Padding to a batch's longest sample then wastes little. The
    order stays a pure function of (seed, epoch), so resume is exact as without grouping.
    """

    def __init__(self, num_samples: int, batch_size: int, shuffle: bool = False, drop_last: bool = False,
                 seed: int = 0, nranks: int = 1, rank: int = 0, pad: bool = True,
                 lengths: Optional[Sequence[int]] = None, window: int = 50) -> None:
        if lengths is not None and len(lengths) != num_samples:
            raise ValueError(f"lengths has {len(lengths)} entries for {num_samples} samples: give one per sample.")
        if window < 1:
            raise ValueError(f"window = {window!r} is not accepted: use a whole number of batches >= 1.")
        self.num_samples = num_samples
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.seed = seed
        self.nranks = nranks
        self.rank = rank
        self.pad = pad
        self.lengths = None if lengths is None else np.asarray(lengths)
        self.window = window
        self.epoch = 0
        self.skip = 0

    def set_epoch(self, epoch: int, skip: int = 0) -> None:
        """Select the epoch's order and how many of this rank's batches to pass over."""
        self.epoch = epoch
        self.skip = skip

    def _order(self, epoch: int) -> np.ndarray:
        if not self.shuffle:
            return np.arange(self.num_samples)
        rng = np.random.RandomState((self.seed * 100003 + epoch) % 2**32)
        order = rng.permutation(self.num_samples)
        return order if self.lengths is None else self._grouped(order, rng)

    def _grouped(self, order: np.ndarray, rng: np.random.RandomState) -> np.ndarray:
        """`order` regrouped so that each step's samples (a batch on every rank) have similar lengths."""
        step = self.batch_size * self.nranks  # global positions one step takes: rank r's batch b lies in step b
        span = step * self.window
        out = []
        for start in range(0, len(order), span):
            window = order[start:start + span]
            window = window[np.argsort(-self.lengths[window], kind="stable")]
            steps = [window[i:i + step] for i in range(0, len(window), step)]
            full = [s for s in steps if len(s) == step]
            rest = steps[len(full):]  # a short last step stays last: drop_last and padding act on it as before
            out.extend(full[i] for i in rng.permutation(len(full)))
            out.extend(rest)
        return np.concatenate(out) if out else order

    def _rank_order(self, epoch: int) -> np.ndarray:
        order = self._order(epoch)
        if self.nranks > 1:
            total = math.ceil(self.num_samples / self.nranks) * self.nranks
            if self.pad and total > len(order):
                order = np.concatenate([order, np.resize(order, total - len(order))])
            order = order[self.rank::self.nranks]
        return order

    def _per_rank(self) -> int:
        if self.pad:
            return math.ceil(self.num_samples / self.nranks)
        return len(range(self.rank, self.num_samples, self.nranks))

    def _batches_per_rank(self) -> int:
        per_rank = self._per_rank()
        return per_rank // self.batch_size if self.drop_last else math.ceil(per_rank / self.batch_size)

    def batches_per_epoch(self) -> int:
        return self._batches_per_rank()

    def __iter__(self) -> Iterator[list[int]]:
        order = self._rank_order(self.epoch)
        n_batches = self._batches_per_rank()
        for b in range(self.skip, n_batches):
            yield order[b * self.batch_size:(b + 1) * self.batch_size].tolist()

    def batch_indices(self, epoch: int, position: int) -> list[int]:
        """The dataset indices of this rank's batch `position` (0-based, from the start of the
        epoch) in `epoch`: how a fault is traced to the samples that caused it."""
        order = self._rank_order(epoch)
        return order[position * self.batch_size:(position + 1) * self.batch_size].tolist()

    def __len__(self) -> int:
        return max(self._batches_per_rank() - self.skip, 0)
