"""An exponential moving average of the weights, used wherever the run evaluates."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

import paddle

from ..engine.events import Callback

if TYPE_CHECKING:
    from ..engine.loop import Loop

__all__ = ["ExponentialMovingAverage"]


class ExponentialMovingAverage(Callback):
    """After every optimizer step, shadow <- shadow + (1 - decay) * (weights - shadow).

    Evaluations during the run (so also the best model) use the shadow weights; the training
    weights are swapped back afterwards, bit for bit. When training ends the network keeps the
    shadow weights, unless the best model was loaded in their place. Checkpoints hold both, so
    a resumed run averages on exactly as an uninterrupted one.
    """

    order = 20  # after the run has saved an evaluation's best model, which holds the average

    def __init__(self, decay: float = 0.999) -> None:
        if not isinstance(decay, float) or not 0 < decay < 1:
            raise ValueError(f"ExponentialMovingAverage decay = {decay!r} is not accepted: use a number in (0, 1).")
        self.decay = decay
        self.shadow: Optional[dict[str, paddle.Tensor]] = None
        self._params: dict[str, Any] = {}
        self._stash: Optional[dict[str, paddle.Tensor]] = None
        self._seen = 0
        self.model: Any = None

    def fit_begin(self, loop: "Loop") -> None:
        self.model = loop.model
        self._params = dict(loop.model.network.named_parameters())
        if self.shadow is None:
            self.shadow = {name: p.detach().clone() for name, p in self._params.items()}
        self._seen = loop.state.optimizer_step

    @paddle.no_grad()
    def batch_end(self, loop: "Loop") -> None:
        if loop.phase != "train":
            return
        done = loop.state.optimizer_step
        if done == self._seen:
            return
        self._seen = done
        for name, p in self._params.items():
            if not p.stop_gradient:
                self.shadow[name].lerp_(p.detach(), 1.0 - self.decay)

    def eval_begin(self, loop: "Loop") -> None:
        if self.shadow is not None and self._stash is None and self.model is not None and self.model.weights_are_live:
            self._stash = {name: p.detach().clone() for name, p in self._params.items()}
            self._load(self.shadow)

    def eval_end(self, loop: "Loop") -> None:
        if self._stash is not None:
            self._load(self._stash)
            self._stash = None

    def fit_end(self, loop: "Loop") -> None:
        if self.shadow is not None and self.model.weights_are_live:
            self._load(self.shadow)

    def _load(self, values: dict[str, paddle.Tensor]) -> None:
        for name, p in self._params.items():
            p.set_value(values[name])

    def state_dict(self) -> dict:
        return {"decay": self.decay, "shadow": self.shadow}

    def load_state_dict(self, state: dict) -> None:
        shadow = state["shadow"]
        self.shadow = None if shadow is None else {k: paddle.to_tensor(v) for k, v in shadow.items()}
