"""One step on one batch: forward, loss, backward, the optimizer's update, the LR schedule.

A training step has two named points, `before_backward` and `before_optimizer_step`, where
small objects (`StepPoint`s: loss scaling, clipping, non-finite checks, or the loop's callbacks)
look at and change the step through its `StepContext`; whether a batch ends with an update is
decided by the caller (the loop asks `GradientAccumulation`), so the step has no branch for it.

Under several processes a batch that does not update runs inside `defer_sync` (DataParallel's
`no_sync`): its gradients add up on each rank, and the updating batch's backward all-reduces the
sum once, so an update costs one all-reduce however many batches it accumulates.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any, Callable, ContextManager, Optional, Sequence

import paddle

__all__ = ["StepContext", "StepPoint", "GradientAccumulation", "MeanOverAccumulation", "ClipGradNorm", "LossScaling",
           "Step"]


def as_list(value: Any) -> list:
    """A network's outputs or a loss's terms as a list (a single value becomes a list of one)."""
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def as_tensors(values: Any) -> list[paddle.Tensor]:
    return [v if isinstance(v, paddle.Tensor) else paddle.to_tensor(v) for v in as_list(values)]


@dataclass
class StepContext:
    """What one step has computed so far; the step points read and change it."""

    phase: str
    inputs: list
    labels: list
    update: bool = True
    outputs: list = field(default_factory=list)
    losses: list = field(default_factory=list)   # the loss function's terms
    loss: Optional[paddle.Tensor] = None         # their sum
    backward_loss: Optional[paddle.Tensor] = None  # what backward runs on (a scaled loss, say)
    host_loss: Any = None                        # the loss on the host, once a point has copied it
    skip_backward: bool = False                  # a point leaves this batch out: no gradients from it
    skip_update: bool = False                    # a point cancels this step's update
    updated: bool = False                        # the weights were updated


class StepPoint:
    """Something that acts at a training step's named points."""

    def before_backward(self, ctx: StepContext) -> None: ...
    def before_optimizer_step(self, ctx: StepContext) -> None: ...


class GradientAccumulation:
    """Which training batches end with an update: every `batches`-th of an epoch, and its last."""

    def __init__(self, batches: int = 1) -> None:
        if not isinstance(batches, int) or isinstance(batches, bool) or batches < 1:
            raise ValueError(f"gradient accumulation over {batches!r} batches: use a whole number >= 1.")
        self.batches = batches

    def updates_after(self, step_in_epoch: int, steps_in_epoch: Optional[int]) -> bool:
        return (step_in_epoch + 1) % self.batches == 0 or step_in_epoch + 1 == steps_in_epoch


class MeanOverAccumulation(StepPoint):
    """Backward on loss / k when k batches add their gradients before one update, so the update
    is the mean's, as with one batch k times as large."""

    def __init__(self, batches: int) -> None:
        self.batches = batches

    def before_backward(self, ctx: StepContext) -> None:
        ctx.backward_loss = ctx.backward_loss / self.batches


class ClipGradNorm(StepPoint):
    """Clip the gradients' global norm before the update (for optimizers built without grad_clip)."""

    def __init__(self, parameters: Sequence[paddle.Tensor], max_norm: float) -> None:
        self.parameters, self.max_norm = list(parameters), float(max_norm)

    def before_optimizer_step(self, ctx: StepContext) -> None:
        paddle.nn.utils.clip_grad_norm_(self.parameters, self.max_norm)


class LossScaling(StepPoint):
    """Mixed precision's loss scaling: backward runs on the scaled loss and the scaler makes the
    update (it unscales, skips a step with non-finite gradients, and adapts the scale)."""

    def __init__(self, scaler: paddle.amp.GradScaler) -> None:
        self.scaler = scaler

    def before_backward(self, ctx: StepContext) -> None:
        ctx.backward_loss = self.scaler.scale(ctx.backward_loss)

    def update(self, optimizer: Any, ctx: StepContext) -> None:
        self.scaler.minimize(optimizer, ctx.backward_loss)


def _plain_update(optimizer: Any, ctx: StepContext) -> None:
    optimizer.step()


