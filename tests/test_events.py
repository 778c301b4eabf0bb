"""The twelve run events: when they fire, in what order, with what arguments."""
import numpy as np
import paddle
import pytest

import hubtrain as hub
from tiny import Digits, mlp_backbone


class RecordingTask(hub.ImageClassifierTask):
    """Overrides every run event, recording (event, phase, global step, argument summary)."""

    def __init__(self, *args, **kwargs):
        self.calls = []
        super().__init__(*args, **kwargs)

    def _rec(self, name, arg=None):
        self.calls.append((name, self.phase, self.current_step if self.phase == "train" else self.train_state.global_step, arg))

    def _build_env_start_event(self):
        self._rec("build_env_start")

    def _build_env_end_event(self):
        self._rec("build_env_end")

    def _finetune_start_event(self):
        self._rec("finetune_start")

    def _finetune_end_event(self, run_states):
        self._rec("finetune_end", len(run_states))
        super()._finetune_end_event(run_states)

    def _eval_start_event(self):
        self._rec("eval_start")

    def _eval_end_event(self, run_states):
        self._rec("eval_end", sum(rs.run_examples for rs in run_states))
        super()._eval_end_event(run_states)

    def _predict_start_event(self):
        self._rec("predict_start")

    def _predict_end_event(self, run_states):
        self._rec("predict_end", [rs.run_results[0].shape for rs in run_states])

    def _log_interval_event(self, run_states):
        self._rec("log", [rs.run_step for rs in run_states])
        super()._log_interval_event(run_states)

    def _save_ckpt_interval_event(self):
        self._rec("save")
        super()._save_ckpt_interval_event()

    def _eval_interval_event(self):
        self._rec("eval_interval")
        super()._eval_interval_event()

    def _run_step_event(self, run_state):
        self._rec("step", (run_state.run_step, run_state.run_examples))


def _task(tmp_path, **cfg):
    options = dict(num_epoch=2, batch_size=10, log_interval=4, checkpoint_dir=str(tmp_path / "ckpt"))
    config = hub.RunConfig(seed=0, **{**options, **cfg})
    return RecordingTask(feature=mlp_backbone(), num_classes=10, config=config)


def test_train_events_follow_global_steps_across_epochs(tmp_path, digits):
    train = Digits(digits[0].x[:100], digits[0].y[:100])          # 10 steps per epoch
    task = _task(tmp_path, save_ckpt_interval=6, eval_interval=None)
    run_states = task.finetune(train)

    names = [c[0] for c in task.calls if c[0] != "step"]
    assert names == ["build_env_start", "build_env_end", "finetune_start",
                     "log", "save", "log", "log", "save", "log", "save", "log", "finetune_end"]
    logs = [(c[2], c[3]) for c in task.calls if c[0] == "log"]
    assert logs == [(4, [1] * 4), (8, [1] * 4), (12, [1] * 4), (16, [1] * 4), (20, [1] * 4)]
    saves = [c[2] for c in task.calls if c[0] == "save"]
    assert saves == [6, 12, 18]            # every 6 global steps; the end's checkpoint is not an interval
    steps = [c for c in task.calls if c[0] == "step"]
    assert [c[2] for c in steps] == list(range(1, 21))
    assert all(c[3] == (1, 10) for c in steps)
    assert task.calls[-1][3] == 20 and len(run_states) == 20
    assert all(c[1] == "train" for c in task.calls)
    assert sorted(p.name for p in (tmp_path / "ckpt").iterdir() if p.name.startswith("step_")) == \
        ["step_12", "step_18", "step_20"]   # keep_checkpoint_max=3


def test_eval_interval_runs_dev_inside_training_and_best_model(tmp_path, digits):
    train = Digits(digits[0].x[:100], digits[0].y[:100])
    dev = Digits(digits[1].x[:37], digits[1].y[:37])
    task = _task(tmp_path, eval_interval=5, log_interval=100)
    task.finetune_and_eval(train, dev)
    evals = [c for c in task.calls if c[0] in ("eval_interval", "eval_start", "eval_end")]
    # at 5, 10, 15, 20 by interval; at the end 20 was just evaluated, so not again
    assert [(c[0], c[2]) for c in evals] == [(n, s) for s in (5, 10, 15, 20)
                                             for n in ("eval_interval", "eval_start", "eval_end")]
    assert all(c[1] == "dev" for c in evals if c[0] != "eval_interval")
    assert all(c[3] == 37 for c in evals if c[0] == "eval_end")
    # build-env fired once for train and once for dev (not per evaluation)
    assert [(c[0], c[1]) for c in task.calls if c[0].startswith("build_env")] == \
        [("build_env_start", "train"), ("build_env_end", "train")]
    best = tmp_path / "ckpt" / "best_model"
    assert (best / "model.safetensors").exists()
    assert task.train_state.best_step in (5, 10, 15, 20)
    assert task.train_state.best_metric == "acc"


def test_eval_and_predict_events(tmp_path, digits):
    task = _task(tmp_path)
    task.prepare()
    dev = Digits(digits[1].x[:25], digits[1].y[:25])
    run_states = task.eval(phase="dev", dataset=dev)
    assert [c[0] for c in task.calls if c[0] != "step"] == ["eval_start", "eval_end"]
    assert [rs.run_examples for rs in run_states] == [10, 10, 5]
    result = task.last_result("dev")
    assert set(result) == {"loss", "acc"}
    task.calls.clear()
    out = task.predict(data=[[x] for x in digits[2].x[:23]])
    assert [c[0] for c in task.calls if c[0] != "step"] == ["predict_start", "predict_end"]
    assert task.calls[-1][3] == [(10, 10), (10, 10), (3, 10)]
    probs = np.concatenate([rs.run_results[0] for rs in out])
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)


