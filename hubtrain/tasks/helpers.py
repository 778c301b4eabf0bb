"""PaddleHub's create_*_task helpers."""
from __future__ import annotations

from typing import Any, Optional, Sequence

from .classifier import ImageClassifierTask, TextClassifierTask

__all__ = ["create_img_cls_task", "create_text_cls_task"]


def create_img_cls_task(feature: Any, num_classes: int, hidden_units: Optional[Sequence[int]] = None,
                        **kwargs: Any) -> ImageClassifierTask:
    """An image classifier: fc layers (`hidden_units`, then `num_classes`) on the feature."""
    return ImageClassifierTask(feature=feature, num_classes=num_classes, hidden_units=hidden_units, **kwargs)


def create_text_cls_task(feature: Any, num_classes: int, hidden_units: Optional[Sequence[int]] = None,
                         **kwargs: Any) -> TextClassifierTask:
    """A text classifier: dropout, fc layers (`hidden_units`, then `num_classes`) on the feature."""
    return TextClassifierTask(feature=feature, num_classes=num_classes, hidden_units=hidden_units, **kwargs)
