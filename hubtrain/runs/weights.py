"""Weights hubtrain wrote, put back into a task's network (PaddleHub 1.x's `load_parameters`):
a step checkpoint, a best model, a checkpoint_dir (its best model, else its newest checkpoint), or
what `task.save(path)` wrote. Files are read by hubtrain's readers only (safetensors, or pickles
through the unpickler that admits arrays alone), after their manifest is verified."""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from ..engine.checkpoint import MANIFEST, checkpoint_in
from ..engine.resume import checkpoint_weights

if TYPE_CHECKING:
    from ..tasks.base import BaseTask

__all__ = ["load_weights"]

_KINDS = ("a checkpoint directory (checkpoint_dir/step_<N>), a best_model directory, a checkpoint_dir, "
          "or the path task.save(path) was given")


def _checkpoint_in(path: str) -> str:
    """The checkpoint directory `path` names: itself, or inside a checkpoint_dir its best model,
    else its newest whole checkpoint."""
    where, problems = checkpoint_in(path)
    if where is not None:
        return where
    why = f" ({'; '.join(problems)})" if problems else ""
    raise FileNotFoundError(f"load_parameters({path!r}): the directory holds no weights hubtrain wrote: no "
                            f"{MANIFEST}, no best_model/, no whole step_<N>/{why}. Give {_KINDS}. Parameters "
                            f"saved by PaddleHub 1.x's static graph cannot be read.")


def load_weights(task: "BaseTask", path: Any) -> str:
    """Load the weights at `path` into `task`'s network; returns the checkpoint directory or
    parameters file read. Nothing is changed when they cannot be read or do not fit."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"load_parameters() takes a path, got {type(path).__name__}: give {_KINDS}.")
    path = os.fspath(path)
    if os.path.isdir(path):
        where = _checkpoint_in(path)
        task.network.set_state_dict(checkpoint_weights(
            task.network, where, fix=f"load_parameters({path!r}) needs weights of this network: build the task as it "
                                     f"was built when they were saved (the same backbone, hidden_units and number "
                                     f"of classes)."))
        return where
    prefix = path[:-len(".pdparams")] if path.endswith(".pdparams") else path
    if os.path.isfile(prefix + ".pdparams"):
        task.load(prefix, reset_optimizer=True)
        return prefix + ".pdparams"
    if os.path.isfile(prefix + ".pdiparams"):
        raise FileNotFoundError(f"load_parameters({path!r}): {prefix}.pdiparams is an inference model "
                                f"(task.save(path, training=False)), which holds no parameters by name: load the "
                                f"files task.save(path) writes (path.pdparams), or a checkpoint.")
    raise FileNotFoundError(f"load_parameters({path!r}): no such directory, and no {prefix}.pdparams. Give "
                            f"{_KINDS}.")
