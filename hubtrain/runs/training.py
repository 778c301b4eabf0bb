"""A task's runs on the engine: training (finetune and fit), evaluation and prediction, with
their loaders, callbacks, checkpoints and resume. The loop itself is the engine's; what is here
puts the run together and says in what order things happen."""
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
from paddle.hapi.callbacks import CallbackList as PaddleCallbackList
from paddle.io import DataLoader, Dataset

from ..callbacks import EarlyStopping, EpochMetricState, from_config as control_callbacks
from ..compat.hapi import Prepared, ShardMerge
from ..compat.hapi_callbacks import PaddleCallbacks, at_pass_edge
from ..engine import distributed
from ..engine.compile import compile_forward
from ..engine.events import Callback
from ..engine.numerics import NonFiniteGuard
from ..engine.plan import TrainPlan
from ..engine.report import ProgressBar, is_main_process, log
from ..engine.checkpoint import capture_rng, ranks_rng
from ..engine.resume import Resumable, checkpoint_files, restore_latest
from ..engine.sampler import ResumableBatchSampler
from ..engine.signals import SignalStop
from ..state import StepHistory, TrainState
from .events import Dispatch, RunEvents
from .frozen import FrozenBackbone, backbone_frozen

if TYPE_CHECKING:
    from ..tasks.base import BaseTask

__all__ = ["train", "evaluate", "predict", "save_checkpoint", "seed_everything", "default_checkpoint_dir",
           "remove_if_empty", "ExampleList", "split_callbacks"]


class ExampleList(Dataset):
    """Raw examples for predict(data=...) without a reader: each example is a list of fields."""

    def __init__(self, examples: Sequence) -> None:
        super().__init__()
        self.examples = [ex if isinstance(ex, (list, tuple)) else [ex] for ex in examples]

    def __getitem__(self, index: int) -> list[np.ndarray]:
        return [np.asarray(field) for field in self.examples[index]]

    def __len__(self) -> int:
        return len(self.examples)


def seed_everything(seed: int) -> None:
    """paddle's, numpy's and Python's random generators, from one seed."""
    paddle.seed(seed)
    np.random.seed(seed)
    random.seed(seed)


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
    if is_main_process():
        with contextlib.suppress(OSError):  # not empty, or already gone
            os.rmdir(path)


# loaders ----------------------------------------------------------------------------------------
def _check_dataset(data: Any, phase: str) -> None:
    if isinstance(data, DataLoader):
        return
    if not hasattr(data, "__getitem__") or not hasattr(data, "__len__"):
        raise TypeError(f"the {phase} data must be a paddle.io.Dataset (with __getitem__ and __len__) or a "
                        f"DataLoader; got {type(data).__name__}.")
    if len(data) == 0:
        raise ValueError(f"the {phase} dataset is empty (0 samples): check the file or split it was read from.")


def _loader(task: "BaseTask", data: Any, batch_size: int, shuffle: bool, drop_last: bool, num_workers: int,
            phase: str, seed: int, shard: bool, pad: bool = True, group_by_length: bool = False) -> DataLoader:
    _check_dataset(data, phase)
    if isinstance(data, DataLoader):
        return data
    nranks = paddle.distributed.get_world_size() if shard else 1
    rank = paddle.distributed.get_rank() if shard else 0
    lengths = _lengths(data, phase) if group_by_length and shuffle else None
    sampler = ResumableBatchSampler(len(data), batch_size, shuffle, drop_last, seed, nranks, rank, pad, lengths)
    if len(sampler) == 0 and pad:
        raise ValueError(f"the {phase} dataset has {len(data)} samples, fewer than one batch of {batch_size} "
                         f"with drop_last=True: lower batch_size or set drop_last=False.")
    collate = getattr(data, "collate", None) or task.collate_fn()  # a dataset that pads itself (records) says how
    return DataLoader(data, batch_sampler=sampler, num_workers=num_workers, return_list=True, collate_fn=collate)


