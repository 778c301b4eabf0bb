"""Early stopping on the dev score the best model is chosen by."""
from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from ..engine.events import Callback
from ..engine.report import log

if TYPE_CHECKING:
    from ..engine.loop import Loop

__all__ = ["EarlyStopping"]


class EarlyStopping(Callback):
    """Stops training once `patience` dev evaluations in a row have not beaten the best score so
    far by more than `min_delta`; the run then ends on its best weights (paddle's EarlyStopping
    leaves the last ones). The score is the one that picks the best model: the first metric, or
    the loss for a task without metrics."""

    order = 10  # after the run's events, which record the evaluation's result

    def __init__(self, patience: int = 3, min_delta: float = 0.0) -> None:
        if not isinstance(patience, int) or isinstance(patience, bool) or patience < 1:
            raise ValueError(f"EarlyStopping patience = {patience!r} is not accepted: use a whole number >= 1.")
        if not isinstance(min_delta, (int, float)) or isinstance(min_delta, bool) or min_delta < 0:
            raise ValueError(f"EarlyStopping min_delta = {min_delta!r} is not accepted: use a number >= 0.")
        self.patience, self.min_delta = patience, float(min_delta)
        self.best: Optional[float] = None
        self.wait = 0
        self.stopped_at: Optional[int] = None

    def eval_end(self, loop: "Loop") -> None:
        task = loop.model
        if task.phase != "dev" or not task.is_training:
            return
        watched = task.monitored_score(task.last_result("dev") or {})
        if watched is None:
            return
        name, score, higher = watched
        gain = float("inf") if self.best is None else (score - self.best if higher else self.best - score)
        if gain > self.min_delta:
            self.best, self.wait = score, 0
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_at = loop.state.global_step
            log("INFO", f"Early stopping at step {self.stopped_at}: dev {name} has not improved on "
                        f"{self.best:.5f} by more than {self.min_delta:g} in {self.wait} evaluations")
            loop.control.should_stop = True

    def fit_end(self, loop: "Loop") -> None:
        if self.stopped_at is not None and loop.model.weights_are_live:
            loop.model.load_best_model()

    def state_dict(self) -> dict:
        return {"best": self.best, "wait": self.wait, "stopped_at": self.stopped_at}

    def load_state_dict(self, state: dict) -> None:
        self.best, self.wait, self.stopped_at = state["best"], state["wait"], state["stopped_at"]
