"""Paddle's high-level API guide (custom Dataset, SubClass network, summary, prepare/fit with a
custom Loss, Metric and Callback, evaluate, predict, save/load and inference export), run on a
hubtrain task instead of a bare `paddle.Model`.

Data: scikit-learn's bundled 8x8 digits, upsampled to MNIST's 1x28x28 (no downloads).
"""
import os

os.environ.setdefault("HUBTRAIN_LOG_LEVEL", "WARNING")

from collections import Counter  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import paddle  # noqa: E402
import paddle.nn.functional as F  # noqa: E402
import pytest  # noqa: E402
from paddle.io import Dataset  # noqa: E402
from paddle.static import InputSpec  # noqa: E402

import hubtrain as hub  # noqa: E402

datasets = pytest.importorskip("sklearn.datasets")

N_TRAIN, N_TEST, BATCH, EPOCHS = 600, 200, 64, 2
TRAIN_STEPS_PER_EPOCH = -(-N_TRAIN // BATCH)  # 10, the last batch holds 24
TEST_STEPS = -(-N_TEST // BATCH)  # 4, the last batch holds 8


# ---------------------------------------------------------------------------- data (guide 3.2)
def _digits():
    digits = datasets.load_digits()
    order = np.random.RandomState(0).permutation(len(digits.target))[: N_TRAIN + N_TEST]
    images = np.stack([cv2.resize(img.astype("float32") / 16.0, (28, 28), interpolation=cv2.INTER_LINEAR)
                       for img in digits.images[order]])
    images = ((images - 0.5) / 0.5)[:, None].astype("float32")  # [N, 1, 28, 28]
    labels = digits.target[order].astype("int64")
    return images, labels


class MyDataset(Dataset):
    """Step 1: subclass paddle.io.Dataset."""

    def __init__(self, images, labels):
        """Step 2: the data, one split."""
        super().__init__()
        self.images = images
        self.labels = labels

    def __getitem__(self, index):
        """Step 3: one sample (data, label); the label as [1], which the task's label spec declares."""
        return self.images[index], np.array([self.labels[index]], dtype="int64")

    def __len__(self):
        """Step 4: the number of samples."""
        return len(self.images)


# ---------------------------------------------------------------------------- network (guide 4.2)
class Mnist(paddle.nn.Layer):
    def __init__(self):
        super().__init__()
        self.flatten = paddle.nn.Flatten()
        self.linear_1 = paddle.nn.Linear(784, 512)
        self.linear_2 = paddle.nn.Linear(512, 10)
        self.relu = paddle.nn.ReLU()
        self.dropout = paddle.nn.Dropout(0.2)

    def forward(self, inputs):
        y = self.flatten(inputs)
        y = self.linear_1(y)
        y = self.relu(y)
        y = self.dropout(y)
        y = self.linear_2(y)
        return y


MNIST_PARAMS = 784 * 512 + 512 + 512 * 10 + 10  # 407,050 as in the guide's summary
HEAD_PARAMS = 10 * 10 + 10  # the task's fc from the backbone's 10-d output to 10 classes


# ---------------------------------------------------------------------------- loss (guide 5.3)
class SoftmaxWithCrossEntropy(paddle.nn.Layer):
    def __init__(self):
        super().__init__()

    def forward(self, input, label):
        loss = F.softmax_with_cross_entropy(input, label, return_softmax=False, axis=1)
        return paddle.mean(loss)


# ---------------------------------------------------------------------------- metric (guide 5.4)
class TopOneAccuracy(paddle.metric.Metric):
    """Written as the guide's SelfDefineMetric: compute on tensors, update with the batch's
    values, accumulate over batches, reset per epoch."""

    def __init__(self, name="top1"):
        super().__init__()
        self._name = name
        self.reset()

    def name(self):
        return self._name

    def compute(self, pred, label):
        correct = paddle.argmax(pred, axis=-1, keepdim=True) == label.astype("int64")
        return correct.astype("float32")

    def update(self, correct):
        if isinstance(correct, paddle.Tensor):
            correct = correct.numpy()
        correct = np.asarray(correct, dtype="float64").reshape(-1)
        self.correct += float(correct.sum())
        self.total += correct.size
        return float(correct.mean()) if correct.size else 0.0

    def accumulate(self):
        return self.correct / self.total if self.total else 0.0

    def reset(self):
        self.correct = 0.0
        self.total = 0


# ---------------------------------------------------------------------------- callback (guide 5.5)
class HookRecorder(paddle.callbacks.Callback):
    """Counts every hook and keeps the arguments and logs that tell a run apart."""

    def __init__(self):
        super().__init__()
        self.calls = Counter()
        self.epochs = []
        self.train_steps = []
        self.eval_steps = []
        self.eval_logs = []
        self.train_end_logs = None

    def _hit(self, name):
        self.calls[name] += 1

    def on_train_begin(self, logs=None):
        self._hit("train_begin")

    def on_train_end(self, logs=None):
        self._hit("train_end")
        self.train_end_logs = dict(logs or {})

    def on_epoch_begin(self, epoch, logs=None):
        self._hit("epoch_begin")
        self.epochs.append(epoch)

    def on_epoch_end(self, epoch, logs=None):
        self._hit("epoch_end")

    def on_train_batch_begin(self, step, logs=None):
        self._hit("train_batch_begin")

    def on_train_batch_end(self, step, logs=None):
        self._hit("train_batch_end")
        self.train_steps.append(step)

    def on_eval_begin(self, logs=None):
        self._hit("eval_begin")

    def on_eval_batch_begin(self, step, logs=None):
        self._hit("eval_batch_begin")

    def on_eval_batch_end(self, step, logs=None):
        self._hit("eval_batch_end")
        self.eval_steps.append(step)

    def on_eval_end(self, logs=None):
        self._hit("eval_end")
        self.eval_logs.append(dict(logs or {}))

    def on_predict_begin(self, logs=None):
        self._hit("predict_begin")

    def on_predict_batch_begin(self, step, logs=None):
        self._hit("predict_batch_begin")

    def on_predict_batch_end(self, step, logs=None):
        self._hit("predict_batch_end")

    def on_predict_end(self, logs=None):
        self._hit("predict_end")


# ---------------------------------------------------------------------------- helpers
def make_task(seed=0):
    paddle.seed(seed)
    return hub.ImageClassifierTask(
        feature=Mnist(), num_classes=10,
        inputs=[InputSpec([None, 1, 28, 28], "float32", "image")],
        config=hub.RunConfig(use_cuda=False, seed=seed),
    )


def prepare(task, lr=2e-3):
    task.prepare(paddle.optimizer.Adam(learning_rate=lr, parameters=task.parameters()),
                 SoftmaxWithCrossEntropy(), TopOneAccuracy())


def softmax_ce(logits, labels):
    """Per-sample cross entropy in float64, independent of paddle."""
    z = logits.astype("float64")
    z = z - z.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return -log_p[np.arange(len(labels)), labels.reshape(-1)]


@pytest.fixture(scope="module")
def data():
    images, labels = _digits()
    train = MyDataset(images[:N_TRAIN], labels[:N_TRAIN])
    test = MyDataset(images[N_TRAIN:], labels[N_TRAIN:])
    return train, test


@pytest.fixture(scope="module")
def trained(data):
    """One guide run: prepare with the custom loss, metric and callback, then fit with eval."""
    train, test = data
    task = make_task(seed=1)
    prepare(task)
    recorder = HookRecorder()
    task.fit(train, test, epochs=EPOCHS, batch_size=BATCH, verbose=0, callbacks=[recorder])
    return task, recorder


# ---------------------------------------------------------------------------- 4.4 summary
def test_summary_counts_match_parameters():
    task = make_task()
    total = sum(int(p.numel()) for p in task.parameters())
    assert total == MNIST_PARAMS + HEAD_PARAMS

    info = task.summary()
    assert info == {"total_params": total, "trainable_params": total}
    assert task.summary((1, 28, 28)) == info  # the guide's explicit input size

    for p in task.network.backbone.linear_2.parameters():
        p.stop_gradient = True
    frozen = sum(int(p.numel()) for p in task.parameters() if p.stop_gradient)
    assert frozen == 512 * 10 + 10
    assert task.summary() == {"total_params": total, "trainable_params": total - frozen}


# ---------------------------------------------------------------------------- 5 prepare / fit
def test_prepare_keeps_custom_loss_and_metric():
    task = make_task()
    prepare(task)
    assert isinstance(task._loss, SoftmaxWithCrossEntropy)
    assert [type(m) for m in task._metrics] == [TopOneAccuracy]
    assert task._metrics_name() == ["loss", "top1"]


def test_fit_runs_callback_hooks(trained):
    _, rec = trained
    steps = EPOCHS * TRAIN_STEPS_PER_EPOCH
    expected = {
        "train_begin": 1, "train_end": 1,
        "epoch_begin": EPOCHS, "epoch_end": EPOCHS,
        "train_batch_begin": steps, "train_batch_end": steps,
        "eval_begin": EPOCHS, "eval_end": EPOCHS,
        "eval_batch_begin": EPOCHS * TEST_STEPS, "eval_batch_end": EPOCHS * TEST_STEPS,
    }
    assert dict(rec.calls) == expected
    assert rec.epochs == list(range(EPOCHS))
    assert rec.train_steps == list(range(TRAIN_STEPS_PER_EPOCH)) * EPOCHS
    assert rec.eval_steps == list(range(TEST_STEPS)) * EPOCHS
    for logs in rec.eval_logs:
        assert {"loss", "top1"} <= set(logs)
    assert {"loss", "top1"} <= set(rec.train_end_logs)


def test_fit_counts_every_step(trained):
    task, _ = trained
    state = task.train_state
    assert state.global_step == EPOCHS * TRAIN_STEPS_PER_EPOCH
    assert state.optimizer_step == EPOCHS * TRAIN_STEPS_PER_EPOCH
    assert state.epoch == EPOCHS


def test_fit_learns(trained):
    _, rec = trained
    first, last = rec.eval_logs[0], rec.eval_logs[-1]
    assert last["top1"] > 0.6, last  # chance is 0.1
    assert last["loss"] < first["loss"] or first["top1"] > 0.9, (first, last)


# ---------------------------------------------------------------------------- 6 evaluate
def test_evaluate_loss_is_whole_split_mean(trained, data):
    task, rec = trained
    _, test = data
    result = task.evaluate(test, batch_size=BATCH, verbose=0)
    assert isinstance(result, dict) and set(result) == {"loss", "top1"}
    loss = float(np.asarray(result["loss"]).reshape(-1)[0])

    logits = task.predict(test, batch_size=BATCH, stack_outputs=True, verbose=0)[0]
    per_sample = softmax_ce(logits, test.labels)
    assert loss == pytest.approx(per_sample.mean(), abs=1e-4)

    # the last batch (8 samples) alone gives a different mean, so the check above tells them apart
    last = per_sample[(TEST_STEPS - 1) * BATCH:]
    assert len(last) == N_TEST - (TEST_STEPS - 1) * BATCH
    assert abs(last.mean() - per_sample.mean()) > 1e-3

    acc = float(np.mean(logits.argmax(axis=1) == test.labels))
    assert float(result["top1"]) == pytest.approx(acc, abs=1e-6)
    # the evaluation after the last epoch of fit saw the same weights
    assert float(rec.eval_logs[-1]["loss"]) == pytest.approx(loss, abs=1e-5)
    assert float(rec.eval_logs[-1]["top1"]) == pytest.approx(acc, abs=1e-6)


def test_evaluate_twice_gives_the_same(trained, data):
    task, _ = trained
    _, test = data
    a = task.evaluate(test, batch_size=BATCH, verbose=0)
    b = task.evaluate(test, batch_size=BATCH, verbose=0)
    assert float(a["top1"]) == pytest.approx(float(b["top1"]), abs=1e-9)
    assert float(a["loss"]) == pytest.approx(float(b["loss"]), abs=1e-6)


def test_evaluate_and_predict_run_callback_hooks(trained, data):
    task, _ = trained
    _, test = data
    rec = HookRecorder()
    task.evaluate(test, batch_size=BATCH, verbose=0, callbacks=[rec])
    task.predict(test, batch_size=BATCH, verbose=0, callbacks=[rec])
    assert dict(rec.calls) == {
        "eval_begin": 1, "eval_batch_begin": TEST_STEPS, "eval_batch_end": TEST_STEPS, "eval_end": 1,
        "predict_begin": 1, "predict_batch_begin": TEST_STEPS, "predict_batch_end": TEST_STEPS, "predict_end": 1,
    }
    assert rec.eval_steps == list(range(TEST_STEPS))
    assert {"loss", "top1"} <= set(rec.eval_logs[0])


# ---------------------------------------------------------------------------- 7 predict
def test_predict_returns_one_entry_per_output(trained, data):
    task, _ = trained
    _, test = data
    batches = task.predict(test, batch_size=BATCH, verbose=0)
    assert isinstance(batches, list) and len(batches) == 1  # the network has one output
    per_batch = list(batches[0])
    assert len(per_batch) == TEST_STEPS
    assert [b.shape for b in per_batch] == [(BATCH, 10)] * (TEST_STEPS - 1) + [(N_TEST - (TEST_STEPS - 1) * BATCH, 10)]
    assert sum(b.shape[0] for b in per_batch) == len(test)

    stacked = task.predict(test, batch_size=BATCH, stack_outputs=True, verbose=0)
    assert isinstance(stacked, list) and len(stacked) == 1
    assert isinstance(stacked[0], np.ndarray) and stacked[0].shape == (N_TEST, 10)
    np.testing.assert_allclose(stacked[0], np.vstack(per_batch), rtol=0, atol=1e-6)
    # logits, not probabilities
    assert not np.allclose(stacked[0].sum(axis=1), 1.0, atol=1e-3)


# ---------------------------------------------------------------------------- batch methods
def test_batch_methods_take_numpy_and_return_hapi_formats(data):
    _, test = data
    task = make_task(seed=3)
    prepare(task, lr=1e-2)
    x, y = test.images[:16], test.labels[:16].reshape(-1, 1)

    before = task.predict_batch([x])
    assert isinstance(before, list) and len(before) == 1
    assert isinstance(before[0], np.ndarray) and before[0].shape == (16, 10) and before[0].dtype == np.float32
    np.testing.assert_array_equal(task.predict_batch(x)[0], before[0])  # a bare array works too

    out = task.eval_batch([x], [y])
    assert isinstance(out, tuple) and len(out) == 2
    losses, metrics = out
    assert isinstance(losses, list) and len(losses) == 1 and isinstance(losses[0], np.ndarray)
    assert float(losses[0]) == pytest.approx(softmax_ce(before[0], y).mean(), abs=1e-5)
    assert isinstance(metrics, list) and len(metrics) == 1
    assert metrics[0] == pytest.approx(float(np.mean(before[0].argmax(1) == y.reshape(-1))))

    out = task.train_batch([x], [y])
    assert isinstance(out, tuple) and len(out) == 2
    losses, metrics = out
    assert isinstance(losses, list) and len(losses) == 1 and isinstance(losses[0], np.ndarray)
    assert np.isfinite(losses[0]).all()
    assert isinstance(metrics, list) and len(metrics) == 1 and 0.0 <= metrics[0] <= 1.0

    after = task.predict_batch([x])[0]
    assert not np.allclose(after, before[0])  # the step updated the weights
    assert task.network.training is False  # predict_batch runs in eval mode

    # without metrics, hapi returns the losses list alone (metrics=None would mean the task's own)
    bare = make_task(seed=3)
    bare.prepare(paddle.optimizer.SGD(learning_rate=0.0, parameters=bare.parameters()),
                 SoftmaxWithCrossEntropy(), metrics=[])
    assert bare._metrics == []
    res = bare.train_batch([x], [y])
    assert isinstance(res, list) and len(res) == 1 and isinstance(res[0], np.ndarray)
    res = bare.eval_batch([x], [y])
    assert isinstance(res, list) and len(res) == 1 and isinstance(res[0], np.ndarray)


# ---------------------------------------------------------------------------- 8 save / load / export
def test_save_and_load_into_a_fresh_task(trained, data, tmp_path):
    task, _ = trained
    _, test = data
    path = str(tmp_path / "ckpt" / "mnist")
    task.save(path)
    assert os.path.isfile(path + ".pdparams") and os.path.isfile(path + ".pdopt")

    expected = task.predict(test, batch_size=BATCH, stack_outputs=True, verbose=0)[0]
    fresh = make_task(seed=7)
    prepare(fresh)
    assert not np.allclose(fresh.predict(test, batch_size=BATCH, stack_outputs=True, verbose=0)[0], expected)
    fresh.load(path)
    got = fresh.predict(test, batch_size=BATCH, stack_outputs=True, verbose=0)[0]
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)


def test_save_for_inference_and_jit_load(trained, data, tmp_path):
    task, _ = trained
    _, test = data
    x = test.images[:37]
    expected = task.predict_batch([x])[0]

    path = str(tmp_path / "infer" / "mnist")
    task.save(path, training=False)
    layer = paddle.jit.load(path)
    layer.eval()
    got = layer(paddle.to_tensor(x))
    got = (got[0] if isinstance(got, (list, tuple)) else got).numpy()
    assert got.shape == (37, 10)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)
    # exporting leaves the task as it was
    np.testing.assert_allclose(task.predict_batch([x])[0], expected, rtol=0, atol=1e-6)