def test_max_steps_stops_mid_epoch(tmp_path, digits):
    train = Digits(digits[0].x[:100], digits[0].y[:100])
    task = _task(tmp_path, max_steps=13)
    run_states = task.finetune(train)
    assert len(run_states) == 13
    assert task.train_state.global_step == 13
    assert task.train_state.epoch == 1 and task.train_state.step_in_epoch == 3


def test_user_callbacks_run_beside_the_bridge(tmp_path, digits):
    seen = []

    class Watch(paddle.callbacks.Callback):
        def on_train_batch_end(self, step, logs=None):
            seen.append(self.model.train_state.global_step)

    train = Digits(digits[0].x[:100], digits[0].y[:100])
    task = _task(tmp_path)
    task.finetune(train, callbacks=[Watch()])
    assert seen == list(range(1, 21))


def test_control_flag_from_a_callback_stops_training(tmp_path, digits):
    class StopAt7(paddle.callbacks.Callback):
        def on_train_batch_end(self, step, logs=None):
            if self.model.train_state.global_step == 7:
                self.model.control.should_stop = True

    train = Digits(digits[0].x[:100], digits[0].y[:100])
    task = _task(tmp_path)
    assert len(task.finetune(train, callbacks=[StopAt7()])) == 7


def test_visualdl_scalars_and_plain_log_lines(tmp_path, digits, capsys):
    import logging
    from hubtrain.engine.report import logger

    logger.setLevel(logging.INFO)
    try:
        train = Digits(digits[0].x[:100], digits[0].y[:100])
        dev = Digits(digits[1].x[:30], digits[1].y[:30])
        task = _task(tmp_path, eval_interval=10)
        task.finetune_and_eval(train, dev)
    finally:
        logger.setLevel(logging.WARNING)
    out = capsys.readouterr().out
    assert "\r" not in out
    assert "[   TRAIN] - step 4 / 20: loss=" in out and "[dev dataset evaluation result] loss=" in out
    vdl = tmp_path / "ckpt" / "visualdl"
    assert vdl.is_dir() and any(p.stat().st_size > 0 for p in vdl.rglob("*") if p.is_file())


def test_to_static_trains_to_the_same_weights(tmp_path, digits):
    train = Digits(digits[0].x[:100], digits[0].y[:100])
    weights = []
    for to_static in (False, True):
        config = hub.RunConfig(seed=0, num_epoch=1, batch_size=10, to_static=to_static,
                               checkpoint_dir=str(tmp_path / f"static_{to_static}"))
        task = hub.ImageClassifierTask(feature=mlp_backbone(), num_classes=10, config=config)
        task.finetune(train)
        assert isinstance(task.network.forward, paddle.jit.api.StaticFunction) == to_static
        weights.append({k: v.numpy() for k, v in task.network.state_dict().items()})
    for name, value in weights[0].items():
        np.testing.assert_allclose(value, weights[1][name], rtol=1e-5, atol=1e-6)


def test_training_metrics_survive_an_evaluation_mid_epoch(tmp_path, digits):
    counts = {}

    class Count(paddle.callbacks.Callback):
        def on_train_batch_end(self, step, logs=None):
            self.model.metric_feed.flush()  # training metrics are fed in batches of steps
            counts[self.model.train_state.global_step] = self.model.metrics[0].count

    train = Digits(digits[0].x[:100], digits[0].y[:100])
    dev = Digits(digits[1].x[:30], digits[1].y[:30])
    task = _task(tmp_path, eval_interval=5, log_interval=100)
    task.finetune_and_eval(train, dev, callbacks=[Count()])
    # dev evaluated after step 5; the epoch's training count carries on (hapi would have reset it)
    assert counts[5] == 50 and counts[6] == 60
    assert task.last_result("dev") is not None


class QuietTask(hub.ImageClassifierTask):
    """Overrides the events that log, without calling super(): what they logged is gone, what the
    run keeps is not."""

    def __init__(self, *args, **kwargs):
        self.logged, self.evaluated = [], []
        super().__init__(*args, **kwargs)

    def _eval_end_event(self, run_states):
        self.evaluated.append(dict(self.env.result))

    def _log_interval_event(self, run_states):
        self.logged.append(self.variable("acc"))


def test_overridden_events_without_super_keep_the_best_model_and_the_metrics(tmp_path, digits):
    train = Digits(digits[0].x[:96], digits[0].y[:96])
    dev = Digits(digits[1].x[:40], digits[1].y[:40])
    config = hub.RunConfig(seed=0, num_epoch=2, batch_size=16, eval_interval=3, log_interval=2,
                           checkpoint_dir=str(tmp_path / "ck"),
                           strategy=hub.DefaultFinetuneStrategy(learning_rate=0.05, optimizer_name="sgd"))
    task = QuietTask(feature=mlp_backbone(), num_classes=10, config=config)
    task.finetune_and_eval(train, dev)
    scores = [r["acc"] for r in task.evaluated]
    assert len(scores) == 12 // 3  # every third step (the last one too, so no extra one at the end)
    assert task.train_state.best_score == pytest.approx(max(scores))
    assert (tmp_path / "ck" / "best_model" / "model.safetensors").exists()
    # every log had the running accuracy counted up to its step, none a stale or empty value
    assert len(task.logged) == 6 and all(0.0 <= float(v) <= 1.0 for v in task.logged)
