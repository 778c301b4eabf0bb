"""PaddleHub's create_*_task helpers."""
from __future__ import annotations

from typing import Any, Optional, Sequence

from .classifier import ImageClassifierTask, TextClassifierTask
from .sequence import SequenceLabelTask

__all__ = ["create_img_cls_task", "create_text_cls_task", "create_seq_label_task"]


def create_img_cls_task(feature: Any, num_classes: int, hidden_units: Optional[Sequence[int]] = None,
                        **kwargs: Any) -> ImageClassifierTask:
    """An image classifier: fc layers (`hidden_units`, then `num_classes`) on the feature."""
    return ImageClassifierTask(feature=feature, num_classes=num_classes, hidden_units=hidden_units, **kwargs)


def create_text_cls_task(feature: Any, num_classes: int, hidden_units: Optional[Sequence[int]] = None,
                         **kwargs: Any) -> TextClassifierTask:
    """A text classifier: dropout, fc layers (`hidden_units`, then `num_classes`) on the feature."""
    return TextClassifierTask(feature=feature, num_classes=num_classes, hidden_units=hidden_units, **kwargs)


def create_seq_label_task(feature: Any, max_seq_len: Optional[int] = None, num_classes: Optional[int] = None,
                          add_crf: bool = False, seq_len: Any = None, **kwargs: Any) -> SequenceLabelTask:
    """A sequence labeller: an fc layer (and a CRF with `add_crf`) on the per-token feature.
    `seq_len` is accepted for PaddleHub's signature and not needed: the reader feeds it;
    `max_seq_len` defaults to the data_reader's."""
    return SequenceLabelTask(feature=feature, max_seq_len=max_seq_len, num_classes=num_classes, add_crf=add_crf,
                             **kwargs)
