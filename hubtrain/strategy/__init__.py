"""Fine-tuning strategies: a task's parameters and the run's length in; the optimizer, its
learning-rate schedule and the callbacks the strategy needs out."""
from .base import OPTIMIZERS, FinetuneStrategy, Optimization
from .strategies import (AdamWeightDecayStrategy, DefaultFinetuneStrategy, L2SPFinetuneStrategy, PullTowards,
                         ULMFiTStrategy)

__all__ = ["OPTIMIZERS", "Optimization", "FinetuneStrategy", "DefaultFinetuneStrategy", "AdamWeightDecayStrategy",
           "L2SPFinetuneStrategy", "ULMFiTStrategy", "PullTowards"]
