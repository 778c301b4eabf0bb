"""Tasks: a backbone's feature, a head, a loss and metrics, as a paddle.Model."""
from .base import BaseTask
from .classifier import ClassifierTask, ImageClassifierTask, TextClassifierTask
from .helpers import create_img_cls_task, create_text_cls_task

__all__ = ["BaseTask", "ClassifierTask", "ImageClassifierTask", "TextClassifierTask",
           "create_img_cls_task", "create_text_cls_task"]
