"""PaddleHub 1.x's CombinedStrategy: one strategy whose schedule, per-layer rates, unfreezing,
regularisation and gradient clipping are each switched on by a key of three dicts. It is built
from the same pieces as the named strategies (schedules, regularisers, the block plan), so a
CombinedStrategy set like one of them trains like it."""
from __future__ import annotations

import copy
import inspect
from typing import Any, Callable, Optional

import paddle
from paddle.regularizer import L2Decay, WeightDecayRegularizer

from ..engine.report import log
from .base import OPTIMIZERS, FinetuneStrategy, Optimization, check_number, plain_optimizer
from .blocks import layer_units, split_blocks
from .schedules import Factor, constant, linear_warmup_decay, noam_warmup_decay, slanted_triangular
from .strategies import (PullTowards, block_plan, decouples_weight_decay, spared_from_decay,
                         weight_decay_optimizer)

__all__ = ["CombinedStrategy"]

# Every key and its default (all parts off), as PaddleHub 1.x defined them.
SCHEDULER_DEFAULTS: dict[str, Any] = {
    "warmup": 0.0,
    "linear_decay": {"start_point": 1.0, "end_learning_rate": 0.0},
    "noam_decay": False,
    "discriminative": {"blocks": 0, "params_layer": None, "factor": 2.6},
    "gradual_unfreeze": {"blocks": 0, "params_layer": None},
    "slanted_triangle": {"cut_fraction": 0.0, "ratio": 32},
}
REGULARIZATION_DEFAULTS: dict[str, float] = {"L2": 0.0, "L2SP": 0.0, "weight_decay": 0.0}
CLIP_DEFAULTS: dict[str, float] = {"GlobalNorm": 0.0, "Norm": 0.0}

# Set by the strategy itself, so never accepted as an optimizer option.
_OWN_ARGUMENTS = {"self", "learning_rate", "parameters", "grad_clip", "weight_decay", "lamb_weight_decay",
                  "apply_decay_param_fun", "exclude_from_weight_decay_fn", "lr_ratio", "name"}


def _number(low: float, high: float = float("inf"), **kw: Any) -> Callable[[str, Any], None]:
    return lambda where, value: check_number(where, value, low, high, **kw)


def _flag(where: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise ValueError(f"{where} = {value!r} is not accepted: use True or False.")


def _layers(where: str, value: Any) -> None:
    if value is None:
        return
    ok = isinstance(value, dict) and all(
        isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) and v >= 0 for k, v in value.items())
    if not ok:
        raise ValueError(f"{where} = {value!r} is not accepted: use None or a dict from parameter name to layer "
                         f"number (a whole number >= 0, larger is nearer the output), e.g. "
                         f"{{'head.1.weight': 1, 'backbone.0.weight': 0}}.")


_CHECKS: dict[str, Callable[[str, Any], None]] = {
    "scheduler['warmup']": _number(0, 1, high_open=False),
    "scheduler['linear_decay']['start_point']": _number(0, 1, high_open=False),
    "scheduler['linear_decay']['end_learning_rate']": _number(0),
    "scheduler['noam_decay']": _flag,
    "scheduler['discriminative']['blocks']": _number(0, whole=True),
    "scheduler['discriminative']['params_layer']": _layers,
    "scheduler['discriminative']['factor']": _number(0, low_open=True),
    "scheduler['gradual_unfreeze']['blocks']": _number(0, whole=True),
    "scheduler['gradual_unfreeze']['params_layer']": _layers,
    "scheduler['slanted_triangle']['cut_fraction']": _number(0, 1),
    "scheduler['slanted_triangle']['ratio']": _number(1),
    **{f"regularization[{k!r}]": _number(0) for k in REGULARIZATION_DEFAULTS},
    **{f"clip[{k!r}]": _number(0) for k in CLIP_DEFAULTS},
}


