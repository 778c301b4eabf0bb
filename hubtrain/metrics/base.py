"""HubMetric: the base of hubtrain's metrics, and the small helpers they share.

A metric's `compute` does the tensor work on the device and returns sufficient statistics for
the batch; `update` adds them to the running state (still on the device, no host copy);
`accumulate` turns the state into the reported value. Because the state is sums or kept values,
never averages, a metric fed batch by batch equals one fed everything at once, and metrics of
different processes combine exactly with `merge`.
"""
from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np
import paddle

__all__ = ["HubMetric", "ValuesMetric", "metric_values"]


class HubMetric(paddle.metric.Metric):
    """Base of hubtrain's metrics. `higher_is_better` tells best-model selection which way to go.

    `name()` is one name, or a list of names for a metric reporting several values (then
    `accumulate()` returns a list of the same length, as hapi expects)."""

    higher_is_better = True

    def __init__(self, name: str | list[str]) -> None:
        super().__init__()
        self._name = name
        self.reset()

    def name(self) -> str | list[str]:
        return self._name

    def statistics(self) -> tuple:
        """The running state in the form `update` takes: `other.update(*m.statistics())` adds
        everything `m` has seen to `other`. Empty tuple when nothing was seen."""
        raise NotImplementedError(f"{type(self).__name__} does not expose its statistics")

    def merge(self, other: "HubMetric") -> None:
        """Add another metric's state (e.g. the same metric of another process) to this one;
        the result equals one metric fed both streams of batches."""
        if type(other) is not type(self):
            raise TypeError(f"cannot merge a {type(other).__name__} into a {type(self).__name__}")
        self._check_mergeable(other)
        stats = other.statistics()
        if stats:
            self.update(*stats)

    def _check_mergeable(self, other: "HubMetric") -> None:
        """Subclasses with a configuration (tag sets, averaging) refuse a differently configured other."""

    def state_dict(self) -> dict:
        """The running state as plain data (numbers and numpy arrays), so a checkpoint taken in the
        middle of an epoch carries the epoch's counts so far."""
        return {"statistics": [_plain(value) for value in self.statistics()]}

    def set_state_dict(self, state: dict) -> None:
        """Replace the running state with one `state_dict` gave (arrays go back on the device)."""
        self.reset()
        values = [paddle.to_tensor(v) if isinstance(v, np.ndarray) else v for v in state.get("statistics", [])]
        if values:
            self.update(*values)


def metric_values(metrics: Sequence[Any]) -> dict:
    """Every metric's running values by name (a metric reporting several gives several)."""
    values: dict = {}
    for metric in metrics:
        names, accumulated = metric.name(), metric.accumulate()
        names = list(names) if isinstance(names, (list, tuple)) else [names]
        accumulated = list(accumulated) if isinstance(accumulated, (list, tuple)) else [accumulated]
        values.update(zip(names, accumulated))
    return values


def _plain(value: Any) -> Any:
    """A statistic as a number or a numpy array (a tensor copied to the host)."""
    if isinstance(value, paddle.Tensor):
        return value.numpy().copy()
    if isinstance(value, np.generic):
        return value.item()
    return value


def host(value: Any, dtype: Optional[str] = None) -> np.ndarray:
    """A numpy copy of a tensor, array or number (the one host copy, made in `accumulate`)."""
    array = value.numpy() if isinstance(value, paddle.Tensor) else np.asarray(value)
    return array.astype(dtype) if dtype is not None else array


def add(total: Any, value: Any) -> Any:
    """Running sum that starts from None and keeps the type it is fed (tensor or numpy)."""
    if total is None:
        return value
    if isinstance(total, paddle.Tensor) and not isinstance(value, paddle.Tensor):
        value = paddle.to_tensor(np.asarray(value), dtype=total.dtype)
    elif isinstance(value, paddle.Tensor) and not isinstance(total, paddle.Tensor):
        value = value.numpy()
    return total + value


def ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den elementwise, 0 where den is 0 (scikit-learn's zero_division=0)."""
    num, den = np.asarray(num, dtype=np.float64), np.asarray(den, dtype=np.float64)
    out = np.zeros(np.broadcast(num, den).shape, dtype=np.float64)
    np.divide(num, den, out=out, where=den != 0)
    return out


def rows(tensor: paddle.Tensor, columns: int) -> paddle.Tensor:
    """The tensor as [N, columns] (a [N] or [N, 1] label becomes [N, 1])."""
    return tensor.reshape([-1, columns])


def detached(tensor: Any) -> Any:
    """Values to keep past the step must not hold the step's autograd graph."""
    return tensor.detach() if isinstance(tensor, paddle.Tensor) else tensor


class ValuesMetric(HubMetric):
    """A metric that needs every (score, target) pair, not counts: ranks (AUC, Spearman) are
    exact with ties only over all values. `update` keeps each batch's pair on the device;
    `statistics` copies them to the host once, concatenated, and keeps that copy until the next
    update (an evaluation's end reads them several times)."""

    def reset(self) -> None:
        self.batches: list = []
        self._host: Optional[tuple] = None

    def update(self, scores: Any, targets: Any) -> None:
        self.batches.append((scores, targets))
        self._host = None

    def statistics(self) -> tuple:
        if not self.batches:
            return ()
        if self._host is None:
            self._host = tuple(np.concatenate([host(batch[i]) for batch in self.batches]) for i in range(2))
        return self._host
