"""The four fine-tuning strategies of PaddleHub: fixed rate with L2, AdamW with warm-up and decay,
L2-SP, and ULMFiT."""
from __future__ import annotations

from typing import Any, Optional

import paddle
from paddle.regularizer import L2Decay, WeightDecayRegularizer

from ..callbacks.blocks import BlockPlan
from .base import FinetuneStrategy, check_number, plain_optimizer
from .blocks import layer_units, split_blocks
from .schedules import Factor, linear_warmup_decay, noam_warmup_decay, slanted_triangular

__all__ = ["DefaultFinetuneStrategy", "AdamWeightDecayStrategy", "L2SPFinetuneStrategy", "ULMFiTStrategy",
           "PullTowards", "spared_from_decay", "decouples_weight_decay", "weight_decay_optimizer", "block_plan"]

DECOUPLING = ("adam", "adamw", "lamb")  # optimizers whose weight decay is decoupled from the gradient


def spared_from_decay(name: str, param: Any) -> bool:
    """Biases and normalisation weights (the one-dimensional parameters) take no weight decay."""
    return len(param.shape) <= 1 or name.endswith("bias")


def decouples_weight_decay(optimizer_name: str) -> bool:
    """Whether the named optimizer applies weight decay itself, apart from the gradient (the
    others get it as L2 through each parameter's regulariser)."""
    return optimizer_name in DECOUPLING


def weight_decay_optimizer(optimizer_name: str, lr: Any, params: list, named: dict[str, Any], grad_clip: Any,
                           weight_decay: float, **options: Any) -> paddle.optimizer.Optimizer:
    """The named optimizer with decoupled weight decay on every parameter but biases and norms
    (adam and adamw become paddle's AdamW, lamb decays itself); any other optimizer is built
    plain, its decay set as L2 by the strategy's regularisers."""
    spared = {p.name for n, p in named.items() if spared_from_decay(n, p)}
    if optimizer_name in ("adam", "adamw"):
        return paddle.optimizer.AdamW(learning_rate=lr, parameters=params, grad_clip=grad_clip,
                                      weight_decay=weight_decay,
                                      apply_decay_param_fun=lambda pname: pname not in spared, **options)
    if optimizer_name == "lamb":
        return paddle.optimizer.Lamb(learning_rate=lr, parameters=params, grad_clip=grad_clip,
                                     lamb_weight_decay=weight_decay,
                                     exclude_from_weight_decay_fn=lambda p: p.name in spared, **options)
    return plain_optimizer(optimizer_name, lr, params, grad_clip, **options)


def block_plan(named: dict[str, Any], rate_blocks: list[list], factor: float,
               freeze_blocks: list[list]) -> tuple[list, list[str]]:
    """Discriminative rates over `rate_blocks` (each block below the top at the rate of the one
    above divided by `factor`) and gradual unfreezing over `freeze_blocks`, as one `BlockPlan`
    callback, with its summary lines. A block is a list of units (`strategy.blocks.Unit`), bottom
    block first; a block may be empty (it still counts as a step of rate and of unfreezing)."""
    rates = [factor ** -(len(rate_blocks) - 1 - i) for i in range(len(rate_blocks))]
    plan = BlockPlan(named, [_names(b) for b in rate_blocks], rates, [_names(b) for b in freeze_blocks])
    plan.apply_rates()
    notes = []
    if rate_blocks:
        parts = [f"x{r:.3g} {_span(b)}" for b, r in zip(reversed(rate_blocks), reversed(rates)) if b]
        notes.append(f"discriminative lr, {len(rate_blocks)} block(s), top first: " + "; ".join(parts))
    if freeze_blocks:
        notes.append(f"gradual unfreezing, {len(freeze_blocks)} block(s), top first: "
                     + "; ".join(f"{_span(b)} from epoch {k + 1}"
                                 for k, b in enumerate(reversed(freeze_blocks)) if b))
    return [plan], notes


class DefaultFinetuneStrategy(FinetuneStrategy):
    """Fixed learning rate with L2 regularisation on every parameter (PaddleHub's recommendation
    for image tasks)."""

    def __init__(self, learning_rate: float = 1e-4, optimizer_name: str = "adam",
                 regularization_coeff: float = 1e-3) -> None:
        super().__init__(learning_rate, optimizer_name)
        check_number("regularization_coeff", regularization_coeff, 0)
        self.regularization_coeff = float(regularization_coeff)

    def regularizer(self, name: str, param: Any, pretrained: bool) -> Optional[WeightDecayRegularizer]:
        return L2Decay(self.regularization_coeff) if self.regularization_coeff else None

    def describe(self, total_steps: int) -> str:
        return (f"DefaultFinetuneStrategy({self.optimizer_name}, lr={self.learning_rate:g} constant, "
                f"L2 {self.regularization_coeff:g})")


