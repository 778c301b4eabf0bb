"""One training call of a task, start to end: loaders, optimizer, resume, callbacks, hapi's fit,
and the checkpoint written on the way."""
from __future__ import annotations

import contextlib
import math
import os
import random
import secrets
import time
from typing import TYPE_CHECKING, Any, Optional, Sequence

import numpy as np
import paddle
from paddle.io import DataLoader, Dataset

from ..state import RunEnv, RunState, TrainState
from ..callbacks import EarlyStopping, EpochMetricState, from_config as control_callbacks
from . import distributed
from .bridge import ControlDispatch, EventBridge, OptimizerStepLR
from .checkpoint import CheckpointManager
from .compile import compile_forward
from .numerics import NonFiniteGuard
from .plan import TrainPlan
from .report import ProgressBar, is_main_process, log
from .resume import checkpoint_files, restore_latest
from .sampler import ResumableBatchSampler
from .signals import SignalStop

if TYPE_CHECKING:
    from ..tasks.base import BaseTask

__all__ = ["run", "seed_everything", "eval_loader", "save_checkpoint", "ExampleList", "EventBridge", "default_checkpoint_dir",
           "remove_if_empty"]


class ExampleList(Dataset):
    """Raw examples for predict(data=...) without a reader: each example is a list of fields."""

    def __init__(self, examples: Sequence) -> None:
        super().__init__()
        self.examples = [ex if isinstance(ex, (list, tuple)) else [ex] for ex in examples]

    def __getitem__(self, index: int) -> list[np.ndarray]:
        return [np.asarray(field) for field in self.examples[index]]

    def __len__(self) -> int:
        return len(self.examples)


def is_writer() -> bool:
    """Only one process writes checkpoints, best models and logs."""
    return is_main_process()


def default_checkpoint_dir() -> str:
    """A new directory of this run's own, `ckpt_<timestamp>_<pid>_<random>`, made here (the
    directory must not exist yet): a run resumes from a directory it did not make only when the
    user named it, so two runs started in the same second never take each other's checkpoints.
    Under several processes rank 0 makes it and every rank uses its name."""
    name = None
    if distributed.rank() == 0:
        stamp = time.strftime("ckpt_%Y%m%d%H%M%S")
        while name is None:
            candidate = f"{stamp}_{os.getpid()}_{secrets.token_hex(3)}"
            try:
                os.mkdir(candidate)
            except FileExistsError:
                continue
            except OSError as e:
                raise OSError(e.errno, f"cannot make the default checkpoint directory {os.path.abspath(candidate)} "
                                       f"({e.strerror}): run from a directory you can write to, or set "
                                       f"RunConfig(checkpoint_dir=...).") from None
            name = candidate
    if distributed.world_size() > 1:
        name = distributed.gather(name)[0]
    return name


def remove_if_empty(path: str) -> None:
    """Remove a directory this run made if nothing was written in it (the writing process only)."""
    if is_writer():
        with contextlib.suppress(OSError):  # not empty, or already gone
            os.rmdir(path)


def _check_dataset(data: Any, phase: str) -> None:
    if isinstance(data, DataLoader):
        return
    if not hasattr(data, "__getitem__") or not hasattr(data, "__len__"):
        raise TypeError(f"the {phase} data must be a paddle.io.Dataset (with __getitem__ and __len__) or a "
                        f"DataLoader; got {type(data).__name__}.")
    if len(data) == 0:
        raise ValueError(f"the {phase} dataset is empty (0 samples): check the file or split it was read from.")


