"""BaseTask: a `paddle.Model` whose network is backbone + head, with PaddleHub's network events,
run events and PaddleHub-style runs (`finetune_and_eval`, `eval`, `predict(data=...)`)."""
from __future__ import annotations

import contextlib
import copy
import inspect
import logging
import math
import os
import time
from typing import Any, Iterator, Optional, Sequence

import paddle
from paddle.static import InputSpec

from ..config import RunConfig
from ..engine import distributed, training
from ..engine.epoch import run_epoch
from ..engine.bridge import weighted_loss
from ..engine.checkpoint import WEIGHTS, CheckpointManager
from ..engine.compile import compile_forward
from ..engine.deferred_metrics import DeferredMetrics
from ..engine.numerics import NonFiniteGuard
from ..engine.plan import TrainPlan
from ..engine.prediction import PredictionWriter
from ..engine.report import ScalarWriter, log, logger
from ..engine.resume import check_network
from ..engine.steps import TaskAdapter, clear_grad_args
from ..engine.summary import run_summary
from ..metrics import HubMetric
from ..state import RunEnv, RunState, TrainControl, TrainState
from ..zoo.feature import FeatureRef, as_feature
from . import introspect
from .net import TaskNet, feature_dim as measure_feature_dim

__all__ = ["BaseTask"]

_PHASE_ALIASES = {"val": "dev", "validate": "dev", "validation": "dev", "eval": "dev", "inference": "predict"}


def _forward_arg_names(layer: paddle.nn.Layer) -> list[str]:
    params = list(inspect.signature(layer.forward).parameters.values())
    required = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
                and p.default is p.empty]
    return required or [p.name for p in params[:1]] or ["input"]


