"""hub.Model: paddle.Model's API, arguments and return values, with its dygraph loops and steps
run by hubtrain's engine (engine/loop.py and engine/step.py).

`hub.Model(network, inputs=None, labels=None)` is a `paddle.Model`. In dynamic mode its batch
methods run an engine `Step` and its fit, evaluate and predict run an engine `Loop`, with paddle's
callbacks driven by `PaddleCallbacks`; in static mode (`paddle.enable_static()` before it is made)
every call is paddle.Model's own. `fit` neither seeds nor resumes. Saved files have paddle.Model's
names and layout, so either class loads the other's; files are read without running code.
"""
from __future__ import annotations

import functools
import os
import warnings
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence, Union

import numpy as np
import paddle
from paddle.callbacks import EarlyStopping
from paddle.hapi.callbacks import config_callbacks
from paddle.io import DataLoader, Dataset, DistributedBatchSampler

from .. import cpu_math
from ..engine.events import Callback
from ..engine.loop import BatchSplit, Loop, steps_of
from ..engine.deferred_metrics import DeferredMetrics
from ..engine.step import GradientAccumulation, LossScaling, Step, StepContext, StepPoint, as_list
from ..metrics import HubMetric
from ..serialization.paddle_pickle import load_paddle_file
from . import paddle_private
from .hapi_callbacks import PaddleCallbacks, progress_refresh

__all__ = ["Model", "Prepared", "ShardMerge", "StepRunner", "matched_parameters"]

_SAVED_SUFFIXES = ("", ".pdparams", ".pdopt", ".pdmodel")
_AMP_LISTS = ("custom_white_list", "custom_black_list", "custom_black_varnames")


@dataclass
class Prepared:
    """What `prepare()` was given, as the engine uses it."""

    optimizer: Any = None
    loss: Any = None
    metrics: list = field(default_factory=list)
    amp_level: str = "O0"
    amp_lists: dict = field(default_factory=dict)     # auto_cast's custom op lists
    scaler_configs: dict = field(default_factory=dict)  # GradScaler's arguments

    @classmethod
    def of(cls, optimizer: Any, loss: Any, metrics: Any, amp_configs: Any) -> "Prepared":
        """paddle.Model.prepare has checked the arguments already; this only sorts them."""
        level, lists, scaler = "O0", {}, {}
        if isinstance(amp_configs, str):
            level = amp_configs
        elif amp_configs:
            level = amp_configs.get("level", "O1")
            if level != "O0":
                lists = {k: v for k, v in amp_configs.items() if k in _AMP_LISTS}
                scaler = {k: v for k, v in amp_configs.items() if k not in _AMP_LISTS and k != "level"}
        return cls(optimizer, loss, as_list(metrics), level, lists, scaler)

    def metric_names(self) -> list[str]:
        """The keys of `logs` and of evaluate's result: 'loss', then every metric's names."""
        names = ["loss"] if self.loss is not None else []
        for metric in self.metrics:
            names.extend(as_list(metric.name()))
        return names

    def reset_metrics(self) -> None:
        for metric in self.metrics:
            metric.reset()


class ShardMerge:
    """Evaluation under several processes: every rank's outputs and labels gathered, and the
    padding DistributedBatchSampler adds to the last batches cut off, so each sample counts once
    in the metrics (as paddle.Model does)."""

    def __init__(self) -> None:
        self.total: Optional[int] = None  # samples in the evaluated dataset, when known
        self.seen = 0
        self.last_batch = 0               # samples the last batch kept, 0 when not merged

    def start(self, loader: Any) -> None:
        dataset = getattr(loader, "dataset", None) if isinstance(loader, DataLoader) else None
        self.total = len(dataset) if dataset is not None else None
        self.seen = self.last_batch = 0

    def __call__(self, outputs: list, labels: list) -> tuple[list, list]:
        """Every rank's outputs and labels of this batch, without the padding samples."""
        gathered = []
        for tensor in outputs + labels:
            parts: list = []
            paddle.distributed.all_gather(parts, tensor)
            gathered.append(paddle.concat(parts, axis=0))
        if self.total is not None and gathered:
            samples = int(gathered[0].shape[0])
            keep = min(samples, self.total - self.seen)
            self.seen = 0 if self.seen + samples >= self.total else self.seen + samples
            self.last_batch = keep
            gathered = [t[:keep] for t in gathered]
        return gathered[:len(outputs)], gathered[len(outputs):]


def _to_numpy(value: Any) -> np.ndarray:
    return np.array(value)


