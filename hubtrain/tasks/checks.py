"""Label checks the tasks run on every batch: cheap on the host, and on failure a look through
the split's dataset so the error names the example (its file and line when the reader kept them)
rather than a row of a shuffled batch."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Optional, Sequence, Union

import numpy as np
import paddle

from ..data.example import LabelError

if TYPE_CHECKING:
    from .base import BaseTask

__all__ = ["check_labels", "LabelError"]

RowTest = Callable[[np.ndarray], np.ndarray]  # [N, ...] labels -> [N] bool, True where bad


def _host(value: Any) -> np.ndarray:
    return value.numpy() if isinstance(value, paddle.Tensor) else np.asarray(value)


def _describe(dataset: Any, index: int, phase: str) -> str:
    examples = getattr(dataset, "examples", None)
    if isinstance(examples, (list, tuple)) and index < len(examples):
        example = examples[index]
        source = getattr(example, "source", None)
        if source:
            return str(source)
        guid = getattr(example, "guid", None)
        if guid is not None:
            return f"{phase} example {guid}"
    return f"{phase} example {index} (row {index} of the dataset)"


def _find_example(task: "BaseTask", fields: Sequence[int], bad: RowTest) -> Optional[str]:
    """The first example of the current split whose label fields (flattened, joined) fail `bad`."""
    phase = task.phase or "train"
    dataset = task.phase_data(phase)
    dataset = getattr(dataset, "dataset", dataset)  # a DataLoader's dataset
    if dataset is None or not hasattr(dataset, "__getitem__") or not hasattr(dataset, "__len__"):
        return None
    for index in range(len(dataset)):
        row = dataset[index]
        if isinstance(row, (list, tuple)) and max(fields) < len(row):
            value = np.concatenate([_host(row[f]).reshape([-1]) for f in fields]) if len(fields) > 1 \
                else _host(row[fields[0]])
            if bool(bad(value.reshape((1,) + value.shape)).any()):
                return _describe(dataset, index, phase)
    return None


def check_labels(task: "BaseTask", label: Any, bad: RowTest, problem: str, fix: str,
                 field: Union[int, Sequence[int]] = 0, flags: Optional[np.ndarray] = None) -> None:
    """Raise a LabelError naming the example when any row of `label` fails `bad`.

    `field` is the label's place among the label fields (several: `label` is them side by side,
    one row per example); `problem` says what is wrong with the
    value found, `fix` what the data should hold. `flags` are the batch's bad rows when they
    depend on more than the label (e.g. on padding); `bad` then judges one unpadded example."""
    values = _host(label)
    flags = bad(values) if flags is None else np.asarray(flags)
    if not bool(flags.any()):
        return
    row = int(np.argmax(flags))
    fields = [len(task.input_names) + f for f in ([field] if isinstance(field, int) else field)]
    where = _find_example(task, fields, bad) or \
        f"row {row} of a {task.phase or 'train'} batch (step {task.current_step})"
    found = np.array2string(values[row], threshold=12, precision=4)
    raise LabelError(f"{where}: {problem} (found {found}). {fix}")
