"""One train, eval or predict step of a task, as hapi's dygraph adapter runs it, minus the
per-step costs hapi pays: the whole network is not re-flagged `train()` every batch, metric
counts stay on the device, gradients are released rather than zeroed, and gradient
accumulation and the LR schedule follow optimizer steps."""
from __future__ import annotations

import inspect
from typing import Any

import paddle
from paddle.hapi.model import DynamicGraphAdapter, _update_input_info

from .compile import first_static_call

__all__ = ["TaskAdapter", "clear_grad_args"]


def clear_grad_args(optimizer: Any) -> dict:
    """How the optimizer's `clear_grad` is called after each step: gradients released, not
    zeroed. Zeroing them is a pass the next backward makes useless; released, a step is 2-3%
    faster on an MLP 784-512-512-10 (2.6 MB of gradients) and 1.4-1.7% on the benchmark
    transformer (9 MB) (`benchmarks/gradients.py`). Optimizers whose `clear_grad` takes no `set_to_zero` keep theirs."""
    clear = getattr(optimizer, "clear_grad", None)
    if clear is None or "set_to_zero" not in inspect.signature(clear).parameters:
        return {}
    return {"set_to_zero": False}


def _tensors(values: Any) -> list[paddle.Tensor]:
    if values is None:
        return []
    values = values if isinstance(values, (list, tuple)) else [values]
    return [v if isinstance(v, paddle.Tensor) else paddle.to_tensor(v) for v in values]


def _as_list(values: Any) -> list:
    return list(values) if isinstance(values, (list, tuple)) else [values]


class TaskAdapter(DynamicGraphAdapter):
    """hapi's dynamic-graph adapter with a task's step methods."""

    @classmethod
    def adopt(cls, adapter: DynamicGraphAdapter) -> "TaskAdapter":
        """Take over the adapter `paddle.Model` built, with its state: building a second one would
        start the parallel environment again and wrap the network in a second DataParallel, whose
        gradient hooks collide with the first's under several processes."""
        task_adapter = cls.__new__(cls)
        task_adapter.__dict__.update(adapter.__dict__)
        return task_adapter

    def _set_mode(self, training: bool, mode: str) -> None:
        net = self.model.network
        if net.training != training:
            net.train() if training else net.eval()
        self.mode = mode

    def _forward(self, inputs: list[paddle.Tensor]) -> list[paddle.Tensor]:
        if self._input_info is None:
            self._input_info = _update_input_info(inputs)
        net = self.ddp_model if self._nranks > 1 and self.mode == "train" else self.model.network
        if self.model._static_pending:
            return _as_list(first_static_call(self.model, lambda: net(*inputs)))
        return _as_list(net(*inputs))

    def train_batch(self, inputs, labels=None, update=True):
        task = self.model
        assert task._optimizer, "model not ready, please call `model.prepare()` first"
        self._set_mode(True, "train")
        inputs, labels = _tensors(inputs), _tensors(labels)
        task._check_batch("train", inputs, labels)
        with task._autocast():
            outputs = self._forward(inputs)
        loss = task._compute_loss(outputs, labels)
        # the one copy to the host per step, checked before it can train; a copy of paddle's array,
        # which is a view that keeps the tensor's whole memory block (8 KB on CPU) alive
        host_loss = loss.numpy().copy()
        kept = task._keep_batch(host_loss)
        if kept:
            accumulate = task._accumulate_steps()
            scaled = loss / accumulate if accumulate > 1 else loss
            scaler = task._scaler
            (scaler.scale(scaled) if scaler is not None else scaled).backward()
        if update and task._at_update_boundary():
            task._optimizer_step()
        # a batch left out counts no samples: not in the metrics, not in the logged loss
        metric_values = task._update_metrics(task._metrics, outputs, labels) if kept else []
        task._record_step([host_loss] + [o.detach() for o in outputs], len_of(inputs) if kept else 0)
        return ([host_loss], metric_values) if task._metrics else [host_loss]

    def eval_batch(self, inputs, labels=None):
        task = self.model
        self._set_mode(False, "eval")
        inputs, labels = _tensors(inputs), _tensors(labels)
        task._check_batch("eval", inputs, labels)
        outputs = self._forward(inputs)
        results = list(outputs)
        losses = []
        if task._loss:
            losses = [task._compute_loss(outputs, labels).numpy().copy()]
            results = losses + results
        metric_values = task._update_metrics(task._metrics, outputs, labels)
        task._record_step(results, len_of(inputs))
        if task._loss:
            return (losses, metric_values) if task._metrics else losses
        return metric_values

    def predict_batch(self, inputs):
        task = self.model
        self._set_mode(False, "test")
        inputs = _tensors(inputs)
        outputs = self._forward(inputs)
        task._record_step(task._postprocess(outputs), len_of(inputs))
        return [] if task._streaming else [o.numpy() for o in outputs]


def len_of(inputs: list[paddle.Tensor]) -> int:
    return int(inputs[0].shape[0]) if inputs else 0
