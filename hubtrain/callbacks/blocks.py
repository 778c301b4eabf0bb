"""ULMFiT's block plan as a callback: per-block learning-rate multipliers, and gradual unfreezing
(the top block trains in the first epoch, one more block below it in each epoch after)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import paddle

from ..engine.checkpoint import CheckpointError
from ..engine.events import Callback
from ..engine.report import log

if TYPE_CHECKING:
    from ..engine.loop import Loop

__all__ = ["BlockPlan"]


class BlockPlan(Callback):
    """Blocks are lists of structured parameter names, bottom block first. The plan is saved in
    every checkpoint, and a resumed run refuses a checkpoint whose plan differs from its own.

    A frozen block takes no gradient (`stop_gradient`), which also saves its backward pass. Under
    several processes it keeps its gradient and gets a learning rate of 0 instead: paddle's
    DataParallel fixes the parameters it synchronises when it wraps the network, and a parameter
    that stops producing gradients afterwards leaves its bucket unsynchronised."""

    def __init__(self, named: dict[str, Any], rate_blocks: list[list[str]], rates: list[float],
                 freeze_blocks: list[list[str]]) -> None:
        self.named = named
        self.rate_blocks, self.rates, self.freeze_blocks = rate_blocks, rates, freeze_blocks
        self.open = len(freeze_blocks)

    def _rate(self, name: str) -> float:
        return next((r for names, r in zip(self.rate_blocks, self.rates) if name in names), 1.0)

    def apply_rates(self) -> None:
        for names in self.rate_blocks:
            for name in names:
                self.named[name].optimize_attr["learning_rate"] = self._rate(name)

    def _set_frozen(self, name: str, frozen: bool) -> None:
        param = self.named[name]
        if paddle.distributed.get_world_size() > 1:
            param.optimize_attr["learning_rate"] = 0.0 if frozen else self._rate(name)
        else:
            param.stop_gradient = frozen

    def _unfreeze_for(self, epoch: int) -> None:
        n = len(self.freeze_blocks)
        if not n:
            return
        k = min(epoch + 1, n)
        for i, names in enumerate(self.freeze_blocks):
            for name in names:
                self._set_frozen(name, i < n - k)
        if k != self.open and (k < n or self.open >= 0):
            frozen = sum(len(b) for b in self.freeze_blocks[:n - k])
            log("INFO", f"gradual unfreezing: epoch {epoch + 1} trains the top {k} of {n} blocks "
                        f"({frozen} tensors frozen)")
        self.open = k

    def fit_begin(self, loop: "Loop") -> None:
        self.open = -1
        self._unfreeze_for(loop.state.epoch)

    def epoch_begin(self, loop: "Loop") -> None:
        self._unfreeze_for(loop.state.epoch)

    def fit_end(self, loop: "Loop") -> None:
        for names in self.freeze_blocks:
            for name in names:
                self._set_frozen(name, False)

    def state_dict(self) -> dict:
        return {"rate_blocks": self.rate_blocks, "rates": self.rates, "freeze_blocks": self.freeze_blocks,
                "open": self.open}

    def load_state_dict(self, state: dict) -> None:
        for key in ("rate_blocks", "rates", "freeze_blocks"):
            saved, mine = [list(x) if isinstance(x, (list, tuple)) else x for x in state[key]], getattr(self, key)
            if saved != mine:
                raise CheckpointError(
                    f"the checkpoint's ULMFiT plan ({key}) differs from this run's: the network or the "
                    f"strategy changed since it was written. Resume with the same network and ULMFiTStrategy "
                    f"arguments, or start afresh in another checkpoint_dir.")
