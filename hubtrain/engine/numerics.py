"""Non-finite losses and gradients: the run stops naming the step, the batch's samples and the
last good checkpoint, or (`on_nonfinite="skip"`) leaves the batch out and counts it. It never
trains on them silently.

What it costs per step: the loss is copied to the host once per step anyway, so checking it is
one `np.isfinite` on that copy, before the backward pass. Gradients are checked through their
global norm (one reduction per parameter tensor and one host copy), only when the loss was
finite and either `grad_clip_norm` is set (clipping by a non-finite norm would put NaN into
every weight) or `check_gradients=True`. Under a float16 `GradScaler`, whose job is to skip
steps with inf gradients and lower its scale, only the loss is checked.

Under several processes a skip must be the same on every rank (a rank that left out its
backward pass would stall the others' gradient all-reduce). There every rank runs its backward
pass, a bad loss on one rank reaches every rank's gradients through the all-reduce, and the
gradient check, always on in that case, drops the update on all ranks alike.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Optional

import numpy as np
import paddle

from ..compat.paddle_private import squared_l2_norm
from ..state import TrainState
from . import distributed
from .checkpoint import WEIGHTS, CheckpointError, CheckpointManager
from .events import Callback
from .report import log
from .step import StepContext, StepPoint

if TYPE_CHECKING:
    from .loop import Loop

__all__ = ["NonFiniteError", "NonFiniteGuard", "NonFiniteWatch", "global_grad_norm", "last_good_checkpoint"]

_SHOWN = 16  # sample indices written out in a message


class NonFiniteError(FloatingPointError):
    """A non-finite loss or gradient stopped the run (on_nonfinite="stop")."""

    def __init__(self, message: str, step: int, kind: str, value: float, indices: Optional[list[int]],
                 checkpoint: Optional[str]) -> None:
        super().__init__(message)
        self.step = step
        self.kind = kind
        self.value = value
        self.indices = indices
        self.checkpoint = checkpoint


_squared_l2 = squared_l2_norm()


def global_grad_norm(params: list) -> float:
    """sqrt of the sum of every gradient's squares, on the host (0.0 with no gradients)."""
    squares = []
    for p in params:
        g = p.grad
        if g is None:
            continue
        if g.dtype != paddle.float32:
            g = g.astype("float32")
        squares.append(_squared_l2(g).reshape([]) if _squared_l2 is not None else paddle.sum(g * g))
    if not squares:
        return 0.0
    return math.sqrt(float(paddle.add_n(squares).numpy()))


def last_good_checkpoint(manager: Optional[CheckpointManager]) -> Optional[str]:
    """The newest checkpoint that verifies and holds finite weights (read only when a run fails)."""
    if manager is None:
        return None
    for path in reversed(manager.steps()):
        try:
            _, files = manager.load(path, [WEIGHTS])
        except (CheckpointError, OSError, ValueError, EOFError):
            continue
        weights = files.get(WEIGHTS, {})
        if all(np.isfinite(np.asarray(v.numpy() if hasattr(v, "numpy") else v)).all() for v in weights.values()):
            return path
    return None


def _weights_finite(network: paddle.nn.Layer) -> bool:
    return all(bool(paddle.isfinite(p).all().numpy()) for p in network.parameters())