class Step:
    """Train, evaluate and predict steps of one network.

    `loss(*outputs, *labels)` returns a loss or a list of terms (summed for backward). After an
    update the network's gradients are set to zero, as `paddle.Model` leaves them, or released
    (`release_grads=True`: the next backward allocates them again; a little faster). An
    `lr_scheduler` given here steps after every update; leave it None when a callback steps it.

    `defer_sync`, when given, is the context a batch that does not update runs its forward and
    backward in when `train(..., defer=True)` asks for it (the loop's accumulated batches; the
    DataParallel network's `no_sync`): its gradients are not all-reduced but add up on each rank,
    and the next updating batch's backward all-reduces their sum. The step
    points acting before the update (clipping, non-finite checks) see that all-reduced sum, as
    they saw the gradients all-reduced after every batch.
    """

    def __init__(self, network: paddle.nn.Layer, loss: Optional[Callable] = None, optimizer: Any = None, *,
                 train_network: Optional[Callable] = None, points: Sequence[StepPoint] = (),
                 scaling: Optional[LossScaling] = None,
                 autocast: Optional[Callable[[], ContextManager]] = None, release_grads: bool = False,
                 lr_scheduler: Any = None, defer_sync: Optional[Callable[[], ContextManager]] = None) -> None:
        self.network = network
        self.train_network = train_network or network
        self.loss = loss
        self.optimizer = optimizer
        self.points = list(points) + ([scaling] if scaling is not None else [])  # scaling acts last
        self._update = scaling.update if scaling is not None else _plain_update
        self.autocast = autocast or contextlib.nullcontext
        self.release_grads = release_grads
        self.lr_scheduler = lr_scheduler
        self.defer_sync = defer_sync or contextlib.nullcontext
        # the network's parameters, listed once: walking its layers for them every step costs
        # more than zeroing a small network's gradients
        self.parameters = network.parameters()

    def _mode(self, training: bool) -> None:
        if self.network.training != training:
            self.network.train() if training else self.network.eval()

    def _losses(self, ctx: StepContext) -> None:
        ctx.losses = as_list(self.loss(*(ctx.outputs + ctx.labels)))
        ctx.loss = ctx.losses[0] if len(ctx.losses) == 1 else paddle.add_n(ctx.losses)

    def train(self, inputs: Sequence, labels: Sequence = (), update: bool = True,
              defer: bool = False) -> StepContext:
        if self.optimizer is None or self.loss is None:
            raise RuntimeError("a training step needs an optimizer and a loss: call prepare(optimizer, loss) first.")
        self._mode(True)
        ctx = StepContext("train", as_tensors(inputs), as_tensors(labels), update)
        # DataParallel decides in its forward whether the backward all-reduces: both run inside
        with self.defer_sync() if defer and not update else contextlib.nullcontext():
            with self.autocast():
                ctx.outputs = as_list(self.train_network(*ctx.inputs))
            self._losses(ctx)
            ctx.backward_loss = ctx.loss
            for point in self.points:
                point.before_backward(ctx)
            if not ctx.skip_backward:
                ctx.backward_loss.backward()
        if ctx.update:
            for point in self.points:
                point.before_optimizer_step(ctx)
            if not ctx.skip_update:
                self._update(self.optimizer, ctx)
                ctx.updated = True
                if self.lr_scheduler is not None:
                    self.lr_scheduler.step()
            zero = not self.release_grads
            for param in self.parameters:
                param.clear_gradient(zero)
        return ctx

    @paddle.no_grad()
    def evaluate(self, inputs: Sequence, labels: Sequence = ()) -> StepContext:
        self._mode(False)
        ctx = StepContext("eval", as_tensors(inputs), as_tensors(labels), update=False)
        ctx.outputs = as_list(self.network(*ctx.inputs))
        if self.loss is not None:
            self._losses(ctx)
        return ctx

    @paddle.no_grad()
    def predict(self, inputs: Sequence) -> StepContext:
        self._mode(False)
        ctx = StepContext("predict", as_tensors(inputs), [], update=False)
        ctx.outputs = as_list(self.network(*ctx.inputs))
        return ctx
