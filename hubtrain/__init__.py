"""hubtrain: PaddleHub's fine-tune Task API on paddle.Model.

    import hubtrain as hub
    task = hub.TextClassifierTask(feature=..., num_classes=2, config=hub.RunConfig(num_epoch=3))
    task.finetune_and_eval(train, dev, test)
"""
__version__ = "0.1.0"

from .config import RunConfig
from .engine.checkpoint import CheckpointError
from .engine.numerics import NonFiniteError
from .engine.signals import TrainingInterrupted
from .metrics import Accuracy, HubMetric
from .state import RunEnv, RunState, TrainControl, TrainState
from .strategy import (AdamWeightDecayStrategy, DefaultFinetuneStrategy, FinetuneStrategy, L2SPFinetuneStrategy,
                       Optimization, ULMFiTStrategy)
from .callbacks import EarlyStopping, ExponentialMovingAverage
from .tasks import (BaseTask, ClassifierTask, ImageClassifierTask, TextClassifierTask, create_img_cls_task,
                    create_text_cls_task)
from .tasks import (MultiLabelClassifierTask, ReadingComprehensionTask, RegressionTask, SequenceLabelTask,
                    create_seq_label_task)
from . import callbacks, dataset, pipeline, reader, zoo
from .zoo import FeatureRef, Module
from .export import Predictor

__all__ = [
    "RunConfig", "RunState", "RunEnv", "TrainState", "TrainControl", "CheckpointError", "NonFiniteError",
    "TrainingInterrupted",
    "BaseTask", "ClassifierTask", "ImageClassifierTask", "TextClassifierTask",
    "create_img_cls_task", "create_text_cls_task",
    "MultiLabelClassifierTask", "SequenceLabelTask", "RegressionTask", "ReadingComprehensionTask",
    "create_seq_label_task",
    "FinetuneStrategy", "DefaultFinetuneStrategy", "AdamWeightDecayStrategy", "L2SPFinetuneStrategy",
    "ULMFiTStrategy", "Optimization", "EarlyStopping", "ExponentialMovingAverage", "callbacks",
    "HubMetric", "Accuracy", "FeatureRef", "Module", "zoo", "dataset", "reader", "Predictor", "pipeline",
]
