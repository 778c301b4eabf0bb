"""A run's full resume record: what goes into a checkpoint and how it comes back."""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Any, Optional

import paddle

from ..serialization.records import RecordError, pack_record
from ..state import TrainState
from . import distributed
from .checkpoint import (CALLBACKS, FORMAT, OPTIMIZER, RNG, SCALER, STEP_NEEDS, TRAINER_STATE, WEIGHTS, CheckpointError,
                         CheckpointManager, capture_rng, network_signature, restore_rng)
from .report import log

__all__ = ["Resumable", "checkpoint_files", "restore_latest", "check_network", "check_best_model"]


@dataclass
class Resumable:
    """What a checkpoint holds of a run: the network, optimizer and loss scaler, the loop's
    progress, and the callbacks' states (each under its `state_key`)."""

    network: paddle.nn.Layer
    optimizer: Any
    scaler: Any
    state: TrainState
    callbacks: Any       # an engine CallbackList
    name: str = ""       # what trained, for messages ("ClassifierTask")
    rng: Optional[dict] = None  # the random states to save (every rank's, from ranks_rng); default this process's


def _callback_states(callbacks: Any) -> dict[str, Any]:
    """Each callback's state_dict(), refused unless it is plain data a checkpoint can hold."""
    states = callbacks.state_dict()
    for key, state in states.items():
        try:
            pack_record(state, f"the state_dict() of callback {key}")
        except RecordError as e:
            raise TypeError(f"{e} (Callback {key}'s state goes into every checkpoint.)") from None
    return states


def checkpoint_files(run: Resumable) -> tuple[dict[str, Any], dict]:
    """The files of a checkpoint of `run` now, and the manifest's extra fields."""
    files: dict[str, Any] = {
        WEIGHTS: run.network.state_dict(),
        RNG: run.rng if run.rng is not None else capture_rng(),
        TRAINER_STATE: run.state.to_dict(),
    }
    if run.optimizer is not None:
        files[OPTIMIZER] = run.optimizer.state_dict()
    if run.scaler is not None:
        files[SCALER] = run.scaler.state_dict()
    states = _callback_states(run.callbacks)
    if states:
        files[CALLBACKS] = states
    meta = {"network": network_signature(files[WEIGHTS]), "task": run.name,
            "parameter_names": {key: p.name for key, p in run.network.named_parameters()}}
    return files, meta


def _by_key(saved: dict[str, Any], callbacks: Any) -> dict[str, Any]:
    """Saved callback states by state key. Checkpoints of format 1 keyed them by class name;
    such a state goes to the first callback of that class."""
    states = dict(saved)
    for cb in callbacks:
        name = type(cb).__name__
        if cb.state_key not in states and name in saved and cb.state_key == f"{name}.0":
            states[cb.state_key] = saved[name]
    return states


def _renamed(state: dict, saved: dict[str, str], current: dict[str, str]) -> dict:
    """Optimizer state keyed by this process's parameter names.

    Paddle names parameters from a process-wide counter (linear_0.w_0, linear_1.w_0, ...), and
    optimizer state is keyed by those names; a network built again in the same process (a
    notebook cell run twice after an interrupt) gets other names than the run that wrote the
    checkpoint. The manifest maps the network's own parameter paths to the names they had.
    """
    mapping = {saved[k]: current[k] for k in saved if k in current and saved[k] != current[k]}
    if not mapping:
        return state
    olds = sorted(mapping, key=len, reverse=True)

    def rename(key: str) -> str:
        old = next((o for o in olds if key == o or key.startswith(o + "_")), None)
        return key if old is None else mapping[old] + key[len(old):]

    out = {rename(k): v for k, v in state.items()}
    if isinstance(out.get("master_weights"), dict):
        out["master_weights"] = {rename(k): v for k, v in out["master_weights"].items()}
    return out


