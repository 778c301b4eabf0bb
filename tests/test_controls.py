"""Training controls: gradient accumulation, clipping, AMP on CPU, early stopping, the weight
average, and evaluation after every epoch."""

import numpy as np
import paddle
import pytest

import hubtrain as hub
from hubtrain.serialization.records import read_weights
from tiny import Digits, mlp_backbone


def _weights(task):
    return {k: v.numpy().copy() for k, v in task.network.state_dict().items()}


def _task(tmp_path, name, **cfg):
    cfg.setdefault("checkpoint_dir", str(tmp_path / name))
    return hub.ImageClassifierTask(feature=mlp_backbone(), num_classes=10, dropout=0.0,
                                   config=hub.RunConfig(seed=42, **cfg))


@pytest.mark.parametrize("options, words", [
    (dict(early_stopping_patience=0), "'early_stopping_patience' = 0"),
    (dict(early_stopping_min_delta=-0.1, early_stopping_patience=2), "'early_stopping_min_delta' = -0.1"),
    (dict(early_stopping_min_delta=0.01), "early stopping is off"),
    (dict(ema_decay=1.0), "'ema_decay' = 1.0"),
    (dict(eval_interval="epochs"), "'eval_interval' = 'epochs'"),
    (dict(grad_clip_norm=0), "'grad_clip_norm' = 0"),
    (dict(accumulate_steps=0), "'accumulate_steps' = 0"),
    (dict(amp_dtype="int8"), "'amp_dtype' = 'int8'"),
])
def test_controls_are_validated_up_front(options, words):
    with pytest.raises(ValueError, match=words):
        hub.RunConfig(seed=0, **options)


# ---------------------------------------------------------------- accumulation and clipping
@pytest.mark.parametrize("optimizer_name", ["sgd", "adam"])
def test_four_accumulated_batches_of_8_update_like_one_batch_of_32(tmp_path, digits, optimizer_name):
    train = Digits(digits[0].x[:64], digits[0].y[:64])
    ends = []
    for batch, accumulate in ((32, 1), (8, 4)):
        strategy = hub.AdamWeightDecayStrategy(learning_rate=0.05, warmup_proportion=0.5,
                                               optimizer_name=optimizer_name)
        task = _task(tmp_path, f"acc{accumulate}", num_epoch=1, batch_size=batch, accumulate_steps=accumulate,
                     shuffle=False, strategy=strategy)
        task.finetune(train)
        assert task.train_state.optimizer_step == 2
        ends.append(_weights(task))
    for name, value in ends[0].items():
        np.testing.assert_allclose(ends[1][name], value, rtol=1e-5, atol=1e-6, err_msg=name)


def test_gradient_clipping_scales_the_update_to_the_global_norm(tmp_path, digits):
    train = Digits(digits[0].x[:32], digits[0].y[:32])
    steps = []
    for clip in (None, 0.05):
        task = _task(tmp_path, f"clip{clip}", num_epoch=1, batch_size=32, grad_clip_norm=clip,
                     strategy=hub.DefaultFinetuneStrategy(learning_rate=1.0, optimizer_name="sgd",
                                                          regularization_coeff=0.0))
        before = _weights(task)
        task.finetune(train)
        steps.append({k: before[k] - v for k, v in _weights(task).items()})
    norm = np.sqrt(sum(float((d ** 2).sum()) for d in steps[0].values()))
    assert norm > 0.05
    for name, plain in steps[0].items():
        np.testing.assert_allclose(steps[1][name], plain * 0.05 / norm, rtol=1e-4, atol=1e-8)


def test_amp_on_cpu_says_it_has_no_effect_and_trains_in_float32(tmp_path, digits, hub_warnings):
    train = Digits(digits[0].x[:64], digits[0].y[:64])
    ends = []
    for amp in (False, True):
        task = _task(tmp_path, f"amp{amp}", num_epoch=1, batch_size=32, use_amp=amp, amp_level="O2",
                     amp_dtype="bfloat16")
        task.finetune(train)
        ends.append(_weights(task))
        assert all(v.dtype == np.float32 for v in ends[-1].values())
    assert "use_amp=True has no effect on CPU" in hub_warnings.text
    for name, value in ends[0].items():
        assert np.array_equal(value, ends[1][name]), name


