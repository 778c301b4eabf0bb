"""BaseTask: a fine-tune task, a hub.Model (so a paddle.Model) whose network is backbone + head.

A task describes its network through PaddleHub's network events (`_build_net`, `_add_label`,
`_add_loss`, `_add_metrics`, `_postprocess`). It has two faces over the engine: paddle.Model's
(`prepare`, `fit`, `evaluate`, `predict`, the batch methods, `save`, `load`) and PaddleHub's
(`finetune_and_eval`, `finetune`, `eval`, `predict(data=...)`, the run events, `variable()`, the
programs); PaddleHub 1.x's further task methods (`_calculate_metrics`, `_postprocessing`,
`phase_guard`, `load_parameters`, ...) come from tasks/paddlehub1.py. What its runs did is kept
in `current_run` (runs/record.py), not in the task.
"""
from __future__ import annotations

import copy
import inspect
import logging
import os
import time
from typing import Any, Optional, Sequence

import numpy as np
import paddle
from paddle.static import InputSpec

from .. import cpu_math
from ..compat import paddle_private
from ..compat.hapi import Model
from ..config import RunConfig
from ..data.record_reader import RecordReader, record_reader
from ..engine import distributed
from ..engine.loop import CallbackPoints
from ..engine.plan import TrainPlan
from ..engine.report import log, logger
from ..engine.step import MeanOverAccumulation, StepContext, StepPoint
from ..metrics import metric_values
from ..runs import best_model, training
from ..runs.events import weighted_loss
from ..runs.predictions import PredictionWriter
from ..runs.record import TaskRun, phase_name
from ..runs.records import RecordList, is_records
from ..runs.summary import run_summary
from ..serialization.paddle_pickle import load_paddle_file
from ..state import RunEnv, RunState, TrainControl, TrainState
from ..zoo.feature import FeatureRef, as_feature
from . import introspect
from .net import TaskNet, feature_dim as measure_feature_dim
from .paddlehub1 import PaddleHub1Methods

__all__ = ["BaseTask"]


def _forward_arg_names(layer: paddle.nn.Layer) -> list[str]:
    params = list(inspect.signature(layer.forward).parameters.values())
    required = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
                and p.default is p.empty]
    return required or [p.name for p in params[:1]] or ["input"]


