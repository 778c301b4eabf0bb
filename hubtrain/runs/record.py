"""TaskRun: what a task's runs have done and are doing, kept apart from the task's network."""
from __future__ import annotations

import contextlib
from typing import Any, Iterator, Optional

from ..config import RunConfig
from ..engine.checkpoint import CheckpointManager
from ..engine.plan import TrainPlan
from ..engine.report import ScalarWriter
from ..state import RunEnv, StepHistory, TrainControl, TrainState

__all__ = ["TaskRun", "phase_name"]

_PHASE_ALIASES = {"val": "dev", "validate": "dev", "validation": "dev", "eval": "dev", "inference": "predict"}


def phase_name(phase: str) -> str:
    """PaddleHub's phase names: 'dev' for any name of the validation split."""
    return _PHASE_ALIASES.get(phase, phase)


class TaskRun:
    """The run state of one task: the phase stack and each phase's RunEnv, the data given per
    phase, the training plan and progress, the best model kept in memory, and the values
    `variable()` reads. The task's methods and the run's callbacks read and write it."""

    def __init__(self, config: RunConfig, data_reader: Any = None) -> None:
        self.config = config
        self.data_reader = data_reader
        self.phases: list[str] = []
        self.envs: dict[str, RunEnv] = {}
        self.datasets: dict[str, Any] = {}
        self.plan: Optional[TrainPlan] = None
        self.state = TrainState(seed=config.seed or 0)
        self.control = TrainControl()
        self.loop: Any = None                 # the training loop while a fit runs
        self.checkpoint_dir: Optional[str] = config.checkpoint_dir
        self.device = "cpu"
        self.optimization: Any = None         # what the strategy built: optimizer, schedule, callbacks
        self.guard: Any = None                # the NonFiniteGuard of the running fit
        self.frozen: Any = None               # FrozenBackbone of the latest fit whose backbone was frozen
        self.steps_schedule = True            # the step moves the LR schedule (no paddle LRScheduler callback)
        self.scalars: Optional[ScalarWriter] = None
        self.history = StepHistory()          # every training step's run state, for the end event
        self.period: list = []                # the run states since the last log
        self.step_lr: Optional[float] = None  # the learning rate the last training step used
        self.last_eval_step: Optional[int] = None
        self.last_save_step: Optional[int] = None
        self.live_weights = True              # False once the best model replaced the training weights
        self.best_weights: Optional[dict] = None  # the best model, when there is no checkpoint_dir
        self.last_results: dict = {}          # step kind -> that kind's last step results, newest last
        self.last_scores: Any = []            # metric objects last updated, or the last evaluation's result
        self.eval_sharded = False             # this evaluation is split between processes

    # phases ---------------------------------------------------------------------------------
    @property
    def phase(self) -> Optional[str]:
        return self.phases[-1] if self.phases else None

    @property
    def is_training(self) -> bool:
        """Whether a training run is under way (its evaluations included)."""
        return self.phases[:1] == ["train"]

    def env_of(self, phase: str) -> RunEnv:
        if phase not in self.envs:
            self.envs[phase] = RunEnv(phase, scalar_writer=self.scalar_writer)
        return self.envs[phase]

    @contextlib.contextmanager
    def in_phase(self, phase: str) -> Iterator[RunEnv]:
        self.phases.append(phase)
        env = self.env_of(phase)
        env.current_epoch = self.state.epoch
        try:
            yield env
        finally:
            self.phases.pop()

    # data per phase ---------------------------------------------------------------------------
    def phase_data(self, phase: str, dataset: Any = None) -> Any:
        phase = phase_name(phase)
        if dataset is not None:
            self.datasets[phase] = dataset
            return dataset
        if phase in self.datasets:
            return self.datasets[phase]
        if self.data_reader is not None and hasattr(self.data_reader, "get_dataset"):
            return self.data_reader.get_dataset(phase)
        return None

    def has_phase_data(self, phase: str) -> bool:
        data = self.phase_data(phase)
        return data is not None and (not hasattr(data, "__len__") or len(data) > 0)

    # where things are written -------------------------------------------------------------------
    def manager(self) -> Optional[CheckpointManager]:
        directory = self.plan.checkpoint_dir if self.plan else self.checkpoint_dir
        if directory is None:
            return None
        keep = self.plan.keep_checkpoint_max if self.plan else self.config.keep_checkpoint_max
        return CheckpointManager(directory, keep)

    def scalar_writer(self) -> ScalarWriter:
        if self.scalars is None:
            directory = self.plan.checkpoint_dir if self.plan else None
            enabled = directory is not None and self.config.use_vdl
            self.scalars = ScalarWriter(f"{directory}/visualdl" if directory else "", enabled)
        return self.scalars
