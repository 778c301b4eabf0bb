"""Predictions streamed to a JSON-lines file while the batches come."""
from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any, Optional, Sequence

import numpy as np

from ..engine.events import Callback
from ..engine.memory import release_freed_memory
from ..engine.report import is_main_process

if TYPE_CHECKING:
    from ..engine.loop import Loop

__all__ = ["PredictionWriter"]

_TRIM_EVERY = 32  # batches between returns of freed memory to the system


def _plain(value: Any) -> Any:
    value = np.asarray(value)
    return value.item() if value.ndim == 0 else value.tolist()


class PredictionWriter(Callback):
    """Writes `{"index": i, <output name>: value, ...}` per sample to `path` (for a classifier also
    `"label"`: the most probable class, by name when `labels` are given), through a temporary
    file renamed when the last batch is in. Each batch's results are released once written; the
    results are the task's run state of the batch (its `_postprocess`ed outputs)."""

    order = 10  # after the run's events, which make the batch's run state

    def __init__(self, path: str, names: Sequence[str], classify: bool = False,
                 labels: Optional[Sequence[str]] = None) -> None:
        self.path = os.path.abspath(path)
        self.names = list(names)
        self.classify = classify
        self.labels = list(labels) if labels else None
        self._file = None
        self._count = 0

    def predict_begin(self, loop: "Loop") -> None:
        self._count = 0
        if is_main_process():
            os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
            self._file = open(f"{self.path}.part", "w", encoding="utf-8")

    def batch_end(self, loop: "Loop") -> None:
        if loop.phase != "predict":
            return
        run_state = loop.model.env.run_states[-1]
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
        if (loop.batch.index + 1) % _TRIM_EVERY == 0:
            release_freed_memory()

    def predict_end(self, loop: "Loop") -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
            os.replace(f"{self.path}.part", self.path)
