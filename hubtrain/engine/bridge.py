"""EventBridge: hapi's callback hooks in, PaddleHub's run events out.

hapi numbers steps from 0 in every epoch, shares one `logs` dict between phases and reports
only the last batch's loss; the bridge keeps the run's own count in `task.train_state`, builds
a RunState per step and averages losses by sample count. It does the bookkeeping first in every
hook; what to do about a step (log, evaluate, save, stop) is decided in `task.control` and acted
on by `ControlDispatch`, which runs after all other callbacks so any of them can set a flag.
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import paddle

from ..state import RunState, StepHistory
from .distributed import global_weighted_loss

if TYPE_CHECKING:
    from ..tasks.base import BaseTask

__all__ = ["EventBridge", "ControlDispatch", "OptimizerStepLR"]


def weighted_loss(run_states: list[RunState]) -> float:
    """Sample-weighted mean of the first result (the loss) over run states."""
    examples = sum(rs.run_examples for rs in run_states)
    if not examples:
        return float("nan")
    # a step that counts no samples (a batch left out for a non-finite loss) adds nothing
    return sum(float(rs.result(0)) * rs.run_examples for rs in run_states if rs.run_examples) / examples


class EventBridge(paddle.callbacks.Callback):
    """Runs first among the callbacks (after SignalStop, which only sets flags): counts steps,
    makes RunStates, fires the run events."""

    def __init__(self, task: "BaseTask", plan: Any = None) -> None:
        super().__init__()
        self.task = task
        self.plan = plan
        self._period: list[RunState] = []
        self._all = StepHistory()
        self._t0 = 0.0

    # -- training ------------------------------------------------------------------------
    def on_train_begin(self, logs=None) -> None:
        self.task._push_phase("train")
        self._period, self._all = [], StepHistory()
        self.task._finetune_start_event()

    def on_epoch_begin(self, epoch, logs=None) -> None:
        self.task._start_epoch()

    def on_train_batch_begin(self, step, logs=None) -> None:
        self._t0 = time.time()

    def on_train_batch_end(self, step, logs=None) -> None:
        task, state, plan = self.task, self.task.train_state, self.plan
        run_state = task._take_step(self._t0)
        # the rate this step used: read before the LR callbacks (after this one) step the schedule
        optimizer = task._optimizer
        task._step_lr = optimizer.get_lr() if optimizer is not None else None
        state.global_step += 1
        state.step_in_epoch += 1
        if state.step_in_epoch >= state.steps_per_epoch:
            state.epoch, state.step_in_epoch = state.epoch + 1, 0
        task.env.current_step = state.global_step
        self._period.append(run_state)
        task._run_step_event(run_state)

        control, step = task.control, state.global_step
        control.should_log |= step % plan.log_interval == 0
        every = plan.eval_interval
        due = state.step_in_epoch == 0 if every == "epoch" else bool(every) and step % every == 0
        control.should_evaluate |= due and task._has_phase_data("dev")
        control.should_save |= bool(plan.save_interval) and step % plan.save_interval == 0
        control.should_stop |= step >= state.total_steps

    def on_train_end(self, logs=None) -> None:
        """PaddleHub's close of a run: a last dev evaluation, the final checkpoint, the test split
        on the best model, then `_finetune_end_event` with every step's run state."""
        task, state, plan = self.task, self.task.train_state, self.plan
        self._all.extend(self._period)
        self._period = []
        state.stopped = state.global_step < state.total_steps
        final_eval = plan.evaluate_at_end and task._has_phase_data("dev") and task._last_eval_step != state.global_step
        if final_eval:
            task.eval(phase="dev")
        # the last checkpoint comes after the last evaluation, so it holds the final best score too
        if plan.checkpoints and (final_eval or task._last_save_step != state.global_step):
            task.save_checkpoint()
        if plan.evaluate_at_end and task._has_phase_data("test"):
            task._load_best_model()
            task.eval(phase="test")
        task._finetune_end_event(self._all)
        task._pop_phase()

    def flush_period(self) -> list[RunState]:
        """The run states since the last log; kept (loss only) for the end-of-run event."""
        period, self._period = self._period, []
        for rs in period:
            rs.keep_only(1)  # release the outputs before anything copies them
        self._all.extend(period)
        return period

    def act(self) -> None:
        """Carry out what the flags ask for, in PaddleHub's order: log, evaluate, save; then stop."""
        task, control = self.task, self.task.control
        if control.should_log and self._period:
            period = self._period
            task._log_interval_event(period)
            self.flush_period()
        if control.should_evaluate:
            task._eval_interval_event()
        if control.should_save:
            task._save_ckpt_interval_event()
        if control.should_stop:
            task._request_stop()
        control.reset()

    # -- evaluation and prediction -------------------------------------------------------
    def _begin(self, phase: str) -> None:
        task = self.task
        task._push_phase(phase)
        task.env.run_states = []
        task.env.current_step = 0

    def _batch_begin(self, step, logs=None) -> None:
        self._t0 = time.time()

    def _batch_end(self, step, logs=None) -> None:
        task = self.task
        run_state = task._take_step(self._t0)
        task.env.run_states.append(run_state)
        task.env.current_step += 1
        task._run_step_event(run_state)

    on_eval_batch_begin = on_predict_batch_begin = _batch_begin
    on_eval_batch_end = on_predict_batch_end = _batch_end

    def on_eval_begin(self, logs=None) -> None:
        self._begin(self.task._pending_eval_phase or "dev")
        self.task._eval_start_event()

    def on_eval_end(self, logs=None) -> None:
        task = self.task
        env = task.env
        if task._eval_sharded:  # every rank saw a share: the merged metrics, the loss over all ranks
            merged = task._merged_scores()
            result = {name: merged[name] for name in task._metrics_name() if name in merged}
            if task._loss:
                result["loss"] = global_weighted_loss(env.run_states)
        else:
            result = {name: logs[name] for name in task._metrics_name() if logs and name in logs}
            if task._loss and env.run_states:
                result["loss"] = weighted_loss(env.run_states)
        if logs is not None:
            logs.update(result)  # what hapi's evaluate() returns
        env.result = result
        if logs is not None:
            logs["phase"] = task.phase  # for the callbacks after this one; evaluate() returns metrics only
        if task.phase == "dev":
            task._last_eval_step = task.train_state.global_step
        task._eval_end_event(env.run_states)
        task._pop_phase()

    def on_predict_begin(self, logs=None) -> None:
        self._begin("predict")
        self.task._predict_start_event()

    def on_predict_end(self, logs=None) -> None:
        self.task._predict_end_event(self.task.env.run_states)
        self.task._pop_phase()