def _loader(task: "BaseTask", data: Any, batch_size: int, shuffle: bool, drop_last: bool, num_workers: int,
            phase: str, seed: int, shard: bool, pad: bool = True) -> DataLoader:
    _check_dataset(data, phase)
    if isinstance(data, DataLoader):
        return data
    nranks = paddle.distributed.get_world_size() if shard else 1
    rank = paddle.distributed.get_rank() if shard else 0
    sampler = ResumableBatchSampler(len(data), batch_size, shuffle, drop_last, seed, nranks, rank, pad)
    if len(sampler) == 0 and pad:
        raise ValueError(f"the {phase} dataset has {len(data)} samples, fewer than one batch of {batch_size} "
                         f"with drop_last=True: lower batch_size or set drop_last=False.")
    return DataLoader(data, batch_sampler=sampler, num_workers=num_workers, return_list=True,
                      collate_fn=task._collate_fn())


def eval_loader(task: "BaseTask", data: Any, batch_size: int, num_workers: int, shard: bool = False) -> DataLoader:
    """Every sample once, in order: the whole split, or with `shard` this rank's share of it
    (samples rank, rank + n, ...; no padding)."""
    return _loader(task, data, batch_size, False, False, num_workers, "evaluation", 0, shard=shard, pad=False)


def _build_env(task: "BaseTask", phase: str, make: Any) -> Any:
    """Fire the build-env events around the first build of a phase."""
    env = task._envs.setdefault(phase, RunEnv(phase))
    first = not env.is_built
    task._phases.append(phase)
    try:
        if first:
            task._build_env_start_event()
        env.loader = make()
        compile_forward(task)
        if first:
            task._build_env_end_event()
        env.is_built = True
    finally:
        task._phases.pop()
    return env.loader


def seed_everything(seed: int) -> None:
    """paddle's, numpy's and Python's random generators, from one seed."""
    paddle.seed(seed)
    np.random.seed(seed)
    random.seed(seed)


def save_checkpoint(task: "BaseTask") -> Optional[str]:
    manager = task._manager()
    if manager is None:
        log("WARNING", "save_checkpoint() needs a checkpoint_dir: set RunConfig(checkpoint_dir=...).", level=30)
        return None
    task._numerics.check_weights(task)  # every rank: their weights are the same
    task._last_save_step = task.train_state.global_step
    if not is_writer():
        return None
    files, meta = checkpoint_files(task, task._callbacks)
    path = manager.save(task.train_state.global_step, files, meta)
    log("INFO", f"Saving model checkpoint to {path}")
    return path


def _make_optimizer(task: "BaseTask", total_steps: int, plan: TrainPlan) -> None:
    """The strategy's optimizer, schedule and callbacks, built once per task (before any resume,
    so what a strategy copies from the weights, such as L2-SP's anchors, is the pretrained state)."""
    if task._optimizer is not None:
        return
    from ..strategy import DefaultFinetuneStrategy

    cfg = task.config
    strategy = cfg.strategy or DefaultFinetuneStrategy()
    cfg.strategy = strategy
    clip = paddle.nn.ClipGradByGlobalNorm(cfg.grad_clip_norm) if cfg.grad_clip_norm else None
    task._optimization = strategy.build(task.network, math.ceil(total_steps / plan.accumulate), clip)
    optimizer = task._optimization.optimizer
    if cfg.use_amp and task._device == "gpu" and cfg.amp_level == "O2":
        # O2 keeps float16/bfloat16 weights with float32 master copies in the optimizer
        paddle.amp.decorate(models=task.network, optimizers=optimizer, level="O2", dtype=cfg.amp_dtype)
    task.prepare(optimizer, task._loss, task._metrics or None)


def _check_controls(task: "BaseTask", callbacks: list, plan: TrainPlan, eval_data: Any) -> None:
    stopping = [c for c in callbacks if isinstance(c, EarlyStopping)]
    evaluates = eval_data is not None or (plan.eval_interval is not None and task._has_phase_data("dev"))
    if stopping and not evaluates:
        raise ValueError("early stopping needs dev data evaluated during training: pass dev_dataset= to "
                         "finetune_and_eval() (with eval_interval set), or eval_data= to fit().")