def _assign(store: dict, schema: dict, where: str, key: Any, value: Any) -> None:
    """Set `store[key]`, checking the key and the value; a part whose default is a dict merges
    key by key."""
    if key not in schema:
        raise ValueError(f"{where} has no key {key!r}: the accepted keys are {list(schema)}.")
    at = f"{where}[{key!r}]"
    if isinstance(schema[key], dict):
        if at == "scheduler['gradual_unfreeze']" and not isinstance(value, dict):
            value = {"blocks": value}  # PaddleHub 1.x before 1.6 took the number of blocks alone
        if not isinstance(value, dict):
            raise ValueError(f"{at} = {value!r} is not accepted: use a dict with some of the keys {list(schema[key])}.")
        for sub, item in value.items():
            _assign(store[key], schema[key], at, sub, item)
        return
    _CHECKS[at](at, value)
    store[key] = dict(value) if isinstance(value, dict) else value


def _updated(current: dict, schema: dict, where: str, changes: Any) -> dict:
    """A copy of `current` with `changes` merged in, so a refused change leaves nothing half-set."""
    if not isinstance(changes, dict):
        raise ValueError(f"{where} = {changes!r} is not accepted: use a dict with some of the keys {list(schema)}, "
                         f"or None.")
    result = copy.deepcopy(current)
    for key, value in changes.items():
        _assign(result, schema, where, key, value)
    return result


def _optimizer_options(optimizer_name: str, options: dict) -> dict:
    """Further keyword arguments of the optimizer (PaddleHub 1.8 passed them on): only those its
    constructor takes (adam's also AdamW's, which weight decay builds instead)."""
    accepted = set(inspect.signature(OPTIMIZERS[optimizer_name]).parameters) - _OWN_ARGUMENTS
    if optimizer_name == "adam":
        accepted &= set(inspect.signature(paddle.optimizer.AdamW).parameters)
    unknown = sorted(set(options) - accepted)
    if unknown:
        raise ValueError(f"CombinedStrategy got {unknown}, which {OPTIMIZERS[optimizer_name].__name__} "
                         f"(optimizer_name={optimizer_name!r}) does not take as an option: it takes "
                         f"{sorted(accepted)}. The learning rate, clipping and weight decay are set by "
                         f"learning_rate, clip and regularization.")
    return dict(options)