def _lengths(data: Any, phase: str) -> Optional[Any]:
    """Each sample's length, for grouping batches: what a text reader's split gives (`lengths()`)."""
    lengths = data.lengths() if callable(getattr(data, "lengths", None)) else None
    if lengths is None:
        log("WARNING", f"group_by_length: the {phase} data gives no sample lengths (a text reader's split does: "
                       f"pass reader.get_dataset(...) or train through finetune); its batches are not grouped.",
            level=30)
    return lengths


def eval_loader(task: "BaseTask", data: Any, batch_size: int, num_workers: int, shard: bool = False) -> DataLoader:
    """Every sample once, in order: the whole split, or with `shard` this rank's share of it
    (samples rank, rank + n, ...; no padding)."""
    return _loader(task, data, batch_size, False, False, num_workers, "evaluation", 0, shard=shard, pad=False)


def _compile(task: "BaseTask") -> None:
    if task.config.to_static:
        compile_forward(task.network, task.feature.input_spec, list(task._extra_inputs()))


# callbacks ----------------------------------------------------------------------------------------
def split_callbacks(callbacks: Any) -> tuple[list[Callback], list]:
    """A caller's callbacks as (engine callbacks, paddle callbacks); anything else is refused."""
    given = list(callbacks) if isinstance(callbacks, (list, tuple)) else ([callbacks] if callbacks else [])
    engine = [c for c in given if isinstance(c, Callback)]
    hapi = [c for c in given if isinstance(c, paddle.callbacks.Callback)]
    other = [c for c in given if not isinstance(c, (Callback, paddle.callbacks.Callback))]
    if other:
        raise TypeError(f"callbacks must be hubtrain.engine.events.Callback or paddle.callbacks.Callback objects; "
                        f"got {type(other[0]).__name__}.")
    return engine, hapi


def _refresh_due(loop: Any) -> bool:
    """Whether a training batch brings the metrics in paddle callbacks' `logs` up to date: the
    first of a pass, every log interval, the last (counting them waits on the device)."""
    plan = loop.model.current_run.plan
    return plan is None or at_pass_edge(loop) or loop.state.global_step % plan.log_interval == 0


def _paddle_hooks(task: "BaseTask", hapi: list, **params: Any) -> list[Callback]:
    """The caller's paddle callbacks, called where paddle.Model's loops call them."""
    if not hapi:
        return []
    cbks = PaddleCallbackList(hapi)
    cbks.set_model(task)
    cbks.set_params({"batch_size": params.get("batch_size"), "epochs": params.get("epochs"),
                     "steps": params.get("steps"), "verbose": 0, "metrics": task.metrics_names()})
    prepared = Prepared(task.optimizer, task.loss, task.metrics)
    hooks = PaddleCallbacks(task, cbks, {}, prepared, ShardMerge(), owns_metrics=False,
                            eval_result=lambda: dict(task.env.result or {}, phase=task.phase),
                            refresh_due=_refresh_due)
    hooks.order = 25  # after the run's events and the built-in callbacks (as a caller's callbacks came before)
    return [hooks]


# training -----------------------------------------------------------------------------------------
def save_checkpoint(task: "BaseTask") -> Optional[str]:
    run = task.current_run
    manager = run.manager()
    if manager is None:
        log("WARNING", "save_checkpoint() needs a checkpoint_dir: set RunConfig(checkpoint_dir=...).", level=30)
        return None
    if run.guard is not None:
        run.guard.check_weights()  # every rank: their weights are the same
    run.last_save_step = run.state.global_step
    rng = ranks_rng(distributed.gather(capture_rng()))  # every rank's: each draws its own dropout masks
    if not is_main_process():
        return None
    callbacks = run.loop.callbacks if run.loop is not None else []
    files, meta = checkpoint_files(Resumable(task.network, task.optimizer, task.grad_scaler, run.state,
                                             callbacks, type(task).__name__, rng))
    path = manager.save(run.state.global_step, files, meta)
    log("INFO", f"Saving model checkpoint to {path}")
    return path


