"""RunConfig: every option of a run, checked once, up front."""
from __future__ import annotations

import difflib
from dataclasses import dataclass, fields
from typing import Any, Callable, Optional

from .log import ensure_output, logger

__all__ = ["RunConfig", "STATIC_GRAPH_OPTIONS"]


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _positive_int(v: Any) -> bool:
    return _is_int(v) and v > 0


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _optional(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda v: v is None or check(v)


def _one_of(*choices: Any) -> Callable[[Any], bool]:
    return lambda v: v in choices


# name -> (check, what an accepted value looks like)
_RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "use_cuda": (_optional(lambda v: isinstance(v, bool)),
                 "True (a GPU; the CPU, with a warning, when paddle sees none), False or None (GPU if one is visible)"),
    "num_epoch": (_positive_int, "a whole number >= 1"),
    "batch_size": (_positive_int, "a whole number >= 1"),
    "strategy": (lambda v: v is None or hasattr(v, "build"), "a hubtrain strategy (e.g. hub.AdamWeightDecayStrategy()) or None"),
    "log_interval": (_positive_int, "a whole number of steps >= 1"),
    "eval_interval": (lambda v: v is None or v == "epoch" or _positive_int(v),
                      "a whole number of steps >= 1, 'epoch' (at the end of every epoch), or None (at the end only)"),
    "save_ckpt_interval": (_optional(_positive_int), "a whole number of steps >= 1, or None (save at the end only)"),
    "checkpoint_dir": (_optional(lambda v: isinstance(v, str) and v != ""),
                       "a directory path (resumed from its newest checkpoint), or None "
                       "(a new ckpt_<timestamp>_<pid>_<random> of the run's own)"),
    "use_data_parallel": (lambda v: isinstance(v, bool), "True or False (it does nothing in dygraph)"),
    "seed": (_optional(lambda v: _is_int(v) and v >= 0),
             "a whole number >= 0, or None (nothing seeded; the batch order is drawn afresh and kept for resume)"),
    "max_steps": (_optional(_positive_int), "a whole number of steps >= 1, or None (run num_epoch epochs)"),
    "accumulate_steps": (_positive_int, "a whole number >= 1"),
    "grad_clip_norm": (_optional(lambda v: _number(v) and v > 0),
                       "a number > 0, or None (no clipping)"),
    "use_amp": (lambda v: isinstance(v, bool), "True or False"),
    "amp_level": (_one_of("O1", "O2"), "'O1' or 'O2'"),
    "amp_dtype": (_one_of("float16", "bfloat16"), "'float16' or 'bfloat16'"),
    "to_static": (lambda v: isinstance(v, bool), "True or False"),
    "num_workers": (lambda v: _is_int(v) and v >= 0, "a whole number >= 0"),
    "keep_checkpoint_max": (_positive_int, "a whole number >= 1"),
    "shuffle": (lambda v: isinstance(v, bool), "True or False"),
    "drop_last": (lambda v: isinstance(v, bool), "True or False"),
    "use_vdl": (lambda v: isinstance(v, bool), "True or False"),
    "early_stopping_patience": (_optional(_positive_int), "a whole number of dev evaluations >= 1, or None (off)"),
    "early_stopping_min_delta": (lambda v: _number(v) and v >= 0, "a number >= 0"),
    "ema_decay": (_optional(lambda v: _number(v) and 0 < v < 1), "a number in (0, 1), e.g. 0.999, or None (off)"),
    "on_nonfinite": (_one_of("stop", "skip"), "'stop' (end the run naming the step and its samples) "
                                              "or 'skip' (leave the batch out and count it)"),
    "check_gradients": (lambda v: isinstance(v, bool),
                        "True or False (gradients are always checked when grad_clip_norm is set)"),
    "cpu_threads": (_optional(_positive_int),
                    "a whole number of CPU math threads >= 1, or None (the cores this process may use, shared "
                    "among the processes on this node)"),
    "cpu_fast_path": (_optional(lambda v: isinstance(v, bool)),
                      "True, False, or None (MKL's AVX2 path on non-Intel processors with AVX2)"),
    "cpu_setup": (lambda v: isinstance(v, bool), "True, or False (leave paddle's CPU math settings alone)"),
    "feature_cache": (lambda v: isinstance(v, bool),
                      "True (a backbone frozen for the whole run computes each example's feature once) or False"),
    "group_by_length": (lambda v: isinstance(v, bool),
                        "True (training batches of similar length, from a text reader's split) or False"),
}


# PaddleHub 1.x's static-graph options: accepted, so a 1.x script runs as written, with one warning
# naming those set to True, since dygraph has no use for them. name -> what takes its place
STATIC_GRAPH_OPTIONS: dict[str, str] = {
    "use_pyreader": "batches come from paddle.io.DataLoader; num_workers=N reads them in worker processes",
    "enable_memory_optim": "dygraph frees each tensor as soon as nothing refers to it",
    "use_data_parallel": "several processes come from `python -m paddle.distributed.launch`, which splits the "
                         "data among them",
}


