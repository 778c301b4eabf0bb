"""Answer spans from start/end logits: the best span of each window (vectorised over the batch),
and the merge of a question's windows into its answer.

Windows arrive in dataset order (evaluation and prediction loaders do not shuffle), so a
question is complete once a window of a later question (or the end of the data) is seen; its
answer is the best-scoring span over its windows, the score being start logit + end logit."""
from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np

__all__ = ["best_spans", "WindowMerger"]


def best_spans(start_logits: np.ndarray, end_logits: np.ndarray, valid: np.ndarray, max_answer_length: int,
               n_best_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row, the best span (start <= end, at most `max_answer_length` tokens, both ends on
    `valid` tokens) among the `n_best_size` best starts and ends: ([N] start, [N] end, [N] score);
    the score is -inf where no span qualifies."""
    start = np.where(valid, start_logits.astype(np.float64), -np.inf)
    end = np.where(valid, end_logits.astype(np.float64), -np.inf)
    rows, steps = start.shape
    if rows == 0 or steps == 0:
        empty = np.zeros(rows, dtype=np.int64)
        return empty, empty, np.full(rows, -np.inf)
    k = max(1, min(n_best_size, steps))
    starts = np.argsort(-start, axis=1, kind="stable")[:, :k]
    ends = np.argsort(-end, axis=1, kind="stable")[:, :k]
    scores = np.take_along_axis(start, starts, 1)[:, :, None] + np.take_along_axis(end, ends, 1)[:, None, :]
    length = ends[:, None, :] - starts[:, :, None]
    scores = np.where((length >= 0) & (length < max_answer_length), scores, -np.inf)
    flat = scores.reshape(rows, -1)
    best = flat.argmax(axis=1)
    row = np.arange(rows)
    return starts[row, best // k], ends[row, best % k], flat[row, best]


class WindowMerger:
    """Takes windows' logits batch by batch, in the order of `features` (RCFeature's), and
    gives back each question's answer once all its windows are in."""

    def __init__(self, features: Sequence[Any], max_answer_length: int, n_best_size: int) -> None:
        self.features = features
        self.max_answer_length = max_answer_length
        self.n_best_size = n_best_size
        self.cursor = 0
        self._pending: dict = {}  # example_index -> (score, text)

    @property
    def done(self) -> bool:
        return self.cursor >= len(self.features)

    def _valid(self, rows: Sequence[Any], steps: int) -> np.ndarray:
        valid = np.zeros((len(rows), steps), dtype=bool)
        for i, feature in enumerate(rows):
            spans = feature.token_spans[:steps]
            valid[i, :len(spans)] = [span is not None for span in spans]
        return valid

    def feed(self, start_logits: np.ndarray, end_logits: np.ndarray) -> list[tuple[int, str]]:
        """One batch of windows; returns (example_index, answer text) of the questions it completed."""
        count = start_logits.shape[0]
        rows = self.features[self.cursor:self.cursor + count]
        if len(rows) != count:
            raise ValueError(f"{self.cursor + count} windows were evaluated but the data has {len(self.features)}: "
                             f"evaluate a reading-comprehension reader's dataset (reader.get_dataset(phase)) "
                             f"in order.")
        steps = start_logits.shape[1]
        starts, ends, scores = best_spans(start_logits, end_logits, self._valid(rows, steps),
                                          self.max_answer_length, self.n_best_size)
        for feature, first, last, score in zip(rows, starts, ends, scores):
            text = feature.answer_text(int(first), int(last)) if np.isfinite(score) else ""
            held = self._pending.get(feature.example_index)
            if held is None or score > held[0]:
                self._pending[feature.example_index] = (score, text)
        self.cursor += count
        following: Optional[int] = None if self.done else self.features[self.cursor].example_index
        finished = [(index, text) for index, (_, text) in self._pending.items() if index != following]
        for index, _ in finished:
            del self._pending[index]
        return finished