def test_export_right_after_training_is_an_inference_model(data, tmp_path):
    """The guide saves for inference straight after fit, with the network still in train mode:
    the exported model must not apply dropout."""
    train, test = data
    task = make_task(seed=5)
    prepare(task)
    task.fit(train, epochs=1, batch_size=BATCH, verbose=0)
    assert task.network.training
    x = test.images[:16]
    path = str(tmp_path / "infer2" / "mnist")
    task.save(path, training=False)
    layer = paddle.jit.load(path)
    outs = [layer(paddle.to_tensor(x)) for _ in range(2)]
    outs = [(o[0] if isinstance(o, (list, tuple)) else o).numpy() for o in outs]
    np.testing.assert_allclose(outs[0], outs[1], rtol=0, atol=1e-6)
    np.testing.assert_allclose(outs[0], task.predict_batch([x])[0], rtol=0, atol=1e-5)


class StaticMnist(Mnist):
    """The guide's 8.1 network: forward decorated with @paddle.jit.to_static for export."""

    @paddle.jit.to_static
    def forward(self, inputs):
        return super().forward(inputs)


def test_export_with_a_to_static_backbone(data, tmp_path):
    _, test = data
    paddle.seed(11)
    task = hub.ImageClassifierTask(feature=StaticMnist(), num_classes=10,
                                   inputs=[InputSpec([None, 1, 28, 28], "float32", "image")],
                                   config=hub.RunConfig(use_cuda=False))
    prepare(task)
    x, y = test.images[:32], test.labels[:32].reshape(-1, 1)
    losses, _ = task.train_batch([x], [y])
    assert np.isfinite(losses[0]).all()
    expected = task.predict_batch([x])[0]

    path = str(tmp_path / "infer3" / "mnist")
    task.save(path, training=False)
    got = paddle.jit.load(path)(paddle.to_tensor(x))
    got = (got[0] if isinstance(got, (list, tuple)) else got).numpy()
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)
