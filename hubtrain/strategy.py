"""Fine-tuning strategies: a task's parameters and the run's length in, an optimizer with its
learning-rate schedule out."""
from __future__ import annotations

from typing import Callable, Optional

import paddle
from paddle.optimizer.lr import LambdaDecay, LRScheduler

__all__ = ["FinetuneStrategy", "DefaultFinetuneStrategy", "AdamWeightDecayStrategy", "OPTIMIZERS"]

OPTIMIZERS: dict[str, Callable[..., paddle.optimizer.Optimizer]] = {
    "sgd": paddle.optimizer.SGD,
    "momentum": paddle.optimizer.Momentum,
    "adam": paddle.optimizer.Adam,
    "adamw": paddle.optimizer.AdamW,
    "adagrad": paddle.optimizer.Adagrad,
    "rmsprop": paddle.optimizer.RMSProp,
    "lamb": paddle.optimizer.Lamb,
}

_NORMS = (paddle.nn.LayerNorm, paddle.nn.BatchNorm, paddle.nn.BatchNorm1D, paddle.nn.BatchNorm2D,
          paddle.nn.BatchNorm3D, paddle.nn.GroupNorm, paddle.nn.InstanceNorm2D, paddle.nn.SyncBatchNorm)


def _check_positive(name: str, value: float) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"{name} = {value!r} is not accepted: use a number > 0.")


def no_decay_names(network: paddle.nn.Layer) -> set[str]:
    """Internal names of biases and normalisation weights, which weight decay should spare."""
    names = set()
    for _, layer in network.named_sublayers(include_self=True):
        for pname, param in layer.named_parameters(include_sublayers=False):
            if isinstance(layer, _NORMS) or pname.endswith("bias") or len(param.shape) == 1:
                names.add(param.name)
    return names


def linear_warmup_decay(total_steps: int, warmup_steps: int) -> Callable[[int], float]:
    """Factor rising linearly to 1 over `warmup_steps`, then falling linearly to 0 at `total_steps`."""
    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps))
    return factor


def noam_warmup_decay(warmup_steps: int) -> Callable[[int], float]:
    """Noam: linear rise to 1 at `warmup_steps`, then decay as the inverse square root of the step."""
    warmup = max(1, warmup_steps)

    def factor(step: int) -> float:
        t = step + 1
        return min(t / warmup, (warmup / t) ** 0.5)
    return factor


class FinetuneStrategy:
    """Base strategy: a fixed learning rate with the named optimizer."""

    def __init__(self, learning_rate: float = 1e-4, optimizer_name: str = "adam") -> None:
        _check_positive("learning_rate", learning_rate)
        if optimizer_name not in OPTIMIZERS:
            raise ValueError(f"optimizer_name = {optimizer_name!r} is not known: choose from {sorted(OPTIMIZERS)}.")
        self.learning_rate = float(learning_rate)
        self.optimizer_name = optimizer_name

    def scheduler(self, total_steps: int) -> float | LRScheduler:
        return self.learning_rate

    def build(self, network: paddle.nn.Layer, total_steps: int,
              grad_clip: Optional[paddle.nn.ClipGradBase] = None) -> paddle.optimizer.Optimizer:
        """The optimizer for `network`'s trainable parameters over `total_steps` optimizer steps."""
        params = [p for p in network.parameters() if not p.stop_gradient]
        return self._optimizer(self.scheduler(total_steps), params, network, grad_clip)

    def _optimizer(self, lr, params, network, grad_clip):
        return OPTIMIZERS[self.optimizer_name](learning_rate=lr, parameters=params, grad_clip=grad_clip)

    def describe(self, total_steps: int) -> str:
        return f"{type(self).__name__}({self.optimizer_name}, lr={self.learning_rate:g}, constant)"

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"


