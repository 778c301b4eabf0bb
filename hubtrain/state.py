"""Plain records of a run: per-step RunState, per-phase RunEnv, and the resumable TrainState."""
from __future__ import annotations

import time
from array import array
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Iterable, Optional

import numpy as np

__all__ = ["RunState", "RunEnv", "ScalarRecorder", "TrainState", "TrainControl", "StepHistory"]


def _to_numpy(value: Any) -> np.ndarray:
    return value if isinstance(value, np.ndarray) else np.asarray(value.numpy() if hasattr(value, "numpy") else value)


class RunState:
    """What one step (or a run of steps) produced.

    Results arrive as device tensors and are copied to the host only when someone reads
    `run_results`, so a training step never waits on a device-to-host copy.
    """

    def __init__(self, length: int = 0) -> None:
        self.run_time_begin = time.time()
        self.run_time_used = 0.0
        self.run_speed = 0.0
        self.run_step = 0
        self.run_examples = 0
        self._results: list[Any] = [0] * length
        self._host = True

    @classmethod
    def of_step(cls, examples: int, results: list[Any], time_begin: float) -> "RunState":
        state = cls()
        state.run_time_begin = time_begin
        state.run_step = 1
        state.run_examples = int(examples)
        state._results = list(results)
        state._host = False
        return state.update()

    def result(self, index: int) -> Any:
        """One result, copied to the host if it is not there yet (the others stay where they are)."""
        value = self._results[index]
        if not isinstance(value, np.ndarray):
            value = self._results[index] = _to_numpy(value)
        return value

    @property
    def run_results(self) -> list[Any]:
        if not self._host:
            self._results = [_to_numpy(r) for r in self._results]
            self._host = True
        return self._results

    @run_results.setter
    def run_results(self, value: list[Any]) -> None:
        self._results = list(value)
        self._host = True

    def keep_only(self, n: int) -> None:
        """Drop all but the first `n` results (keeps long runs' memory flat)."""
        self._results = self._results[:n]

    def update(self) -> "RunState":
        self.run_time_used = time.time() - self.run_time_begin
        self.run_speed = self.run_step / self.run_time_used if self.run_time_used > 0 else 0.0
        return self

    def __add__(self, other: "RunState") -> "RunState":
        total = RunState()
        total.run_time_begin = min(self.run_time_begin, other.run_time_begin)
        total.run_step = self.run_step + other.run_step
        total.run_examples = self.run_examples + other.run_examples
        return total.update()

    def __repr__(self) -> str:
        return f"RunState(run_step={self.run_step}, run_examples={self.run_examples})"


class StepHistory(Sequence):
    """Every training step's RunState, kept in 32 bytes a step (start, time used, samples, loss)
    and rebuilt when read.

    A run hands all its steps' run states to `_finetune_end_event`; kept as RunState objects with
    their loss arrays they would cost about half a kilobyte a step, so memory would grow with the
    length of the run.
    """

    def __init__(self) -> None:
        self._begin, self._used, self._loss = array("d"), array("d"), array("d")
        self._examples = array("q")
        self._dtype = np.dtype("float32")

    def append(self, state: RunState) -> None:
        loss = np.asarray(state.result(0)) if state._results else np.asarray(np.nan, dtype=self._dtype)
        self._dtype = loss.dtype
        self._begin.append(state.run_time_begin)
        self._used.append(state.run_time_used)
        self._examples.append(state.run_examples)
        self._loss.append(float(loss.reshape(-1)[0]) if loss.size else np.nan)

    def extend(self, states: Iterable[RunState]) -> None:
        for state in states:
            self.append(state)

    def __len__(self) -> int:
        return len(self._begin)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        i = range(len(self))[index]
        state = RunState()
        state.run_time_begin, state.run_time_used = self._begin[i], self._used[i]
        state.run_step, state.run_examples = 1, self._examples[i]
        state.run_speed = 1.0 / state.run_time_used if state.run_time_used > 0 else 0.0
        state.run_results = [np.asarray(self._loss[i], dtype=self._dtype)]
        return state

    def __repr__(self) -> str:
        return f"StepHistory({len(self)} steps)"


class ScalarRecorder:
    """PaddleHub 1.x's `env.<name>_scalar`: `add_record(step, value)` writes the scalar `tag`
    through the run's scalar writer, asked for at each record (so the writer of the run under way,
    a silent one when VisualDL is off or there is no checkpoint_dir)."""

    def __init__(self, tag: str, writer: Optional[Callable[[], Any]] = None) -> None:
        self.tag = tag
        self._writer = writer

    def add_record(self, step: int, value: Any) -> None:
        if self._writer is not None:
            self._writer().add(self.tag, float(np.asarray(value).reshape(-1)[0]), int(step))

    def __repr__(self) -> str:
        return f"ScalarRecorder({self.tag!r})"


@dataclass
class RunEnv:
    """The state of one phase ('train', 'dev', 'test', 'predict', ...).

    `env.<name>_scalar` for any name is a ScalarRecorder of the tag `<phase>/<name>` (PaddleHub
    1.x's run events recorded VisualDL scalars that way); an attribute set under that name wins."""

    phase: str
    current_step: int = 0
    current_epoch: int = 0
    dataset: Any = None
    loader: Any = None
    is_built: bool = False
    run_states: list = field(default_factory=list)
    result: Optional[dict] = None
    # what `_calculate_metrics` reports beyond `result`, kept at the end of an evaluation
    # (per-label AUCs, the number of questions), before the metrics are reset
    details: dict = field(default_factory=dict)
    scalar_writer: Optional[Callable[[], Any]] = field(default=None, repr=False, compare=False)

    def __getattr__(self, name: str) -> Any:
        if name.endswith("_scalar") and not name.startswith("_") and len(name) > len("_scalar"):
            return ScalarRecorder(f"{self.phase}/{name[:-len('_scalar')]}", self.scalar_writer)
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")


@dataclass
class TrainState:
    """Everything a checkpoint needs besides tensors to continue a run exactly."""

    global_step: int = 0          # batches trained, across epochs
    optimizer_step: int = 0       # parameter updates (differs with gradient accumulation)
    epoch: int = 0                # epoch being run (0-based)
    step_in_epoch: int = 0        # batches of `epoch` already trained
    total_steps: int = 0          # batches the whole run will train
    steps_per_epoch: int = 0
    best_score: Optional[float] = None
    best_metric: Optional[str] = None
    best_step: Optional[int] = None
    seed: int = 0
    stopped: bool = False         # ended before its last step (early stopping): a resume trains no more
    skipped_batches: int = 0      # left out for a non-finite loss or gradient (on_nonfinite="skip")
    samples: int = 0              # training samples seen by this process (counted by engine/loop.py)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "TrainState":
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


@dataclass
class TrainControl:
    """Flags set during a step; the event bridge acts on them and clears them. In engine/loop.py,
    `should_end_pass` ends the running pass after the batch in hand (the loop clears it) and
    `should_stop` ends a fit after the running epoch and its evaluation."""

    should_log: bool = False
    should_evaluate: bool = False
    should_save: bool = False
    should_stop: bool = False
    should_end_pass: bool = False

    def reset(self) -> None:
        self.should_log = self.should_evaluate = self.should_save = self.should_stop = False
        self.should_end_pass = False
