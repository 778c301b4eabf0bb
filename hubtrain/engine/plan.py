"""TrainPlan: the settled numbers of one training call, from a RunConfig or from hapi's fit arguments."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from ..config import RunConfig

__all__ = ["TrainPlan"]


@dataclass(frozen=True)
class TrainPlan:
    batch_size: int
    epochs: int
    shuffle: bool = True
    drop_last: bool = False
    num_workers: int = 0
    accumulate: int = 1
    max_steps: Optional[int] = None
    log_interval: int = 10
    eval_interval: Optional[int] = None
    save_interval: Optional[int] = None
    checkpoint_dir: Optional[str] = None
    keep_checkpoint_max: int = 3
    evaluate_at_end: bool = False
    verbose: bool = True
    group_by_length: bool = False

    @property
    def checkpoints(self) -> bool:
        return self.checkpoint_dir is not None

    @classmethod
    def from_config(cls, config: RunConfig, checkpoint_dir: str, evaluate: bool) -> "TrainPlan":
        """PaddleHub's finetune: everything from the RunConfig; dev evaluated every eval_interval."""
        return cls(batch_size=config.batch_size, epochs=config.num_epoch, shuffle=config.shuffle,
                   drop_last=config.drop_last, num_workers=config.num_workers,
                   accumulate=config.accumulate_steps, max_steps=config.max_steps,
                   log_interval=config.log_interval,
                   eval_interval=config.eval_interval if evaluate else None,
                   save_interval=config.save_ckpt_interval, checkpoint_dir=checkpoint_dir,
                   keep_checkpoint_max=config.keep_checkpoint_max, evaluate_at_end=evaluate,
                   group_by_length=config.group_by_length)

    @classmethod
    def from_fit(cls, config: RunConfig, batch_size: int, epochs: int, log_freq: int, save_dir: Optional[str],
                 verbose: int, drop_last: bool, shuffle: bool, num_workers: int, accumulate_grad_batches: int,
                 num_iters: Optional[int]) -> "TrainPlan":
        """hapi's fit: its arguments win; checkpoints only where a directory was named."""
        for name, value in (("batch_size", batch_size), ("epochs", epochs), ("log_freq", log_freq),
                            ("accumulate_grad_batches", accumulate_grad_batches)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"fit() argument {name} = {value!r} is not accepted: use a whole number >= 1.")
        if num_iters is not None and (not isinstance(num_iters, int) or num_iters < 1):
            raise ValueError(f"fit() argument num_iters = {num_iters!r} is not accepted: use None or a whole number >= 1.")
        return cls(batch_size=batch_size, epochs=epochs, shuffle=shuffle, drop_last=drop_last,
                   num_workers=num_workers, accumulate=accumulate_grad_batches,
                   max_steps=num_iters or config.max_steps, log_interval=log_freq,
                   save_interval=config.save_ckpt_interval if save_dir or config.checkpoint_dir else None,
                   checkpoint_dir=save_dir or config.checkpoint_dir,
                   keep_checkpoint_max=config.keep_checkpoint_max, verbose=verbose > 0,
                   group_by_length=config.group_by_length)
