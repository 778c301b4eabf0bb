"""PaddleHub 1.x's task methods beyond the run events: the figures `_calculate_metrics` gives,
what `predict(return_result=True)` returns (`_postprocessing`), `phase_guard`,
`init_if_necessary` and `load_parameters`. BaseTask has them; each task type overrides
`_postprocessing`, `_paddlehub1_scores` and `_metric_details` with its own 1.x form."""
from __future__ import annotations

import contextlib
import weakref
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any, Iterator, Optional, Sequence

import numpy as np

from ..engine.report import log
from ..runs.record import phase_name
from ..runs.results import Figures, figures, per_metric, scores_form
from ..runs.weights import load_weights
from ..state import RunState

__all__ = ["PaddleHub1Methods", "result_names"]

_UNNAMED: "weakref.WeakSet" = weakref.WeakSet()  # tasks told once that their results have no names
_PHASES = ("train", "dev", "val", "eval", "test", "predict", "inference")  # PaddleHub 1.x's, and 'eval'


def result_names(task: Any, label_list: Optional[Sequence[str]], what: str = "class names") -> Optional[list]:
    """The names by id `_postprocessing` gives results under (`task._label_names`), checked against
    the number of classes; None (with a warning, once per task, as PaddleHub 1.8 gave) when the
    task has none."""
    names = task._label_names(label_list)
    if names is None:
        if task in _UNNAMED:
            return None
        _UNNAMED.add(task)
        log("WARNING", f"{type(task).__name__}.predict(return_result=True): the {what} are unknown, so the "
                       f"run states are returned; pass label_list=[...] to predict, or give the task a data_reader "
                       f"whose dataset has its labels.", level=30)
        return None
    if len(names) != task.num_classes:
        raise ValueError(f"label_list has {len(names)} names ({', '.join(map(str, names))}) but the task has "
                         f"{task.num_classes} classes: give one name per class, in class-id order.")
    return names


class PaddleHub1Methods:
    """Mixed into BaseTask: reads the task's reader, run record and network, keeps no state."""

    # the built-in tasks give PaddleHub 1.5-1.8's `(scores, avg_loss, run_speed)`, keyed by their
    # `_paddlehub1_scores`; a task built on BaseTask the custom-task guide's form
    scores_form = False

    def _label_names(self, label_list: Optional[Sequence[str]] = None) -> Optional[list]:
        """The class names by id: `label_list`, else the reader's `label_map`, else its dataset's labels."""
        if label_list is not None:
            if isinstance(label_list, str) or not isinstance(label_list, Sequence):
                raise TypeError(f"label_list must be a list of label names, got {label_list!r}.")
            return list(label_list)
        label_map = getattr(self.data_reader, "label_map", None)
        label_map = label_map() if callable(label_map) else label_map
        if isinstance(label_map, Mapping) and label_map:
            return [name for name, _ in sorted(label_map.items(), key=lambda item: item[1])]
        dataset = getattr(self.data_reader, "dataset", None)
        labels = dataset.get_labels() if dataset is not None and hasattr(dataset, "get_labels") else None
        return list(labels) if labels else None

    def _postprocessing(self, run_states: Sequence[RunState], label_list: Optional[Sequence[str]] = None) -> Any:
        """What `predict(data=..., return_result=True)` returns, as PaddleHub 1.x's base did: the
        first value of each example's first output (a task's own form overrides this)."""
        return [np.asarray(row).reshape(-1)[0].item() for rs in run_states for row in rs.run_results[0]]

    @contextlib.contextmanager
    def phase_guard(self, phase: str) -> Iterator[None]:
        """PaddleHub 1.x's phase_guard: `self.phase` is `phase` inside the block ('val' and 'eval'
        read as 'dev', 'inference' as 'predict'), what it was before after it."""
        if phase not in _PHASES:
            raise ValueError(f"phase_guard({phase!r}): unknown phase; choose from {', '.join(_PHASES)}.")
        with self.current_run.in_phase(phase_name(phase)):
            yield

    def init_if_necessary(self) -> None:
        """PaddleHub 1.x ran the startup program (or loaded the last checkpoint) here before the
        first run. In dygraph the parameters exist with their values from the start, and runs
        resume from `checkpoint_dir` by themselves, so there is nothing to do."""

    def load_parameters(self, dirname: str) -> str:
        """Load weights hubtrain saved into the network: a checkpoint directory (`step_<N>`), a
        `best_model` directory, a checkpoint_dir (its best model, else its newest checkpoint), or
        the path given to `task.save(path)`. Read without running code from the files; a path
        holding none of these, or the weights of another network, is an error naming it and
        changes nothing. Returns what was read."""
        where = load_weights(self, dirname)
        log("INFO", f"Load the parameters from {where}")
        return where

    # ------------------------------------------------------------------ PaddleHub 1.x's figures of a run
    def _calculate_metrics(self, run_states: Sequence[RunState]) -> tuple:
        """PaddleHub 1.1's form for a task built on BaseTask: `(avg_loss, <one value per metric,
        in order>, run_speed)`, e.g. `avg_loss, avg_acc, run_speed` with one metric. The
        built-in tasks return PaddleHub 1.5-1.7's `(scores, avg_loss, run_speed)` instead.

        `avg_loss` is the sample-weighted mean loss of `run_states`; the metrics are the task's
        as they stand: for an evaluation's run states, that evaluation's result; in training,
        the epoch's so far; `run_speed` is steps per second since the first run state began."""
        if self.scores_form:
            return scores_form(self, run_states)
        found = figures(self, run_states)
        return (found.loss, *per_metric(found), found.speed)

    def _paddlehub1_scores(self, found: Figures) -> "OrderedDict[str, float]":
        """The scores dict of PaddleHub 1.x's `_calculate_metrics`, keyed as it keyed them (the
        first key is the main metric): here every value the metrics report, by name."""
        return OrderedDict(found.values)

    def _metric_details(self, metrics: Sequence[Any]) -> dict:
        """What `_calculate_metrics` reports beyond the metrics' values (kept at the end of an
        evaluation, before the metrics are reset): nothing for a task built on BaseTask."""
        return {}