class NonFiniteGuard(StepPoint):
    """The run's watch on non-finite values: a step point that copies the loss to the host and
    checks it before backward (and the gradients before the update). Its `callback()` gives it
    the loop's progress for its messages and reports the skipped batches at the end.

    `network`: whose parameters and gradients are checked. `manager`: the run's checkpoints, to
    name the last good one. `sampler`: the training loader's batch sampler, to name a batch's
    samples (when it can: hubtrain's `ResumableBatchSampler`). `accumulate`: batches per update.
    `scaled`: a float16 loss scaler handles inf gradients itself (only the loss is checked).
    """

    def __init__(self, network: paddle.nn.Layer, action: str = "stop", check_gradients: bool = False, *,
                 manager: Optional[CheckpointManager] = None, sampler: Any = None, accumulate: int = 1,
                 scaled: bool = False) -> None:
        if action not in ("stop", "skip"):
            raise ValueError(f"on_nonfinite = {action!r} is not accepted: use 'stop' or 'skip'.")
        self.network = network
        self.action = action
        self.check_gradients = check_gradients
        self.manager, self.sampler, self.accumulate, self.scaled = manager, sampler, accumulate, scaled
        self.parallel = distributed.world_size() > 1
        self.state = TrainState()  # the loop's, once a fit begins
        self.kept = 0  # batches whose gradients are in the current accumulation window

    # -- the step's points -----------------------------------------------------------------
    def before_backward(self, ctx: StepContext) -> None:
        # the one copy to the host per step, checked before it can train; a copy of paddle's array,
        # which is a view that keeps the tensor's whole memory block (8 KB on CPU) alive
        ctx.host_loss = ctx.loss.numpy().copy()
        if not self._keep(ctx.host_loss):
            ctx.skip_backward = True

    def before_optimizer_step(self, ctx: StepContext) -> None:
        if not self._update_ok():
            ctx.skip_update = True

    def _keep(self, host_loss: Any) -> bool:
        """Whether the batch with this loss goes on to its backward pass."""
        if (math.isfinite(host_loss.item()) if host_loss.size == 1 else np.isfinite(host_loss).all()):
            self.kept += 1
            return True
        value = float(np.asarray(host_loss).ravel()[0])
        if self.parallel and self.action == "skip":
            log("WARNING", f"non-finite loss ({value}) on rank {distributed.rank()} at step "
                f"{self.state.global_step + 1}: every rank will drop this update.", level=30)
            self.kept += 1
            return True
        self._fault("loss", value)
        return False

    def _update_ok(self) -> bool:
        """Whether the optimizer may step on the gradients gathered since its last step."""
        kept, self.kept = self.kept, 0
        if kept == 0:
            return False  # every batch of the window was left out
        if self.scaled or not (self.check_gradients or (self.parallel and self.action == "skip")):
            return True
        norm = global_grad_norm(self.network.parameters())
        if math.isfinite(norm):
            return True
        self._fault("gradient", norm)
        return False

    def check_weights(self) -> None:
        """Before a checkpoint is written: weights must be finite. An update with non-finite
        gradients can leave the loss finite (a ReLU turns NaN into 0), so with gradients unchecked
        this is where it shows; a checkpoint never holds such weights."""
        if _weights_finite(self.network):
            return
        state = self.state
        checkpoint, where_from = self._last_good()
        raise NonFiniteError(
            f"non-finite weights at step {state.global_step}, found before writing its checkpoint, which was not "
            f"written: an update used non-finite gradients while the loss stayed finite (a ReLU, for one, turns NaN "
            f"into 0), so the loss check could not see it. {where_from} Set check_gradients=True to stop the run at "
            f"the update that did it, naming its samples.", state.global_step, "weights", float("nan"), None,
            checkpoint)

    def callback(self) -> "NonFiniteWatch":
        """The callback that ties this guard to a loop."""
        return NonFiniteWatch(self)

    # -- reporting -------------------------------------------------------------------------
    def _last_good(self) -> tuple[Optional[str], str]:
        checkpoint = last_good_checkpoint(self.manager)
        return checkpoint, (f"The last good checkpoint is {checkpoint}." if checkpoint
                            else "No checkpoint with finite weights exists yet.")

    def _samples(self, kind: str) -> Optional[list[int]]:
        """Dataset indices of the batch (for a gradient, of every batch of the accumulation window)."""
        if not hasattr(self.sampler, "batch_indices"):
            return None
        state = self.state
        at = state.step_in_epoch
        first = at - at % self.accumulate if kind == "gradient" else at
        return [i for pos in range(first, at + 1) for i in self.sampler.batch_indices(state.epoch, pos)]

    def _fault(self, kind: str, value: float) -> None:
        state = self.state
        step = state.global_step + 1
        where = f"step {step} (epoch {state.epoch + 1}, batch {state.step_in_epoch + 1} of {state.steps_per_epoch})"
        what = f"non-finite loss ({value})" if kind == "loss" else f"non-finite gradients (global norm {value})"
        indices = self._samples(kind)
        if indices is None:
            samples = "its samples are unknown (a DataLoader given by the caller)"
        else:
            shown = ", ".join(str(i) for i in indices[:_SHOWN]) + (", ..." if len(indices) > _SHOWN else "")
            owner = f"rank {distributed.rank()}'s" if self.parallel else "the"
            samples = (f"{owner} batch held training samples [{shown}] ({len(indices)} indices into the "
                       f"training dataset)")
        if self.action == "skip":
            state.skipped_batches += 1
            log("WARNING", f"{what} at {where}: left out, no optimizer step ({samples}); "
                f"{state.skipped_batches} skipped in this run so far.", level=30)
            return
        checkpoint, where_from = self._last_good()
        if kind == "gradient" or _weights_finite(self.network):
            cause = ("The run stopped before updating the weights with it. Look at those samples for bad values, "
                     "lower the learning rate or clip gradients (grad_clip_norm), or set "
                     "RunConfig(on_nonfinite='skip') to leave such batches out.")
        else:
            cause = ("The weights are already non-finite, so these samples are not to blame: an earlier update "
                     "used non-finite gradients. Set check_gradients=True to stop the run at that update, "
                     "naming its samples.")
        raise NonFiniteError(f"{what} at {where}; {samples}. {cause} {where_from}",
                             step, kind, value, indices, checkpoint)


class NonFiniteWatch(Callback):
    """A NonFiniteGuard's part in the loop: the progress its messages name, and the count of
    batches left out, reported when the fit ends."""

    order = -40

    def __init__(self, guard: NonFiniteGuard) -> None:
        self.guard = guard

    def fit_begin(self, loop: "Loop") -> None:
        self.guard.state = loop.state
        self.guard.kept = 0

    def fit_end(self, loop: "Loop") -> None:
        skipped = loop.state.skipped_batches
        if skipped:
            log("WARNING", f"{skipped} batch(es) of this run were left out for a non-finite loss or gradient "
                "(on_nonfinite='skip'); see the warnings above for their steps and samples.", level=30)
