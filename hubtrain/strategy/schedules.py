"""Learning-rate schedules as factor functions of the optimizer step (0-based): the rate at step t
is the strategy's learning rate times `factor(t)`. Pure functions, so the summary and the tests
can read a whole curve without stepping an optimizer."""
from __future__ import annotations

import math
from typing import Callable, Optional

__all__ = ["Factor", "constant", "linear_warmup_decay", "noam_warmup_decay", "slanted_triangular"]

Factor = Callable[[int], float]


def constant(step: int) -> float:
    return 1.0


def linear_warmup_decay(total_steps: int, warmup_steps: int, decay_start: Optional[int] = None,
                        end: float = 0.0) -> Factor:
    """Rises linearly to 1 over `warmup_steps`, holds 1 until `decay_start` (the end of the
    warm-up when not given; never before it), then falls linearly to `end` at `total_steps`."""
    start = warmup_steps if decay_start is None else max(decay_start, warmup_steps)

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        if step < start:
            return 1.0
        return end + (1 - end) * max(0.0, (total_steps - step) / max(1, total_steps - start))
    return factor


def noam_warmup_decay(warmup_steps: int) -> Factor:
    """Noam: linear rise to 1 at `warmup_steps`, then decay as the inverse square root of the step."""
    warmup = max(1, warmup_steps)

    def factor(step: int) -> float:
        t = step + 1
        return min(t / warmup, (warmup / t) ** 0.5)
    return factor


def slanted_triangular(total_steps: int, cut_fraction: float, ratio: float) -> Factor:
    """ULMFiT's slanted triangle: from 1/ratio up to 1 over the first `cut_fraction` of the steps,
    then linearly back down to 1/ratio at the last step (Howard & Ruder, 2018, eq. 3)."""
    if cut_fraction <= 0:
        return constant
    cut = max(1, math.floor(total_steps * cut_fraction))
    fall = max(1.0, cut * (1 / cut_fraction - 1))

    def factor(step: int) -> float:
        p = step / cut if step < cut else max(0.0, 1 - (step - cut) / fall)
        return (1 + p * (ratio - 1)) / ratio
    return factor