class DefaultFinetuneStrategy(FinetuneStrategy):
    """Fixed learning rate with L2 regularisation (PaddleHub's recommendation for image tasks)."""

    def __init__(self, learning_rate: float = 1e-4, optimizer_name: str = "adam",
                 regularization_coeff: float = 1e-3) -> None:
        super().__init__(learning_rate, optimizer_name)
        if not isinstance(regularization_coeff, (int, float)) or regularization_coeff < 0:
            raise ValueError(f"regularization_coeff = {regularization_coeff!r} is not accepted: use a number >= 0.")
        self.regularization_coeff = float(regularization_coeff)

    def _optimizer(self, lr, params, network, grad_clip):
        decay = paddle.regularizer.L2Decay(self.regularization_coeff) if self.regularization_coeff else None
        return OPTIMIZERS[self.optimizer_name](learning_rate=lr, parameters=params, grad_clip=grad_clip,
                                               weight_decay=decay)

    def describe(self, total_steps: int) -> str:
        return (f"DefaultFinetuneStrategy({self.optimizer_name}, lr={self.learning_rate:g} constant, "
                f"L2 {self.regularization_coeff:g})")


class AdamWeightDecayStrategy(FinetuneStrategy):
    """Linear warm-up then linear (or Noam) decay, with decoupled weight decay that spares biases
    and normalisation weights (PaddleHub's recommendation for text tasks)."""

    SCHEDULERS = ("linear_decay", "noam_decay")

    def __init__(self, learning_rate: float = 1e-4, lr_scheduler: str = "linear_decay",
                 warmup_proportion: float = 0.1, weight_decay: float = 0.01,
                 optimizer_name: str = "adam") -> None:
        super().__init__(learning_rate, optimizer_name)
        if lr_scheduler not in self.SCHEDULERS:
            raise ValueError(f"lr_scheduler = {lr_scheduler!r} is not known: choose from {list(self.SCHEDULERS)}.")
        if not isinstance(warmup_proportion, (int, float)) or not 0 <= warmup_proportion < 1:
            raise ValueError(f"warmup_proportion = {warmup_proportion!r} is not accepted: use a number in [0, 1).")
        if not isinstance(weight_decay, (int, float)) or weight_decay < 0:
            raise ValueError(f"weight_decay = {weight_decay!r} is not accepted: use a number >= 0.")
        self.lr_scheduler = lr_scheduler
        self.warmup_proportion = float(warmup_proportion)
        self.weight_decay = float(weight_decay)

    def scheduler(self, total_steps: int) -> LRScheduler:
        warmup = int(self.warmup_proportion * total_steps)
        factor = (linear_warmup_decay(total_steps, warmup) if self.lr_scheduler == "linear_decay"
                  else noam_warmup_decay(warmup))
        return LambdaDecay(self.learning_rate, factor)

    def _optimizer(self, lr, params, network, grad_clip):
        spared = no_decay_names(network)
        if self.optimizer_name in ("adam", "adamw"):
            return paddle.optimizer.AdamW(learning_rate=lr, parameters=params, grad_clip=grad_clip,
                                          weight_decay=self.weight_decay,
                                          apply_decay_param_fun=lambda name: name not in spared)
        if self.optimizer_name == "lamb":
            return paddle.optimizer.Lamb(learning_rate=lr, parameters=params, grad_clip=grad_clip,
                                         lamb_weight_decay=self.weight_decay,
                                         exclude_from_weight_decay_fn=lambda p: p.name in spared)
        groups = [{"params": [p for p in params if p.name not in spared],
                   "weight_decay": paddle.regularizer.L2Decay(self.weight_decay)},
                  {"params": [p for p in params if p.name in spared], "weight_decay": None}]
        groups = [g for g in groups if g["params"]]
        return OPTIMIZERS[self.optimizer_name](learning_rate=lr, parameters=groups, grad_clip=grad_clip)

    def describe(self, total_steps: int) -> str:
        warmup = int(self.warmup_proportion * total_steps)
        return (f"AdamWeightDecayStrategy({self.optimizer_name}, peak lr={self.learning_rate:g}, "
                f"{self.lr_scheduler} with {warmup} warm-up steps of {total_steps}, "
                f"weight decay {self.weight_decay:g} except biases and norms)")