# ---------------------------------------------------------------- early stopping
class DevLog(paddle.callbacks.Callback):
    """Each dev evaluation's accuracy, and the weights it was measured on."""

    def __init__(self):
        super().__init__()
        self.scores, self.weights = [], []

    def on_eval_end(self, logs=None):
        if logs.get("phase") == "dev":
            self.scores.append(logs["acc"])
            self.weights.append(_weights(self.model))


def test_early_stopping_halts_at_the_right_epoch_and_restores_the_best_weights(tmp_path, digits):
    train = Digits(digits[0].x[:320], digits[0].y[:320])
    # dev labels shifted by one: the better the model learns, the lower its dev accuracy
    dev = Digits(digits[0].x[:320], (digits[0].y[:320] + 1) % 10)
    watch = DevLog()
    task = _task(tmp_path, "es", num_epoch=12, batch_size=32, eval_interval="epoch", early_stopping_patience=2,
                 strategy=hub.DefaultFinetuneStrategy(learning_rate=5e-3))
    task.finetune_and_eval(train, dev, callbacks=[watch])
    # where the patience rule says the run should stop, from the scores the run saw
    best, wait, stop_at = None, 0, None
    for i, score in enumerate(watch.scores):
        if best is None or score > best:
            best, wait = score, 0
        else:
            wait += 1
            if wait == 2:
                stop_at = i
                break
    assert stop_at is not None and stop_at < 11
    assert len(watch.scores) == stop_at + 1
    assert task.train_state.global_step == (stop_at + 1) * 10 and task.train_state.stopped
    best_eval = int(np.argmax(watch.scores[:stop_at + 1]))
    final = _weights(task)
    for name, value in watch.weights[best_eval].items():
        assert np.array_equal(final[name], value), name
    assert any(not np.array_equal(final[n], v) for n, v in watch.weights[stop_at].items())

    again = _task(tmp_path, "es", num_epoch=12, batch_size=32, eval_interval="epoch", early_stopping_patience=2,
                  strategy=hub.DefaultFinetuneStrategy(learning_rate=5e-3))
    assert len(again.finetune_and_eval(train, dev)) == 0        # a stopped run resumed trains no more
    assert again.train_state.global_step == task.train_state.global_step


def test_early_stopping_min_delta_counts_small_gains_as_none(tmp_path, digits):
    train = Digits(digits[0].x[:320], digits[0].y[:320])
    dev = Digits(digits[1].x, digits[1].y)
    watch = DevLog()
    task = _task(tmp_path, "delta", num_epoch=10, batch_size=32, eval_interval="epoch", early_stopping_patience=1,
                 early_stopping_min_delta=1.0)   # no accuracy can gain more than 1
    task.finetune_and_eval(train, dev, callbacks=[watch])
    assert len(watch.scores) == 2 and task.train_state.global_step == 20


def test_early_stopping_in_hapi_fit_without_a_checkpoint_dir(digits):
    train = Digits(digits[0].x[:320], digits[0].y[:320])
    dev = Digits(digits[0].x[:320], (digits[0].y[:320] + 1) % 10)
    watch = DevLog()
    task = hub.ImageClassifierTask(feature=mlp_backbone(), num_classes=10, dropout=0.0,
                                   config=hub.RunConfig(seed=0, strategy=hub.DefaultFinetuneStrategy(learning_rate=5e-3)))
    task.fit(train, dev, batch_size=32, epochs=12, verbose=0,
             callbacks=[hub.EarlyStopping(patience=2), watch])
    assert len(watch.scores) < 12 and task.train_state.stopped
    best = _weights(task)
    for name, value in watch.weights[int(np.argmax(watch.scores))].items():
        assert np.array_equal(best[name], value), name


def test_early_stopping_without_dev_data_is_refused_before_training(tmp_path, digits):
    task = _task(tmp_path, "nodev", early_stopping_patience=2)
    with pytest.raises(ValueError, match="early stopping needs dev data"):
        task.finetune(Digits(digits[0].x[:64], digits[0].y[:64]))
    assert not (tmp_path / "nodev").exists()


# ---------------------------------------------------------------- weight average
class Trace(paddle.callbacks.Callback):
    """Weights after every batch, and what the network held during each evaluation."""

    def __init__(self):
        super().__init__()
        self.after_step, self.in_eval, self.before_batch = [], [], []

    def on_train_batch_begin(self, step, logs=None):
        self.before_batch.append(_weights(self.model))

    def on_train_batch_end(self, step, logs=None):
        self.after_step.append(_weights(self.model))

    def on_eval_begin(self, logs=None):
        self.in_eval.append((len(self.after_step), _weights(self.model)))


