"""Training metrics fed in batches of steps rather than step by step.

A metric's work per step is a few small kernels (an argmax, a comparison, a sum, an add), whose
cost on a small network is mostly that of launching them. During
training hubtrain keeps each step's metric inputs (the detached outputs and the labels, which the
step's run state holds until the next log anyway) and feeds them to the metrics at once when the
values are read: at the first step of a pass, at every log interval, at the end of the pass. The
inputs are joined along the batch axis where their shapes allow, so ten steps cost one set of
kernels. hubtrain's metrics, and paddle's Accuracy, Precision, Recall and Auc, keep sums, never
averages, so the values are the ones step-by-step updates give; any other metric is fed every step.
"""
from __future__ import annotations

import contextlib
from typing import Iterator, Optional

import paddle

from ..metrics import HubMetric

__all__ = ["DeferredMetrics"]


def _joinable(column: list) -> bool:
    first = column[0]
    if not isinstance(first, paddle.Tensor) or first.ndim == 0:
        return False
    return all(isinstance(t, paddle.Tensor) and t.ndim == first.ndim and t.dtype == first.dtype
               and t.shape[1:] == first.shape[1:] for t in column[1:])


# paddle's own metrics whose `update` only adds counts, so feeding several steps at once gives
# the counts step-by-step updates give
_PADDLE_COUNTING = (paddle.metric.Accuracy, paddle.metric.Precision, paddle.metric.Recall, paddle.metric.Auc)


def _counts(metric: object) -> bool:
    return isinstance(metric, HubMetric) or type(metric) in _PADDLE_COUNTING


class DeferredMetrics:
    """The metric inputs of the training steps since the metrics were last brought up to date.
    Deferring happens only inside a training pass (`deferring`); anything that reads the metrics
    calls `flush` first."""

    def __init__(self) -> None:
        self._pending: list[list] = []
        self._metrics: Optional[list] = None  # the metrics the pending inputs are for
        self._deferrable = False  # whether those are all hubtrain's own
        self._active = False

    @contextlib.contextmanager
    def deferring(self, active: bool) -> Iterator[None]:
        """Defer while the block runs (when `active`); bring the metrics up to date at its end, or
        drop what is kept if it fails."""
        self._active = active
        try:
            yield
        except BaseException:
            self._pending = []
            raise
        finally:
            self._active = False
        self.flush()

    def start(self) -> None:
        """Defer from now on (a training pass begins)."""
        self._active = True

    def stop(self, flush: bool = True) -> None:
        """Stop deferring: feed what is kept, or drop it (a pass that failed)."""
        self._active = False
        if flush:
            self.flush()
        else:
            self._pending = []

    def offer(self, metrics: list, args: list) -> bool:
        """Keep a step's metric inputs for later; False when they must be fed now (outside a
        training pass, or metrics other than hubtrain's, which take numpy arrays every step)."""
        if not self._active or not metrics:
            return False
        if self._metrics is not metrics:
            self.flush()
            self._metrics = metrics
            self._deferrable = all(_counts(m) for m in metrics)
        if not self._deferrable:
            return False
        self._pending.append([a.detach() if isinstance(a, paddle.Tensor) else a for a in args])
        return True

    def flush(self) -> None:
        """Feed every kept step to its metrics: joined into one batch when every input allows it,
        else step by step."""
        pending, metrics, self._pending = self._pending, self._metrics, []
        if not pending or metrics is None:
            return
        columns = list(zip(*pending))
        if len(pending) > 1 and all(_joinable(list(c)) for c in columns):
            pending = [[paddle.concat(list(c), axis=0) for c in columns]]
        for args in pending:
            for metric in metrics:  # type: ignore[union-attr]
                computed = metric.compute(*args)
                computed = list(computed) if isinstance(computed, (list, tuple)) else [computed]
                if not isinstance(metric, HubMetric):  # paddle's metrics take numpy arrays
                    computed = [c.numpy() if isinstance(c, paddle.Tensor) else c for c in computed]
                metric.update(*computed)
