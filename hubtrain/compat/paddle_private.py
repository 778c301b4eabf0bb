"""Every use of a private Paddle name in hubtrain.Model, each with the reason it is needed.

`paddle.Model` keeps the input specs, the shapes seen in the first batch and its graph adapter
in private attributes that its own public methods (save for inference, summary, load, static
mode) read; hub.Model is a paddle.Model, so it keeps them as paddle.Model would. `NAMES` lists
what is used here, and tests/test_paddle_private.py fails, naming the missing one, when a Paddle
upgrade removes any of them.
"""
from __future__ import annotations

from typing import Any, Optional

import paddle
from paddle.hapi import model as hapi_model

__all__ = ["NAMES", "input_count", "input_specs", "input_shapes_known", "forget_input_shapes", "note_batch_inputs",
           "load_into", "data_parallel_network", "lr_scheduler_of", "squared_l2_norm"]

# (where, name): every private name used below
NAMES = (
    ("paddle.Model instance", "_inputs"),
    ("paddle.Model instance", "_input_info"),
    ("paddle.Model instance", "_adapter"),
    ("paddle.Model", "_update_inputs"),
    ("paddle.hapi.model", "_update_input_info"),
    ("paddle.optimizer.Optimizer instance", "_learning_rate"),
    ("paddle", "_C_ops"),
)


def input_count(model: paddle.Model) -> Optional[int]:
    """How many leading fields of a batch are inputs (None: all of them, for predict). Users may
    also set the specs to None themselves, and the batch split must follow."""
    specs = input_specs(model)
    return None if specs is None else len(specs)


def input_specs(model: paddle.Model) -> Optional[list]:
    """The model's input specs (`_inputs`: what paddle.Model made from `inputs` or from forward's
    arguments, or learnt from the first batch)."""
    specs = model._inputs
    return None if specs is None else list(specs)


def input_shapes_known(model: paddle.Model) -> bool:
    """Whether the input shapes are known (`_input_info`): given with the specs, or learnt."""
    return model._input_info is not None


def forget_input_shapes(model: paddle.Model) -> None:
    """Specs given only to name the inputs: their shapes are learnt from the first batch, as for
    a model made without `inputs` (`_input_info` None is what makes paddle.Model learn them)."""
    model._input_info = None


def note_batch_inputs(model: paddle.Model, inputs: list) -> None:
    """Keep the first batch's input shapes and dtypes when they are not known yet, as
    paddle.Model's batch methods do: `save(training=False)` exports with them. `_update_input_info`
    computes them from a batch. A model with `input_names` gets specs of those names; any other
    gets paddle.Model's own (`_update_inputs`, from the adapter's `_input_info`, named after the
    forward's arguments)."""
    if model._input_info is not None:
        return
    info = hapi_model._update_input_info(inputs)
    names = getattr(model, "input_names", None)
    if names:
        shapes, dtypes = info
        model._input_info = info
        model._inputs = [paddle.static.InputSpec([None] + list(shape[1:]), dtype, name)
                         for name, shape, dtype in zip(names, shapes, dtypes)]
    else:
        model._adapter._input_info = info
        model._update_inputs()


def load_into(model: paddle.Model, pairs: list, optimizer_state: Optional[dict]) -> None:
    """Set parameters from `(parameter, value)` pairs and the optimizer from its saved state,
    through paddle.Model's graph adapter (`_adapter.load`): it renames optimizer state saved in
    static mode to dygraph names, and in static mode it writes the values into the scope."""
    model._adapter.load(pairs, optimizer_state)


def data_parallel_network(model: paddle.Model) -> Any:
    """The DataParallel wrapper paddle.Model built for several processes (`_adapter.ddp_model`):
    building a second one would start the parallel environment again and register a second set
    of gradient hooks on the same parameters."""
    return getattr(model._adapter, "ddp_model", model.network)


def lr_scheduler_of(optimizer: Any) -> Any:
    """The LR scheduler an optimizer was built with (`_learning_rate`, which paddle's own
    LRScheduler callback reads too), or None for a fixed rate."""
    scheduler = optimizer._learning_rate
    return scheduler if isinstance(scheduler, paddle.optimizer.lr.LRScheduler) else None


def squared_l2_norm() -> Any:
    """The fused kernel paddle's own ClipGradByGlobalNorm uses (`_C_ops.squared_l2_norm`): a
    tenth of the time of sum(g * g), which first writes out every square. None if it is gone."""
    return getattr(paddle._C_ops, "squared_l2_norm", None)
