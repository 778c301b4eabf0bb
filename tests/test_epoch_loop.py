"""The batch loop of a pass, and training metrics fed in batches of steps: the values in `logs`
and in the log events are the ones step-by-step updates give."""

import numpy as np
import paddle
import pytest

import hubtrain as hub
from hubtrain.engine.deferred_metrics import DeferredMetrics
from hubtrain.engine.report import logger
from hubtrain.metrics import Accuracy
from tiny import Digits, mlp_backbone


def _batches(seed, shapes):
    rng = np.random.RandomState(seed)
    return [(paddle.to_tensor(rng.standard_normal(s).astype("float32")),
             paddle.to_tensor(rng.randint(0, s[-1], s[:-1] + (1,)).astype("int64"))) for s in shapes]


@pytest.mark.parametrize("shapes", [
    [(8, 5), (8, 5), (3, 5)],  # joined into one batch of 19 rows
    [(4, 2, 5), (4, 3, 5)],  # different trailing shapes: fed one by one
])
def test_deferred_inputs_give_the_step_by_step_values(shapes):
    batches = _batches(0, shapes)
    stepwise, deferred = [Accuracy()], [Accuracy()]
    for logits, label in batches:
        stepwise[0].update(*stepwise[0].compute(logits, label))
    keeper = DeferredMetrics()
    with keeper.deferring(True):
        for logits, label in batches:
            assert keeper.offer(deferred, [logits, label])
        assert deferred[0].count == 0  # nothing fed yet
    assert deferred[0].count == stepwise[0].count == sum(s[0] for s in shapes)
    assert deferred[0].accumulate() == stepwise[0].accumulate()


class _Mean(paddle.metric.Metric):
    """A metric of the caller's own: hubtrain cannot know that it only adds counts."""

    def reset(self):
        self.values = []

    def update(self, *args):
        self.values.append(1)

    def accumulate(self):
        return len(self.values)

    def name(self):
        return "mean"


def test_outside_a_training_pass_or_with_other_metrics_nothing_waits():
    logits, label = _batches(1, [(6, 4)])[0]
    keeper = DeferredMetrics()
    assert not keeper.offer([Accuracy()], [logits, label])
    with keeper.deferring(True):
        assert not keeper.offer([_Mean()], [logits, label])


def test_paddles_counting_metrics_wait_and_give_the_step_by_step_values():
    batches = _batches(3, [(8, 5), (8, 5), (3, 5)])
    stepwise, deferred = paddle.metric.Accuracy(topk=(1, 2)), paddle.metric.Accuracy(topk=(1, 2))
    for logits, label in batches:
        stepwise.update(stepwise.compute(logits, label).numpy())
    keeper = DeferredMetrics()
    with keeper.deferring(True):
        for logits, label in batches:
            assert keeper.offer([deferred], [logits, label])
    assert deferred.accumulate() == stepwise.accumulate() and list(deferred.count) == [19, 19]


def test_a_failed_pass_drops_what_waits():
    logits, label = _batches(2, [(6, 4)])[0]
    metrics, keeper = [Accuracy()], DeferredMetrics()
    with pytest.raises(RuntimeError):
        with keeper.deferring(True):
            keeper.offer(metrics, [logits, label])
            raise RuntimeError("a step failed")
    keeper.flush()
    assert metrics[0].count == 0


class _Watch(paddle.callbacks.Callback):
    """Per training step: the accuracy in `logs`, the batch's logits; the logs each epoch ends with."""

    def __init__(self):
        super().__init__()
        self.acc, self.logits, self.epoch_logs = [], [], []

    def on_train_batch_end(self, step, logs=None):
        self.acc.append(logs["acc"])
        self.logits.append(self.model.outputs[1].numpy())

    def on_epoch_end(self, epoch, logs=None):
        self.epoch_logs.append(dict(logs))


def _running_accuracy(logits, labels):
    hits = np.cumsum([int((l.argmax(-1) == y).sum()) for l, y in zip(logits, labels)])
    counts = np.cumsum([len(y) for y in labels])
    return hits / counts


@pytest.mark.parametrize("max_steps", [None, 7])
def test_training_logs_hold_the_running_accuracy_at_every_refresh(tmp_path, digits, max_steps):
    """10 batches of 8, log interval 3: `logs` are refreshed at steps 1, 3, 6, 9 and 10 (the last),
    and hold the last value in between; a run stopped at step 7 ends with the value over 7."""
    train = Digits(digits[0].x[:80], digits[0].y[:80])
    config = hub.RunConfig(num_epoch=1, batch_size=8, shuffle=False, log_interval=3, max_steps=max_steps,
                           checkpoint_dir=str(tmp_path / "ckpt"), strategy=hub.DefaultFinetuneStrategy(learning_rate=0.1, optimizer_name="sgd"))
    task = hub.ImageClassifierTask(feature=mlp_backbone(), num_classes=10, dropout=0.0, config=config)
    watch = _Watch()
    task.finetune(train, callbacks=[watch])
    steps = max_steps or 10
    labels = [digits[0].y[8 * i:8 * i + 8] for i in range(steps)]
    expected = _running_accuracy(watch.logits, labels)
    assert len(watch.acc) == steps
    refreshed = [i for i in range(steps) if i == 0 or (i + 1) % 3 == 0 or i == 9]
    last = None
    for i, value in enumerate(watch.acc):
        last = expected[i] if i in refreshed else last
        assert value == pytest.approx(last, abs=1e-9), f"step {i + 1}"
    assert watch.epoch_logs[-1]["acc"] == pytest.approx(expected[-1], abs=1e-9)
    assert task.variable("acc") == pytest.approx(expected[-1], abs=1e-9)


def test_the_log_line_shows_the_accuracy_up_to_its_step(tmp_path, digits, caplog):
    train = Digits(digits[0].x[:40], digits[0].y[:40])
    config = hub.RunConfig(num_epoch=1, batch_size=8, shuffle=False, log_interval=2,
                           checkpoint_dir=str(tmp_path / "ckpt"), strategy=hub.DefaultFinetuneStrategy(learning_rate=0.1, optimizer_name="sgd"))
    task = hub.ImageClassifierTask(feature=mlp_backbone(), num_classes=10, dropout=0.0, config=config)
    watch = _Watch()
    logger.propagate = True  # hubtrain's logger does not propagate by default
    try:
        with caplog.at_level("INFO", logger="hubtrain"):
            task.finetune(train, callbacks=[watch])
    finally:
        logger.propagate = False
    labels = [digits[0].y[8 * i:8 * i + 8] for i in range(5)]
    expected = _running_accuracy(watch.logits, labels)
    lines = [r.getMessage() for r in caplog.records if "step 4 / 5" in r.getMessage()]
    assert lines and f"acc={expected[3]:.5f}" in lines[0]
