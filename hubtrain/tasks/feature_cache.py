"""A frozen backbone's features, computed once per distinct input and read back from a
memory-mapped file.

A backbone that takes no gradient for a whole training run, and runs in eval mode for it, maps
the same input to the same feature every epoch, so computing it again is wasted work. Each
example is keyed by the bytes the backbone is fed: what the reader did to it (tokenizer,
truncation, image transforms) is part of the key by construction. The files live in a directory
named after a digest of the backbone's weights, so other weights never read them. Positions that
an attention mask hides at the end of a row are left out of the key: the same sentence padded to
a longer batch has the same feature.

Misses are always safe (the backbone runs); a hit returns what the backbone gave for the same
bytes and weights before.
"""
from __future__ import annotations

import hashlib
import json
import os
from typing import Any, Callable, Optional, Sequence

import numpy as np
import paddle

__all__ = ["FeatureCache", "FeatureStore", "row_keys", "weights_digest", "MASK_INPUTS"]

KEY_BYTES = 16
MASK_INPUTS = ("input_mask", "attention_mask")  # a backbone input with these names hides padding


def weights_digest(layer: paddle.nn.Layer, *extra: str) -> str:
    """A hex digest of the layer's class, parameters and buffers (names, shapes, values) and `extra`."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(type(layer).__qualname__.encode())
    for part in extra:
        digest.update(part.encode())
    for name, value in layer.state_dict().items():
        array = np.ascontiguousarray(value.numpy())
        digest.update(f"{name}:{array.dtype.str}:{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def _unmasked_lengths(mask: np.ndarray) -> np.ndarray:
    """Per row, the length up to and including its last unmasked position."""
    kept = mask != 0
    last = mask.shape[1] - np.argmax(kept[:, ::-1], axis=1)
    return np.where(kept.any(axis=1), last, 0)


def row_keys(arrays: Sequence[np.ndarray], mask_index: Optional[int] = None) -> list[bytes]:
    """One key per row of a batch of backbone inputs. With `mask_index`, [batch, tokens] inputs
    are cut after the last position the mask keeps."""
    lengths, tokens = None, None
    if mask_index is not None and mask_index < len(arrays) and arrays[mask_index].ndim == 2:
        lengths, tokens = _unmasked_lengths(arrays[mask_index]), arrays[mask_index].shape[1]
    keys = []
    for i in range(arrays[0].shape[0]):
        digest = hashlib.blake2b(digest_size=KEY_BYTES)
        digest.update(str(len(arrays)).encode())
        for array in arrays:
            row = array[i]
            if lengths is not None and array.ndim == 2 and array.shape[1] == tokens:
                row = row[:lengths[i]]
            digest.update(f"|{row.dtype.str}{row.shape}|".encode())
            digest.update(np.ascontiguousarray(row).tobytes())
        keys.append(digest.digest())
    return keys


class FeatureStore:
    """Rows of one shape and dtype appended to `features.bin`, their keys (16 bytes each, same
    order) to `keys.bin`, described by `meta.json`. All three are plain data: reading them back
    runs nothing. A store whose description differs, or whose files were cut short, keeps only
    the rows both files hold."""

    def __init__(self, directory: str, shape: Sequence[int], dtype: str) -> None:
        os.makedirs(directory, exist_ok=True)
        self.directory = directory
        self.shape, self.dtype = tuple(int(d) for d in shape), np.dtype(dtype)
        self.row_bytes = int(np.prod(self.shape, dtype=np.int64)) * self.dtype.itemsize
        self.features_path = os.path.join(directory, "features.bin")
        self.keys_path = os.path.join(directory, "keys.bin")
        meta = {"format": 1, "shape": list(self.shape), "dtype": self.dtype.str}
        meta_path = os.path.join(directory, "meta.json")
        if self._read_meta(meta_path) != meta:
            for path in (self.features_path, self.keys_path):
                open(path, "wb").close()
            with open(meta_path, "w") as f:
                json.dump(meta, f)
        self.rows = self._complete_rows()
        keys = np.fromfile(self.keys_path, dtype=np.uint8, count=self.rows * KEY_BYTES).reshape(-1, KEY_BYTES)
        self.index = {key.tobytes(): row for row, key in enumerate(keys)}
        self._features = open(self.features_path, "ab")
        self._keys = open(self.keys_path, "ab")
        self._view: Optional[np.memmap] = None

    @classmethod
    def existing(cls, directory: str) -> Optional["FeatureStore"]:
        """The store a run before this one left in `directory`, if any."""
        meta = cls._read_meta(os.path.join(directory, "meta.json"))
        try:
            return cls(directory, meta["shape"], meta["dtype"]) if meta else None
        except (KeyError, TypeError, ValueError):  # a description this version cannot read: start afresh
            return None

    @staticmethod
    def _read_meta(path: str) -> Optional[dict]:
        try:
            with open(path) as f:
                meta = json.load(f)
        except (OSError, ValueError):
            return None
        return meta if isinstance(meta, dict) else None

    def _complete_rows(self) -> int:
        rows = min(os.path.getsize(self.keys_path) // KEY_BYTES, os.path.getsize(self.features_path) // self.row_bytes)
        for path, size in ((self.keys_path, rows * KEY_BYTES), (self.features_path, rows * self.row_bytes)):
            if os.path.getsize(path) != size:
                os.truncate(path, size)
        return rows

    def rows_of(self, keys: Sequence[bytes]) -> list[Optional[int]]:
        return [self.index.get(key) for key in keys]

    def append(self, keys: Sequence[bytes], values: np.ndarray) -> None:
        """Keep the rows of `values` whose keys are new."""
        for key, value in zip(keys, values):
            if key in self.index:
                continue
            self._features.write(np.ascontiguousarray(value, dtype=self.dtype).tobytes())
            self._keys.write(key)
            self.index[key] = self.rows
            self.rows += 1

    def take(self, rows: Sequence[int]) -> np.ndarray:
        """The features at `rows`, as a new array."""
        if self._view is None or len(self._view) < self.rows:
            self._features.flush()
            self._view = np.memmap(self.features_path, dtype=self.dtype, mode="r", shape=(self.rows, *self.shape))
        return np.asarray(self._view[np.asarray(rows, dtype=np.int64)])

    def close(self) -> None:
        self._view = None
        self._features.close()
        self._keys.close()


class FeatureCache:
    """What a TaskNet calls in place of its backbone while the backbone is frozen.

    `select` picks the feature from the backbone's output. The first batch fixes the feature's
    shape; a feature whose shape then changes with the batch (one vector per token, padded per
    batch) cannot be kept one per example, and the cache turns itself off saying so."""

    def __init__(self, backbone: paddle.nn.Layer, select: Callable[[Any], paddle.Tensor], directory: str,
                 mask_index: Optional[int] = None) -> None:
        self.backbone, self.select = backbone, select
        self.directory, self.mask_index = directory, mask_index
        self.store = FeatureStore.existing(directory)
        self.enabled = True
        self.note: Optional[str] = None  # why the cache turned itself off
        self.computed = self.read = 0  # rows, over the run
        self.epoch_computed = self.epoch_read = 0

    def turn_off(self, note: str) -> None:
        self.enabled, self.note = False, note

    def start_epoch(self) -> None:
        self.epoch_computed = self.epoch_read = 0

    def _compute(self, inputs: Sequence[paddle.Tensor]) -> paddle.Tensor:
        with paddle.no_grad():
            return self.select(self.backbone(*inputs))

    def _keep(self, keys: list[bytes], values: np.ndarray) -> bool:
        """Store `values` (the backbone's features for `keys`); False when the cache turned off."""
        shape = tuple(values.shape[1:])
        kind = (shape, values.dtype)
        if self.store is not None and not (self.computed or self.read) and kind != (self.store.shape, self.store.dtype):
            self.store.close()  # an earlier run's store of another shape or dtype: start afresh
            self.store = None
        if self.store is None:
            self.store = FeatureStore(self.directory, shape, str(values.dtype))
        elif shape != self.store.shape or values.dtype != self.store.dtype:
            self.turn_off(f"the feature changes with the batch ({list(self.store.shape)} {self.store.dtype}, then "
                          f"{list(shape)} {values.dtype}): one feature per example cannot be kept")
            return False
        self.store.append(keys, values)
        return True

    def __call__(self, inputs: Sequence[paddle.Tensor]) -> paddle.Tensor:
        keys = row_keys([x.numpy() for x in inputs], self.mask_index)
        rows = self.store.rows_of(keys) if self.store is not None else [None] * len(keys)
        missing = [i for i, row in enumerate(rows) if row is None]
        if len(missing) == len(keys):  # the backbone's own call, on the whole batch
            feature = self._compute(inputs)
            if self._keep(keys, feature.numpy()):
                self.computed += len(keys)
                self.epoch_computed += len(keys)
            return feature
        found = [i for i, row in enumerate(rows) if row is not None]
        values = self.store.take([rows[i] for i in found])
        self.read += len(found)
        self.epoch_read += len(found)
        if not missing:
            return paddle.to_tensor(values)
        picked = paddle.to_tensor(np.asarray(missing, dtype=np.int64))
        fresh = self._compute([paddle.gather(x, picked) for x in inputs]).numpy()  # one host copy
        if not self._keep([keys[i] for i in missing], fresh):
            return self._compute(inputs)
        self.computed += len(missing)
        self.epoch_computed += len(missing)
        batch = np.empty((len(keys), *values.shape[1:]), dtype=values.dtype)
        batch[found], batch[missing] = values, fresh
        return paddle.to_tensor(batch)

    def close(self) -> None:
        if self.store is not None:
            self.store.close()
