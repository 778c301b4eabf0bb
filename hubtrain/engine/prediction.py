"""Predictions streamed to a file: one JSON line per sample, written as each batch comes, so
memory stays flat however large the data."""
from __future__ import annotations

import ctypes
import functools
import json
import os
from typing import Any, Optional, Sequence

import numpy as np
import paddle

from .report import is_main_process

__all__ = ["PredictionWriter", "release_freed_memory"]

_TRIM_EVERY = 32  # batches


@functools.lru_cache(maxsize=None)
def _libc_trim() -> Any:
    """glibc's malloc_trim, looked up in the symbols already loaded (dlopen(NULL)) on first use:
    ctypes.util.find_library would run ldconfig in a subprocess."""
    if os.name != "posix":
        return None
    return getattr(ctypes.CDLL(None), "malloc_trim", None)


def release_freed_memory() -> None:
    """Hand memory freed by finished batches back to the system. glibc keeps freed buffers of
    mid-sized batches in its heaps, so without this a long prediction's resident memory creeps
    up although nothing is kept; elsewhere (no glibc) it does nothing."""
    trim = _libc_trim()
    if trim is not None:
        trim(0)


def _plain(value: Any) -> Any:
    value = np.asarray(value)
    return value.item() if value.ndim == 0 else value.tolist()


class PredictionWriter(paddle.callbacks.Callback):
    """Writes `{"index": i, <output name>: value, ...}` per sample to `path` (for a classifier also
    `"label"`: the most probable class, by name when `labels` are given), through a temporary
    file renamed when the last batch is in. Each batch's results are released once written."""

    def __init__(self, path: str, names: Sequence[str], classify: bool = False,
                 labels: Optional[Sequence[str]] = None) -> None:
        super().__init__()
        self.path = os.path.abspath(path)
        self.names = list(names)
        self.classify = classify
        self.labels = list(labels) if labels else None
        self._file = None
        self._count = 0

    def on_predict_begin(self, logs: Any = None) -> None:
        self._count = 0
        if is_main_process():
            os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
            self._file = open(f"{self.path}.part", "w", encoding="utf-8")

    def on_predict_batch_end(self, step: int, logs: Any = None) -> None:
        run_state = self.model.env.run_states[-1]
        results = run_state.run_results
        if self._file is not None:
            for i in range(run_state.run_examples):
                row = {"index": self._count + i}
                for n, value in enumerate(results):
                    row[self.names[n] if n < len(self.names) else f"output_{n}"] = _plain(value[i])
                if self.classify:
                    best = int(np.argmax(results[0][i]))
                    row["label"] = self.labels[best] if self.labels else best
                self._file.write(json.dumps(row, ensure_ascii=False) + "\n")
        self._count += run_state.run_examples
        run_state.keep_only(0)
        if (step + 1) % _TRIM_EVERY == 0:
            release_freed_memory()

    def on_predict_end(self, logs: Any = None) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
            os.replace(f"{self.path}.part", self.path)