class CombinedStrategy(FinetuneStrategy):
    """PaddleHub 1.x's strategy of parts. Every key of `scheduler`, `regularization` and `clip`
    has a default that leaves its part off; a dict given merges into the defaults, key by key.

    - scheduler: `warmup` (fraction of the steps), `linear_decay` {`start_point` (fraction),
      `end_learning_rate`}, `noam_decay` (bool, after the warm-up), `slanted_triangle`
      {`cut_fraction`, `ratio`}; `discriminative` {`blocks`, `params_layer`, `factor`} and
      `gradual_unfreeze` {`blocks`, `params_layer`}, by layer blocks or by a parameter -> layer dict.
    - regularization: `L2` (every parameter, towards 0), `L2SP` (pretrained weights, towards their
      pretrained values; replaces L2 on them), `weight_decay` (decoupled for adam/adamw/lamb, L2
      otherwise; biases and norms spared).
    - clip: `GlobalNorm` (all gradients' norm) or `Norm` (each gradient's own norm).

    Parts that cannot act together are settled as PaddleHub 1.x settled them, with a warning when
    the optimizer is built: slanted_triangle replaces warmup, noam_decay and linear_decay;
    noam_decay replaces linear_decay; params_layer replaces blocks; GlobalNorm replaces Norm.
    Keyword arguments beyond these are options of the optimizer (`momentum=0.9`, `beta1=0.8`)."""

    def __init__(self, optimizer_name: str = "adam", learning_rate: float = 1e-4, scheduler: Optional[dict] = None,
                 regularization: Optional[dict] = None, clip: Optional[dict] = None, **optimizer_options: Any) -> None:
        super().__init__(learning_rate, optimizer_name)
        self.scheduler = _updated(SCHEDULER_DEFAULTS, SCHEDULER_DEFAULTS, "scheduler", {} if scheduler is None else scheduler)
        self.regularization = _updated(REGULARIZATION_DEFAULTS, REGULARIZATION_DEFAULTS, "regularization",
                                       {} if regularization is None else regularization)
        self.clip = _updated(CLIP_DEFAULTS, CLIP_DEFAULTS, "clip", {} if clip is None else clip)
        self.optimizer_options = _optimizer_options(optimizer_name, optimizer_options)
        self._check_end_rate(self.scheduler)

    # -- PaddleHub 1.x's way of adding parts one at a time -------------------------------------
    def add_scheduler(self, name: str = "warmup", value: Any = 0, **values: Any) -> None:
        """`add_scheduler("warmup", 0.1)`, `add_scheduler("linear_decay", start_point=0.1)`."""
        updated = _updated(self.scheduler, SCHEDULER_DEFAULTS, "scheduler", {name: values if values else value})
        self._check_end_rate(updated)
        self.scheduler = updated

    def add_regularization(self, name: str = "L2", value: Any = 1e-3, **values: Any) -> None:
        """`add_regularization("L2SP", 1e-3)`."""
        self.regularization = _updated(self.regularization, REGULARIZATION_DEFAULTS, "regularization",
                                       {name: values if values else value})

    def add_clip(self, name: str = "GlobalNorm", value: Any = 1.0, **values: Any) -> None:
        """`add_clip("GlobalNorm", 1.0)`."""
        self.clip = _updated(self.clip, CLIP_DEFAULTS, "clip", {name: values if values else value})

    def _check_end_rate(self, scheduler: dict) -> None:
        end = scheduler["linear_decay"]["end_learning_rate"]
        if end > self.learning_rate:
            raise ValueError(f"scheduler['linear_decay']['end_learning_rate'] = {end!r} is above learning_rate = "
                             f"{self.learning_rate:g}: the decay ends below the peak; use a value in "
                             f"[0, {self.learning_rate:g}].")

    # -- what takes effect -----------------------------------------------------------------------
    def effective(self) -> tuple[dict, dict, list[str]]:
        """The scheduler and clip settings that take effect, and why any set part does not."""
        sch, clip, notes = copy.deepcopy(self.scheduler), dict(self.clip), []
        for part in ("discriminative", "gradual_unfreeze"):
            if sch[part]["params_layer"] and sch[part]["blocks"]:
                notes.append(f"scheduler[{part!r}] sets both params_layer and blocks: params_layer takes effect.")
                sch[part]["blocks"] = 0
        decay = sch["linear_decay"]
        if sch["slanted_triangle"]["cut_fraction"] and (sch["warmup"] or sch["noam_decay"] or decay["start_point"] < 1):
            notes.append("scheduler sets slanted_triangle with warmup, noam_decay or linear_decay: the slanted "
                         "triangle takes effect, the others do not.")
            sch["warmup"], sch["noam_decay"], decay["start_point"] = 0.0, False, 1.0
        if sch["noam_decay"] and decay["start_point"] < 1:
            notes.append("scheduler sets both noam_decay and linear_decay: noam_decay takes effect.")
            decay["start_point"] = 1.0
        if decay["start_point"] < sch["warmup"]:
            notes.append(f"scheduler['linear_decay']['start_point'] = {decay['start_point']:g} falls inside the "
                         f"warm-up ({sch['warmup']:g}): the decay starts when the warm-up ends.")
        if clip["GlobalNorm"] and clip["Norm"]:
            notes.append("clip sets both GlobalNorm and Norm: GlobalNorm takes effect.")
            clip["Norm"] = 0.0
        return sch, clip, notes

    def _gradient_clip(self, given: Optional[paddle.nn.ClipGradBase]) -> Optional[paddle.nn.ClipGradBase]:
        """The strategy's clip, or the run's (RunConfig.grad_clip_norm). Both at once only when
        they are the same global norm: two different bounds would leave one silently unused."""
        _, clip, _ = self.effective()
        own = (paddle.nn.ClipGradByGlobalNorm(clip["GlobalNorm"]) if clip["GlobalNorm"]
               else paddle.nn.ClipGradByNorm(clip["Norm"]) if clip["Norm"] else None)
        if own is None or given is None:
            return own or given
        run_norm = getattr(given, "clip_norm", None)
        if clip["GlobalNorm"] and isinstance(given, paddle.nn.ClipGradByGlobalNorm) and run_norm == clip["GlobalNorm"]:
            return given
        mine = f"clip={{'GlobalNorm': {clip['GlobalNorm']:g}}}" if clip["GlobalNorm"] else f"clip={{'Norm': {clip['Norm']:g}}}"
        raise ValueError(f"gradients would be clipped twice: RunConfig(grad_clip_norm={run_norm}) and "
                         f"CombinedStrategy({mine}). Keep one of them (or set the same global norm in both).")

    def _layer_blocks(self, network: paddle.nn.Layer, named: dict[str, Any], part: str) -> list[list]:
        """Blocks for layers 0 .. max of `scheduler[part]['params_layer']` (a layer without
        parameters is an empty block), each parameter a unit of its own. Names are structured
        names (`backbone.0.weight`) or paddle's tensor names (`linear_0.w_0`)."""
        layers = self.effective()[0][part]["params_layer"]
        every = dict(network.named_parameters())
        structured = {p.name: n for n, p in every.items()}
        by_name: dict[str, int] = {}
        for key, layer in layers.items():
            name = key if key in every else structured.get(key)
            if name is None:
                shown = ", ".join(list(every)[:6])
                raise ValueError(f"scheduler[{part!r}]['params_layer'] names {key!r}, which is not a parameter of "
                                 f"the network: use its structured names (e.g. {shown}) or paddle's tensor names.")
            if name not in named:
                raise ValueError(f"scheduler[{part!r}]['params_layer'] names {key!r}, which does not train in this "
                                 f"run (stop_gradient=True): leave it out, or make it trainable (a module's "
                                 f"context(trainable=True)).")
            by_name[name] = layer
        blocks: list[list] = [[] for _ in range(max(by_name.values(), default=-1) + 1)]
        for name in named:
            if name in by_name:
                blocks[by_name[name]].append((name, [name]))
        return blocks

    # -- the parts of the build ------------------------------------------------------------------
    def schedule(self, total_steps: int) -> Factor:
        sch = self.effective()[0]
        triangle = sch["slanted_triangle"]
        if triangle["cut_fraction"]:
            return slanted_triangular(total_steps, triangle["cut_fraction"], triangle["ratio"])
        warmup = int(total_steps * sch["warmup"])
        if sch["noam_decay"]:
            return noam_warmup_decay(warmup) if warmup > 0 else constant
        decay = sch["linear_decay"]
        if decay["start_point"] >= 1:
            return linear_warmup_decay(total_steps, warmup, total_steps) if warmup > 0 else constant
        return linear_warmup_decay(total_steps, warmup, int(total_steps * decay["start_point"]),
                                   decay["end_learning_rate"] / self.learning_rate)

    def regularizer(self, name: str, param: Any, pretrained: bool) -> Optional[WeightDecayRegularizer]:
        reg = self.regularization
        anchored = reg["L2SP"] if pretrained else 0.0
        to_zero = 0.0 if anchored else reg["L2"]          # L2-SP replaces L2 on the pretrained weights
        if reg["weight_decay"] and not decouples_weight_decay(self.optimizer_name) \
                and not spared_from_decay(name, param):
            to_zero += reg["weight_decay"]
        if anchored and to_zero:
            # a*(w - w0) + b*w = (a + b) * (w - a/(a + b) * w0): one pull towards a scaled anchor
            total = anchored + to_zero
            return PullTowards(total, param.detach().clone() * (anchored / total))
        if anchored:
            return PullTowards(anchored, param.detach().clone())
        return L2Decay(to_zero) if to_zero else None

    def make_optimizer(self, lr: Any, params: list, named: dict[str, Any], grad_clip: Any) -> paddle.optimizer.Optimizer:
        if self.regularization["weight_decay"]:
            return weight_decay_optimizer(self.optimizer_name, lr, params, named, grad_clip,
                                          self.regularization["weight_decay"], **self.optimizer_options)
        return plain_optimizer(self.optimizer_name, lr, params, grad_clip, **self.optimizer_options)

    def extras(self, network: paddle.nn.Layer, named: dict[str, Any], total_steps: int) -> tuple[list, list[str]]:
        sch = self.effective()[0]
        dis, frz = sch["discriminative"], sch["gradual_unfreeze"]
        units = layer_units(network) if dis["blocks"] or frz["blocks"] else []
        rate_blocks = (self._layer_blocks(network, named, "discriminative") if dis["params_layer"]
                       else split_blocks(units, dis["blocks"]))
        freeze_blocks = (self._layer_blocks(network, named, "gradual_unfreeze") if frz["params_layer"]
                         else split_blocks(units, frz["blocks"]))
        if not rate_blocks and not freeze_blocks:
            return [], []
        return block_plan(named, rate_blocks, dis["factor"], freeze_blocks)

    def build(self, network: paddle.nn.Layer, total_steps: int,
              grad_clip: Optional[paddle.nn.ClipGradBase] = None) -> Optimization:
        """As every strategy's build; the gradient clip is the strategy's or the run's (refused
        when both are set and differ). Parts left out in favour of others are warned of here."""
        clip = self._gradient_clip(grad_clip)
        sch, _, notes = self.effective()
        if sch["noam_decay"] and int(total_steps * sch["warmup"]) == 0:
            notes.append(f"noam_decay needs warm-up steps (scheduler['warmup'] = {sch['warmup']:g} of "
                         f"{total_steps} steps gives none): the learning rate stays constant.")
        for note in notes:
            log("WARNING", f"CombinedStrategy: {note}", level=30)
        return super().build(network, total_steps, clip)

    def describe(self, total_steps: int) -> str:
        sch, clip, _ = self.effective()
        parts = [self.optimizer_name]
        if self.schedule(total_steps) is constant:
            parts.append(f"lr={self.learning_rate:g} constant")
        else:
            parts += [f"peak lr={self.learning_rate:g}", self._schedule_text(sch, total_steps)]
        for part, what in (("discriminative", "discriminative lr"), ("gradual_unfreeze", "gradual unfreezing")):
            settings = sch[part]
            tail = f" / factor {settings['factor']:g}" if part == "discriminative" else ""
            if settings["params_layer"]:
                parts.append(f"{what} by params_layer ({max(settings['params_layer'].values()) + 1} layers){tail}")
            elif settings["blocks"]:
                parts.append(f"{what} {settings['blocks']} blocks{tail}")
        reg = self.regularization
        if reg["L2"]:
            parts.append(f"L2 {reg['L2']:g}" + (" on the new layers" if reg["L2SP"] else ""))
        if reg["L2SP"]:
            parts.append(f"L2-SP {reg['L2SP']:g} towards the pretrained weights")
        if reg["weight_decay"]:
            kind = "decoupled" if decouples_weight_decay(self.optimizer_name) else "L2"
            parts.append(f"{kind} weight decay {reg['weight_decay']:g} except biases and norms")
        if not any(reg.values()):
            parts.append("no regularisation")
        if clip["GlobalNorm"]:
            parts.append(f"clip global norm {clip['GlobalNorm']:g}")
        elif clip["Norm"]:
            parts.append(f"clip each gradient's norm to {clip['Norm']:g}")
        if self.optimizer_options:
            parts.append(", ".join(f"{k}={v!r}" for k, v in self.optimizer_options.items()))
        return f"CombinedStrategy({', '.join(parts)})"

    def _schedule_text(self, sch: dict, total_steps: int) -> str:
        triangle = sch["slanted_triangle"]
        if triangle["cut_fraction"]:
            return f"slanted triangular (cut {triangle['cut_fraction']:g}, ratio {triangle['ratio']:g})"
        warmup = int(total_steps * sch["warmup"])
        texts = [f"{warmup} warm-up steps of {total_steps}"] if warmup > 0 else []
        if sch["noam_decay"] and warmup > 0:
            texts.append("noam decay")
        decay = sch["linear_decay"]
        if decay["start_point"] < 1:
            start = max(warmup, int(total_steps * decay["start_point"]))
            texts.append(f"linear decay from step {start + 1} to {decay['end_learning_rate']:g}")
        return ", then ".join(texts) if texts else "constant"