class BaseTask(paddle.Model):
    """A fine-tune task. Subclasses define the head and its loss and metrics through the network
    events; everything else (loops, checkpoints, logging) comes from here and hapi."""

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
                 feature_dim: Optional[int] = None, feed_list: Any = None) -> None:
        # feed_list names static-graph variables in PaddleHub; the network's inputs play that role here.
        self.config = config if config is not None else RunConfig()
        if not isinstance(self.config, RunConfig):
            raise TypeError(f"config must be a hub.RunConfig, got {type(self.config).__name__}.")
        self.data_reader = data_reader
        self.feature: FeatureRef = as_feature(feature)
        specs = inputs or self.feature.input_spec
        self.feature.input_spec = specs
        self.feature_dim = measure_feature_dim(self.feature, feature_dim)
        choices = self.default_metrics if metrics_choices == "default" else metrics_choices
        self.metrics_choices = [choices] if isinstance(choices, str) else list(choices)  # one name, or several
        # the head's first weights come from the run's seed, so two runs with one seed start alike
        training.seed_everything(self.config.seed)
        head = self._build_net()
        head = head if isinstance(head, paddle.nn.Layer) else paddle.nn.Sequential(*head)
        self.labels = list(self._add_label() or [])
        extra = list(self._extra_inputs())
        network = TaskNet(self.feature, head, [e.name for e in extra])
        self._input_names = [s.name for s in specs] if specs else _forward_arg_names(self.feature.backbone)
        self._input_names += [e.name for e in extra]
        guessed = specs is None
        if guessed:
            names = self._input_names[:len(self._input_names) - len(extra)]
            specs = [InputSpec([None], "float32", name) for name in names]
        specs = list(specs) + extra
        super().__init__(network, specs, self.labels)
        if guessed:
            self._input_info = None  # learn the real shapes from the first batch
        self._adapter = TaskAdapter.adopt(self._adapter)
        self._metrics: list = []
        self._deferred = DeferredMetrics()  # training metric inputs not yet fed to the metrics
        self._scaler = None
        self._clear_grad_args: dict = {}
        self._numerics = NonFiniteGuard.from_config(self.config)  # a run makes its own
        self._optimization = None  # what the strategy built: optimizer, schedule, callbacks
        self._live_weights = True  # False once the best model replaced the training weights
        self._best_weights: Optional[dict] = None  # the best model, when there is no checkpoint_dir
        self._eval_sharded = False  # this evaluation is split between processes
        self._dygraph_forward = None  # the network's own forward, once to_static replaced it
        self._streaming = False  # predictions go to a file: hapi keeps none of them
        self._static_pending = False  # the converted forward has not run yet
        self._device = "cpu"
        self._eval_metrics: list = []
        self.train_state = TrainState(seed=self.config.seed)
        self.control = TrainControl()
        self.outputs: list = []
        self._envs: dict[str, RunEnv] = {}
        self._phases: list[str] = []
        self._datasets: dict[str, Any] = {}
        self._plan: Optional[TrainPlan] = None
        self._callbacks: list = []
        self._step_record: Optional[tuple[list, int]] = None
        self._checked: set[str] = set()
        self._pending_eval_phase: Optional[str] = None
        self._last_eval_step: Optional[int] = None
        self._last_save_step: Optional[int] = None
        self._scalars: Optional[ScalarWriter] = None
        self._checkpoint_dir: Optional[str] = self.config.checkpoint_dir
        self._last_results: dict = {}  # adapter mode -> that mode's last step results
        self._step_lr: Optional[float] = None  # the learning rate the last training step used
        self._last_scores: Any = []  # metric objects last updated, or the last evaluation's result
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

    # ------------------------------------------------------------------ phase and state
    @property
    def phase(self) -> Optional[str]:
        return self._phases[-1] if self._phases else None

    @property
    def env(self) -> RunEnv:
        phase = self.phase or "train"
        if phase not in self._envs:
            self._envs[phase] = RunEnv(phase)
        return self._envs[phase]

    @property
    def is_train_phase(self) -> bool:
        return self.phase == "train"

    @property
    def current_step(self) -> int:
        return self.train_state.global_step if self.phase in (None, "train") else self.env.current_step

    @property
    def current_epoch(self) -> int:
        return self.train_state.epoch

    @property
    def checkpoint_dir(self) -> Optional[str]:
        return self._checkpoint_dir

    def _push_phase(self, phase: str) -> None:
        self._phases.append(phase)
        self.env.current_epoch = self.train_state.epoch

    def _pop_phase(self) -> None:
        self._phases.pop()

    # ------------------------------------------------------------------ data per phase
    @staticmethod
    def _phase_name(phase: str) -> str:
        return _PHASE_ALIASES.get(phase, phase)

    def _phase_data(self, phase: str, dataset: Any = None) -> Any:
        phase = self._phase_name(phase)
        if dataset is not None:
            self._datasets[phase] = dataset
            return dataset
        if phase in self._datasets:
            return self._datasets[phase]
        if self.data_reader is not None and hasattr(self.data_reader, "get_dataset"):
            return self.data_reader.get_dataset(phase)
        return None

    def _has_phase_data(self, phase: str) -> bool:
        data = self._phase_data(phase)
        return data is not None and (not hasattr(data, "__len__") or len(data) > 0)

    def _collate_fn(self) -> Any:
        return getattr(self.data_reader, "collate_fn", None)

    # ------------------------------------------------------------------ hapi API, kept
    def prepare(self, optimizer: Any = None, loss: Any = None, metrics: Any = None,
                amp_configs: Any = None) -> None:
        """hapi's prepare; loss and metrics default to the task's own (`_add_loss`, `_add_metrics`)."""
        loss = loss if loss is not None else self._add_loss()
        metrics = metrics if metrics is not None else self._add_metrics()
        super().prepare(optimizer, loss, metrics, amp_configs)
        self._eval_metrics = copy.deepcopy(self._metrics)
        self._clear_grad_args = clear_grad_args(optimizer)
        if self.config.use_amp and self.config.device == "gpu" and self.config.amp_dtype == "float16":
            self._scaler = paddle.amp.GradScaler()

    def fit(self, train_data: Any = None, eval_data: Any = None, batch_size: int = 1, epochs: int = 1,
            eval_freq: int = 1, log_freq: int = 10, save_dir: Optional[str] = None, save_freq: int = 1,
            verbose: int = 2, drop_last: bool = False, shuffle: bool = True, num_workers: int = 0,
            callbacks: Any = None, accumulate_grad_batches: int = 1, num_iters: Optional[int] = None) -> None:
        """hapi's fit, with hubtrain's run events, checkpoints in `save_dir` (or the config's
        checkpoint_dir) and resume from the newest of them."""
        if train_data is None:
            raise ValueError("fit() needs train_data: a paddle.io.Dataset or DataLoader.")
        plan = TrainPlan.from_fit(self.config, batch_size, epochs, log_freq, save_dir, verbose, drop_last,
                                  shuffle, num_workers, accumulate_grad_batches, num_iters)
        if eval_data is not None:
            self._phase_data("dev", eval_data)
        training.run(self, train_data, plan, callbacks, eval_data=eval_data, eval_freq=eval_freq)

    def evaluate(self, eval_data: Any, batch_size: int = 1, log_freq: int = 10, verbose: int = 2,
                 num_workers: int = 0, callbacks: Any = None, num_iters: Optional[int] = None) -> dict:
        """hapi's evaluate; the loss returned is the sample-weighted mean over the split. Under
        several processes each rank evaluates its share and all report the merged result."""
        if not self._phases or self.phase != "train":
            self._ensure_prepared()
        compile_forward(self)
        shard = distributed.can_shard(self._eval_metrics) and not isinstance(eval_data, paddle.io.DataLoader)
        loader = training.eval_loader(self, eval_data, batch_size, num_workers, shard=shard)
        self._eval_sharded = shard
        try:
            with self._eval_metrics_in_use():
                return super().evaluate(loader, batch_size, log_freq, 0, num_workers,
                                        self._with_bridge(callbacks), num_iters)
        finally:
            self._eval_sharded = False

    def predict(self, test_data: Any = None, batch_size: int = 1, num_workers: int = 0,
                stack_outputs: bool = False, verbose: int = 1, callbacks: Any = None, *,
                data: Any = None, load_best_model: bool = True, return_result: bool = False,
                output_file: Optional[str] = None) -> Any:
        """hapi's predict(test_data) -> outputs per output; PaddleHub's predict(data=[examples]) ->
        list of RunState whose run_results[0] are probabilities (or the head's processed outputs).
        With `output_file`, each sample's processed outputs go to that file as a JSON line while
        the batches come, nothing is kept, and the file's path is returned."""
        if data is not None:
            return self._predict_examples(data, load_best_model, return_result, output_file)
        if test_data is None:
            raise ValueError("predict() needs test_data (a Dataset or DataLoader) or data=[raw examples].")
        loader = training.eval_loader(self, test_data, batch_size, num_workers)
        compile_forward(self)
        callbacks = self._with_bridge(callbacks)
        if output_file is None:
            return super().predict(loader, batch_size, num_workers, stack_outputs, 0, callbacks)
        names = self.predict_output_names or self.output_names
        dataset = getattr(self.data_reader, "dataset", None)
        labels = dataset.get_labels() if dataset is not None and hasattr(dataset, "get_labels") else None
        writer = PredictionWriter(output_file, names, self.predicts_class_probabilities, labels)
        self._streaming = True
        try:
            super().predict(loader, batch_size, num_workers, False, 0, callbacks + [writer])
        finally:
            self._streaming = False
        return writer.path

    def train_batch(self, inputs: Any, labels: Any = None, update: bool = True) -> Any:
        """hapi's train_batch; a batch may leave out the backbone's optional inputs."""
        return super().train_batch(*self._split_fields(inputs, labels), update)

    def eval_batch(self, inputs: Any, labels: Any = None) -> Any:
        """hapi's eval_batch; a batch may leave out the backbone's optional inputs."""
        return super().eval_batch(*self._split_fields(inputs, labels))

    def _split_fields(self, inputs: Any, labels: Any) -> tuple[list, list]:
        """Inputs and labels of a batch. Batches are split after the network's full count of
        inputs; one with fewer fields than that leaves optional inputs out (a text module fed
        `input_ids` alone) and has its labels among the inputs: its last fields are the labels."""
        inputs = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        labels = [] if labels is None else list(labels) if isinstance(labels, (list, tuple)) else [labels]
        wanted, count = len(self.labels), len(inputs) + len(labels)
        required = getattr(self.network, "required_inputs", None)
        if required is not None and len(labels) < wanted and required + wanted <= count < len(self._inputs or ()):
            fields = inputs + labels
            inputs, labels = fields[:-wanted], fields[-wanted:]
        return inputs, labels

    def _update_inputs(self) -> None:
        """Input specs from the first batch, named after the backbone's inputs, batch size free."""
        self._input_info = self._adapter._input_info
        shapes, dtypes = self._input_info
        self._inputs = [InputSpec([None] + list(s[1:]), d, n) for n, s, d in zip(self._input_names, shapes, dtypes)]
        self._is_shape_inferred = True

    # ------------------------------------------------------------------ PaddleHub-style runs
    def finetune_and_eval(self, train_dataset: Any = None, dev_dataset: Any = None, test_dataset: Any = None,
                          callbacks: Any = None) -> Sequence[RunState]:
        """Train, evaluate dev every `eval_interval` steps keeping the best model, then evaluate
        test with the best model. Resumes from the newest checkpoint in `checkpoint_dir`."""
        for phase, ds in (("dev", dev_dataset), ("test", test_dataset)):
            self._phase_data(phase, ds)
        return self._finetune(train_dataset, callbacks, evaluate=True)

    def finetune(self, train_dataset: Any = None, callbacks: Any = None) -> Sequence[RunState]:
        """Train only. Resumes from the newest checkpoint in `checkpoint_dir`."""
        return self._finetune(train_dataset, callbacks, evaluate=False)

    def _finetune(self, train_dataset: Any, callbacks: Any, evaluate: bool) -> Sequence[RunState]:
        data = self._phase_data("train", train_dataset)
        if data is None:
            raise ValueError("no training data: pass train_dataset=..., or give the task a data_reader "
                             "whose dataset has a train split.")
        made = self._checkpoint_dir is None
        if made:
            self._checkpoint_dir = training.default_checkpoint_dir()
        plan = TrainPlan.from_config(self.config, self._checkpoint_dir, evaluate)
        try:
            return training.run(self, data, plan, callbacks)
        finally:
            if made:  # a run refused before it wrote anything leaves no empty directory behind
                training.remove_if_empty(self._checkpoint_dir)

    def eval(self, phase: str = "dev", dataset: Any = None, load_best_model: bool = False) -> list[RunState]:
        """Evaluate a split ('dev', 'test', ...); returns its run states, the scores in `self.env.result`
        after the run (`task.last_result(phase)`)."""
        phase = self._phase_name(phase)
        data = self._phase_data(phase, dataset)
        if data is None:
            raise ValueError(f"no data for phase '{phase}': pass dataset=..., or a data_reader with that split.")
        if load_best_model:
            self._load_best_model()
        self._pending_eval_phase = phase
        try:
            self.evaluate(data, batch_size=self.config.batch_size, num_workers=self.config.num_workers,
                          verbose=0, callbacks=self._callbacks_for_eval())
        finally:
            self._pending_eval_phase = None
        return self._envs[phase].run_states

    def last_result(self, phase: str = "dev") -> Optional[dict]:
        env = self._envs.get(self._phase_name(phase))
        return env.result if env else None

    def _predict_examples(self, data: Sequence, load_best_model: bool, return_result: bool,
                          output_file: Optional[str] = None) -> Any:
        if load_best_model:
            self._load_best_model(missing_ok=True)
        if self.data_reader is not None and hasattr(self.data_reader, "examples_dataset"):
            dataset = self.data_reader.examples_dataset(data)
        else:
            dataset = training.ExampleList(data)
        path = self.predict(dataset, batch_size=self.config.batch_size, num_workers=0, verbose=0,
                            callbacks=self._callbacks_for_eval(), output_file=output_file)
        if output_file is not None:
            return path
        run_states = self._envs["predict"].run_states
        if return_result:
            return [r for rs in run_states for r in rs.run_results[0]]
        return run_states

    # ------------------------------------------------------------------ checkpoints
    def _manager(self) -> Optional[CheckpointManager]:
        directory = self._plan.checkpoint_dir if self._plan else self._checkpoint_dir
        if directory is None:
            return None
        keep = self._plan.keep_checkpoint_max if self._plan else self.config.keep_checkpoint_max
        return CheckpointManager(directory, keep)

    def load(self, path: str, skip_mismatch: bool = False, reset_optimizer: bool = False) -> None:
        """hapi's `load`: parameters from `path.pdparams` by structured name, the optimizer from
        `path.pdopt` unless `reset_optimizer`, `skip_mismatch` leaving absent or misshapen
        parameters as they are (and the optimizer reset). Each file is read by hubtrain's
        restricted unpickler, which refuses a pickle that would run code before it runs."""
        from ..compat.hapi import matched_parameters
        from ..serialization.paddle_pickle import load_paddle_file

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
        matched, skipped = matched_parameters(self.network, state, skip_mismatch, source=params)
        optimizer = prefix + ".pdopt"
        optim_state = None if reset_optimizer or skipped or not os.path.isfile(optimizer) else \
            load_paddle_file(optimizer, return_numpy=True)
        if not paddle.in_dynamic_mode():
            return self._adapter.load(matched, optim_state)
        scaler = prefix + ".pdscaler"
        scaler_state = load_paddle_file(scaler) if self._scaler is not None and os.path.isfile(scaler) else None
        return self._adapter.load(matched, optim_state, scaler_state)

    def save_checkpoint(self, *_legacy: Any) -> Optional[str]:
        """Write a resumable checkpoint of the run now (PaddleHub passed epoch and step; the run's
        own state is used instead)."""
        return training.save_checkpoint(self)

    def _save_best_model(self, score: float, metric: str) -> None:
        manager = self._manager()
        if manager is None:
            self._best_weights = {k: v.detach().clone() for k, v in self.network.state_dict().items()}
            return
        if training.is_writer():
            weights = self.network.state_dict()
            from ..engine.checkpoint import network_signature

            path = manager.save_best({WEIGHTS: weights},
                                     {"score": score, "metric": metric, "step": self.train_state.global_step,
                                      "network": network_signature(weights), "task": type(self).__name__})
            log("INFO", f"Best model saved to {path} [{metric}={score:.5f}]")
        distributed.barrier()  # the other ranks may load it next

    def _load_best_model(self, missing_ok: bool = True) -> bool:
        manager = self._manager()
        if manager is None and self._best_weights is not None:
            self.network.set_state_dict(self._best_weights)
            self._live_weights = False
            log("INFO", "Load the best model (kept in memory: the run has no checkpoint_dir)")
            return True
        path = manager.best_dir if manager else None
        if path is None:
            if not missing_ok:
                raise FileNotFoundError(f"no best_model in {manager.root if manager else 'checkpoint_dir (unset)'}.")
            return False
        manifest, files = manager.load(path, [WEIGHTS])
        check_network(self, manifest, path)
        self.network.set_state_dict(files[WEIGHTS])
        self._live_weights = False
        log("INFO", f"Load the best model from {path}")
        return True

    # ------------------------------------------------------------------ step hooks (TaskAdapter)
    def _ensure_prepared(self) -> None:
        if self._loss is None and not self._metrics and self._optimizer is None:
            self.prepare()

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

    def _autocast(self) -> contextlib.AbstractContextManager:
        cfg = self.config
        if not cfg.use_amp or self._device != "gpu":
            return contextlib.nullcontext()
        return paddle.amp.auto_cast(level=cfg.amp_level, dtype=cfg.amp_dtype)

    def _compute_loss(self, outputs: list, labels: list) -> paddle.Tensor:
        losses = self._loss(*(outputs + labels))
        losses = losses if isinstance(losses, (list, tuple)) else [losses]
        return losses[0] if len(losses) == 1 else paddle.add_n(list(losses))

    def _accumulate_steps(self) -> int:
        return self._plan.accumulate if self._plan and self.phase == "train" else 1

    def _at_update_boundary(self) -> bool:
        if not self._plan or self.phase != "train":
            return True
        state = self.train_state
        done = state.step_in_epoch + 1
        return done % self._plan.accumulate == 0 or done == state.steps_per_epoch \
            or state.global_step + 1 >= state.total_steps

    def _keep_batch(self, host_loss: Any) -> bool:
        """Whether a batch with this loss trains: a non-finite one stops the run or, with
        on_nonfinite="skip", is left out and counted (engine/numerics.py)."""
        return self._numerics.keep_batch(self, host_loss)

    def _optimizer_step(self) -> None:
        if not self._numerics.update_ok(self):  # nothing kept in the window, or non-finite gradients
            self._optimizer.clear_grad(**self._clear_grad_args)
            return
        if self._scaler is not None:
            self._scaler.step(self._optimizer)
            self._scaler.update()
        else:
            self._optimizer.step()
        self._optimizer.clear_grad(**self._clear_grad_args)
        self.train_state.optimizer_step += 1

    def _metric_inputs(self, outputs: list, labels: list) -> list:
        """What each metric's `compute` takes: the network's outputs, then the labels."""
        return outputs + labels

    def _update_metrics(self, metrics: list, outputs: list, labels: list) -> list:
        results = []
        self._last_scores = metrics
        args = self._metric_inputs(outputs, labels) if metrics else []
        if self._deferred.offer(metrics, args):
            return [None] * len(metrics)
        for metric in metrics:
            computed = metric.compute(*args)
            computed = list(computed) if isinstance(computed, (list, tuple)) else [computed]
            if not isinstance(metric, HubMetric):  # hapi hands other metrics numpy arrays
                computed = [c.numpy() if isinstance(c, paddle.Tensor) else c for c in computed]
            results.append(metric.update(*computed))
        return results

    def _run_one_epoch(self, data_loader: Any, callbacks: Any, mode: str, logs: Optional[dict] = None) -> Any:
        """hapi's batch loop, with per-pass work hoisted out (engine/epoch.py); a fresh `logs` per
        pass where hapi shares one dict between every pass of every model."""
        return run_epoch(self, data_loader, callbacks, mode, {} if logs is None else logs)

    def _reset_metrics(self) -> None:
        """hapi resets the metrics after every epoch; their values are kept for `variable()` first
        (merged over the ranks when they shared an evaluation)."""
        self._deferred.flush()
        if self._eval_sharded:
            distributed.merge_metrics(self._metrics)
            self._last_scores = self._metrics
        if self._metrics and self._last_scores is self._metrics:
            self._last_scores = introspect.scores(self)
        super()._reset_metrics()

    def _merged_scores(self) -> dict:
        """The values of the evaluation that just ended, as `_reset_metrics` kept them."""
        return introspect.scores(self)

    def _record_step(self, results: list, examples: int) -> None:
        self._step_record = (results, examples)
        self.outputs = results
        # Kept per mode, newest last; `variable()` names them only when asked.
        mode = self._adapter.mode
        self._last_results.pop(mode, None)
        self._last_results[mode] = results

    def _take_step(self, time_begin: float) -> RunState:
        results, examples = self._step_record or ([], 0)
        self._step_record = None
        return RunState.of_step(examples, results, time_begin)

    def _start_epoch(self) -> None:
        env = self._envs.get("train")
        sampler = getattr(env.loader, "batch_sampler", None) if env else None
        if hasattr(sampler, "set_epoch") and hasattr(sampler, "skip"):
            sampler.set_epoch(self.train_state.epoch, skip=self.train_state.step_in_epoch)
        if env is not None:
            env.current_epoch = self.train_state.epoch

    def _request_stop(self) -> None:
        """hapi's own stop: its batch loop breaks once num_iters reaches 0, its epoch loop on
        stop_training."""
        self.num_iters = 1
        self.stop_training = True

    @contextlib.contextmanager
    def _eval_metrics_in_use(self) -> Iterator[None]:
        """Evaluate with metric objects of its own: hapi resets `_metrics` after an evaluation,
        which would wipe the training metrics of an evaluation run mid-epoch."""
        train_metrics = self._metrics
        self._metrics = self._eval_metrics or []
        for m in self._metrics:
            m.reset()
        try:
            yield
        finally:
            self._metrics = train_metrics

    def _with_bridge(self, callbacks: Any) -> list:
        callbacks = list(callbacks) if isinstance(callbacks, (list, tuple)) else ([callbacks] if callbacks else [])
        if not any(isinstance(c, training.EventBridge) for c in callbacks):
            callbacks.insert(0, training.EventBridge(self, self._plan))
        return callbacks

    def _callbacks_for_eval(self) -> list:
        """During training every callback of the run sees its evaluations (as in hapi's fit);
        outside it, only the event bridge."""
        if self._phases[:1] == ["train"]:
            return list(self._callbacks)
        return [c for c in self._callbacks if isinstance(c, training.EventBridge)]

    # ------------------------------------------------------------------ run events
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
        self._last_scores = result
        scores = " ".join(f"{k}={v:.5f}" for k, v in result.items())
        log("EVAL", f"[{self.phase} dataset evaluation result] {scores} [step/sec: {steps / used if used else 0:.2f}]")
        self._scalar_writer().add_all(f"{self.phase}", result, self.train_state.global_step)
        if self.phase == "dev" and self._plan is not None and self._phases[:1] == ["train"]:
            self._track_best(result)

    def _monitored(self, result: dict) -> Optional[tuple[str, float, bool]]:
        """(name, score, higher is better) of the dev score that picks the best model: the first
        metric's first value, or the loss for a task without metrics."""
        reported = [(m, n) for m in self._eval_metrics for n in introspect.metric_names([m]) if n in result]
        if reported:
            metric, name = reported[0]
            return name, float(result[name]), getattr(metric, "higher_is_better", True)
        if "loss" in result:
            return "loss", float(result["loss"]), False
        return None

    def _track_best(self, result: dict) -> None:
        state = self.train_state
        watched = self._monitored(result)
        if watched is None:
            return
        name, score, higher = watched
        if math.isnan(score):
            return
        better = state.best_score is None or (score > state.best_score if higher else score < state.best_score)
        if better:
            state.best_score, state.best_metric, state.best_step = score, name, state.global_step
            self._save_best_model(score, name)

    def _predict_start_event(self) -> None:
        log("DEBUG", "hubtrain predict start", level=10)

    def _predict_end_event(self, run_states: list[RunState]) -> None:
        log("DEBUG", "hubtrain predict finished.", level=10)

    def _log_interval_event(self, run_states: list[RunState]) -> None:
        writer = self._scalar_writer()
        if not writer.enabled and not logger.isEnabledFor(logging.INFO):
            return
        state = self.train_state
        scores = {"loss": weighted_loss(run_states)} if self._loss else {}
        self._deferred.flush()
        for metric in self._metrics:
            names = metric.name() if isinstance(metric.name(), list) else [metric.name()]
            values = metric.accumulate()
            values = values if isinstance(values, list) else [values]
            scores.update(zip(names, values))
        lr = self._step_lr  # the rate the last step trained with, not the one the next will
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

    def _scalar_writer(self) -> ScalarWriter:
        if self._scalars is None:
            directory = self._plan.checkpoint_dir if self._plan else None
            enabled = directory is not None and self.config.use_vdl
            self._scalars = ScalarWriter(f"{directory}/visualdl" if directory else "", enabled)
        return self._scalars

    # ------------------------------------------------------------------ PaddleHub introspection
    def metric_variable_names(self) -> list[str]:
        """"loss" and the names the task's metrics report (a metric may report several)."""
        metrics = (self._eval_metrics or self._metrics) if (self._loss is not None or self._metrics) \
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

        written = export_task(self, path, postprocess=postprocess) if training.is_writer() else os.path.abspath(path)
        distributed.barrier()
        return written

    def __repr__(self) -> str:
        return f"{type(self).__name__}(feature_dim={self.feature_dim}, metrics={self.metrics_choices})"

