"""What a task shows of itself, as PaddleHub's Task did: the last value of a named loss, metric
or output, and its network traced into static Programs."""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional, Sequence

import numpy as np
import paddle
import paddle.nn as nn

from ..compat import paddle_private
from ..metrics import metric_values
from .net import with_signature

if TYPE_CHECKING:
    from .base import BaseTask

__all__ = ["output_name", "metric_names", "scores", "last_values", "variable", "traced", "Traced"]


def output_name(names: Sequence[str], index: int) -> str:
    return names[index] if index < len(names) else f"output_{index}"


def _as_list(value: Any) -> list:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def metric_names(metrics: Sequence[Any]) -> list[str]:
    """The names metrics report, a metric reporting several values giving several names."""
    return [name for metric in metrics for name in _as_list(metric.name())]


def scores(task: "BaseTask") -> dict:
    """The last evaluation's result, or the running values of the metrics last updated."""
    source = task.current_run.last_scores
    if isinstance(source, dict):
        return dict(source)
    task.metric_feed.flush()
    return metric_values(source)


def _numpy(value: Any) -> np.ndarray:
    return value.numpy() if isinstance(value, paddle.Tensor) else np.asarray(value)


def last_values(task: "BaseTask") -> dict:
    """The last step's loss and outputs by name, from each mode's last results (newest wins)."""
    values: dict = {}
    for mode, results in task.current_run.last_results.items():
        predicting = mode == "test"
        with_loss = not predicting and task.loss is not None and len(results) > 0
        names = (task.predict_output_names or task.output_names) if predicting else task.output_names
        outputs = results[1:] if with_loss else results
        values.update({output_name(names, i): value for i, value in enumerate(outputs)})
        if with_loss:
            values["loss"] = results[0]
    return values


def variable(task: "BaseTask", name: str) -> Optional[np.ndarray]:
    """See BaseTask.variable."""
    found = scores(task)
    if name in found:
        return np.asarray(found[name])
    values = last_values(task)
    if name in values:
        return _numpy(values[name])
    outputs = list(task.output_names) + list(task.predict_output_names or [])
    known = list(dict.fromkeys(task.metric_variable_names() + outputs + list(values)))
    if name in known:
        return None  # a name the task has, before any run produced it (PaddleHub handed out the graph node)
    raise ValueError(f"{type(task).__name__} has no variable '{name}'; known: {', '.join(known)}.")


@dataclass
class Traced:
    """A network traced by `paddle.jit.to_static`: its Programs and the specs it was traced with."""

    main_program: Any
    startup_program: Any
    input_spec: list


class _Graph(nn.Layer):
    """The network, and its loss when labels are fed, as one Layer to trace."""

    def __init__(self, network: nn.Layer, loss: Any, num_inputs: int) -> None:
        super().__init__()
        self.network = network
        self._loss_fn = loss
        self._num_inputs = num_inputs

    def forward(self, *fed: paddle.Tensor) -> Any:
        inputs, labels = list(fed[:self._num_inputs]), list(fed[self._num_inputs:])
        outputs = self.network(*inputs)
        outputs = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
        if not labels:
            return outputs
        losses = self._loss_fn(*(outputs + labels))
        losses = list(losses) if isinstance(losses, (list, tuple)) else [losses]
        loss = losses[0] if len(losses) == 1 else paddle.add_n(losses)
        return [loss] + outputs


def traced(task: "BaseTask", kind: str) -> Traced:
    """The task's network traced once per kind: "main" (training mode, network and loss, fed
    inputs then labels) or "inference" (eval mode, network only)."""
    if kind in task._programs:
        return task._programs[kind]
    if not paddle_private.input_shapes_known(task):
        raise ValueError(f"{type(task).__name__}: the input shapes are not known yet, so the network cannot be "
                         f"traced: build the task with inputs=[paddle.static.InputSpec(...)] (a module's feature "
                         f"carries them), or run a batch first (finetune, eval or predict).")
    inputs = paddle_private.input_specs(task)
    specs = inputs + (list(task.labels) if kind == "main" else [])
    loss = None
    if kind == "main":
        loss = task.loss if task.loss is not None else task._add_loss()
        if loss is None:
            raise ValueError(f"{type(task).__name__} has no loss (_add_loss() returned None): the main program "
                             f"holds the network and its loss; use inference_program() for the network alone.")
    graph = _Graph(task.network, loss, len(inputs))
    params = [inspect.Parameter(spec.name, inspect.Parameter.POSITIONAL_OR_KEYWORD) for spec in specs]
    forward = with_signature(_Graph.forward, graph, params)
    was_training = task.network.training
    task.network.train() if kind == "main" else task.network.eval()
    try:
        static = paddle.jit.to_static(forward, input_spec=specs, full_graph=True)
        concrete = static.concrete_program
    except Exception as e:  # tracing runs user code: say which task and step failed
        raise RuntimeError(f"{type(task).__name__}: tracing the network with paddle.jit.to_static failed "
                           f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}); every step of "
                           f"the forward (and loss) must be paddle tensor operations.") from e
    finally:
        task.network.train() if was_training else task.network.eval()
    result = Traced(concrete.main_program, concrete.startup_program, specs)
    task._programs[kind] = result
    return result
