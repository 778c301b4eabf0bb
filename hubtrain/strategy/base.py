"""What every strategy shares: the optimizers it may name, the result it builds, and how each
trained parameter gets its regulariser and learning-rate multiplier."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import paddle
from paddle.optimizer.lr import LambdaDecay, LRScheduler
from paddle.regularizer import WeightDecayRegularizer

from .schedules import Factor, constant

__all__ = ["OPTIMIZERS", "Optimization", "FinetuneStrategy", "named_trainable", "pretrained_names",
           "check_number", "plain_optimizer"]

OPTIMIZERS: dict[str, Callable[..., paddle.optimizer.Optimizer]] = {
    "sgd": paddle.optimizer.SGD,
    "momentum": paddle.optimizer.Momentum,
    "adam": paddle.optimizer.Adam,
    "adamw": paddle.optimizer.AdamW,
    "adagrad": paddle.optimizer.Adagrad,
    "rmsprop": paddle.optimizer.RMSProp,
    "lamb": paddle.optimizer.Lamb,
}


def check_number(name: str, value: Any, low: float, high: float = float("inf"), *, low_open: bool = False,
                 high_open: bool = True, whole: bool = False) -> None:
    """ValueError naming `name` unless `value` is a number in the range (whole if asked)."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and (not whole or isinstance(value, int))
    ok = ok and (value > low if low_open else value >= low) and (value < high if high_open else value <= high)
    if not ok:
        kind = "a whole number" if whole else "a number"
        if high == float("inf"):
            wanted = f"{kind} {'>' if low_open else '>='} {low:g}"
        else:
            wanted = f"{kind} in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        raise ValueError(f"{name} = {value!r} is not accepted: use {wanted}.")


@dataclass
class Optimization:
    """What a strategy builds for one run."""

    optimizer: paddle.optimizer.Optimizer
    scheduler: Optional[LRScheduler] = None
    callbacks: list = field(default_factory=list)   # e.g. ULMFiT's block plan
    factor: Factor = constant                          # the schedule as a pure function of the step
    notes: list[str] = field(default_factory=list)     # lines for the run summary
    grad_clip: Optional[paddle.nn.ClipGradBase] = None  # the clipping the optimizer was built with


def named_trainable(network: paddle.nn.Layer) -> dict[str, Any]:
    """Structured name -> parameter, for the parameters that train now."""
    return {name: p for name, p in network.named_parameters() if not p.stop_gradient}


def pretrained_names(network: paddle.nn.Layer) -> set[str]:
    """Structured names of the backbone's parameters (a task network's `backbone`); all of them
    for a network without one."""
    backbone = getattr(network, "backbone", None)
    if isinstance(backbone, paddle.nn.Layer):
        return {f"backbone.{name}" for name, _ in backbone.named_parameters()}
    return {name for name, _ in network.named_parameters()}


class FinetuneStrategy:
    """A fixed learning rate with the named optimizer. A subclass changes what it needs: the
    schedule (`schedule`), each parameter's regulariser (`regularizer`), the optimizer itself
    (`make_optimizer`), and callbacks with summary lines (`extras`)."""

    def __init__(self, learning_rate: float = 1e-4, optimizer_name: str = "adam") -> None:
        check_number("learning_rate", learning_rate, 0, low_open=True)
        if optimizer_name not in OPTIMIZERS:
            raise ValueError(f"optimizer_name = {optimizer_name!r} is not known: choose from {sorted(OPTIMIZERS)}.")
        self.learning_rate = float(learning_rate)
        self.optimizer_name = optimizer_name

    # -- what subclasses change ------------------------------------------------------------
    def schedule(self, total_steps: int) -> Factor:
        return constant

    def regularizer(self, name: str, param: Any, pretrained: bool) -> Optional[WeightDecayRegularizer]:
        return None

    def make_optimizer(self, lr: Any, params: list, named: dict[str, Any], grad_clip: Any) -> paddle.optimizer.Optimizer:
        return plain_optimizer(self.optimizer_name, lr, params, grad_clip)

    def extras(self, network: paddle.nn.Layer, named: dict[str, Any], total_steps: int) -> tuple[list, list[str]]:
        """Callbacks and summary lines beyond the optimizer (ULMFiT's blocks)."""
        return [], []

    def describe(self, total_steps: int) -> str:
        return f"{type(self).__name__}({self.optimizer_name}, lr={self.learning_rate:g}, constant)"

    # -- the build -------------------------------------------------------------------------
    def build(self, network: paddle.nn.Layer, total_steps: int,
              grad_clip: Optional[paddle.nn.ClipGradBase] = None) -> Optimization:
        """The optimizer, schedule and callbacks for `network`'s trainable parameters over
        `total_steps` optimizer steps. Every trained parameter's regulariser and learning-rate
        multiplier are set here (as paddle's ParamAttr would), so nothing from an earlier
        strategy on the same network lingers."""
        named = named_trainable(network)
        if not named:
            raise ValueError("the network has no trainable parameters: every parameter has stop_gradient=True "
                             "(was the module loaded with trainable=False and the head frozen too?).")
        pretrained = pretrained_names(network)
        for name, p in named.items():
            p.regularizer = self.regularizer(name, p, name in pretrained)
            p.optimize_attr["learning_rate"] = 1.0
        factor = self.schedule(total_steps)
        lr: Any = self.learning_rate if factor is constant else LambdaDecay(self.learning_rate, factor)
        callbacks, notes = self.extras(network, named, total_steps)
        optimizer = self.make_optimizer(lr, list(named.values()), named, grad_clip)
        return Optimization(optimizer, lr if isinstance(lr, LRScheduler) else None, callbacks, factor, notes,
                            grad_clip)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"


def plain_optimizer(name: str, lr: Any, params: list, grad_clip: Any, **options: Any) -> paddle.optimizer.Optimizer:
    """The named optimizer with no weight decay of its own (AdamW and Lamb decay by default):
    regularisation comes only from the parameters' regularisers. `options` are further keyword
    arguments of the optimizer's constructor (beta1, momentum, ...)."""
    extra = {"weight_decay": 0.0} if name == "adamw" else {"lamb_weight_decay": 0.0} if name == "lamb" else {}
    return OPTIMIZERS[name](learning_rate=lr, parameters=params, grad_clip=grad_clip, **extra, **options)
