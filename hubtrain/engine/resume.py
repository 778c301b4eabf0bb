"""A task's full resume record: what goes into a checkpoint and how it comes back."""
from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, Optional

from ..serialization.records import RecordError, pack_record
from ..state import TrainState
from .checkpoint import (CALLBACKS, FORMAT, OPTIMIZER, RNG, SCALER, STEP_NEEDS, TRAINER_STATE, WEIGHTS, CheckpointError,
                         CheckpointManager, capture_rng, network_signature, restore_rng)
from .report import log

if TYPE_CHECKING:
    from ..tasks.base import BaseTask

__all__ = ["checkpoint_files", "restore_latest", "check_network", "check_best_model"]


def _stateful(callbacks: list) -> dict[str, Any]:
    return {type(cb).__name__: cb for cb in callbacks if hasattr(cb, "state_dict") and hasattr(cb, "set_state_dict")}


def _callback_states(callbacks: list) -> dict[str, Any]:
    """Each stateful callback's state_dict(), refused unless it is plain data a checkpoint can hold."""
    states = {}
    for name, cb in _stateful(callbacks).items():
        state = cb.state_dict()
        try:
            pack_record(state, f"the state_dict() of callback {name}")
        except RecordError as e:
            raise TypeError(f"{e} (Callback {name}'s state goes into every checkpoint.)") from None
        states[name] = state
    return states


def checkpoint_files(task: "BaseTask", callbacks: list) -> tuple[dict[str, Any], dict]:
    """The files of a checkpoint of `task` now, and the manifest's extra fields."""
    state = task.train_state
    files: dict[str, Any] = {
        WEIGHTS: task.network.state_dict(),
        RNG: capture_rng(),
        TRAINER_STATE: state.to_dict(),
    }
    if task._optimizer is not None:
        files[OPTIMIZER] = task._optimizer.state_dict()
    if task._scaler is not None:
        files[SCALER] = task._scaler.state_dict()
    states = _callback_states(callbacks)
    if states:
        files[CALLBACKS] = states
    meta = {"network": network_signature(files[WEIGHTS]), "task": type(task).__name__,
            "parameter_names": {key: p.name for key, p in task.network.named_parameters()}}
    return files, meta


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


def check_network(task: "BaseTask", manifest: dict, path: str) -> None:
    """Refuse weights saved from another network, naming the first tensor that differs."""
    saved = manifest.get("network")
    if saved is None:
        return
    mine = network_signature(task.network.state_dict())
    if saved == mine:
        return
    saved_map = {k: (s, d) for k, s, d in saved}
    mine_map = {k: (s, d) for k, s, d in mine}
    diff = next((f"'{k}' is {saved_map.get(k)} there but {mine_map.get(k)} here"
                 for k in sorted(set(saved_map) | set(mine_map)) if saved_map.get(k) != mine_map.get(k)), "")
    raise CheckpointError(
        f"checkpoint {path} was written by a different network ({manifest.get('task', '?')}; {diff}). "
        f"Point checkpoint_dir at a new directory, or move {path} away, to train this network."
    )


def check_best_model(task: "BaseTask", manager: CheckpointManager) -> None:
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
    check_network(task, manifest, best)


def restore_latest(task: "BaseTask", manager: CheckpointManager, callbacks: list) -> Optional[str]:
    """Load the newest whole checkpoint into `task`; None when the directory has none.

    Newer checkpoints that fail verification are reported and passed over; if none is usable
    at all, refuse rather than start afresh over the user's files. Everything the run will read
    back (the checkpoint, best_model/, the callbacks' states) is checked before it changes anything.
    """
    _callback_states(callbacks)
    path, problems = manager.latest()
    for problem in problems:
        log("WARNING", f"{problem} Passing over it to an older checkpoint.", level=30)
    if path is None:
        if problems:
            raise CheckpointError(
                f"no usable checkpoint in {manager.root}: {problems[-1]} Move or delete the damaged "
                f"step_* directories (or choose another checkpoint_dir) to start afresh."
            )
        check_best_model(task, manager)
        return None
    manifest = manager.verify(path, STEP_NEEDS)
    check_network(task, manifest, path)
    check_best_model(task, manager)
    _, files = manager.load(path, needs=STEP_NEEDS)
    task.network.set_state_dict(files[WEIGHTS])
    if task._optimizer is not None and OPTIMIZER in files:
        current = {key: p.name for key, p in task.network.named_parameters()}
        saved = manifest.get("parameter_names", {})
        task._optimizer.set_state_dict(_renamed(files[OPTIMIZER], saved, current))
    elif task._optimizer is not None:
        log("WARNING", f"checkpoint {path} holds no optimizer state (its manifest lists none): the optimizer's "
            f"moments start afresh, so the run will not end as an uninterrupted one would.", level=30)
    if task._scaler is not None and SCALER in files:
        task._scaler.load_state_dict(files[SCALER])
    restore_rng(files[RNG])
    saved = TrainState.from_dict(files[TRAINER_STATE])
    states = files.get(CALLBACKS, {})
    for name, cb in _stateful(callbacks).items():
        if name in states:
            cb.set_state_dict(states[name])
    keep = {"total_steps": task.train_state.total_steps, "steps_per_epoch": task.train_state.steps_per_epoch}
    task.train_state = dataclasses.replace(saved, **keep)
    return path
