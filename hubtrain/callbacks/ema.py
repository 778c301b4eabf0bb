"""An exponential moving average of the weights, used wherever the run evaluates."""
from __future__ import annotations

from typing import Any, Optional

import paddle

__all__ = ["ExponentialMovingAverage"]


class ExponentialMovingAverage(paddle.callbacks.Callback):
    """After every optimizer step, shadow <- shadow + (1 - decay) * (weights - shadow).

    Evaluations during the run (so also the best model) use the shadow weights; the training
    weights are swapped back afterwards, bit for bit. When training ends the network keeps the
    shadow weights, unless the best model was loaded in their place. Checkpoints hold both, so
    a resumed run averages on exactly as an uninterrupted one.
    """

    def __init__(self, decay: float = 0.999) -> None:
        super().__init__()
        if not isinstance(decay, float) or not 0 < decay < 1:
            raise ValueError(f"ExponentialMovingAverage decay = {decay!r} is not accepted: use a number in (0, 1).")
        self.decay = decay
        self.shadow: Optional[dict[str, paddle.Tensor]] = None
        self._params: dict[str, Any] = {}
        self._stash: Optional[dict[str, paddle.Tensor]] = None
        self._seen = 0

    def on_train_begin(self, logs: Any = None) -> None:
        self._params = dict(self.model.network.named_parameters())
        if self.shadow is None:
            self.shadow = {name: p.detach().clone() for name, p in self._params.items()}
        self._seen = self.model.train_state.optimizer_step

    @paddle.no_grad()
    def on_train_batch_end(self, step: int, logs: Any = None) -> None:
        done = self.model.train_state.optimizer_step
        if done == self._seen:
            return
        self._seen = done
        for name, p in self._params.items():
            if not p.stop_gradient:
                self.shadow[name].lerp_(p.detach(), 1.0 - self.decay)

    def on_eval_begin(self, logs: Any = None) -> None:
        if self.shadow is not None and self._stash is None and self.model._live_weights:
            self._stash = {name: p.detach().clone() for name, p in self._params.items()}
            self._load(self.shadow)

    def on_eval_end(self, logs: Any = None) -> None:
        if self._stash is not None:
            self._load(self._stash)
            self._stash = None

    def on_train_end(self, logs: Any = None) -> None:
        if self.shadow is not None and self.model._live_weights:
            self._load(self.shadow)

    def _load(self, values: dict[str, paddle.Tensor]) -> None:
        for name, p in self._params.items():
            p.set_value(values[name])

    def state_dict(self) -> dict:
        return {"decay": self.decay, "shadow": self.shadow}

    def set_state_dict(self, state: dict) -> None:
        shadow = state["shadow"]
        self.shadow = None if shadow is None else {k: paddle.to_tensor(v) for k, v in shadow.items()}