class ControlDispatch(paddle.callbacks.Callback):
    """Runs last among the callbacks: acts on the step's flags once every callback had its say."""

    def __init__(self, bridge: EventBridge) -> None:
        super().__init__()
        self.bridge = bridge

    def on_train_batch_end(self, step, logs=None) -> None:
        self.bridge.act()

    def on_eval_end(self, logs=None) -> None:
        """A stop asked for during an evaluation that hapi ran between epochs (fit's eval_data)."""
        task = self.bridge.task
        if task.control.should_stop and task._phases[:1] == ["train"]:
            task._request_stop()


class OptimizerStepLR(paddle.callbacks.LRScheduler):
    """Steps the LR schedule once per optimizer step (hapi's default steps it every batch,
    which is wrong under gradient accumulation). Being an `LRScheduler`, it replaces hapi's."""

    def __init__(self) -> None:
        super().__init__(by_step=True, by_epoch=False)
        self._seen = 0

    def on_train_begin(self, logs=None) -> None:
        self._seen = self.model.train_state.optimizer_step

    def on_train_batch_end(self, step, logs=None) -> None:
        done = self.model.train_state.optimizer_step
        scheduler = getattr(self.model._optimizer, "_learning_rate", None)
        if isinstance(scheduler, paddle.optimizer.lr.LRScheduler):
            for _ in range(done - self._seen):
                scheduler.step()
        self._seen = done

    def on_epoch_end(self, epoch, logs=None) -> None:
        pass
