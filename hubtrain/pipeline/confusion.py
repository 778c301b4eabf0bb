"""Confusion matrices of a single-label classifier on a split, written as
`<checkpoint_dir>/confusion_<phase>.json` for the report:
`{"phase", "labels", "matrix" (rows: true label, columns: predicted), "count", "accuracy"}`."""
from __future__ import annotations

import json
import os
from typing import Any, Optional, Sequence

import numpy as np

__all__ = ["is_single_label_classifier", "confusion_matrix", "write_confusion", "read_confusion"]


def is_single_label_classifier(task: Any) -> bool:
    from ..tasks import ClassifierTask, MultiLabelClassifierTask

    return isinstance(task, ClassifierTask) and not isinstance(task, MultiLabelClassifierTask)


def confusion_matrix(task: Any, dataset: Any, batch_size: int) -> np.ndarray:
    """[C, C] counts of (true label, predicted class) over `dataset`, whose items end with the
    label field. Every process predicts the whole split (hubtrain's predict returns each sample
    once, in order), so every rank gets the same matrix."""
    outputs = task.predict(dataset, batch_size=batch_size)
    logits = np.concatenate([np.asarray(b) for b in outputs[0]])
    predicted = logits.reshape(len(logits), -1).argmax(axis=-1)
    labels = np.array([int(np.asarray(dataset[i][-1]).reshape(-1)[0]) for i in range(len(dataset))])
    classes = int(task.num_classes)
    if labels.size and (labels.min() < 0 or labels.max() >= classes):
        raise ValueError(f"a label is outside [0, {classes}): the split's labels do not match num_classes={classes}.")
    matrix = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(matrix, (labels, predicted), 1)
    return matrix


def write_confusion(path: str, phase: str, matrix: np.ndarray, labels: Optional[Sequence[Any]] = None) -> str:
    """The matrix and its labels as JSON, written whole (temporary name, then renamed)."""
    count = int(matrix.sum())
    names = [str(label) for label in labels] if labels else [str(i) for i in range(len(matrix))]
    record = {"phase": phase, "labels": names, "matrix": matrix.astype(int).tolist(), "count": count,
              "accuracy": float(np.trace(matrix)) / count if count else 0.0}
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.part"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(record, f, indent=1)
    os.replace(tmp, path)
    return path


def read_confusion(path: str) -> dict:
    with open(path, encoding="utf-8") as f:
        record = json.load(f)
    matrix = record.get("matrix")
    if not isinstance(matrix, list) or any(len(row) != len(matrix) for row in matrix):
        raise ValueError(f"{path}: 'matrix' is not a square list of rows; delete the file or rerun the run.")
    return record