def check_network(network: paddle.nn.Layer, manifest: dict, path: str, fix: Optional[str] = None) -> None:
    """Refuse weights saved from another network, naming the first tensor that differs and `fix`
    (by default, what a resume does about it)."""
    saved = manifest.get("network")
    if saved is None:
        return
    mine = network_signature(network.state_dict())
    if saved == mine:
        return
    saved_map = {k: (s, d) for k, s, d in saved}
    mine_map = {k: (s, d) for k, s, d in mine}
    diff = next((f"'{k}' is {saved_map.get(k)} there but {mine_map.get(k)} here"
                 for k in sorted(set(saved_map) | set(mine_map)) if saved_map.get(k) != mine_map.get(k)), "")
    fix = fix or f"Point checkpoint_dir at a new directory, or move {path} away, to train this network."
    raise CheckpointError(f"checkpoint {path} was written by a different network ({manifest.get('task', '?')}; "
                          f"{diff}). {fix}")


def checkpoint_weights(network: paddle.nn.Layer, where: str, fix: Optional[str] = None) -> dict:
    """The network weights of the checkpoint directory `where`, verified against its manifest and
    refused when saved from another network (`check_network`, with `fix`)."""
    manifest, files = CheckpointManager(os.path.dirname(os.path.abspath(where))).load(where, [WEIGHTS])
    check_network(network, manifest, where, fix)
    return files[WEIGHTS]


def check_best_model(network: paddle.nn.Layer, manager: CheckpointManager) -> None:
    """Refuse now, before the first step, a best_model/ the run would fail to load at its end."""
    best = manager.best_dir
    if best is None:
        return
    try:
        manifest = manager.verify(best)
        if manifest["format"] != FORMAT:  # pickles: read them now, through the safe reader
            manager.load(best, [WEIGHTS])
    except CheckpointError as e:
        raise CheckpointError(f"{e} The run loads {best} when it ends: move or delete it (or choose another "
                              f"checkpoint_dir) and run again.") from None
    check_network(network, manifest, best)


def restore_latest(run: Resumable, manager: CheckpointManager) -> Optional[str]:
    """Load the newest whole checkpoint into `run` (its progress updated in place, apart from
    `total_steps` and `steps_per_epoch`, which the run computed); None when there is none.

    Newer checkpoints that fail verification are reported and passed over; if none is usable
    at all, refuse rather than start afresh over the user's files. Everything the run will read
    back (the checkpoint, best_model/, the callbacks' states) is checked before it changes anything.
    """
    _callback_states(run.callbacks)
    path, problems = manager.latest()
    for problem in problems:
        log("WARNING", f"{problem} Passing over it to an older checkpoint.", level=30)
    if path is None:
        if problems:
            raise CheckpointError(
                f"no usable checkpoint in {manager.root}: {problems[-1]} Move or delete the damaged "
                f"step_* directories (or choose another checkpoint_dir) to start afresh."
            )
        check_best_model(run.network, manager)
        return None
    manifest = manager.verify(path, STEP_NEEDS)
    check_network(run.network, manifest, path)
    check_best_model(run.network, manager)
    _, files = manager.load(path, needs=STEP_NEEDS)
    run.network.set_state_dict(files[WEIGHTS])
    if run.optimizer is not None and OPTIMIZER in files:
        current = {key: p.name for key, p in run.network.named_parameters()}
        saved = manifest.get("parameter_names", {})
        run.optimizer.set_state_dict(_renamed(files[OPTIMIZER], saved, current))
    elif run.optimizer is not None:
        log("WARNING", f"checkpoint {path} holds no optimizer state (its manifest lists none): the optimizer's "
            f"moments start afresh, so the run will not end as an uninterrupted one would.", level=30)
    if run.scaler is not None and SCALER in files:
        run.scaler.load_state_dict(files[SCALER])
    restore_rng(files[RNG], distributed.rank(), distributed.world_size())
    saved = TrainState.from_dict(files[TRAINER_STATE])
    run.callbacks.load_state_dict(_by_key(files.get(CALLBACKS, {}), run.callbacks))
    for f in dataclasses.fields(TrainState):
        if f.name not in ("total_steps", "steps_per_epoch"):
            setattr(run.state, f.name, getattr(saved, f.name))
    return path
