"""The training metrics' counts so far in the epoch, carried through checkpoints: a run resumed in
the middle of an epoch logs the same epoch metrics as a run never stopped."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

from ..engine.events import Callback
from ..engine.report import log
from ..metrics import HubMetric

if TYPE_CHECKING:
    from ..engine.loop import Loop

__all__ = ["EpochMetricState"]


def _label(metric: Any) -> str:
    names = metric.name()
    names = "/".join(names) if isinstance(names, (list, tuple)) else str(names)
    return f"{names} ({type(metric).__module__}.{type(metric).__name__})"


class EpochMetricState(Callback):
    """Saves the running state of the task's training metrics with every checkpoint and puts it
    back when a run resumes mid-epoch.

    The state is plain data (numbers, strings, lists, dicts and numpy arrays). hubtrain's metrics
    give theirs through `HubMetric.state_dict`; another metric's counts cannot be read through a
    public method, so after a resume mid-epoch it counts only from the resumed step to the end
    of that epoch, and the run says so once. `model`: a hub.Model (its `metrics` and `metric_feed`).
    """

    order = 90  # after the events that count the step and decide whether it is the last

    def __init__(self, model: Any) -> None:
        self.model = model
        self.state: Any = None  # the loop's TrainState, once a fit begins
        self._pending: Optional[dict] = None  # a checkpoint's state, applied when training begins
        self._final: Optional[dict] = None  # the state at the step the run stopped on

    def _position(self) -> dict:
        state = self.state
        return {"global_step": state.global_step, "epoch": state.epoch, "step_in_epoch": state.step_in_epoch}

    def _capture(self) -> dict:
        self.model.metric_feed.flush()
        metrics = []
        for metric in self.model.metrics:
            saved = None
            if isinstance(metric, HubMetric):
                try:
                    saved = metric.state_dict()
                except NotImplementedError:  # a HubMetric subclass without `statistics`
                    saved = None
            metrics.append({"class": type(metric).__name__, "state": saved})
        return dict(self._position(), metrics=metrics)

    def state_dict(self) -> dict:
        """What a checkpoint keeps: where the run is, and each training metric's counts so far."""
        state = self.state
        if state is None:
            return {}
        if state.step_in_epoch in (0, state.steps_per_epoch):  # at an epoch's end: the next counts afresh
            return dict(self._position(), metrics=[])
        if self._final is not None and self._final["global_step"] == state.global_step:
            return self._final  # the pass already ended and reset the metrics
        return self._capture()

    def load_state_dict(self, state: dict) -> None:
        """Kept until training begins, when the resumed run's position is known."""
        self._pending = state

    def fit_begin(self, loop: "Loop") -> None:
        self.state = loop.state
        pending, self._pending, self._final = self._pending, None, None
        state = self.state
        if state.step_in_epoch in (0, state.steps_per_epoch):
            return
        saved = []
        if pending is not None and all(pending.get(k) == v for k, v in self._position().items()):
            saved = pending.get("metrics") or []
        metrics = self.model.metrics
        carried = set()
        for i, (metric, entry) in enumerate(zip(metrics, saved)):
            if entry.get("state") is not None and entry.get("class") == type(metric).__name__ \
                    and isinstance(metric, HubMetric):
                metric.set_state_dict(entry["state"])
                carried.add(i)
        restarted = [_label(m) for i, m in enumerate(metrics) if i not in carried]
        if restarted:
            one = len(restarted) == 1
            log("WARNING", f"training {'metric' if one else 'metrics'} {', '.join(restarted)}: "
                f"{'its' if one else 'their'} counts so far in epoch {state.epoch + 1} are not in the checkpoint, "
                f"so resumed at step {state.global_step} {'it counts' if one else 'they count'} only the steps "
                f"from here to the end of this epoch (the next epochs count in full). hubtrain's own metrics "
                f"(hubtrain.metrics) carry their counts through checkpoints.", level=30)

    def batch_end(self, loop: "Loop") -> None:
        if loop.phase == "train" and loop.control.should_stop:  # the last step: keep the counts the pass's end resets
            self._final = self._capture()
