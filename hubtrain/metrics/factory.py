"""`make_metrics`: a task's `metrics_choices` turned into metric objects."""
from __future__ import annotations

import inspect
from typing import Any, Sequence

from .base import HubMetric
from .chunk import ChunkF1, ChunkPrecision, ChunkRecall
from .classification import F1, Accuracy, Matthews, Precision, Recall
from .multilabel import MultiLabelAUC, MultiLabelF1, MultiLabelPrecision, MultiLabelRecall
from .regression import MeanSquaredError, Pearson, Spearman
from .squad import SquadEM, SquadF1

__all__ = ["METRICS", "make_metrics"]

# The same name means different computations for different kinds of task.
METRICS: dict[str, dict[str, type]] = {
    "classification": {"acc": Accuracy, "f1": F1, "precision": Precision, "recall": Recall, "matthews": Matthews},
    "multi_label": {"auc": MultiLabelAUC, "f1": MultiLabelF1, "precision": MultiLabelPrecision,
                    "recall": MultiLabelRecall},
    "regression": {"pearson": Pearson, "spearman": Spearman, "mse": MeanSquaredError},
    "sequence_label": {"precision": ChunkPrecision, "recall": ChunkRecall, "f1": ChunkF1},
    "reading_comprehension": {"em": SquadEM, "f1": SquadF1},
}


def _parameters(cls: type) -> set[str]:
    return {p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "name")}


def make_metrics(choices: str | Sequence[str], allowed: Sequence[str], kind: str = "classification",
                 *, owner: str = "this task", **context: Any) -> list[HubMetric]:
    """Metric objects for `metrics_choices`, refusing names the task cannot compute.

    `kind` picks the family ("classification", "multi_label", "regression", "sequence_label",
    "reading_comprehension"); `owner` names the task in the refusal; `context` holds what its
    metrics are built with, e.g. `label_list=[...]` (and `scheme=`, `with_cls_sep=`) for
    "sequence_label", `average=` for classification. Each metric receives the context entries its
    constructor takes."""
    table = METRICS.get(kind)
    if table is None:
        raise ValueError(f"unknown metric kind {kind!r}: choose from {list(METRICS)}.")
    choices = [choices] if isinstance(choices, str) else list(choices)
    for name in choices:
        if name not in allowed or name not in table:
            raise ValueError(f"metrics_choices names {name!r}, which {owner} cannot compute: "
                             f"choose from {[a for a in allowed if a in table]}.")
    known = set().union(*(_parameters(cls) for cls in table.values()))
    unknown = sorted(set(context) - known)
    if unknown:
        raise TypeError(f"make_metrics(kind={kind!r}) got unexpected setting(s) {unknown}; "
                        f"it takes {sorted(known) or 'none'}.")
    metrics = []
    for name in choices:
        cls = table[name]
        takes = _parameters(cls)
        try:
            metrics.append(cls(**{k: v for k, v in context.items() if k in takes}))
        except TypeError as err:
            raise TypeError(f"metric '{name}' ({kind}) needs {sorted(takes)}: {err}") from err
    return metrics
