"""Warm start: weights from `init_model_path` into a task's network before it runs. The path is a
hubtrain checkpoint directory (its best_model, else its newest whole step_N), a best_model or
step_N directory itself, or a .pdparams file of the same network (`task.save(path)`, or the
model.pdparams of a format-1 checkpoint), read without running code from it."""
from __future__ import annotations

import os
from typing import Any

import paddle

from ..engine.checkpoint import BEST, CheckpointError, checkpoint_in
from ..engine.report import log
from ..engine.resume import checkpoint_weights
from ..serialization.paddle_pickle import load_paddle_file

__all__ = ["warm_start", "resolve_weights"]


def resolve_weights(path: str) -> str:
    """The checkpoint directory or .pdparams file that `path` stands for."""
    path = os.path.abspath(path)
    if os.path.isfile(path):
        if not path.endswith(".pdparams"):
            raise ValueError(f"init_model_path {path} is a file but not a .pdparams file: give a .pdparams file "
                             f"(task.save(path) writes path.pdparams) or a hubtrain checkpoint directory.")
        return path
    if not os.path.isdir(path):
        raise FileNotFoundError(f"init_model_path {path} does not exist: give a hubtrain checkpoint directory, "
                                f"its best_model or step_N directory, or a .pdparams file.")
    newest, problems = checkpoint_in(path)
    if newest is not None:
        return newest
    detail = f" ({problems[-1]})" if problems else ""
    raise CheckpointError(f"init_model_path {path} holds no {BEST}/ and no whole step_N/ checkpoint{detail}: "
                          f"point it at a directory a hubtrain run wrote, or at a .pdparams file.")


def _apply(network: paddle.nn.Layer, state: dict, source: str) -> tuple[int, int]:
    """Load the tensors of `state` that this network has; refuse a shape mismatch or no overlap."""
    own = network.state_dict()
    matched = [k for k in own if k in state]
    if not matched:
        sample = ", ".join(sorted(own)[:2])
        raise ValueError(f"none of the {len(state)} tensors in {source} belong to this network (its tensors are "
                         f"named like {sample}): give weights saved from the same task and backbone.")
    for k in matched:
        want, got = list(own[k].shape), list(state[k].shape)
        if want != got:
            raise ValueError(f"{source}: tensor '{k}' has shape {got}, this network's has {want}: the weights "
                             f"come from a different configuration (e.g. another num_classes or hidden_units).")
    network.set_state_dict({k: state[k] for k in matched})
    missing = [k for k in own if k not in state]
    if missing:
        log("WARNING", f"{source}: {len(missing)} of {len(own)} tensors of the network are not in the file and keep "
            f"their initial values (first: {missing[0]})", level=30)
    return len(matched), len(own)


def warm_start(task: Any, path: str) -> str:
    """Load `path` (see the module's docstring) into `task.network`; returns what was loaded."""
    source = resolve_weights(path)
    if os.path.isdir(source):
        state: Any = checkpoint_weights(task.network, source)
    else:
        state = load_paddle_file(source)  # refuses, before it runs, a pickle that would run code
        if not isinstance(state, dict):
            raise ValueError(f"{source} holds a {type(state).__name__}, not a dict of tensors: give a .pdparams "
                             f"file written by paddle.save(network.state_dict()) or task.save(path).")
    loaded, total = _apply(task.network, state, source)
    log("INFO", f"Warm start: loaded {loaded} of {total} tensors from {source}")
    return source
