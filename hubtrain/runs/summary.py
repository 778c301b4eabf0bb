"""The one-screen summary logged when fine-tuning starts: what will train, how, for how long."""
from __future__ import annotations

import math
import os
from typing import TYPE_CHECKING

import paddle

from .. import cpu_math
from ..strategy.blocks import layer_units

if TYPE_CHECKING:
    from ..tasks.base import BaseTask

__all__ = ["run_summary", "lr_outline"]


def _count(n: int) -> str:
    return f"{n / 1e6:.2f}M" if n >= 1e5 else f"{n:,}"


def lr_outline(base_lr: float, factor, total_steps: int) -> str:
    """Start, peak and end of a schedule (steps counted from 1), sampled at <= 2,000 points."""
    if total_steps <= 0:
        return f"{base_lr:.3g}"
    stride = max(1, total_steps // 2000)
    points = sorted(set(range(0, total_steps, stride)) | {total_steps - 1})
    values = [(t, base_lr * factor(t)) for t in points]
    first, last = values[0], values[-1]
    peak = max(values, key=lambda tv: tv[1])
    if all(math.isclose(v, first[1]) for _, v in values):
        return f"constant {first[1]:.3g}"
    marks = [first] + ([peak] if peak not in (first, last) else []) + [last]
    return " -> ".join(f"{v:.3g} at step {t + 1}" for t, v in marks)


def _frozen(task: "BaseTask") -> str:
    params = dict(task.network.named_parameters())
    trainable = [p for p in params.values() if not p.stop_gradient]
    frozen = [p for p in params.values() if p.stop_gradient]
    text = f"{_count(sum(p.size for p in trainable))} trainable in {len(trainable)} tensors"
    if not frozen:
        return text + "; nothing frozen"
    units = [path or "(network)" for path, names in layer_units(task.network, trainable_only=False)
             if all(params[n].stop_gradient for n in names)]
    shown = ", ".join(units[:4]) + (f" and {len(units) - 4} more" if len(units) > 4 else "")
    return text + f"; frozen {_count(sum(p.size for p in frozen))} in {len(frozen)} tensors" + \
        (f" ({shown})" if shown else "")


def _controls(task: "BaseTask") -> str:
    cfg, plan = task.config, task.current_run.plan
    parts = []
    if plan.accumulate > 1:
        parts.append(f"gradients accumulated over {plan.accumulate} batches")
    optimization = task.current_run.optimization
    clip = optimization.grad_clip if optimization is not None else None
    if clip is not None:
        parts.append(f"clip {'global norm' if isinstance(clip, paddle.nn.ClipGradByGlobalNorm) else 'norm'} "
                     f"{float(clip.clip_norm):g}")
    else:
        parts.append("no clipping")
    if cfg.use_amp:
        parts.append(f"AMP {cfg.amp_level} {cfg.amp_dtype}" if task.current_run.device == "gpu" else "AMP off (no effect on CPU)")
    if cfg.early_stopping_patience is not None:
        parts.append(f"early stopping after {cfg.early_stopping_patience} dev evaluations without a gain "
                     f"> {cfg.early_stopping_min_delta:g}")
    if cfg.ema_decay is not None:
        parts.append(f"weights averaged for evaluation (EMA {cfg.ema_decay:g})")
    if cfg.to_static:
        parts.append("to_static")
    checked = "loss or gradient" if task.current_run.guard.check_gradients else "loss"
    parts.append(f"a non-finite {checked} " + ("stops the run" if cfg.on_nonfinite == "stop" else "skips its batch"))
    return ", ".join(parts)


def _evaluation(task: "BaseTask") -> str:
    plan = task.current_run.plan
    if not task.current_run.has_phase_data("dev"):
        return "no dev data"
    every = plan.eval_interval
    when = ("after every epoch" if every == "epoch" else f"every {every} steps" if every else "")
    if plan.evaluate_at_end:
        when = (when + " and at the end") if when else "at the end"
    test = ", then test with the best model" if task.current_run.has_phase_data("test") and plan.evaluate_at_end else ""
    return f"dev {when or 'when fit() says'}{test}"


def run_summary(task: "BaseTask") -> list[str]:
    run = task.current_run
    state, plan, cfg = run.state, run.plan, task.config
    optimization = run.optimization
    optimizer_steps = math.ceil(state.total_steps / plan.accumulate)
    if optimization is not None:
        strategy = cfg.strategy.describe(optimizer_steps)
        schedule = lr_outline(cfg.strategy.learning_rate, optimization.factor, optimizer_steps)
    else:
        strategy = f"{type(task.optimizer).__name__} (prepared by the caller)"
        lr = task.optimizer.get_lr() if task.optimizer is not None else float("nan")
        schedule = f"{lr:.3g} at the start (the caller's schedule)"
    world = paddle.distributed.get_world_size()
    devices = f"{run.device}" + (f" x {world} processes" if world > 1 else "")
    where = (f"{os.path.abspath(plan.checkpoint_dir)}, every {plan.save_interval} steps and at the end, "
             f"newest {plan.keep_checkpoint_max} kept" if plan.checkpoints else "none")
    if plan.checkpoints and not plan.save_interval:
        where = f"{os.path.abspath(plan.checkpoint_dir)}, at the end"
    lines = [
        f"task         {type(task).__name__} on {devices}, seed {state.seed}",
        f"steps        {state.total_steps} = {plan.epochs} epoch(s) x {state.steps_per_epoch} batches of "
        f"{plan.batch_size}" + (f" (max_steps {plan.max_steps})" if plan.max_steps else "")
        + f"; {optimizer_steps} optimizer steps",
        f"strategy     {strategy}",
        f"lr schedule  {schedule}",
        *(f"             {note}" for note in (optimization.notes if optimization else [])),
        f"parameters   {_frozen(task)}",
        *([f"backbone     {run.frozen.describe()}"] if run.frozen is not None else []),
        f"controls     {_controls(task)}",
        f"evaluation   {_evaluation(task)}",
        f"checkpoints  {where}",
    ]
    chosen = cpu_math.current()
    if run.device == "cpu" and chosen is not None:
        lines.append(f"cpu math     {chosen.describe()}")
    if state.global_step:
        lines.append(f"resuming     at step {state.global_step} (epoch {state.epoch + 1}, batch {state.step_in_epoch})")
    return lines
