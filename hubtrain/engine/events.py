"""The engine's events in the order they fire, the callback base class and the ordered list that
dispatches them.

Every event is one method of `Callback`, called with the running `Loop`; a callback reads and
sets `loop.state` (progress counters) and `loop.control` (requests to the loop), and calls public
methods. Nothing else passes between the loop and its callbacks.

    fit_begin
      epoch_begin                               once per epoch
        batch_begin                             loop.phase == "train"
          before_backward                       step point: loss known, gradients not yet
          before_optimizer_step                 step point: gradients whole, weights not yet updated
        batch_end
      epoch_end
      eval_begin / batch_begin / batch_end / eval_end      the evaluation after an epoch, when due
    fit_end
    eval_begin / batch_begin / batch_end / eval_end        evaluate()
    predict_begin / batch_begin / batch_end / predict_end  predict()

`control.should_end_pass` ends the running pass (train epoch, evaluation or prediction) after
the batch in hand; `control.should_stop` ends the fit after the running epoch and its evaluation.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable

if TYPE_CHECKING:
    from .loop import Loop

__all__ = ["EVENTS", "STEP_POINTS", "Callback", "CallbackList"]

# every event, in the order of a fit that evaluates after each epoch
EVENTS = (
    "fit_begin",
    "epoch_begin",
    "batch_begin",
    "before_backward",
    "before_optimizer_step",
    "batch_end",
    "epoch_end",
    "eval_begin",
    "eval_end",
    "fit_end",
    "predict_begin",
    "predict_end",
)

# the events the step fires from inside a training step (engine/step.py)
STEP_POINTS = ("before_backward", "before_optimizer_step")


class Callback:
    """A piece of behaviour attached to the loop's events.

    `order`: callbacks run in ascending order at every event (ties keep the order given).
    `state_key`: the name its `state_dict()` is saved under; the list gives every instance a
    unique one unless the callback sets its own.
    """

    order: int = 0
    state_key: str = ""

    def fit_begin(self, loop: "Loop") -> None: ...
    def epoch_begin(self, loop: "Loop") -> None: ...
    def batch_begin(self, loop: "Loop") -> None: ...
    def before_backward(self, loop: "Loop") -> None: ...
    def before_optimizer_step(self, loop: "Loop") -> None: ...
    def batch_end(self, loop: "Loop") -> None: ...
    def epoch_end(self, loop: "Loop") -> None: ...
    def eval_begin(self, loop: "Loop") -> None: ...
    def eval_end(self, loop: "Loop") -> None: ...
    def fit_end(self, loop: "Loop") -> None: ...
    def predict_begin(self, loop: "Loop") -> None: ...
    def predict_end(self, loop: "Loop") -> None: ...

    def state_dict(self) -> dict:
        """What a checkpoint keeps of this callback (nothing by default)."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        """Take back what `state_dict()` returned."""


class CallbackList:
    """Callbacks sorted by `order`, each event dispatched only to the callbacks that define it
    (a callback keeping the base class's no-op is not called every batch)."""

    def __init__(self, callbacks: Iterable[Callback] = ()) -> None:
        indexed = sorted(enumerate(callbacks), key=lambda pair: (pair[1].order, pair[0]))
        self.callbacks: list[Callback] = [cb for _, cb in indexed]
        self._assign_keys()
        self._handlers = {event: self._defining(event) for event in EVENTS}

    def _assign_keys(self) -> None:
        taken: set[str] = {cb.state_key for cb in self.callbacks if cb.state_key}
        counts: dict[str, int] = {}
        for cb in self.callbacks:
            if cb.state_key:
                continue
            name = type(cb).__name__
            while True:
                counts[name] = counts.get(name, 0) + 1
                key = f"{name}.{counts[name] - 1}"
                if key not in taken:
                    break
            cb.state_key = key
            taken.add(key)
        keys = [cb.state_key for cb in self.callbacks]
        if len(set(keys)) != len(keys):
            raise ValueError(f"two callbacks share a state_key among {keys}: give each its own.")

    def _defining(self, event: str) -> list:
        base = getattr(Callback, event)
        return [getattr(cb, event) for cb in self.callbacks
                if getattr(getattr(cb, event), "__func__", None) is not base]

    def fire(self, event: str, loop: "Loop") -> None:
        for handler in self._handlers[event]:
            handler(loop)

    def has(self, event: str) -> bool:
        return bool(self._handlers[event])

    def state_dict(self) -> dict[str, dict]:
        """Every callback's state that is not empty, under its own key."""
        states = {cb.state_key: cb.state_dict() for cb in self.callbacks}
        return {key: state for key, state in states.items() if state}

    def load_state_dict(self, states: dict[str, dict]) -> None:
        for cb in self.callbacks:
            if cb.state_key in states:
                cb.load_state_dict(states[cb.state_key])

    def __iter__(self) -> Any:
        return iter(self.callbacks)

    def __len__(self) -> int:
        return len(self.callbacks)