class BaseTask(PaddleHub1Methods, Model):
    """A fine-tune task. Subclasses define the head and its loss and metrics through the network
    events; the loops, checkpoints and logging come from the engine and runs/."""

    default_metrics: Sequence[str] = ()
    allowed_metrics: Sequence[str] = ()
    # Names of the network's outputs (further ones are output_<i>), for `variable(name)`; what
    # `predict` reports (`_postprocess`) goes by `predict_output_names` when the task sets them.
    output_names: Sequence[str] = ("logits",)
    predict_output_names: Optional[Sequence[str]] = None
    # predict's first output holds one probability per class (a row's "label" is its largest)
    predicts_class_probabilities = False

    def __init__(self, feature: Any, config: Optional[RunConfig] = None, data_reader: Any = None,
                 metrics_choices: Any = "default", inputs: Optional[list] = None,
                 feature_dim: Optional[int] = None, feed_list: Any = None, dataset: Any = None) -> None:
        # feed_list names static-graph variables in PaddleHub; the network's inputs play that role here.
        # dataset: PaddleHub 1.8's dataset built with a tokenizer, read through a RecordReader.
        self.config = config if config is not None else RunConfig()
        if not isinstance(self.config, RunConfig):
            raise TypeError(f"config must be a hub.RunConfig, got {type(self.config).__name__}.")
        if dataset is not None:
            if data_reader is not None:
                raise ValueError(f"{type(self).__name__}: pass dataset= (a dataset built with tokenizer=, PaddleHub "
                                 f"1.8) or data_reader= (a reader over a dataset, PaddleHub 1.7), not both.")
            data_reader = record_reader(dataset)
        self.dataset = dataset
        cpu_math.set_up(**self.config.cpu_request())  # before the feature-size dry run: MKL's first call
        self.data_reader = data_reader
        self.feature: FeatureRef = as_feature(feature)
        specs = inputs or self.feature.input_spec
        self.feature.input_spec = specs
        self.feature_dim = measure_feature_dim(self.feature, feature_dim)
        choices = self.default_metrics if metrics_choices == "default" else metrics_choices
        self.metrics_choices = [choices] if isinstance(choices, str) else list(choices)  # one name, or several
        if self.config.seed is not None:  # the head's first weights come from the seed asked for
            training.seed_everything(self.config.seed)
        head = self._build_net()
        head = head if isinstance(head, paddle.nn.Layer) else paddle.nn.Sequential(*head)
        self.labels = list(self._add_label() or [])
        extra = list(self._extra_inputs())
        network = TaskNet(self.feature, head, [e.name for e in extra])
        self.input_names = [s.name for s in specs] if specs else _forward_arg_names(self.feature.backbone)
        self.input_names += [e.name for e in extra]
        guessed = specs is None
        if guessed:
            names = self.input_names[:len(self.input_names) - len(extra)]
            specs = [InputSpec([None], "float32", name) for name in names]
        specs = list(specs) + extra
        super().__init__(network, specs, self.labels)
        if guessed:
            paddle_private.forget_input_shapes(self)  # learn the real shapes from the first batch
        if dataset is not None:  # the records feed the network's inputs by name, then the labels
            data_reader.bind(self.input_names, self.labels)
        self.current_run = TaskRun(self.config, data_reader)
        self.eval_metrics: list = []  # copies of the metrics for evaluations, apart from training's
        self.outputs: list = []
        self._checked: set[str] = set()
        self._programs: dict = {}
        self._check_metrics()

    # ------------------------------------------------------------------ network events
    def _check_metrics(self) -> None:
        """Refuse a metric the task cannot compute now, not at the first step."""
        self._add_metrics()

    def _build_net(self) -> paddle.nn.Layer | list:
        """The head: a Layer (or Layers applied in order) from the backbone's feature to the outputs."""
        raise NotImplementedError("a task must define _build_net() returning its head Layer(s)")

    def _add_label(self) -> list[InputSpec]:
        return []

    def _extra_inputs(self) -> list[InputSpec]:
        """Inputs the head takes after the feature (fed after the backbone's inputs), e.g. seq_len."""
        return []

    def _add_loss(self) -> Any:
        return None

    def _add_metrics(self) -> list[paddle.metric.Metric]:
        return []

    def _postprocess(self, outputs: list[paddle.Tensor]) -> list[paddle.Tensor]:
        """What `predict(data=...)` reports per batch: outputs made readable (e.g. probabilities)."""
        return outputs

    def _metric_inputs(self, outputs: list, labels: list) -> list:
        """What each metric's `compute` takes: the network's outputs, then the labels."""
        return outputs + labels

    # ------------------------------------------------------------------ phase and state
    @property
    def phase(self) -> Optional[str]:
        return self.current_run.phase

    @property
    def env(self) -> RunEnv:
        return self.current_run.env_of(self.phase or "train")

    @property
    def is_train_phase(self) -> bool:
        return self.phase == "train"

    @property
    def is_training(self) -> bool:
        """Whether a training run is under way (its evaluations included)."""
        return self.current_run.is_training

    @property
    def train_state(self) -> TrainState:
        return self.current_run.state

    @property
    def control(self) -> TrainControl:
        return self.current_run.control

    @property
    def current_step(self) -> int:
        return self.train_state.global_step if self.phase in (None, "train") else self.env.current_step

    @property
    def current_epoch(self) -> int:
        return self.train_state.epoch

    @property
    def checkpoint_dir(self) -> Optional[str]:
        return self.current_run.checkpoint_dir

    @property
    def weights_are_live(self) -> bool:
        """False once the best model replaced the training weights at the end of a run."""
        return self.current_run.live_weights

    def phase_data(self, phase: str, dataset: Any = None) -> Any:
        """The data of a phase: `dataset` (then kept for it), the one given before, or the reader's."""
        return self.current_run.phase_data(phase, dataset)

    def collate_fn(self) -> Any:
        """How the reader batches its samples (None: paddle's default)."""
        return getattr(self.data_reader, "collate_fn", None)

    def monitored_score(self, result: dict) -> Optional[tuple[str, float, bool]]:
        """(name, score, higher is better) of the dev score that picks the best model: the first
        metric's first value, or the loss for a task without metrics."""
        return best_model.monitored(self.eval_metrics, result)

    def load_best_model(self, missing_ok: bool = True) -> bool:
        """Put the best model of the last training run into the network; False when there is none."""
        return best_model.load_best(self, missing_ok)

    # ------------------------------------------------------------------ paddle.Model's face
    def prepare(self, optimizer: Any = None, loss: Any = None, metrics: Any = None,
                amp_configs: Any = None) -> None:
        """paddle.Model's prepare; loss and metrics default to the task's own (`_add_loss`,
        `_add_metrics`), mixed precision to the config's on a GPU."""
        loss = loss if loss is not None else self._add_loss()
        metrics = metrics if metrics is not None else self._add_metrics()
        cfg = self.config
        if amp_configs is None and cfg.use_amp and cfg.device == "gpu":
            amp_configs = cfg.amp_level
        super().prepare(optimizer, loss, metrics, amp_configs)
        self.eval_metrics = copy.deepcopy(self.metrics)

    def ensure_prepared(self) -> None:
        """prepare() with the task's own loss and metrics, unless it was called already."""
        if self.loss is None and not self.metrics and self.optimizer is None:
            self.prepare()

    def fit(self, train_data: Any = None, eval_data: Any = None, batch_size: Any = 1, epochs: int = 1,
            eval_freq: int = 1, log_freq: int = 10, save_dir: Optional[str] = None, save_freq: int = 1,
            verbose: int = 2, drop_last: bool = False, shuffle: bool = True, num_workers: int = 0,
            callbacks: Any = None, accumulate_grad_batches: int = 1, num_iters: Optional[int] = None, *,
            resume: bool = False) -> None:
        """paddle.Model's fit, with hubtrain's run events, non-finite checks and checkpoints in
        `save_dir` (or the config's checkpoint_dir); `resume=True` continues from the newest of them."""
        if train_data is None:
            raise ValueError("fit() needs train_data: a paddle.io.Dataset or DataLoader.")
        train_size, eval_size = batch_size if isinstance(batch_size, (list, tuple)) else (batch_size, batch_size)
        plan = TrainPlan.from_fit(self.config, train_size, epochs, log_freq, save_dir, verbose, drop_last,
                                  shuffle, num_workers, accumulate_grad_batches, num_iters)
        training.train(self, train_data, plan, callbacks, eval_data=eval_data, eval_freq=eval_freq, resume=resume,
                       eval_batch_size=eval_size)

    def evaluate(self, eval_data: Any, batch_size: int = 1, log_freq: int = 10, verbose: int = 2,
                 num_workers: int = 0, callbacks: Any = None, num_iters: Optional[int] = None) -> dict:
        """paddle.Model's evaluate; the loss returned is the sample-weighted mean over the split.
        Under several processes each rank evaluates its share and all report the merged result."""
        result = training.evaluate(self, self.phase if self.phase not in (None, "train") else "dev", eval_data,
                                   batch_size, num_workers, callbacks)
        return result

    def predict(self, test_data: Any = None, batch_size: int = 1, num_workers: int = 0,
                stack_outputs: bool = False, verbose: int = 1, callbacks: Any = None, *,
                data: Any = None, label_list: Optional[Sequence[str]] = None, load_best_model: bool = True,
                return_result: bool = False, output_file: Optional[str] = None,
                accelerate_mode: bool = True) -> Any:
        """paddle.Model's predict(test_data) -> outputs per output; PaddleHub's predict(data=[examples])
        -> list of RunState whose run_results[0] are probabilities (or the head's processed outputs),
        or with `return_result=True` (or `label_list=`) what PaddleHub 1.x returned, made by
        `_postprocessing(run_states, label_list)`: label names, `{label: 0/1}` dicts, values, tags
        per token, `{question id: answer}`. `data` may also be dicts of encoded fields by input name
        (PaddleHub 1.8 tokenizers' `encode()` output). With `output_file`, each sample's processed
        outputs go to that file as a JSON line while the batches come, nothing is kept, and the
        file's path is returned. `accelerate_mode` (PaddleHub 1.x's inference predictor) changes
        nothing here: prediction runs the network as training does (`RunConfig(to_static=True)`
        converts it)."""
        if data is not None:
            return self._predict_examples(data, load_best_model, return_result, output_file, label_list)
        if test_data is None:
            raise ValueError("predict() needs test_data (a Dataset or DataLoader) or data=[raw examples].")
        if output_file is None:
            kept = training.predict(self, test_data, batch_size, num_workers, callbacks,
                                    keep=lambda ctx: [o.numpy() for o in ctx.outputs])
            outputs = list(zip(*kept))
            return [np.vstack(outs) for outs in outputs] if stack_outputs else outputs
        names = self.predict_output_names or self.output_names
        writer = PredictionWriter(output_file, names, self.predicts_class_probabilities, self._label_names(label_list))
        extra = list(callbacks) if isinstance(callbacks, (list, tuple)) else ([callbacks] if callbacks else [])
        training.predict(self, test_data, batch_size, num_workers, [writer, *extra])
        return writer.path

    def train_batch(self, inputs: Any, labels: Any = None, update: bool = True) -> Any:
        """paddle.Model's train_batch; a batch may leave out the backbone's optional inputs."""
        self.ensure_prepared()
        if self.optimizer is None:
            raise RuntimeError("train_batch() needs an optimizer: call task.prepare(optimizer) first, or "
                               "train with finetune(), which builds the strategy's.")
        return super().train_batch(*self._split_fields(inputs, labels), update)

    def eval_batch(self, inputs: Any, labels: Any = None) -> Any:
        """paddle.Model's eval_batch; a batch may leave out the backbone's optional inputs."""
        self.ensure_prepared()
        return super().eval_batch(*self._split_fields(inputs, labels))

    def _split_fields(self, inputs: Any, labels: Any) -> tuple[list, list]:
        """Inputs and labels of a batch. Batches are split after the network's full count of
        inputs; one with fewer fields than that leaves optional inputs out (a text module fed
        `input_ids` alone) and has its labels among the inputs: its last fields are the labels."""
        inputs = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        labels = [] if labels is None else list(labels) if isinstance(labels, (list, tuple)) else [labels]
        wanted, count = len(self.labels), len(inputs) + len(labels)
        required = getattr(self.network, "required_inputs", None)
        if required is not None and len(labels) < wanted and required + wanted <= count < len(self.input_names):
            fields = inputs + labels
            inputs, labels = fields[:-wanted], fields[-wanted:]
        return inputs, labels

    def _saved_parameters(self, path: str) -> tuple[str, dict, Optional[str]]:
        """paddle.Model's `load` with messages that name the file and the fix: parameters from
        `path.pdparams` by structured name (read by hubtrain's restricted unpickler, which refuses
        a pickle that would run code before it runs), the optimizer from `path.pdopt`."""
        prefix, suffix = os.path.splitext(path)
        if suffix not in ("", ".pdparams", ".pdopt", ".pdmodel"):
            raise ValueError(f"load({path!r}): unknown suffix {suffix!r}; give the path task.save(path) was given, "
                             f"or its .pdparams file.")
        prefix = prefix if suffix else path
        params = prefix + ".pdparams"
        if not os.path.isfile(params):
            raise FileNotFoundError(f"load({path!r}): no parameters file {params}; give the path task.save(path) "
                                    f"was given (it wrote path.pdparams).")
        state = load_paddle_file(params, return_numpy=True)
        if not isinstance(state, dict) or not state:
            raise ValueError(f"{params} holds no parameters by name: give a file task.save(path) wrote.")
        return prefix, state, params

    # ------------------------------------------------------------------ the step, as the engine runs it
    def _step_points(self) -> list[StepPoint]:
        run = self.current_run
        points: list[StepPoint] = []
        if run.guard is not None:
            points.append(run.guard)
        if run.loop is not None and run.plan is not None and run.plan.accumulate > 1:
            points.append(MeanOverAccumulation(run.plan.accumulate))
        if run.loop is not None and any(run.loop.callbacks.has(e) for e in ("before_backward", "before_optimizer_step")):
            points.append(CallbackPoints(run.loop))
        return points

    def _step_schedule(self) -> Any:
        run = self.current_run
        if run.loop is None or not run.steps_schedule:
            return None
        if run.optimization is not None:
            return run.optimization.scheduler
        return paddle_private.lr_scheduler_of(self.optimizer)

    def _step_key(self) -> tuple:
        run = self.current_run
        return super()._step_key() + (run.guard, run.loop, run.plan)

    def _metric_args(self, outputs: list, labels: list) -> list:
        return self._metric_inputs(outputs, labels)

    def _metrics_for(self, phase: str) -> list:
        return self.eval_metrics if phase == "eval" else self.metrics

    def _merges_eval_batches(self) -> bool:
        return False  # a task's evaluation is split by samples and merged at its end (runs/training.py)

    def _train_step(self, inputs: list, labels: list, update: bool = True,
                    defer_sync: bool = False) -> tuple[StepContext, list]:
        return super()._train_step(*self._split_fields(inputs, labels), update, defer_sync)

    def _eval_step(self, inputs: list, labels: list) -> tuple[StepContext, list]:
        return super()._eval_step(*self._split_fields(inputs, labels))

    def _check_batch(self, phase: str, inputs: list, labels: list) -> None:
        """Once per phase: labels of the shape `_add_label` promised."""
        if phase in self._checked:
            return
        for spec, label in zip(self.labels, labels):
            want = [None if w in (None, -1) else w for w in spec.shape]
            got = list(label.shape)
            if len(want) != len(got) or any(w is not None and w != g for w, g in zip(want[1:], got[1:])):
                raise ValueError(
                    f"{phase} labels have shape {got}, but {type(self).__name__}._add_label() declares "
                    f"'{spec.name}' with shape {want}: make the dataset yield labels of that shape "
                    f"(e.g. np.array([label]) for [None, 1]) or change _add_label()."
                )
        if self.labels and len(labels) != len(self.labels):
            raise ValueError(f"{phase} batches carry {len(labels)} label field(s), but the task declares "
                             f"{len(self.labels)} in _add_label(): check what the dataset's __getitem__ returns.")
        self._checked.add(phase)

    # ------------------------------------------------------------------ PaddleHub's face
    def finetune_and_eval(self, train_dataset: Any = None, dev_dataset: Any = None, test_dataset: Any = None,
                          callbacks: Any = None) -> Sequence[RunState]:
        """Train, evaluate dev every `eval_interval` steps keeping the best model, then evaluate
        test with the best model. Resumes from the newest checkpoint in `checkpoint_dir`."""
        for phase, ds in (("dev", dev_dataset), ("test", test_dataset)):
            self.phase_data(phase, ds)
        return self._finetune(train_dataset, callbacks, evaluate=True)

    def finetune(self, train_dataset: Any = None, callbacks: Any = None) -> Sequence[RunState]:
        """Train only. Resumes from the newest checkpoint in `checkpoint_dir`."""
        return self._finetune(train_dataset, callbacks, evaluate=False)

    def _finetune(self, train_dataset: Any, callbacks: Any, evaluate: bool) -> Sequence[RunState]:
        run = self.current_run
        data = self.phase_data("train", train_dataset)
        if data is None:
            raise ValueError("no training data: pass train_dataset=..., or give the task a data_reader "
                             "whose dataset has a train split.")
        made = run.checkpoint_dir is None
        if made:
            run.checkpoint_dir = training.default_checkpoint_dir()
        plan = TrainPlan.from_config(self.config, run.checkpoint_dir, evaluate)
        try:
            return training.train(self, data, plan, callbacks)
        finally:
            if made:  # a run refused before it wrote anything leaves no empty directory behind
                training.remove_if_empty(run.checkpoint_dir)

    def eval(self, phase: str = "dev", dataset: Any = None, load_best_model: bool = False) -> list[RunState]:
        """Evaluate a split ('dev', 'test', ...); returns its run states, the scores in `self.env.result`
        after the run (`task.last_result(phase)`)."""
        phase = phase_name(phase)
        data = self.phase_data(phase, dataset)
        if data is None:
            raise ValueError(f"no data for phase '{phase}': pass dataset=..., or a data_reader with that split.")
        if load_best_model:
            self.load_best_model()
        training.evaluate(self, phase, data, self.config.batch_size, self.config.num_workers)
        return self.current_run.envs[phase].run_states

    def last_result(self, phase: str = "dev") -> Optional[dict]:
        env = self.current_run.envs.get(phase_name(phase))
        return env.result if env else None

    def _predict_examples(self, data: Sequence, load_best_model: bool, return_result: bool,
                          output_file: Optional[str] = None, label_list: Optional[Sequence[str]] = None) -> Any:
        dataset = self._predict_dataset(data)  # bad data is refused before any weights are loaded
        if load_best_model:
            self.load_best_model(missing_ok=True)
        self.phase_data("predict", dataset)  # what `_postprocessing` maps results back to
        if output_file is not None:
            return self.predict(dataset, batch_size=self.config.batch_size, output_file=output_file,
                                label_list=label_list)
        training.predict(self, dataset, self.config.batch_size)
        run_states = self.current_run.envs["predict"].run_states
        if return_result or label_list is not None:
            return self._postprocessing(run_states, label_list)
        return run_states

    def _predict_dataset(self, data: Sequence) -> Any:
        """The dataset `predict(data=...)` runs: encoded records by input name (through the
        task's RecordReader when it was built with `dataset=`), the reader's examples, or (without
        a reader) each example as its list of fields."""
        if is_records(data, self.input_names) and not isinstance(self.data_reader, RecordReader):
            extra = len(list(self._extra_inputs()))
            names = list(self.input_names)
            backbone_required = getattr(self.network, "required_inputs", len(names)) - extra
            required = names[:backbone_required] + names[len(names) - extra:]
            return RecordList(data, names, required, getattr(self.feature.backbone, "pad_token_id", None))
        if self.data_reader is not None and hasattr(self.data_reader, "examples_dataset"):
            return self.data_reader.examples_dataset(data)
        return training.ExampleList(data)

    def save_checkpoint(self, *_legacy: Any) -> Optional[str]:
        """Write a resumable checkpoint of the run now (PaddleHub passed epoch and step; the run's
        own state is used instead)."""
        return training.save_checkpoint(self)

    # ------------------------------------------------------------------ run events (hooks only)
    def _build_env_start_event(self) -> None:
        log("DEBUG", f"Start to build env {self.phase}", level=10)

    def _build_env_end_event(self) -> None:
        log("DEBUG", f"End of build env {self.phase}", level=10)

    def _finetune_start_event(self) -> None:
        log("INFO", "hubtrain finetune start")
        for line in run_summary(self):
            log("INFO", "  " + line)

    def _finetune_end_event(self, run_states: list[RunState]) -> None:
        log("INFO", "hubtrain finetune finished.")

    def _eval_start_event(self) -> None:
        log("INFO", f"Evaluation on {self.phase} dataset start")

    def _eval_end_event(self, run_states: list[RunState]) -> None:
        result = dict(self.env.result or {})
        steps = sum(rs.run_step for rs in run_states)
        used = time.time() - run_states[0].run_time_begin if run_states else 0.0
        scores = " ".join(f"{k}={v:.5f}" for k, v in result.items())
        log("EVAL", f"[{self.phase} dataset evaluation result] {scores} [step/sec: {steps / used if used else 0:.2f}]")
        self.current_run.scalar_writer().add_all(f"{self.phase}", result, self.train_state.global_step)

    def _predict_start_event(self) -> None:
        log("DEBUG", "hubtrain predict start", level=10)

    def _predict_end_event(self, run_states: list[RunState]) -> None:
        log("DEBUG", "hubtrain predict finished.", level=10)

    def _log_interval_event(self, run_states: list[RunState]) -> None:
        writer = self.current_run.scalar_writer()
        if not writer.enabled and not logger.isEnabledFor(logging.INFO):
            return
        state = self.train_state
        scores = {"loss": weighted_loss(run_states)} if self.loss is not None else {}
        scores.update(metric_values(self.metrics))
        lr = self.current_run.step_lr  # the rate the last step trained with, not the one the next will
        used = time.time() - run_states[0].run_time_begin
        speed = len(run_states) / used if used > 0 else 0.0
        text = " ".join(f"{k}={v:.5f}" for k, v in scores.items())
        lr_text = f" lr={lr:.3e}" if lr is not None else ""
        log("TRAIN", f"step {state.global_step} / {state.total_steps}: {text}{lr_text} [step/sec: {speed:.2f}]")
        writer.add_all("train", scores, state.global_step)
        if lr is not None:
            writer.add("train/lr", lr, state.global_step)

    def _save_ckpt_interval_event(self) -> None:
        self.save_checkpoint()

    def _eval_interval_event(self) -> None:
        self.eval(phase="dev")

    def _run_step_event(self, run_state: RunState) -> None:
        pass

    # ------------------------------------------------------------------ PaddleHub introspection
    def metric_variable_names(self) -> list[str]:
        """"loss" and the names the task's metrics report (a metric may report several)."""
        metrics = (self.eval_metrics or self.metrics) if (self.loss is not None or self.metrics) \
            else self._add_metrics()
        return ["loss"] + introspect.metric_names(metrics)

    def variable(self, name: str) -> Any:
        """The last value of a loss, metric or network output, as numpy (None for a name the task
        has before any run produced it; an unknown name raises). After an evaluation the loss and
        metrics are that split's (sample-weighted loss, metric over the split); during or after
        training, the last step's loss and the metrics so far in the epoch."""
        return introspect.variable(self, name)

    def main_program(self) -> Any:
        """The static Program of the network and its loss, traced in training mode with
        `paddle.jit.to_static` from the input and label specs (built once, then cached)."""
        return introspect.traced(self, "main").main_program

    def inference_program(self) -> Any:
        """The static Program of the network alone, traced in inference mode (dropout off)."""
        return introspect.traced(self, "inference").main_program

    def startup_program(self) -> Any:
        """The startup Program of the traced main program: the ops that would create and
        initialise the parameters in a static-graph executor. In dygraph the parameters already
        exist and hold their (trained) values, so it is for inspection: running it would reset them."""
        return introspect.traced(self, "main").startup_program

    # ------------------------------------------------------------------ inference export
    def export(self, path: str, *, postprocess: bool = True) -> str:
        """Write the network (with what `predict(data=...)` reports on top, when it can be traced)
        and its preprocessing to the directory `path`, for `hub.Predictor` and ONNX. Under several
        processes rank 0 writes it and the others wait for it."""
        from ..export import export_task

        written = export_task(self, path, postprocess=postprocess) if distributed.rank() == 0 else os.path.abspath(path)
        distributed.barrier()
        return written

    def __repr__(self) -> str:
        return f"{type(self).__name__}(feature_dim={self.feature_dim}, metrics={self.metrics_choices})"
