"""hubtrain: PaddleHub's fine-tune Task API on paddle.Model.

    import hubtrain as hub
    task = hub.TextClassifierTask(feature=..., num_classes=2, config=hub.RunConfig(num_epoch=3))
    task.finetune_and_eval(train, dev, test)

The public names are imported on first use (PEP 562), so `import hubtrain` and the
`hubtrain --help` command do not pay for importing paddle.
"""
from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> the module that defines it ("" for a subpackage of the same name)
_EXPORTS = {
    "RunConfig": ".config",
    "Model": ".compat.hapi",
    "CheckpointError": ".engine.checkpoint",
    "NonFiniteError": ".engine.numerics",
    "TrainingInterrupted": ".engine.signals",
    "Accuracy": ".metrics", "HubMetric": ".metrics",
    "RunEnv": ".state", "RunState": ".state", "TrainControl": ".state", "TrainState": ".state",
    "AdamWeightDecayStrategy": ".strategy", "DefaultFinetuneStrategy": ".strategy", "FinetuneStrategy": ".strategy",
    "L2SPFinetuneStrategy": ".strategy", "Optimization": ".strategy", "ULMFiTStrategy": ".strategy",
    "EarlyStopping": ".callbacks", "ExponentialMovingAverage": ".callbacks",
    "BaseTask": ".tasks", "ClassifierTask": ".tasks", "ImageClassifierTask": ".tasks", "TextClassifierTask": ".tasks",
    "create_img_cls_task": ".tasks", "create_text_cls_task": ".tasks", "MultiLabelClassifierTask": ".tasks",
    "ReadingComprehensionTask": ".tasks", "RegressionTask": ".tasks", "SequenceLabelTask": ".tasks",
    "create_seq_label_task": ".tasks",
    "FeatureRef": ".zoo", "Module": ".zoo",
    "Predictor": ".export",
    "BertTokenizer": ".data.tokenizers", "ErnieTinyTokenizer": ".data.tokenizers",
    "CustomTokenizer": ".data.tokenizers",
    "report_final_result": ".runs.tuner",
    "callbacks": "", "dataset": "", "pipeline": "", "reader": "", "zoo": "",
    # PaddleHub 1.x's names for the same things
    "BasicTask": ".tasks", "Task": ".tasks", "DefaultStrategy": ".strategy", "CombinedStrategy": ".strategy", "logger": ".log",
    "common": "", "finetune": "",
}

__all__ = [
    "Model", "RunConfig", "RunState", "RunEnv", "TrainState", "TrainControl", "CheckpointError", "NonFiniteError",
    "TrainingInterrupted",
    "BaseTask", "ClassifierTask", "ImageClassifierTask", "TextClassifierTask",
    "create_img_cls_task", "create_text_cls_task",
    "MultiLabelClassifierTask", "SequenceLabelTask", "RegressionTask", "ReadingComprehensionTask",
    "create_seq_label_task",
    "FinetuneStrategy", "DefaultFinetuneStrategy", "AdamWeightDecayStrategy", "L2SPFinetuneStrategy",
    "ULMFiTStrategy", "Optimization", "EarlyStopping", "ExponentialMovingAverage", "callbacks",
    "HubMetric", "Accuracy", "FeatureRef", "Module", "zoo", "dataset", "reader", "Predictor", "pipeline",
    "BertTokenizer", "ErnieTinyTokenizer", "CustomTokenizer",
    "BasicTask", "Task", "DefaultStrategy", "CombinedStrategy", "logger", "common", "finetune", "report_final_result",
]


def __getattr__(name: str) -> Any:
    """Import the module that defines a public name the first time it is asked for."""
    where = _EXPORTS.get(name)
    if where is None:
        from .unsupported import missing_name

        raise missing_name(name, tuple(__all__))
    module = importlib.import_module(where or f".{name}", __name__)
    value = module if not where else getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
