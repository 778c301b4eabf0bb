"""paddle.callbacks driven by the engine's events: the same hooks, arguments and `logs` that
paddle.Model's loops give them, so ProgBarLogger, ModelCheckpoint, LRScheduler, EarlyStopping,
ReduceLROnPlateau, VisualDL and users' own callbacks behave on hub.Model as on paddle.Model."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Optional

import paddle

from ..engine.events import Callback
from ..engine.step import as_list

if TYPE_CHECKING:
    from ..engine.loop import Loop
    from .hapi import Model, Prepared, ShardMerge

__all__ = ["PaddleCallbacks", "progress_refresh", "at_pass_edge"]

_MODES = {"train": "train", "eval": "eval", "predict": "predict"}


def _defines(cb: Any, name: str) -> bool:
    """Whether a callback does something at hook `name` (not paddle's base-class no-op)."""
    return getattr(getattr(cb, name), "__func__", None) is not getattr(paddle.callbacks.Callback, name)


def _overriding(callbacks: Any, name: str) -> list:
    return [getattr(cb, name) for cb in callbacks.callbacks if _defines(cb, name)]


def at_pass_edge(loop: "Loop") -> bool:
    """Whether the batch in hand is its pass's first or last (or the pass's length is unknown)."""
    index, steps = loop.batch.index, loop.steps
    return index == 0 or steps is None or index + 1 >= steps


def _losses(ctx: Any) -> list:
    """The batch's loss terms as floats: the host copy a step point made, when there is one term."""
    if ctx.host_loss is not None and len(ctx.losses) == 1:
        return [float(ctx.host_loss)]
    return [float(term) for term in ctx.losses]


def progress_refresh(callbacks: Any) -> Optional[Callable[["Loop"], bool]]:
    """When the training metrics in `logs` must be up to date, for paddle's callbacks: at every
    batch (None) unless the only callbacks reading a training batch's `logs` are paddle's
    ProgBarLogger, which reads them every `log_freq` batches, and LRScheduler, which reads none;
    then at those batches, the first and the last (and at the epoch's end, as always). No
    callback reads the batches in between, so their loss need not be copied to the host either."""
    readers = [cb for cb in callbacks.callbacks if _defines(cb, "on_train_batch_end")]
    if any(type(cb) not in (paddle.callbacks.ProgBarLogger, paddle.callbacks.LRScheduler) for cb in readers):
        return None
    printing = paddle.distributed.ParallelEnv().local_rank == 0
    bars = [cb for cb in readers if isinstance(cb, paddle.callbacks.ProgBarLogger) and cb.verbose and printing]

    def due(loop: "Loop") -> bool:
        return at_pass_edge(loop) or any((bar.train_step + 1) % bar.log_freq == 0 for bar in bars)

    return due


class PaddleCallbacks(Callback):
    """Calls a paddle `CallbackList` where paddle.Model's loops call it.

    `logs` is the model's one logs dict, shared by its passes as paddle.Model shares its own; at
    each batch's end it gets the batch's loss and the metrics' running values, `step` and
    `batch_size`. A set `model.num_iters` counts batches down and ends the pass at zero, setting
    `model.stop_training`, which ends a fit after the running epoch and its evaluation.
    """

    order = -100  # before engine callbacks: they see what paddle's callbacks decided
    state_key = "paddle_callbacks"

    def __init__(self, model: "Model", callbacks: Any, logs: dict, prepared: "Prepared", merge: "ShardMerge",
                 eval_steps: Optional[int] = None, eval_result: Optional[Callable[[], dict]] = None,
                 refresh_due: Optional[Callable[["Loop"], bool]] = None, owns_metrics: bool = True,
                 defers_metrics: bool = False, loss_every_batch: bool = True) -> None:
        self.model, self.cbks, self.logs = model, callbacks, logs
        # a face's own ways: what it reports at an evaluation's end (into `logs`); at which
        # training batches the metrics in `logs` are brought up to date (None: every batch; in
        # between they keep their last values and only the loss is new); whether the metrics
        # are reset here at a pass's end, as paddle.Model does, or by the face
        self.eval_result, self.refresh_due, self.owns_metrics = eval_result, refresh_due, owns_metrics
        self.defers_metrics = defers_metrics  # count training metrics when read (model.metric_feed)
        # the batch's loss into `logs` between refreshes too (a copy to the host every batch)
        self.loss_every_batch = loss_every_batch
        self.stale = False
        # each batch hook of the callbacks that do something there: one that keeps the base
        # class's no-op is not called every batch
        self.hooks = {f"on_{mode}_batch_{when}": _overriding(callbacks, f"on_{mode}_batch_{when}")
                      for mode in _MODES.values() for when in ("begin", "end")}
        self.prepared, self.merge = prepared, merge
        self.eval_steps = eval_steps  # evaluate(num_iters=...) announces fewer steps than the loader has
        self.nranks = paddle.distributed.ParallelEnv().nranks

    # fit
    def fit_begin(self, loop: "Loop") -> None:
        self.cbks.on_begin("train")

    def epoch_begin(self, loop: "Loop") -> None:
        self.cbks.on_epoch_begin(loop.state.epoch)
        if self.defers_metrics:
            self.model.metric_feed.start()

    def epoch_end(self, loop: "Loop") -> None:
        if self.defers_metrics:
            self.model.metric_feed.stop()
        if self.stale and loop.result is not None:  # the pass ended between refreshes
            self.logs.update(zip(self.prepared.metric_names(), self._values(loop.result)))
            self.stale = False
        self._reset()
        self.cbks.on_epoch_end(loop.state.epoch, self.logs)
        self._stop_if_asked(loop)

    def fit_end(self, loop: "Loop") -> None:
        self.cbks.on_end("train", self.logs)

    # evaluation and prediction
    def eval_begin(self, loop: "Loop") -> None:
        steps = self.eval_steps if self.eval_steps is not None else loop.steps
        self.cbks.on_begin("eval", {"steps": steps, "metrics": self.prepared.metric_names()})

    def eval_end(self, loop: "Loop") -> None:
        if self.eval_result is not None:
            self.logs.update(self.eval_result())
        self._reset()
        self.cbks.on_end("eval", self.logs)
        self._stop_if_asked(loop)

    def predict_begin(self, loop: "Loop") -> None:
        self.cbks.on_begin("predict", {"steps": loop.steps})

    def predict_end(self, loop: "Loop") -> None:
        self._reset()
        self.cbks.on_end("predict", self.logs)

    # batches
    def batch_begin(self, loop: "Loop") -> None:
        for hook in self.hooks[f"on_{_MODES[loop.phase]}_batch_begin"]:
            hook(loop.batch.index, self.logs)

    def batch_end(self, loop: "Loop") -> None:
        logs, model = self.logs, self.model
        if loop.phase == "train" and self.refresh_due is not None and not self.refresh_due(loop):
            if self.prepared.loss is not None and self.loss_every_batch:
                logs["loss"] = _losses(loop.result)
            self.stale = True
        elif loop.phase != "predict":
            logs.update(zip(self.prepared.metric_names(), self._values(loop.result)))
            self.stale = self.stale and loop.phase != "train"
        logs["step"] = loop.batch.index
        merged = self.merge.last_batch if loop.phase == "eval" else 0
        logs["batch_size"] = merged if merged else loop.batch.size * self.nranks
        for hook in self.hooks[f"on_{_MODES[loop.phase]}_batch_end"]:
            hook(loop.batch.index, logs)
        left = getattr(model, "num_iters", None)
        if left is not None:
            model.num_iters = left - 1
            if model.num_iters <= 0:
                model.stop_training = True
                del model.num_iters
                loop.control.should_end_pass = True

    def _values(self, ctx: Any) -> list:
        """The batch's loss terms and every metric's running value, in `metrics_names()` order."""
        values: list = [_losses(ctx)] if self.prepared.loss is not None else []
        self.model.metric_feed.flush()
        for metric in self.prepared.metrics:
            values.extend(as_list(metric.accumulate()))
        return values

    def _reset(self) -> None:
        if self.owns_metrics:
            self.prepared.reset_metrics()

    # checkpoints
    def _stateful(self) -> dict[str, Any]:
        """The paddle callbacks with `state_dict` and `set_state_dict`, each under a key of its own."""
        found, counts = {}, {}
        for cb in self.cbks.callbacks:
            if hasattr(cb, "state_dict") and hasattr(cb, "set_state_dict"):
                name = type(cb).__name__
                counts[name] = counts.get(name, -1) + 1
                found[f"{name}.{counts[name]}"] = cb
        return found

    def state_dict(self) -> dict:
        """The states of the paddle callbacks that have one, for a checkpoint."""
        return {key: cb.state_dict() for key, cb in self._stateful().items()}

    def load_state_dict(self, state: dict) -> None:
        for key, cb in self._stateful().items():
            if key in state:
                cb.set_state_dict(state[key])

    def _stop_if_asked(self, loop: "Loop") -> None:
        if self.model.stop_training:
            loop.control.should_stop = True
