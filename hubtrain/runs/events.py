"""PaddleHub's run events on the engine's loop.

`RunEvents` runs early at every event: it keeps the run's records (a RunState per step, each
phase's RunEnv and result, the best model) and then calls the task's event methods, which are
hooks only: a task that overrides `_eval_end_event` or `_log_interval_event` without calling
`super()` changes what is logged, not which model is kept. At the end of a training batch it
decides what is due (log, evaluate, save, stop) in the loop's `control`; `Dispatch` runs last
and acts on those flags, so any callback in between can set or clear one.
"""
from __future__ import annotations

import inspect
import time
from typing import TYPE_CHECKING, Any, Callable

from ..engine import distributed
from ..engine.events import Callback
from ..metrics import metric_values
from ..state import RunState
from .best_model import load_best, track_best

if TYPE_CHECKING:
    from ..engine.loop import Loop
    from ..tasks.base import BaseTask

__all__ = ["RunEvents", "Dispatch", "weighted_loss", "call_event"]

_KINDS = {"train": "train", "eval": "eval", "predict": "test"}  # paddle.Model's mode names


def weighted_loss(run_states: list[RunState]) -> float:
    """Sample-weighted mean of the first result (the loss) over run states."""
    examples = sum(rs.run_examples for rs in run_states)
    if not examples:
        return float("nan")
    # a step that counts no samples (a batch left out for a non-finite loss) adds nothing
    return sum(float(rs.result(0)) * rs.run_examples for rs in run_states if rs.run_examples) / examples


_TAKES: dict = {}  # event function -> whether it takes the run states its caller passes


def call_event(task: "BaseTask", name: str, *args: Any) -> Any:
    """Call the run event `name`, passing `args` only when the method takes them: PaddleHub 1.x's
    documentation shows `_finetune_end_event(self)` and `_predict_end_event(self)`, without the
    run states the loop hands them, and scripts copied it."""
    method: Callable = getattr(task, name)
    if args:
        key = getattr(method, "__func__", method)
        takes = _TAKES.get(key)
        if takes is None:
            try:
                inspect.signature(method).bind(*args)
                takes = True
            except TypeError:
                takes = False
            except ValueError:  # no signature to read: pass the arguments
                takes = True
            _TAKES[key] = takes
        if not takes:
            return method()
    return method(*args)


