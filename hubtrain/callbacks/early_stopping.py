"""Early stopping on the dev score the best model is chosen by."""
from __future__ import annotations

from typing import Any, Optional

import paddle

from ..engine.report import log

__all__ = ["EarlyStopping"]


class EarlyStopping(paddle.callbacks.Callback):
    """Stops training once `patience` dev evaluations in a row have not beaten the best score so
    far by more than `min_delta`; the run then ends on its best weights (hapi's EarlyStopping
    leaves the last ones). The score is the one that picks the best model: the first metric, or
    the loss for a task without metrics."""

    def __init__(self, patience: int = 3, min_delta: float = 0.0) -> None:
        super().__init__()
        if not isinstance(patience, int) or isinstance(patience, bool) or patience < 1:
            raise ValueError(f"EarlyStopping patience = {patience!r} is not accepted: use a whole number >= 1.")
        if not isinstance(min_delta, (int, float)) or isinstance(min_delta, bool) or min_delta < 0:
            raise ValueError(f"EarlyStopping min_delta = {min_delta!r} is not accepted: use a number >= 0.")
        self.patience, self.min_delta = patience, float(min_delta)
        self.best: Optional[float] = None
        self.wait = 0
        self.stopped_at: Optional[int] = None

    def on_eval_end(self, logs: Any = None) -> None:
        task = self.model
        if not logs or logs.get("phase") != "dev" or task.phase != "train":
            return
        watched = task._monitored(logs)
        if watched is None:
            return
        name, score, higher = watched
        gain = float("inf") if self.best is None else (score - self.best if higher else self.best - score)
        if gain > self.min_delta:
            self.best, self.wait = score, 0
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_at = task.train_state.global_step
            log("INFO", f"Early stopping at step {self.stopped_at}: dev {name} has not improved on "
                        f"{self.best:.5f} by more than {self.min_delta:g} in {self.wait} evaluations")
            task.control.should_stop = True

    def on_train_end(self, logs: Any = None) -> None:
        if self.stopped_at is not None and self.model._live_weights:
            self.model._load_best_model()

    def state_dict(self) -> dict:
        return {"best": self.best, "wait": self.wait, "stopped_at": self.stopped_at}

    def set_state_dict(self, state: dict) -> None:
        self.best, self.wait, self.stopped_at = state["best"], state["wait"], state["stopped_at"]
