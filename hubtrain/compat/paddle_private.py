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

__all__ = ["NAMES", "input_count", "note_batch_inputs", "load_into", "data_parallel_network"]

# (where, name): every private name used below
NAMES = (
    ("paddle.Model instance", "_inputs"),
    ("paddle.Model instance", "_input_info"),
    ("paddle.Model instance", "_adapter"),
    ("paddle.Model", "_update_inputs"),
    ("paddle.hapi.model", "_update_input_info"),
)


def input_count(model: paddle.Model) -> Optional[int]:
    """How many leading fields of a batch are inputs (None: all of them, for predict).
    `_inputs`: the specs paddle.Model made from `inputs` or from forward's arguments; users may
    also set it (to None) themselves, and the batch split must follow."""
    specs = model._inputs
    return None if specs is None else len(specs)


def note_batch_inputs(model: paddle.Model, inputs: list) -> None:
    """Keep the first batch's input shapes and dtypes when the model was made without `inputs`,
    as paddle.Model's batch methods do: `save(training=False)` exports with them.
    `_input_info` says whether they are known; paddle.Model's `_update_inputs` takes them from
    the adapter's `_input_info`, which `_update_input_info` computes from a batch."""
    if model._input_info is None:
        model._adapter._input_info = hapi_model._update_input_info(inputs)
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