@dataclass(init=False)
class RunConfig:
    """How a task runs: devices, epochs, intervals, checkpoints and training controls.

    Every option is keyword-only and checked when the config is made, so a typo fails
    before any work starts rather than hours later.
    """

    use_cuda: Optional[bool] = None
    num_epoch: int = 1
    batch_size: int = 32
    strategy: Any = None
    log_interval: int = 10
    eval_interval: Optional[int | str] = 100
    save_ckpt_interval: Optional[int] = None
    checkpoint_dir: Optional[str] = None
    use_data_parallel: bool = True
    seed: Optional[int] = None
    max_steps: Optional[int] = None
    accumulate_steps: int = 1
    grad_clip_norm: Optional[float] = None
    use_amp: bool = False
    amp_level: str = "O1"
    amp_dtype: str = "float16"
    to_static: bool = False
    num_workers: int = 0
    keep_checkpoint_max: int = 3
    shuffle: bool = True
    drop_last: bool = False
    group_by_length: bool = False
    feature_cache: bool = True
    use_vdl: bool = True
    early_stopping_patience: Optional[int] = None
    early_stopping_min_delta: float = 0.0
    ema_decay: Optional[float] = None
    on_nonfinite: str = "stop"
    check_gradients: bool = False
    cpu_threads: Optional[int] = None
    cpu_fast_path: Optional[bool] = None
    cpu_setup: bool = True

    def __init__(self, **options: Any) -> None:
        names = [f.name for f in fields(self)]
        static = {key: options.pop(key) for key in list(options) if key in STATIC_GRAPH_OPTIONS and key not in names}
        for key in options:
            if key not in names:
                near = difflib.get_close_matches(key, names + list(STATIC_GRAPH_OPTIONS), n=1)
                hint = f" Did you mean '{near[0]}'?" if near else ""
                raise ValueError(
                    f"RunConfig got an unknown option '{key}'.{hint} "
                    f"Accepted options: {', '.join(names)}; and, ignored with a warning, PaddleHub 1.x's "
                    f"{', '.join(k for k in STATIC_GRAPH_OPTIONS if k not in names)}."
                )
        for f in fields(self):
            setattr(self, f.name, options.get(f.name, f.default))
        self.validate()
        for key, value in static.items():  # kept, so a script that reads them back finds them
            setattr(self, key, value)
        asked = {**options, **static}
        given = [key for key in STATIC_GRAPH_OPTIONS if asked.get(key)]  # False asks for what dygraph does anyway
        if given:
            ensure_output()
            logger.warning("RunConfig: PaddleHub 1.x's static-graph options do nothing in dygraph and are ignored: %s.",
                           "; ".join(f"{k} ({STATIC_GRAPH_OPTIONS[k]})" for k in given),
                           extra={"tag": "WARNING"})

    def validate(self) -> None:
        """Raise ValueError naming the first option whose value is not accepted."""
        for name, (check, accepted) in _RULES.items():
            value = getattr(self, name)
            if not check(value):
                raise ValueError(f"RunConfig option '{name}' = {value!r} is not accepted: use {accepted}.")
        if self.early_stopping_min_delta and self.early_stopping_patience is None:
            raise ValueError("RunConfig option 'early_stopping_min_delta' is set but early stopping is off: "
                             "set early_stopping_patience too (the number of dev evaluations without improvement).")
        if self.ema_decay is not None:
            self.ema_decay = float(self.ema_decay)

    @property
    def device(self) -> str:
        """'gpu' when asked for (or, with use_cuda=None, when one is visible), else 'cpu'.
        `use_cuda=True` where paddle sees no GPU runs on the CPU with one warning: PaddleHub 1.x
        scripts hard-code it (the autofinetune trials), and a run that stops for it helps no one."""
        import paddle

        has_gpu = paddle.is_compiled_with_cuda() and paddle.device.cuda.device_count() > 0
        if self.use_cuda and not has_gpu:
            if not getattr(self, "_warned_no_gpu", False):
                self._warned_no_gpu = True
                ensure_output()
                logger.warning("RunConfig(use_cuda=True), but this paddle sees no GPU: running on the CPU. Install "
                               "paddlepaddle-gpu on a machine with CUDA to train on a GPU, or pass use_cuda=False "
                               "(or None: a GPU when one is visible) to say so.", extra={"tag": "WARNING"})
            return "cpu"
        return "gpu" if (self.use_cuda is None and has_gpu) or self.use_cuda else "cpu"

    def cpu_request(self) -> dict[str, Any]:
        """What this config asks of the CPU math set-up (hubtrain/cpu_math.py); defaults ask nothing."""
        return {"threads": self.cpu_threads, "fast_path": self.cpu_fast_path,
                "enabled": None if self.cpu_setup else False}

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["strategy"] = repr(self.strategy) if self.strategy is not None else None
        return out