def test_weight_average_follows_its_formula_and_is_what_evaluation_sees(tmp_path, digits):
    train = Digits(digits[0].x[:128], digits[0].y[:128])
    dev = Digits(digits[1].x[:60], digits[1].y[:60])
    start = _task(tmp_path, "unused")
    initial = _weights(start)
    trace = Trace()
    task = _task(tmp_path, "ema", num_epoch=1, batch_size=32, ema_decay=0.5, eval_interval=2,
                 strategy=hub.DefaultFinetuneStrategy(learning_rate=1e-2))
    task.finetune_and_eval(train, dev, callbacks=[trace])
    shadow, expected = dict(initial), []
    for weights in trace.after_step:
        shadow = {k: s + 0.5 * (weights[k] - s) for k, s in shadow.items()}
        expected.append(shadow)
    # evaluations after steps 2 and 4 saw the average; training resumed on the raw weights, bit for bit
    assert [n for n, _ in trace.in_eval] == [2, 4]
    for n, seen in trace.in_eval:
        for name, value in seen.items():
            np.testing.assert_allclose(value, expected[n - 1][name], rtol=1e-6, atol=1e-7, err_msg=name)
    for name, value in trace.after_step[1].items():
        assert np.array_equal(trace.before_batch[2][name], value), name
    # the checkpoint keeps the raw weights; the network ends on the average (the best model here)
    last = read_weights(str(tmp_path / "ema" / "step_4" / "model.safetensors"))
    for name, value in trace.after_step[-1].items():
        assert np.array_equal(last[name].numpy(), value), name
    final = _weights(task)
    assert task.train_state.best_step in (2, 4)
    for name, value in expected[task.train_state.best_step - 1].items():
        np.testing.assert_allclose(final[name], value, rtol=1e-6, atol=1e-7, err_msg=name)


def test_weight_average_without_dev_leaves_the_average_in_the_network(tmp_path, digits):
    train = Digits(digits[0].x[:96], digits[0].y[:96])
    trace = Trace()
    initial = _weights(_task(tmp_path, "unused"))
    task = _task(tmp_path, "ema2", num_epoch=1, batch_size=32, ema_decay=0.9)
    task.finetune(train, callbacks=[trace])
    shadow = dict(initial)
    for weights in trace.after_step:
        shadow = {k: s + 0.1 * (weights[k] - s) for k, s in shadow.items()}
    for name, value in _weights(task).items():
        np.testing.assert_allclose(value, shadow[name], rtol=1e-6, atol=1e-7, err_msg=name)


def test_eval_interval_epoch_evaluates_after_every_epoch(tmp_path, digits):
    train = Digits(digits[0].x[:100], digits[0].y[:100])
    dev = Digits(digits[1].x[:30], digits[1].y[:30])
    watch = DevLog()
    task = _task(tmp_path, "epochs", num_epoch=3, batch_size=25, eval_interval="epoch")
    task.finetune_and_eval(train, dev, callbacks=[watch])
    assert len(watch.scores) == 3


# ---------------------------------------------------------------- gradients after a step
@pytest.mark.parametrize("width", [64, 1100])
def test_gradients_after_a_step_are_zero_as_paddle_model_leaves_them_or_released(width):
    """Small (64 x 1000) and large (1100 x 1000, 4.2 MB) layers alike: after an update the
    gradients hold zeros, as paddle.Model leaves them; with release_grads they are freed."""
    paddle.seed(0)
    backbone = paddle.nn.Sequential(paddle.nn.Linear(width, 1000), paddle.nn.ReLU())
    task = hub.ImageClassifierTask(feature=backbone, num_classes=3, feature_dim=1000, dropout=0.0)
    task.prepare(paddle.optimizer.Adam(1e-3, parameters=task.network.parameters()))
    before = task.network.parameters()[0].numpy().copy()
    x = paddle.to_tensor(np.random.RandomState(0).rand(4, width).astype("float32"))
    labels = [paddle.to_tensor(np.array([[0], [1], [2], [0]]))]
    task.train_batch([x], labels)
    assert not np.array_equal(task.network.parameters()[0].numpy(), before)  # the step happened
    assert all(p.grad is not None and not p.grad.numpy().any() for p in task.network.parameters())
    task.release_grads = True
    task.train_batch([x], labels)
    assert all(p.grad is None for p in task.network.parameters())