class AdamWeightDecayStrategy(FinetuneStrategy):
    """Linear warm-up then linear (or Noam) decay, with weight decay that spares biases and
    normalisation weights (PaddleHub's recommendation for text tasks). With adam, adamw and lamb
    the decay is decoupled from the gradient; other optimizers get it as L2."""

    SCHEDULERS = ("linear_decay", "noam_decay")

    def __init__(self, learning_rate: float = 1e-4, lr_scheduler: str = "linear_decay",
                 warmup_proportion: float = 0.1, weight_decay: float = 0.01,
                 optimizer_name: str = "adam") -> None:
        super().__init__(learning_rate, optimizer_name)
        if lr_scheduler not in self.SCHEDULERS:
            raise ValueError(f"lr_scheduler = {lr_scheduler!r} is not known: choose from {list(self.SCHEDULERS)}.")
        check_number("warmup_proportion", warmup_proportion, 0, 1)
        check_number("weight_decay", weight_decay, 0)
        self.lr_scheduler = lr_scheduler
        self.warmup_proportion = float(warmup_proportion)
        self.weight_decay = float(weight_decay)

    @property
    def _decoupled(self) -> bool:
        return decouples_weight_decay(self.optimizer_name)

    def schedule(self, total_steps: int) -> Factor:
        warmup = int(self.warmup_proportion * total_steps)
        if self.lr_scheduler == "linear_decay":
            return linear_warmup_decay(total_steps, warmup)
        return noam_warmup_decay(warmup)

    def regularizer(self, name: str, param: Any, pretrained: bool) -> Optional[WeightDecayRegularizer]:
        if self._decoupled or not self.weight_decay or spared_from_decay(name, param):
            return None
        return L2Decay(self.weight_decay)

    def make_optimizer(self, lr: Any, params: list, named: dict[str, Any], grad_clip: Any) -> paddle.optimizer.Optimizer:
        return weight_decay_optimizer(self.optimizer_name, lr, params, named, grad_clip, self.weight_decay)

    def describe(self, total_steps: int) -> str:
        warmup = int(self.warmup_proportion * total_steps)
        kind = "decoupled" if self._decoupled else "L2"
        return (f"AdamWeightDecayStrategy({self.optimizer_name}, peak lr={self.learning_rate:g}, "
                f"{self.lr_scheduler} with {warmup} warm-up steps of {total_steps}, "
                f"{kind} weight decay {self.weight_decay:g} except biases and norms)")


class PullTowards(WeightDecayRegularizer):
    """The gradient of coeff/2 * ||w - w0||^2: a pull towards `anchor` instead of towards 0."""

    def __init__(self, coeff: float, anchor: paddle.Tensor) -> None:
        super().__init__()
        self.coeff = coeff
        self.anchor = anchor

    def __call__(self, param: paddle.Tensor, grad: paddle.Tensor, block: Any = None) -> paddle.Tensor:
        return (param - self.anchor.astype(param.dtype)) * self.coeff

    def __str__(self) -> str:
        return f"PullTowards(coeff={self.coeff})"


class L2SPFinetuneStrategy(DefaultFinetuneStrategy):
    """L2-SP (Li et al., 2018): pretrained weights are pulled towards their pretrained values, the
    new head towards 0. The pretrained values are copied in memory when the optimizer is built,
    before any checkpoint is restored, so every process of a run holds the same anchors."""

    def regularizer(self, name: str, param: Any, pretrained: bool) -> Optional[WeightDecayRegularizer]:
        if not self.regularization_coeff:
            return None
        if pretrained:
            return PullTowards(self.regularization_coeff, param.detach().clone())
        return L2Decay(self.regularization_coeff)

    def describe(self, total_steps: int) -> str:
        return (f"L2SPFinetuneStrategy({self.optimizer_name}, lr={self.learning_rate:g} constant, "
                f"pull {self.regularization_coeff:g} towards the pretrained weights, L2 on the head)")


class ULMFiTStrategy(FinetuneStrategy):
    """ULMFiT (Howard & Ruder, 2018): slanted triangular learning rate; discriminative rates (each
    block below the top trains at the rate of the one above divided by `factor`); gradual
    unfreezing (the top block trains first, one more block each epoch). Blocks come from the
    network's layer order (see `strategy.blocks`); 0 blocks turns the matching part off, as does
    `cut_fraction=0` the slanted schedule."""

    def __init__(self, learning_rate: float = 1e-4, optimizer_name: str = "adam", cut_fraction: float = 0.1,
                 ratio: float = 32, dis_blocks: int = 3, factor: float = 2.6, frz_blocks: int = 3) -> None:
        super().__init__(learning_rate, optimizer_name)
        check_number("cut_fraction", cut_fraction, 0, 1)
        check_number("ratio", ratio, 1)
        check_number("dis_blocks", dis_blocks, 0, whole=True)
        check_number("factor", factor, 0, low_open=True)
        check_number("frz_blocks", frz_blocks, 0, whole=True)
        self.cut_fraction = float(cut_fraction)
        self.ratio = float(ratio)
        self.dis_blocks = dis_blocks
        self.factor = float(factor)
        self.frz_blocks = frz_blocks

    def schedule(self, total_steps: int) -> Factor:
        return slanted_triangular(total_steps, self.cut_fraction, self.ratio)

    def extras(self, network: paddle.nn.Layer, named: dict[str, Any], total_steps: int) -> tuple[list, list[str]]:
        units = layer_units(network)
        return block_plan(named, split_blocks(units, self.dis_blocks), self.factor, split_blocks(units, self.frz_blocks))

    def describe(self, total_steps: int) -> str:
        stlr = (f"slanted triangular (cut {self.cut_fraction:g}, ratio {self.ratio:g})" if self.cut_fraction
                else "constant")
        return (f"ULMFiTStrategy({self.optimizer_name}, peak lr={self.learning_rate:g} {stlr}, "
                f"{self.dis_blocks} discriminative blocks / factor {self.factor:g}, {self.frz_blocks} unfreezing blocks)")


def _names(block: list) -> list[str]:
    return [name for _, names in block for name in names]


def _span(block: list) -> str:
    first, last = block[0][0] or "(network)", block[-1][0] or "(network)"
    return f"[{first}]" if first == last else f"[{first} .. {last}]"