def run(task: "BaseTask", train_data: Any, plan: TrainPlan, callbacks: Any = None, eval_data: Any = None,
        eval_freq: int = 1) -> Sequence[RunState]:
    """Train `task` as `plan` says, resuming from the newest checkpoint in its directory."""
    if task.config.use_amp and task._device != "gpu":
        log("WARNING", "use_amp=True has no effect on CPU: Paddle has no float16/bfloat16 kernels for it "
            "here, so this run trains in float32.", level=30)
    task._device = task.config.device
    paddle.set_device(task._device)
    task._plan = plan
    task._scalars = None
    task.train_state = TrainState(seed=task.config.seed)
    task._last_eval_step = task._last_save_step = None
    loader = _build_env(task, "train", lambda: _loader(task, train_data, plan.batch_size, plan.shuffle,
                                                       plan.drop_last, plan.num_workers, "train",
                                                       task.config.seed, shard=True))
    state = task.train_state
    state.steps_per_epoch = len(loader)
    state.total_steps = plan.epochs * state.steps_per_epoch
    if plan.max_steps:
        state.total_steps = min(state.total_steps, plan.max_steps)
    if task._loss is None and not task._metrics:
        task.prepare(task._optimizer)
    _make_optimizer(task, state.total_steps, plan)

    user = list(callbacks) if isinstance(callbacks, (list, tuple)) else ([callbacks] if callbacks else [])
    bridge = EventBridge(task, plan)
    stop = SignalStop(plan)
    task._numerics = NonFiniteGuard.from_config(task.config)
    lr = [] if any(isinstance(c, paddle.callbacks.LRScheduler) for c in user) else [OptimizerStepLR()]
    progress = [ProgressBar()] if plan.verbose else []
    strategy = task._optimization.callbacks if task._optimization is not None else []
    # Order matters where callbacks meet at the end: early stopping restores the best weights
    # before the weight average would put its own in place.
    # SignalStop first: its flags must be set before the dispatcher acts, and it must be the first
    # to see the end of an epoch it cut short.
    # EpochMetricState after the bridge, which counts the step and says whether it is the last.
    task._callbacks = [stop, bridge, *lr, *progress, *strategy, *control_callbacks(task.config), *user,
                       task._numerics, EpochMetricState(task), ControlDispatch(bridge)]
    _check_controls(task, task._callbacks, plan, eval_data)
    task._live_weights, task._best_weights = True, None

    manager = CheckpointManager(plan.checkpoint_dir, plan.keep_checkpoint_max) if plan.checkpoints else None
    if manager is not None and is_writer():
        manager.acquire()
    try:
        stop.install()
        resumed = restore_latest(task, manager, task._callbacks) if manager is not None else None
        if resumed:
            log("INFO", f"Resuming from checkpoint {resumed} (step {task.train_state.global_step})")
            if isinstance(train_data, DataLoader) and task.train_state.step_in_epoch:
                log("WARNING", "a user DataLoader cannot be positioned mid-epoch: the resumed epoch starts "
                    "from its beginning.", level=30)
                task.train_state.step_in_epoch = 0
        else:
            seed_everything(task.config.seed)
        task._start_epoch()
        state = task.train_state
        remaining = 0 if state.stopped else state.total_steps - state.global_step
        task._phase_data("train", train_data)
        if remaining > 0:
            evaluation = None if eval_data is None else eval_loader(task, eval_data, plan.batch_size,
                                                                     plan.num_workers)
            # No num_iters for hapi: it counts eval batches against it too. The bridge stops the run
            # at total_steps; the epochs left include a resumed, partly done one.
            paddle.Model.fit(task, loader, eval_data=evaluation, epochs=plan.epochs - task.train_state.epoch,
                             eval_freq=eval_freq, verbose=0, callbacks=task._callbacks)
        else:
            for cb in task._callbacks:
                cb.set_model(task)
            bridge.on_train_begin()
            bridge.on_train_end()
    finally:
        stop.restore()
        task.num_iters = None
        task.stop_training = False
        if manager is not None:
            manager.release()
        if task._scalars is not None:
            task._scalars.close()
    stop.raise_if_received()
    return bridge._all
