"""The records datasets hold, each remembering the file and line it came from."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional, Sequence, Union

import numpy as np

__all__ = ["InputExample", "ImageExample", "LabelError", "label_index", "one_text_example"]


@dataclass
class InputExample:
    """A text example (PaddleHub's shape): one or two texts and a label (a name, a list of names,
    a number, or None for prediction). `source` is "file:line" for error messages."""

    guid: Union[int, str]
    text_a: Any
    text_b: Any = None
    label: Any = None
    source: Optional[str] = None
    extra: dict = field(default_factory=dict)


@dataclass
class ImageExample:
    """An image given by path or as an array (H, W) or (H, W, C), and its label."""

    image: Union[str, np.ndarray]
    label: Any = None
    source: Optional[str] = None


class LabelError(ValueError):
    """A label that is not in the dataset's label list."""


def label_index(label: Any, label_map: dict, source: Optional[str], where: str = "") -> int:
    """The index of `label`, or an error naming the input, the label and the accepted ones."""
    key = label if label in label_map else str(label)
    if key not in label_map:
        known = ", ".join(repr(k) for k in list(label_map)[:20])
        more = " ..." if len(label_map) > 20 else ""
        at = source or where or "an example"
        raise LabelError(f"{at}: label {label!r} is not in the label list [{known}{more}]; fix the label "
                         f"or add it to label_list.")
    return label_map[key]


def label_map_of(labels: Sequence[Any]) -> dict:
    return {label: i for i, label in enumerate(labels)}


def one_text_example(item: Any, index: int, accepted: str = '"text" or ["text"]') -> InputExample:
    """An example of one text from predict's data: "text", ["text"] (PaddleHub's form) or an
    InputExample; anything else is refused, saying what is `accepted`."""
    if isinstance(item, InputExample):
        return item
    if isinstance(item, (list, tuple)) and len(item) == 1:
        item = item[0]
    if isinstance(item, str):
        return InputExample(guid=index, text_a=item, source=f"data[{index}]")
    raise ValueError(f"data[{index}]: expected {accepted}, found {item!r}.")
