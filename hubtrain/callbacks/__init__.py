"""Callbacks that carry training behaviour: early stopping, an average of the weights,
ULMFiT's block plan, and the training metrics' counts kept through checkpoints. Each is an engine
callback (hubtrain.engine.events.Callback), usable in a task's `fit(callbacks=...)` as well."""
from __future__ import annotations

from .blocks import BlockPlan
from .early_stopping import EarlyStopping
from .ema import ExponentialMovingAverage
from .epoch_metrics import EpochMetricState

__all__ = ["EarlyStopping", "ExponentialMovingAverage", "BlockPlan", "EpochMetricState", "from_config"]


def from_config(config) -> list:
    """The callbacks a RunConfig's training controls ask for."""
    callbacks: list = []
    if config.early_stopping_patience is not None:
        callbacks.append(EarlyStopping(config.early_stopping_patience, config.early_stopping_min_delta))
    if config.ema_decay is not None:
        callbacks.append(ExponentialMovingAverage(config.ema_decay))
    return callbacks
