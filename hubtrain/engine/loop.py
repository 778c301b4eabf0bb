"""The loops: epochs, batches, and the end of a run, for fit, evaluate and predict.

The loop knows no task and no model API: it splits batches into inputs and labels, hands them to
a `BatchRunner` (an engine `Step`, or a face's batch methods), counts progress in a `TrainState`,
and fires the events of engine/events.py around each part; every other behaviour is a callback.
Progress is the loop's state, so a fit started with `state.epoch` and `state.step_in_epoch`
already counted resumes in the middle of that epoch.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Optional, Protocol

import paddle

from ..state import TrainControl, TrainState
from .events import Callback, CallbackList
from .sampler import ResumableBatchSampler
from .step import GradientAccumulation, StepContext, StepPoint

__all__ = ["Batch", "BatchSplit", "BatchRunner", "Loop", "CallbackPoints", "steps_of"]


@dataclass
class Batch:
    """One batch as the loop hands it on."""

    index: int          # position in its pass
    inputs: list
    labels: list
    size: int           # samples in this process's share


class BatchSplit:
    """A loader's batch as inputs and labels: the batch is flattened (a list of fields, or
    `([inputs], [labels])`, come out the same) and its first `n_inputs` fields are the inputs
    (all of them when `n_inputs` is None)."""

    def __init__(self, n_inputs: Optional[int]) -> None:
        self.n_inputs = n_inputs

    def __call__(self, index: int, data: Any, with_labels: bool) -> Batch:
        fields = data if isinstance(data, list) and all(isinstance(d, paddle.Tensor) for d in data) \
            else paddle.utils.flatten(data)
        shape = fields[0].shape  # a DenseTensor from a static-graph loader has a callable shape
        size = int(shape()[0] if callable(shape) else shape[0])
        n = self.n_inputs
        if not with_labels:
            return Batch(index, fields if n is None else fields[:n], [], size)
        return Batch(index, fields[:n], fields[n:], size)


class BatchRunner(Protocol):
    """What runs one batch of each phase; its return value becomes `loop.result`."""

    def train_batch(self, inputs: list, labels: list, update: bool) -> Any: ...
    def eval_batch(self, inputs: list, labels: list) -> Any: ...
    def predict_batch(self, inputs: list) -> Any: ...


def steps_of(loader: Any) -> Optional[int]:
    """Batches in a pass over `loader`, or None for an iterable without a length."""
    try:
        return len(loader)
    except TypeError:
        return None


class Loop:
    """Runs passes over loaders and fires the events around them.

    Attributes callbacks read: `state` (TrainState: global_step, epoch, step_in_epoch, samples,
    ...), `control` (TrainControl), `phase` ("train", "eval" or "predict"), `steps` (batches in
    the running pass, or None), `batch` (the Batch in hand), `result` (what the runner returned
    for it), `epochs` (of the running fit), `step_context` (at the step points), `model` (the
    object the face put under the loop, or None).
    """

    def __init__(self, runner: BatchRunner, callbacks: Iterable[Callback] = (), *, split: Optional[BatchSplit] = None,
                 accumulation: Optional[GradientAccumulation] = None, state: Optional[TrainState] = None,
                 control: Optional[TrainControl] = None, model: Any = None) -> None:
        self.runner = runner
        self.model = model  # what the loop trains, for callbacks that use its public API
        self.callbacks = callbacks if isinstance(callbacks, CallbackList) else CallbackList(callbacks)
        self.split = split or BatchSplit(None)
        self.accumulation = accumulation or GradientAccumulation(1)
        self.state = state or TrainState()
        self.control = control or TrainControl()
        self.phase = ""
        self.steps: Optional[int] = None
        self.epochs = 0
        self.batch: Optional[Batch] = None
        self.result: Any = None
        self.step_context: Optional[StepContext] = None

    def _fire(self, event: str) -> None:
        self.callbacks.fire(event, self)

    # fit --------------------------------------------------------------------------------
    def fit(self, train_loader: Iterable, epochs: int, eval_loader: Optional[Iterable] = None,
            eval_every: int = 1) -> TrainState:
        """Train from `state.epoch` (and `state.step_in_epoch` batches into it) to `epochs`,
        evaluating after every `eval_every`-th epoch."""
        self.epochs = epochs
        self.control.should_stop = False
        self._fire("fit_begin")
        while self.state.epoch < epochs:
            whole = self._train_epoch(train_loader)
            epoch = self.state.epoch
            if whole or not self.control.should_stop:  # a run stopped mid-epoch keeps its position
                self.state.epoch += 1
                self.state.step_in_epoch = 0
            if eval_loader is not None and epoch % eval_every == 0:
                self.evaluate(eval_loader)
            if self.control.should_stop:
                break
        self.phase = "train"
        self._fire("fit_end")
        return self.state

    def _train_epoch(self, loader: Iterable) -> bool:
        """One epoch from `state.step_in_epoch` on; whether it ran to the loader's end."""
        state = self.state
        whole = True
        self.phase, self.steps = "train", steps_of(loader)
        self._fire("epoch_begin")
        self.phase = "train"  # an evaluation run from epoch_begin leaves it changed
        skip = state.step_in_epoch
        batches = self._positioned(loader, state.epoch, skip)
        for index, data in enumerate(batches, start=skip):
            self.batch = self.split(index, data, with_labels=True)
            self._fire("batch_begin")
            update = self.accumulation.updates_after(index, self.steps)
            self.result = self.runner.train_batch(self.batch.inputs, self.batch.labels, update)
            state.global_step += 1
            state.step_in_epoch = index + 1
            state.samples += self.batch.size
            # an update a step point cancelled (a non-finite gradient, say) is not counted
            state.optimizer_step += int(getattr(self.result, "updated", update))
            self._fire("batch_end")
            if self._pass_ended():
                whole = self.steps is not None and index + 1 >= self.steps
                break
        self.phase = "train"
        self._fire("epoch_end")
        return whole

    @staticmethod
    def _positioned(loader: Iterable, epoch: int, skip: int) -> Iterable:
        """`loader`'s batches of `epoch` from batch `skip` on: hubtrain's sampler is told where
        to start (no sample read for nothing), any other loader is read past the batches done."""
        sampler = getattr(loader, "batch_sampler", None)
        if isinstance(sampler, ResumableBatchSampler):
            sampler.set_epoch(epoch, skip)
            return loader
        return itertools.islice(loader, skip, None) if skip else loader

    def _pass_ended(self) -> bool:
        if self.control.should_end_pass:
            self.control.should_end_pass = False
            return True
        return False

    # evaluate and predict ------------------------------------------------------------------
    def evaluate(self, loader: Iterable) -> None:
        """One pass over `loader` with the eval step; callbacks collect what they need."""
        self._pass("eval", loader)

    def predict(self, loader: Iterable, keep: Optional[Callable[[Any], Any]] = None) -> list:
        """One pass over `loader` with the predict step; returns `keep(result)` for every batch
        (nothing is kept when `keep` is None: callbacks take what they need)."""
        results: list = []
        self._pass("predict", loader, results, keep)
        return results

    def _pass(self, phase: str, loader: Iterable, results: Optional[list] = None,
              keep: Optional[Callable[[Any], Any]] = None) -> None:
        # a pass run from inside another (an evaluation every n training steps) leaves the outer
        # pass's attributes as they were
        outer = self.phase, self.steps, self.batch, self.result
        self.phase, self.steps = phase, steps_of(loader)
        self._fire(f"{phase}_begin")
        for index, data in enumerate(loader):
            self.phase = phase
            self.batch = self.split(index, data, with_labels=phase == "eval")
            self._fire("batch_begin")
            if phase == "eval":
                self.result = self.runner.eval_batch(self.batch.inputs, self.batch.labels)
            else:
                self.result = self.runner.predict_batch(self.batch.inputs)
                if keep is not None:
                    results.append(keep(self.result))
            self._fire("batch_end")
            if self._pass_ended():
                break
        self.phase = phase
        self._fire(f"{phase}_end")
        if outer[0] in ("train", "eval", "predict"):
            self.phase, self.steps, self.batch, self.result = outer


class CallbackPoints(StepPoint):
    """A step's named points fired as the loop's events, for a Step run inside a Loop."""

    def __init__(self, loop: Loop) -> None:
        self.loop = loop

    def before_backward(self, ctx: StepContext) -> None:
        self.loop.step_context = ctx
        self.loop.callbacks.fire("before_backward", self.loop)

    def before_optimizer_step(self, ctx: StepContext) -> None:
        self.loop.step_context = ctx
        self.loop.callbacks.fire("before_optimizer_step", self.loop)