def _batch_sizes(batch_size: Union[int, Sequence[int]]) -> tuple[int, int]:
    if isinstance(batch_size, (tuple, list)) and all(isinstance(x, int) for x in batch_size):
        assert len(batch_size) == 2, "batch_size length error, expected train_batch_size and eval_batch_size."
        return batch_size[0], batch_size[1]
    if isinstance(batch_size, int):
        return batch_size, batch_size
    raise TypeError(f"batch_size must be an int or a list of two ints [train, eval]; got {batch_size!r}.")


def _loader(data: Any, batch_size: int, num_workers: int, shuffle: bool = False, drop_last: bool = False) -> Any:
    """paddle.Model's loader for a Dataset; anything else is iterated as it is."""
    if not isinstance(data, Dataset):
        return data
    sampler = DistributedBatchSampler(data, batch_size=batch_size, shuffle=shuffle, drop_last=drop_last)
    return DataLoader(data, batch_sampler=sampler, num_workers=num_workers, return_list=True)


def _strip_suffix(path: str) -> str:
    stem, ext = os.path.splitext(path)
    assert ext in _SAVED_SUFFIXES, f"Unknown postfix {ext} from weights"
    return stem


def _read(path: str) -> Any:
    return load_paddle_file(path, return_numpy=True) if os.path.exists(path) else None


def matched_parameters(network: paddle.nn.Layer, saved: dict, skip_mismatch: bool,
                       source: Optional[str] = None) -> tuple[list, bool]:
    """`network`'s (parameter, saved value) pairs, matched by structured name and shape as
    paddle.Model.load matches them, and whether any parameter was left out. A missing or
    misshapen one raises a ValueError (prefixed by `source` when given) unless `skip_mismatch`,
    which warns and leaves it as it is."""
    pairs, skipped = [], False
    for key, param in network.state_dict().items():
        value = saved.get(key)
        if value is None:
            problem = f"{key} is not found in the providing file."
        elif list(value.shape) != list(param.shape):
            problem = f"{key} receives a shape {list(value.shape)}, but the expected shape is {list(param.shape)}."
        else:
            pairs.append((param, value))
            continue
        if not skip_mismatch:
            raise ValueError(problem if source is None else f"{source}: {problem} (skip_mismatch=True loads the others)")
        warnings.warn(f"Skip loading for {key}. {problem}")
        skipped = True
    return pairs, skipped


class StepRunner:
    """A model's steps as the loop's batch runner: each returns the step's `StepContext`."""

    def __init__(self, model: "Model") -> None:
        self.model = model

    def train_batch(self, inputs: list, labels: list, update: bool) -> StepContext:
        return self.model._train_step(inputs, labels, update, defer_sync=True)[0]

    def eval_batch(self, inputs: list, labels: list) -> StepContext:
        return self.model._eval_step(inputs, labels)[0]

    def predict_batch(self, inputs: list) -> StepContext:
        return self.model._predict_step(inputs)


def _numpy_outputs(ctx: StepContext) -> list:
    return [_to_numpy(o) for o in ctx.outputs]


