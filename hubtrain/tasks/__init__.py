"""Tasks: a backbone's feature, a head, a loss and metrics, as a paddle.Model."""
from .base import BaseTask
from .classifier import ClassifierTask, ImageClassifierTask, TextClassifierTask
from .helpers import create_img_cls_task, create_seq_label_task, create_text_cls_task
from .multilabel import MultiLabelClassifierTask
from .reading import ReadingComprehensionTask
from .regression import RegressionTask
from .sequence import SequenceLabelTask

# PaddleHub 1.x's names for the base class (1.0-1.4 `BasicTask`; the docs' `hub.finetune.task.Task`)
BasicTask = Task = BaseTask

__all__ = ["BaseTask", "BasicTask", "Task", "ClassifierTask", "ImageClassifierTask", "TextClassifierTask",
           "create_img_cls_task", "create_text_cls_task",
           "MultiLabelClassifierTask", "SequenceLabelTask", "RegressionTask", "ReadingComprehensionTask",
           "create_seq_label_task"]