class RunEvents(Callback):
    """The run's records and the task's run events."""

    order = -10

    def __init__(self, task: "BaseTask") -> None:
        self.task = task
        self.run = task.current_run
        self._t0 = 0.0

    # training ------------------------------------------------------------------------------
    def fit_begin(self, loop: "Loop") -> None:
        self.run.period = []
        self.task._finetune_start_event()

    def epoch_begin(self, loop: "Loop") -> None:
        self.task.env.current_epoch = loop.state.epoch
        self.task.metric_feed.start()  # training metrics are counted when read (engine/deferred_metrics.py)

    def batch_begin(self, loop: "Loop") -> None:
        self._t0 = time.time()
        if loop.phase == "train":
            optimizer = self.task.optimizer  # the rate this step uses, before the step moves the schedule
            self.run.step_lr = optimizer.get_lr() if optimizer is not None else None

    def batch_end(self, loop: "Loop") -> None:
        task, run, ctx = self.task, self.run, loop.result
        if loop.phase == "train":
            examples = 0 if ctx.skip_backward else loop.batch.size
            results = [ctx.host_loss if ctx.host_loss is not None else ctx.loss.detach()]
            results += [o.detach() for o in ctx.outputs]
        elif loop.phase == "eval":
            examples = loop.batch.size
            results = ([ctx.loss.numpy().copy()] if ctx.loss is not None else []) + list(ctx.outputs)
        else:
            examples = loop.batch.size
            results = task._postprocess(ctx.outputs)
        task.outputs = results
        run_state = RunState.of_step(examples, results, self._t0)
        run.last_results.pop(_KINDS[loop.phase], None)
        run.last_results[_KINDS[loop.phase]] = results
        if loop.phase == "train":
            self._train_step_done(loop, run_state)
        else:
            task.env.run_states.append(run_state)
            task.env.current_step += 1
        call_event(task, "_run_step_event", run_state)

    def _train_step_done(self, loop: "Loop", run_state: RunState) -> None:
        run, state, plan = self.run, loop.state, self.run.plan
        self.task.env.current_step = state.global_step
        run.period.append(run_state)
        run.last_scores = self.task.metrics
        control, step = loop.control, state.global_step
        control.should_log |= step % plan.log_interval == 0
        every = plan.eval_interval
        due = state.step_in_epoch == loop.steps if every == "epoch" else bool(every) and step % every == 0
        control.should_evaluate |= due and run.has_phase_data("dev")
        control.should_save |= bool(plan.save_interval) and step % plan.save_interval == 0
        control.should_stop |= step >= state.total_steps

    def flush_period(self) -> list[RunState]:
        """The run states since the last log; kept (loss only) for the end-of-run event."""
        period, self.run.period = self.run.period, []
        for rs in period:
            rs.keep_only(1)  # release the outputs before anything copies them
        self.run.history.extend(period)
        return period

    def fit_end(self, loop: "Loop") -> None:
        """PaddleHub's close of a run: a last dev evaluation, the final checkpoint, the test split
        on the best model, then `_finetune_end_event` with every step's run state."""
        task, run, state, plan = self.task, self.run, loop.state, self.run.plan
        self.flush_period()
        state.stopped = state.global_step < state.total_steps
        final_eval = plan.evaluate_at_end and run.has_phase_data("dev") and run.last_eval_step != state.global_step
        if final_eval:
            task.eval(phase="dev")
        # the last checkpoint comes after the last evaluation, so it holds the final best score too
        if plan.checkpoints and (final_eval or run.last_save_step != state.global_step):
            task.save_checkpoint()
        if plan.evaluate_at_end and run.has_phase_data("test"):
            load_best(task)
            task.eval(phase="test")
        call_event(task, "_finetune_end_event", run.history)

    # evaluation and prediction --------------------------------------------------------------
    def _pass_begins(self) -> None:
        env = self.task.env
        env.run_states, env.current_step = [], 0

    def eval_begin(self, loop: "Loop") -> None:
        self._pass_begins()
        env = self.task.env
        env.result, env.details = None, {}  # an evaluation under way has no result yet
        self.task._eval_start_event()

    def eval_end(self, loop: "Loop") -> None:
        task, run = self.task, self.run
        env = task.env
        metrics = task.eval_metrics
        if run.eval_sharded:  # every rank saw a share: the merged metrics, the loss over all ranks
            distributed.merge_metrics(metrics)
        result = {}
        if task.loss is not None and env.run_states:
            result["loss"] = distributed.global_weighted_loss(env.run_states) if run.eval_sharded \
                else weighted_loss(env.run_states)
        result.update(metric_values(metrics))
        env.details = task._metric_details(metrics)  # before the reset empties the metrics
        for metric in metrics:
            metric.reset()
        env.result = run.last_scores = result
        if task.phase == "dev" and run.is_training:
            run.last_eval_step = loop.state.global_step
            track_best(task, result)
        call_event(task, "_eval_end_event", env.run_states)

    def predict_begin(self, loop: "Loop") -> None:
        self._pass_begins()
        self.task._predict_start_event()

    def predict_end(self, loop: "Loop") -> None:
        call_event(self.task, "_predict_end_event", self.task.env.run_states)


class Dispatch(Callback):
    """Runs last: carries out what the step's flags ask for, in PaddleHub's order (log, evaluate,
    save), then ends the epoch when a stop was asked for."""

    order = 100

    def __init__(self, task: "BaseTask", events: RunEvents) -> None:
        self.task, self.events = task, events

    def batch_end(self, loop: "Loop") -> None:
        if loop.phase != "train":
            return
        task, control = self.task, loop.control
        if control.should_log and task.current_run.period:
            task.metric_feed.flush()
            call_event(task, "_log_interval_event", task.current_run.period)
            self.events.flush_period()
        if control.should_evaluate:
            task._eval_interval_event()
        if control.should_save:
            task._save_ckpt_interval_event()
        control.should_log = control.should_evaluate = control.should_save = False
        if control.should_stop:
            control.should_end_pass = True

    def epoch_end(self, loop: "Loop") -> None:
        """The epoch's training metrics, kept for `variable()`, then reset for the next epoch."""
        task = self.task
        task.metric_feed.stop()
        task.current_run.last_scores = metric_values(task.metrics)
        for metric in task.metrics:
            metric.reset()