def _make_optimizer(task: "BaseTask", total_steps: int, plan: TrainPlan) -> None:
    """The strategy's optimizer, schedule and callbacks, built once per task (before any resume,
    so what a strategy copies from the weights, such as L2-SP's anchors, is the pretrained state)."""
    if task.optimizer is not None:
        return
    from ..strategy import DefaultFinetuneStrategy

    cfg = task.config
    strategy = cfg.strategy or DefaultFinetuneStrategy()
    cfg.strategy = strategy
    clip = paddle.nn.ClipGradByGlobalNorm(cfg.grad_clip_norm) if cfg.grad_clip_norm else None
    task.current_run.optimization = strategy.build(task.network, math.ceil(total_steps / plan.accumulate), clip)
    task.prepare(task.current_run.optimization.optimizer, task.loss, task.metrics or None)


def _check_controls(task: "BaseTask", callbacks: list, plan: TrainPlan, eval_data: Any) -> None:
    stopping = [c for c in callbacks if isinstance(c, (EarlyStopping, paddle.callbacks.EarlyStopping))]
    evaluates = eval_data is not None or (plan.eval_interval is not None and task.current_run.has_phase_data("dev"))
    if stopping and not evaluates:
        raise ValueError("early stopping needs dev data evaluated during training: pass dev_dataset= to "
                         "finetune_and_eval() (with eval_interval set), or eval_data= to fit().")


class _EvaluateAfterEpochs(Callback):
    """fit(eval_data=...): the dev split after every `every`-th epoch, as paddle.Model's fit."""

    order = 95

    def __init__(self, task: "BaseTask", data: Any, every: int, batch_size: int) -> None:
        self.task, self.data, self.every, self.batch_size = task, data, every, batch_size

    def epoch_end(self, loop: Any) -> None:
        if loop.state.epoch % self.every == 0:
            evaluate(self.task, "dev", self.data, self.batch_size, self.task.config.num_workers)


def train(task: "BaseTask", train_data: Any, plan: TrainPlan, callbacks: Any = None, eval_data: Any = None,
          eval_freq: int = 1, resume: bool = True, eval_batch_size: Optional[int] = None) -> StepHistory:
    """Train `task` as `plan` says; with `resume`, from the newest checkpoint in its directory."""
    run, cfg = task.current_run, task.config
    if cfg.use_amp and cfg.device != "gpu":
        log("WARNING", "use_amp=True has no effect on CPU: Paddle has no float16/bfloat16 kernels for it "
            "here, so this run trains in float32.", level=30)
    run.device = cfg.device
    paddle.set_device(run.device)
    run.plan, run.scalars = plan, None
    seed = cfg.seed if cfg.seed is not None else random.SystemRandom().randrange(2**31)
    run.state = state = TrainState(seed=seed)
    run.control.reset()
    run.last_eval_step = run.last_save_step = None
    run.history, run.period = StepHistory(), []
    if eval_data is not None:
        run.phase_data("dev", eval_data)
    env = run.env_of("train")
    first = not env.is_built
    with run.in_phase("train"):
        if first:
            task._build_env_start_event()
        env.loader = loader = _loader(task, train_data, plan.batch_size, plan.shuffle, plan.drop_last,
                                      plan.num_workers, "train", seed, shard=True,
                                      group_by_length=plan.group_by_length)
        _compile(task)
        if first:
            task._build_env_end_event()
        env.is_built = True
    state.steps_per_epoch = len(loader)
    state.total_steps = plan.epochs * state.steps_per_epoch
    if plan.max_steps:
        state.total_steps = min(state.total_steps, plan.max_steps)
    if task.loss is None and not task.metrics:
        task.prepare(task.optimizer)
    _make_optimizer(task, state.total_steps, plan)

    engine, hapi = split_callbacks(callbacks)
    manager = run.manager() if plan.checkpoints else None
    clips = run.optimization is not None and run.optimization.grad_clip is not None
    run.guard = NonFiniteGuard(task.network, cfg.on_nonfinite, cfg.check_gradients or clips,
                               manager=manager, sampler=getattr(loader, "batch_sampler", None),
                               accumulate=plan.accumulate, scaled=task.grad_scaler is not None)
    stop = SignalStop(plan.checkpoint_dir)
    run.frozen = frozen = FrozenBackbone(task, plan, train_data) if backbone_frozen(task.network) else None
    events = RunEvents(task)
    strategy = run.optimization.callbacks if run.optimization is not None else []
    evaluation = [] if eval_data is None else \
        [_EvaluateAfterEpochs(task, eval_data, eval_freq, eval_batch_size or plan.batch_size)]
    hooks = _paddle_hooks(task, hapi, batch_size=plan.batch_size, epochs=plan.epochs, steps=state.steps_per_epoch)
    run.steps_schedule = not any(isinstance(c, paddle.callbacks.LRScheduler) for c in hapi)
    everything = [stop, *([frozen] if frozen else []), events, *([ProgressBar()] if plan.verbose else []), *strategy, *control_callbacks(cfg),
                  *engine, run.guard.callback(), EpochMetricState(task), *evaluation, Dispatch(task, events), *hooks]
    _check_controls(task, everything + hapi, plan, eval_data)
    run.live_weights, run.best_weights = True, None
    loop = task.make_loop(everything, accumulate=plan.accumulate, state=state, control=run.control)

    if manager is not None and is_main_process():
        manager.acquire()
    run.loop = loop
    try:
        stop.install()
        if frozen is not None:
            frozen.attach()
        resumed = restore_latest(Resumable(task.network, task.optimizer, task.grad_scaler, state, loop.callbacks,
                                           type(task).__name__), manager) if manager is not None and resume else None
        if resumed:
            log("INFO", f"Resuming from checkpoint {resumed} (step {state.global_step})")
            if isinstance(train_data, DataLoader) and state.step_in_epoch:
                log("WARNING", "a user DataLoader cannot be positioned mid-epoch: the resumed epoch starts "
                    "from its beginning.", level=30)
                state.step_in_epoch = 0
        elif cfg.seed is not None:
            seed_everything(cfg.seed)
        task.phase_data("train", train_data)
        with run.in_phase("train"):
            if state.stopped or state.global_step >= state.total_steps:
                loop.callbacks.fire("fit_begin", loop)  # nothing left to train: the run's close only
                loop.callbacks.fire("fit_end", loop)
            else:
                loop.fit(loader, plan.epochs)
    finally:
        stop.restore()
        if frozen is not None:
            frozen.detach()
        task.metric_feed.stop(flush=False)
        run.loop = None
        if manager is not None:
            manager.release()
        if run.scalars is not None:
            run.scalars.close()
    stop.raise_if_received()
    return run.history


