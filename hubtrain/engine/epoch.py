"""One pass of a task over a loader, for paddle.Model's fit, evaluate and predict: hapi's batch
loop, with what it redoes every batch done once per pass.

hapi brings every metric up to date and reads it back from the device after every training
batch, to put it in `logs`. Here a training pass does that at its first batch, at every log
interval and at its last batch, and `logs` keeps the last values in between; the metric inputs
of the steps in between wait on the device (engine/deferred_metrics.py). Logging, the progress
bar and the run events bring the metrics up to date themselves when they read them, so nothing
they show changes. The loss in `logs` is the batch's own, every batch, as in hapi. Evaluation and
prediction refresh every batch.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

import paddle
from paddle.hapi.model import to_list

if TYPE_CHECKING:
    from ..tasks.base import BaseTask

__all__ = ["run_epoch"]


def _hooks(callbacks: Any, name: str) -> list:
    """The `name` methods of the callbacks that do something there: one that keeps the base
    class's no-op is not called every batch (as Keras does)."""
    base = getattr(paddle.callbacks.Callback, name)
    hooks = [getattr(c, name) for c in callbacks]
    return [h for h in hooks if getattr(h, "__func__", None) is not base]


def _flat(data: Any) -> list:
    """A batch as one flat list: a DataLoader's list of tensors as it is, anything nested through
    paddle's flatten."""
    if isinstance(data, list) and all(isinstance(d, paddle.Tensor) for d in data):
        return data
    return paddle.utils.flatten(data)


def _batch_size(data: list) -> int:
    shape = data[0].shape  # a DenseTensor from a static-graph loader has a callable shape
    return int(shape()[0] if callable(shape) else shape[0])


def _loss(task: "BaseTask", outs: Any) -> Optional[list]:
    """The batch's loss as hapi puts it in `logs` (a list of floats); None without a loss."""
    if not task._loss:
        return None
    return [float(l) for l in (outs[0] if task._metrics else outs)]


def _metric_values(task: "BaseTask", outs: Any) -> list:
    """The loss and every metric's running value, in `_metrics_name()` order."""
    task._deferred.flush()
    loss = _loss(task, outs)
    values = [] if loss is None else [loss]
    for metric in task._metrics:
        values.extend(to_list(metric.accumulate()))
    return values


def _refresh_due(task: "BaseTask", step: int, steps: Optional[int]) -> bool:
    """Whether this training batch puts fresh metric values in `logs`."""
    plan = task._plan
    if plan is None or steps is None or step == 0 or step + 1 >= steps:
        return True
    return (task.train_state.global_step + 1) % plan.log_interval == 0


def run_epoch(task: "BaseTask", loader: Any, callbacks: Any, mode: str, logs: dict) -> Any:
    """hapi's `_run_one_epoch`: the same calls to the step methods and callbacks (those that do
    something), the same `logs` keys, the same stop through `num_iters`; returns `logs`, and for
    predict also the outputs."""
    outputs = []
    names = task._metrics_name()
    n_inputs = len(task._inputs) if task._inputs is not None else None
    nranks = paddle.distributed.ParallelEnv().nranks
    steps = task._len_data_loader(loader)
    steps = steps if isinstance(steps, int) else None
    merged = task._adapter._merge_count
    begin, end = _hooks(callbacks, f"on_{mode}_batch_begin"), _hooks(callbacks, f"on_{mode}_batch_end")
    stale, outs = False, None  # whether logs miss the metric updates of the last batches
    with task._deferred.deferring(mode == "train"):
        for step, data in enumerate(loader):
            data = _flat(data)
            batch_size = _batch_size(data)
            for hook in begin:
                hook(step, logs)
            if mode == "predict":
                outputs.append(task.predict_batch(data[:n_inputs] if n_inputs is not None else data))
            else:
                inputs = [data[:n_inputs], data[n_inputs:]]
                if mode == "train":
                    update = (step + 1) % task._accumulate == 0 or (steps is not None and step + 1 == steps)
                    outs = task.train_batch(*inputs, update)
                else:
                    outs = task.eval_batch(*inputs)
                stale = mode == "train" and not _refresh_due(task, step, steps)
                if stale:
                    loss = _loss(task, outs)
                    if loss is not None:
                        logs["loss"] = loss
                else:
                    values = _metric_values(task, outs)
                    assert len(names) == len(values)
                    logs.update(zip(names, values))
            logs["step"] = step
            if mode == "train" or merged.get(mode + "_batch", 0) <= 0:
                logs["batch_size"] = batch_size * nranks
            else:
                logs["batch_size"] = merged[mode + "_batch"]
            for hook in end:
                hook(step, logs)
            if getattr(task, "num_iters", None) is not None:
                task.num_iters -= 1
                if task.num_iters <= 0:
                    task.stop_training = True
                    task.num_iters = None
                    break
    if stale:  # the pass was cut short between refreshes: what it returns is up to date
        logs.update(zip(names, _metric_values(task, outs)))
    task._reset_metrics()
    return (logs, outputs) if mode == "predict" else logs
