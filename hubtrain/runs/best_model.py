"""The best model of a training run: which dev score picks it, and where it is kept."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Optional, Sequence

from ..engine import distributed
from ..engine.checkpoint import WEIGHTS, network_signature
from ..engine.report import is_main_process, log
from ..engine.resume import checkpoint_weights

if TYPE_CHECKING:
    from ..tasks.base import BaseTask

__all__ = ["monitored", "track_best", "load_best"]


def _names(metric: Any) -> list:
    names = metric.name()
    return list(names) if isinstance(names, (list, tuple)) else [names]


def monitored(metrics: Sequence[Any], result: dict) -> Optional[tuple[str, float, bool]]:
    """(name, score, higher is better) of the dev score that picks the best model: the first
    metric's first value, or the loss for a task without metrics."""
    reported = [(m, n) for m in metrics for n in _names(m) if n in result]
    if reported:
        metric, name = reported[0]
        return name, float(result[name]), getattr(metric, "higher_is_better", True)
    if "loss" in result:
        return "loss", float(result["loss"]), False
    return None


def track_best(task: "BaseTask", result: dict) -> None:
    """Keep the weights as the best model when this dev result beats the best so far."""
    run = task.current_run
    state = run.state
    watched = task.monitored_score(result)
    if watched is None:
        return
    name, score, higher = watched
    if math.isnan(score):
        return
    better = state.best_score is None or (score > state.best_score if higher else score < state.best_score)
    if not better:
        return
    state.best_score, state.best_metric, state.best_step = score, name, state.global_step
    manager = run.manager()
    if manager is None:
        run.best_weights = {k: v.detach().clone() for k, v in task.network.state_dict().items()}
        return
    if is_main_process():
        weights = task.network.state_dict()
        path = manager.save_best({WEIGHTS: weights},
                                 {"score": score, "metric": name, "step": state.global_step,
                                  "network": network_signature(weights), "task": type(task).__name__})
        log("INFO", f"Best model saved to {path} [{name}={score:.5f}]")
    distributed.barrier()  # the other ranks may load it next


def load_best(task: "BaseTask", missing_ok: bool = True) -> bool:
    """Put the best model's weights into the network; False when there is none."""
    run = task.current_run
    manager = run.manager()
    if manager is None and run.best_weights is not None:
        task.network.set_state_dict(run.best_weights)
        run.live_weights = False
        log("INFO", "Load the best model (kept in memory: the run has no checkpoint_dir)")
        return True
    path = manager.best_dir if manager else None
    if path is None:
        if not missing_ok:
            raise FileNotFoundError(f"no best_model in {manager.root if manager else 'checkpoint_dir (unset)'}.")
        return False
    task.network.set_state_dict(checkpoint_weights(task.network, path))
    run.live_weights = False
    log("INFO", f"Load the best model from {path}")
    return True