# evaluation and prediction ------------------------------------------------------------------------
def _loop_for(task: "BaseTask", callbacks: Any) -> Any:
    """The running training loop (every callback of the run sees its evaluations, as in paddle's
    fit), or a loop of its own with the run's events and the caller's callbacks."""
    run = task.current_run
    if run.loop is not None and run.is_training and not callbacks:
        return run.loop
    engine, hapi = split_callbacks(callbacks)
    return task.make_loop([RunEvents(task), *engine, *_paddle_hooks(task, hapi)])


def evaluate(task: "BaseTask", phase: str, data: Any, batch_size: int, num_workers: int = 0,
             callbacks: Any = None) -> dict:
    """Evaluate `data` as `phase`; returns its result (also in `task.env.result`). Under several
    processes each rank evaluates its share and all report the merged result."""
    run = task.current_run
    task.ensure_prepared()
    _compile(task)
    shard = distributed.can_shard(task.eval_metrics) and not isinstance(data, DataLoader)
    loader = eval_loader(task, data, batch_size, num_workers, shard=shard)
    loop = _loop_for(task, callbacks)
    outer = run.eval_sharded
    run.eval_sharded = shard
    try:
        with run.in_phase(phase) as env:
            loop.evaluate(loader)
    finally:
        run.eval_sharded = outer
    return dict(env.result or {})


def predict(task: "BaseTask", data: Any, batch_size: int, num_workers: int = 0, callbacks: Any = None,
            keep: Any = None) -> list:
    """Predict `data`; returns `keep(step context)` per batch (nothing kept when `keep` is None)."""
    _compile(task)
    loader = eval_loader(task, data, batch_size, num_workers)
    loop = _loop_for(task, callbacks)
    with task.current_run.in_phase("predict"):
        return loop.predict(loader, keep=keep)
