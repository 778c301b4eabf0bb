"""Fine-tuning strategies: a task's parameters and the run's length in; the optimizer, its
learning-rate schedule and the callbacks the strategy needs out."""
from .base import OPTIMIZERS, FinetuneStrategy, Optimization
from .combined import CombinedStrategy
from .strategies import (AdamWeightDecayStrategy, DefaultFinetuneStrategy, L2SPFinetuneStrategy, PullTowards,
                         ULMFiTStrategy)

DefaultStrategy = FinetuneStrategy  # PaddleHub 1.x's name: a fixed learning rate with the named optimizer

__all__ = ["OPTIMIZERS", "Optimization", "FinetuneStrategy", "DefaultStrategy", "DefaultFinetuneStrategy",
           "AdamWeightDecayStrategy", "L2SPFinetuneStrategy", "ULMFiTStrategy", "CombinedStrategy", "PullTowards"]
