"""The figures PaddleHub 1.x's `_calculate_metrics(run_states)` returned, from hubtrain's run.

Run states hold each step's loss and outputs, not its labels, and hubtrain's metrics count over a
whole epoch (training) or a whole evaluation, so the figures are:

- the loss: the sample-weighted mean of the given run states' losses (a log interval's steps, or
  an evaluation's batches);
- the metrics: as the task's metrics report them at that point. For the run states of an
  evaluation, that evaluation's result; during training, the epoch's metrics so far (the values
  the log line shows); anywhere else, their last values (`task.variable(name)`);
- the speed: steps per second since the first run state began, as PaddleHub 1.x measured it.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Optional, Sequence

from ..metrics import metric_values
from ..state import RunEnv
from .events import weighted_loss

if TYPE_CHECKING:
    from ..tasks.base import BaseTask

__all__ = ["Figures", "figures", "per_metric", "scores_form"]


@dataclass
class Figures:
    """One `_calculate_metrics` call's figures."""

    loss: float
    values: dict                 # metric name -> value, in the order the metrics report them
    metrics: list                # the metric objects the values are named by
    speed: float                 # steps per second
    details: dict = field(default_factory=dict)  # what the task keeps beyond the values (per-label AUC, ...)


def _evaluation_env(task: "BaseTask", run_states: Sequence[Any]) -> Optional[RunEnv]:
    """The evaluation these run states are from: the phase env holding this very list, else the
    current phase's when it is an evaluation."""
    for phase, env in task.current_run.envs.items():
        if phase not in ("train", "predict") and env.run_states is run_states:
            return env
    phase = task.phase
    if phase not in (None, "train", "predict"):
        return task.current_run.envs.get(phase)
    return None


def figures(task: "BaseTask", run_states: Sequence[Any]) -> Figures:
    """The loss, metric values and speed of `run_states` (see the module docstring)."""
    steps = sum(rs.run_step for rs in run_states)
    used = time.time() - run_states[0].run_time_begin if run_states else 0.0
    speed = steps / used if used > 0 else 0.0
    loss = weighted_loss(list(run_states)) if task.loss is not None and run_states else math.nan
    env = _evaluation_env(task, run_states)
    if env is not None:
        metrics = list(task.eval_metrics)
        if env.result is not None:  # the evaluation ended: its result (the metrics are reset)
            values = {k: v for k, v in env.result.items() if k != "loss"}
            details = dict(env.details)
        else:  # asked for during the evaluation: the counts so far
            values, details = metric_values(metrics), task._metric_details(metrics)
        return Figures(loss, values, metrics, speed, details)
    metrics = list(task.metrics)
    last = task.current_run.last_scores
    if task.is_training or not isinstance(last, dict):
        task.metric_feed.flush()  # training metrics are counted when read
        values = metric_values(metrics)
    else:  # after a run: the last values, as `task.variable(name)` gives them
        values = {k: v for k, v in last.items() if k != "loss"}
    return Figures(loss, values, metrics, speed, task._metric_details(metrics))


def per_metric(found: Figures) -> list:
    """One value per metric, in the task's order (a metric reporting several gives the list of
    them): the middle of PaddleHub 1.1's `(avg_loss, avg_acc, run_speed)`."""
    out = []
    for metric in found.metrics:
        names = metric.name()
        names = list(names) if isinstance(names, (list, tuple)) else [names]
        values = [found.values.get(name, math.nan) for name in names]
        out.append(values[0] if len(values) == 1 else values)
    return out


def scores_form(task: "BaseTask", run_states: Sequence[Any]) -> tuple:
    """PaddleHub 1.5-1.7's `(scores, avg_loss, run_speed)`, scores keyed as the task keys them
    (`task._paddlehub1_scores`)."""
    found = figures(task, run_states)
    return task._paddlehub1_scores(found), found.loss, found.speed