class Model(paddle.Model):
    """paddle.Model on hubtrain's engine: the same arguments, calls and results.

    `release_grads=True` releases gradients after each update instead of zeroing them as
    paddle.Model does (the next backward allocates them again).

    Under several processes, batches accumulated before an update (`accumulate_grad_batches`)
    run under DataParallel's `no_sync`: one all-reduce per update, of the summed gradients.
    `sync_every_batch=True` all-reduces after every batch instead, as paddle.Model does (the
    same update to float rounding, k times the all-reduces; kept to measure the difference).
    """

    def __init__(self, network: paddle.nn.Layer, inputs: Any = None, labels: Any = None) -> None:
        cpu_math.set_up()  # this machine's threads and MKL path, unless a task or the user chose them
        super().__init__(network, inputs, labels)
        self._hub_static = not paddle.in_dynamic_mode()
        self._hub_prepared = Prepared()
        self._hub_step: Optional[Step] = None
        self._hub_merge = ShardMerge()
        self._hub_logs: dict = {}  # one dict for all passes, as paddle.Model's callbacks see it
        self.metric_feed = DeferredMetrics()  # training metric inputs waiting to be counted
        self.release_grads = False
        self.sync_every_batch = False
        self._hub_scaler: Optional[paddle.amp.GradScaler] = None
        self._hub_step_key: tuple = ()

    # configuration --------------------------------------------------------------------------
    def prepare(self, optimizer: Any = None, loss: Any = None, metrics: Any = None, amp_configs: Any = None) -> None:
        super().prepare(optimizer, loss, metrics, amp_configs)
        self._hub_prepared = Prepared.of(optimizer, loss, metrics, amp_configs)
        self._hub_step = None
        # made here, not with the first step, so that a checkpoint or `load` finds it to fill
        mixed = not self._hub_static and self._hub_prepared.amp_level != "O0"
        self._hub_scaler = paddle.amp.GradScaler(**self._hub_prepared.scaler_configs) if mixed else None

    @property
    def optimizer(self) -> Any:
        """The optimizer `prepare()` was given (None before)."""
        return self._hub_prepared.optimizer

    @property
    def loss(self) -> Any:
        """The loss function `prepare()` was given (None before)."""
        return self._hub_prepared.loss

    @property
    def metrics(self) -> list:
        """The metrics `prepare()` was given."""
        return self._hub_prepared.metrics

    @property
    def input_specs(self) -> Optional[list]:
        """The input specs: as given, from forward's arguments, or learnt from the first batch."""
        return paddle_private.input_specs(self)

    def metrics_names(self) -> list[str]:
        """The keys of `logs` and of evaluate's result: 'loss', then every metric's names."""
        return self._hub_prepared.metric_names()

    @property
    def grad_scaler(self) -> Optional[paddle.amp.GradScaler]:
        """The loss scaler of mixed-precision training (made by `prepare`), or None."""
        return self._hub_scaler

    # the step, as the engine runs it ----------------------------------------------------------
    def _step_points(self) -> list[StepPoint]:
        """Step points a subclass adds to every training step (before loss scaling)."""
        return []

    def _step_schedule(self) -> Any:
        """An LR scheduler the step itself steps after every update; None: a callback steps it."""
        return None

    def _step_key(self) -> tuple:
        """What the step is made from: it is made again when any of it changes."""
        return self.network, self.release_grads, self.sync_every_batch

    def _step(self) -> Step:
        """The engine step, made again when what it is made from changed."""
        step, prepared = self._hub_step, self._hub_prepared
        key = self._step_key()
        if step is not None and self._hub_step_key == key:
            return step
        scaling, autocast = None, None
        if self._hub_scaler is not None:
            scaling = LossScaling(self._hub_scaler)
            autocast = functools.partial(paddle.amp.auto_cast, enable=True, level=prepared.amp_level,
                                         **prepared.amp_lists)
        several = paddle.distributed.ParallelEnv().nranks > 1
        parallel = paddle_private.data_parallel_network(self) if several else None
        defer_sync = parallel.no_sync if isinstance(parallel, paddle.DataParallel) and not self.sync_every_batch \
            else None
        self._hub_step = Step(self.network, prepared.loss, prepared.optimizer, train_network=parallel,
                              points=self._step_points(), scaling=scaling, autocast=autocast,
                              release_grads=self.release_grads, lr_scheduler=self._step_schedule(),
                              defer_sync=defer_sync)
        self._hub_step_key = key
        return self._hub_step

    def _metric_args(self, outputs: list, labels: list) -> list:
        """What each metric's `compute` takes: the network's outputs, then the labels."""
        return outputs + labels

    def _metrics_for(self, phase: str) -> list:
        """The metric objects a phase's batches are counted in ("train" or "eval")."""
        return self._hub_prepared.metrics

    def _feed_metrics(self, phase: str, outputs: list, labels: list) -> list:
        """Count a batch in the phase's metrics; returns each metric's `update` result (None for a
        training batch whose counting `metric_feed` deferred to when the metrics are read)."""
        metrics = self._metrics_for(phase)
        if not metrics:
            return []
        args = self._metric_args(outputs, labels)
        if phase == "train" and self.metric_feed.offer(metrics, args):
            return [None] * len(metrics)
        results = []
        for metric in metrics:
            computed = as_list(metric.compute(*args))
            if not isinstance(metric, HubMetric):  # paddle's metrics take numpy arrays, as paddle.Model gives them
                computed = [_to_numpy(c) if isinstance(c, paddle.Tensor) else c for c in computed]
            results.append(metric.update(*computed))
        return results

    def _check_batch(self, phase: str, inputs: list, labels: list) -> None:
        """A subclass's check of a batch before its step (once per phase is enough)."""

    def _train_step(self, inputs: list, labels: list, update: bool = True,
                    defer_sync: bool = False) -> tuple[StepContext, list]:
        """One training batch. `defer_sync`: the loop's accumulated batches skip DataParallel's
        all-reduce until the updating one; a caller's own `train_batch(update=False)` keeps
        paddle.Model's all-reduce after every batch, since its loop may step the optimizer itself."""
        self.mode = "train"
        self._check_batch("train", inputs, labels)
        paddle_private.note_batch_inputs(self, inputs)  # before the forward, which to_static may replace
        ctx = self._step().train(inputs, labels, update, defer=defer_sync)
        # a batch a step point left out counts no samples: not in the metrics either
        return ctx, [] if ctx.skip_backward else self._feed_metrics("train", ctx.outputs, ctx.labels)

    def _eval_step(self, inputs: list, labels: list) -> tuple[StepContext, list]:
        self.mode = "eval"
        self._check_batch("eval", inputs, labels)
        paddle_private.note_batch_inputs(self, inputs)  # before the forward, which to_static may replace
        ctx = self._step().evaluate(inputs, labels)
        outputs, labels = ctx.outputs, ctx.labels
        if self._merges_eval_batches():
            outputs, labels = self._hub_merge(outputs, labels)
        return ctx, self._feed_metrics("eval", outputs, labels)

    def _merges_eval_batches(self) -> bool:
        """Whether every rank's outputs of an evaluation batch are gathered before counting."""
        return paddle.distributed.ParallelEnv().nranks > 1

    def _predict_step(self, inputs: list) -> StepContext:
        self.mode = "test"
        paddle_private.note_batch_inputs(self, inputs)  # before the forward, which to_static may replace
        ctx = self._step().predict(inputs)
        return ctx

    # batch methods -----------------------------------------------------------------------------
    def train_batch(self, inputs: Any, labels: Any = None, update: bool = True) -> Any:
        if self._hub_static:
            return super().train_batch(inputs, labels, update)
        assert self._hub_prepared.optimizer, "model not ready, please call `model.prepare()` first"
        ctx, metrics = self._train_step(as_list(inputs), as_list(labels), update)
        losses = [_to_numpy(loss) for loss in ctx.losses]
        return (losses, metrics) if self._hub_prepared.metrics else losses

    @paddle.no_grad()
    def eval_batch(self, inputs: Any, labels: Any = None) -> Any:
        if self._hub_static:
            return super().eval_batch(inputs, labels)
        ctx, metrics = self._eval_step(as_list(inputs), as_list(labels))
        losses = [_to_numpy(loss) for loss in ctx.losses]
        if self._hub_prepared.loss is not None:
            return (losses, metrics) if self._hub_prepared.metrics else losses
        return metrics

    @paddle.no_grad()
    def predict_batch(self, inputs: Any) -> list:
        if self._hub_static:
            return super().predict_batch(inputs)
        return _numpy_outputs(self._predict_step(as_list(inputs)))

    # loops ---------------------------------------------------------------------------------------
    def engine_callbacks(self) -> list[Callback]:
        """Engine callbacks joined to every fit, evaluate and predict after paddle's callbacks:
        none here; a subclass adds its own."""
        return []

    def make_loop(self, callbacks: list[Callback], accumulate: int = 1, state: Any = None, control: Any = None) -> Loop:
        """A Loop over this model's steps with these engine callbacks (and `engine_callbacks()`)."""
        return Loop(StepRunner(self), [*callbacks, *self.engine_callbacks()],
                    split=BatchSplit(paddle_private.input_count(self)), accumulation=GradientAccumulation(accumulate),
                    state=state, control=control, model=self)

    def _loop(self, callbacks: Any, eval_steps: Optional[int] = None, accumulate: int = 1) -> Loop:
        refresh = progress_refresh(callbacks)
        hooks = PaddleCallbacks(self, callbacks, self._hub_logs, self._hub_prepared, self._hub_merge, eval_steps,
                                refresh_due=refresh, defers_metrics=refresh is not None,
                                loss_every_batch=False)  # read only between refreshes, which nothing reads
        return self.make_loop([hooks], accumulate)

    def fit(self, train_data: Any = None, eval_data: Any = None, batch_size: Union[int, Sequence[int]] = 1,
            epochs: int = 1, eval_freq: int = 1, log_freq: int = 10, save_dir: Optional[str] = None,
            save_freq: int = 1, verbose: int = 2, drop_last: bool = False, shuffle: bool = True,
            num_workers: int = 0, callbacks: Any = None, accumulate_grad_batches: int = 1,
            num_iters: Optional[int] = None) -> None:
        if self._hub_static:
            return super().fit(train_data, eval_data, batch_size, epochs, eval_freq, log_freq, save_dir, save_freq,
                               verbose, drop_last, shuffle, num_workers, callbacks, accumulate_grad_batches,
                               num_iters)
        assert train_data is not None, "train_data must be given!"
        train_size, eval_size = _batch_sizes(batch_size)
        train_loader = _loader(train_data, train_size, num_workers, shuffle, drop_last)
        eval_loader = None if eval_data is None else _loader(eval_data, eval_size, num_workers)
        steps = steps_of(train_loader)
        self.num_iters = num_iters
        if isinstance(num_iters, int) and isinstance(steps, int):
            assert num_iters > 0, "num_iters must be greater than 0!"
            epochs = num_iters // steps + 1
            steps = min(num_iters, steps)
        cbks = config_callbacks(callbacks, model=self, epochs=epochs, steps=steps, log_freq=log_freq,
                                save_freq=save_freq, save_dir=save_dir, verbose=verbose,
                                metrics=self._hub_prepared.metric_names())
        if any(isinstance(c, EarlyStopping) for c in cbks.callbacks) and eval_loader is None:
            warnings.warn("EarlyStopping needs validation data.")
        self._hub_merge.start(eval_loader)
        self._loop(cbks, accumulate=accumulate_grad_batches).fit(train_loader, epochs, eval_loader, eval_freq)
        return None

    def evaluate(self, eval_data: Any, batch_size: int = 1, log_freq: int = 10, verbose: int = 2,
                 num_workers: int = 0, callbacks: Any = None, num_iters: Optional[int] = None) -> dict:
        if self._hub_static:
            return super().evaluate(eval_data, batch_size, log_freq, verbose, num_workers, callbacks, num_iters)
        loader = _loader(eval_data, batch_size, num_workers)
        cbks = config_callbacks(callbacks, model=self, log_freq=log_freq, verbose=verbose,
                                metrics=self._hub_prepared.metric_names())
        steps = steps_of(loader)
        self.num_iters = num_iters
        if isinstance(num_iters, int) and isinstance(steps, int):
            assert num_iters > 0, "num_iters must be greater than 0!"
            steps = self.num_iters = min(num_iters, steps)
        self._hub_merge.start(loader)
        self._loop(cbks, eval_steps=steps).evaluate(loader)
        return {name: self._hub_logs[name] for name in self._hub_prepared.metric_names()}

    def predict(self, test_data: Any, batch_size: int = 1, num_workers: int = 0, stack_outputs: bool = False,
                verbose: int = 1, callbacks: Any = None) -> list:
        if self._hub_static:
            return super().predict(test_data, batch_size, num_workers, stack_outputs, verbose, callbacks)
        loader = _loader(test_data, batch_size, num_workers)
        cbks = config_callbacks(callbacks, model=self, verbose=verbose)
        outputs = list(zip(*self._loop(cbks).predict(loader, keep=_numpy_outputs)))
        return [np.vstack(outs) for outs in outputs] if stack_outputs else outputs

    # files -----------------------------------------------------------------------------------------
    def save(self, path: str, training: bool = True) -> None:
        if self._hub_static or not training:
            return super().save(path, training)
        if paddle.distributed.get_rank() != 0:  # the job's rank 0: one writer per job, not one per node
            return None
        paddle.save(self.network.state_dict(), path + ".pdparams")
        optimizer = self._hub_prepared.optimizer
        if optimizer is not None and optimizer.state_dict():
            paddle.save(optimizer.state_dict(), path + ".pdopt")
        scaler = self.grad_scaler
        if scaler is not None and scaler.state_dict():
            paddle.save(scaler.state_dict(), path + ".pdscaler")
        return None

    def _saved_parameters(self, path: str) -> tuple[str, dict, Optional[str]]:
        """(the path without its suffix, the parameters saved there, the file to name in a
        mismatch message or None), as paddle.Model.load checks them."""
        path = _strip_suffix(path)
        saved = _read(path + ".pdparams")
        assert saved, "Failed to load parameters, please check path."
        return path, saved, None

    def load(self, path: str, skip_mismatch: bool = False, reset_optimizer: bool = False) -> None:
        """paddle.Model.load, reading the files without running code from them."""
        path, saved, source = self._saved_parameters(path)
        pairs, skipped = matched_parameters(self.network, saved, skip_mismatch, source=source)
        optimizer_state = None if reset_optimizer or skipped else _read(path + ".pdopt")
        paddle_private.load_into(self, pairs, optimizer_state)
        scaler = self._hub_scaler
        if scaler is not None and os.path.exists(path + ".pdscaler"):
            scaler.load_state_dict(load_paddle_file(path + ".pdscaler", return_numpy=True))
