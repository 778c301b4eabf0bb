"""What a run reports and keeps is the run's own: its default checkpoint directory, its first
weights from its seed, the learning rate each step trained with, and the epoch's training metrics
across a resume."""
import logging
import os

import numpy as np
import paddle
import pytest

import hubtrain as hub
from hubtrain.engine.report import logger
from hubtrain.runs.training import default_checkpoint_dir
from hubtrain.pipeline.report import read_scalars
from tiny import Digits, mlp_backbone


@pytest.fixture
def small(digits):
    """160 training samples (5 batches of 32) and 40 dev samples."""
    return Digits(digits[0].x[:160], digits[0].y[:160]), Digits(digits[1].x[:40], digits[1].y[:40])


@pytest.fixture
def hub_info(caplog):
    """hubtrain's INFO and WARNING lines in `caplog.text`."""
    logger.propagate = True
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        with caplog.at_level(logging.INFO, logger="hubtrain"):
            yield caplog
    finally:
        logger.propagate = False
        logger.setLevel(level)


def _weights(layer):
    return {k: v.numpy().copy() for k, v in layer.state_dict().items()}


def _head(task):
    return {k: v for k, v in _weights(task.network).items() if k.startswith("head.")}


def _task(config, hidden=(16,)):
    return hub.ImageClassifierTask(feature=mlp_backbone(), num_classes=10, hidden_units=list(hidden), config=config)


# -- default checkpoint directories ------------------------------------------------------------
def test_default_checkpoint_dirs_are_new_and_distinct(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    names = [default_checkpoint_dir() for _ in range(20)]  # all in the same second or two
    assert len(set(names)) == 20
    for name in names:
        assert name.startswith("ckpt_") and f"_{os.getpid()}_" in name
        assert os.path.isdir(name) and not os.listdir(name)


def test_runs_without_checkpoint_dir_never_resume_each_other(tmp_path, monkeypatch, small, hub_info):
    monkeypatch.chdir(tmp_path)
    train, _ = small
    first = _task(hub.RunConfig(num_epoch=1, batch_size=32, log_interval=100))
    first.finetune(train)
    # a second run right after, of another network: it trains in a directory of its own
    second = _task(hub.RunConfig(num_epoch=1, batch_size=32, log_interval=100), hidden=(24,))
    second.finetune(train)
    assert first.checkpoint_dir != second.checkpoint_dir
    assert "Resuming from checkpoint" not in hub_info.text
    assert second.train_state.global_step == 5
    assert sorted(os.listdir(second.checkpoint_dir)).count("step_5") == 1
    # the same task trained again continues its own run: nothing is left to train
    hub_info.clear()
    first.finetune(train)
    assert f"Resuming from checkpoint {os.path.abspath(first.checkpoint_dir)}" in hub_info.text


def test_a_refused_run_leaves_no_default_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    task = _task(hub.RunConfig(num_epoch=1, batch_size=32))
    with pytest.raises(ValueError, match="the train dataset is empty"):
        task.finetune(Digits(np.zeros((0, 64), "float32"), np.zeros(0, "int64")))
    assert not [p for p in os.listdir(tmp_path) if p.startswith("ckpt_")]


# -- the seed ------------------------------------------------------------------------------------
def test_a_seed_fixes_the_head_and_the_trained_weights(tmp_path, small):
    train, _ = small
    heads, trained = [], []
    for draws, seed in ((0, 5), (7, 5), (0, 6)):
        backbone = mlp_backbone()
        paddle.rand([draws + 1])  # other work between the backbone and the task moves the generators
        np.random.rand(draws + 1)
        config = hub.RunConfig(num_epoch=1, batch_size=32, seed=seed, checkpoint_dir=str(tmp_path / f"r{draws}_{seed}"))
        task = hub.ImageClassifierTask(feature=backbone, num_classes=10, hidden_units=[16], config=config)
        heads.append(_head(task))
        task.finetune(train)
        trained.append(_weights(task.network))
    assert heads[0].keys() == heads[2].keys() and heads[0]
    for name in heads[0]:
        assert np.array_equal(heads[0][name], heads[1][name]), name
    assert any(not np.array_equal(heads[0][n], heads[2][n]) for n in heads[0] if "weight" in n)
    for name in trained[0]:
        assert np.array_equal(trained[0][name], trained[1][name]), name
    assert any(not np.array_equal(trained[0][n], trained[2][n]) for n in trained[0])


# -- the learning rate ---------------------------------------------------------------------------
@pytest.mark.parametrize("accumulate", [1, 2])
def test_logged_learning_rate_is_the_one_each_step_used(tmp_path, digits, hub_info, accumulate):
    # 12 batches; with accumulate=2, 6 optimizer steps. Warm-up over half the optimizer steps, then
    # linear decay: optimizer step t (from 0) of n with w warm-up steps runs at
    # lr * (t + 1) / w while t < w, then lr * (n - t) / (n - w).
    train = Digits(digits[0].x[:120], digits[0].y[:120])
    lr, batches = 1e-3, 12
    n = batches // accumulate
    w = n // 2
    expected = []
    for step in range(batches):
        t = step // accumulate
        expected.append(lr * ((t + 1) / w if t < w else (n - t) / (n - w)))
    config = hub.RunConfig(num_epoch=1, batch_size=10, log_interval=1, accumulate_steps=accumulate,
                           checkpoint_dir=str(tmp_path / "ckpt"),
                           strategy=hub.AdamWeightDecayStrategy(learning_rate=lr, warmup_proportion=0.5))
    _task(config).finetune(train)
    logged = read_scalars(str(tmp_path / "ckpt" / "scalars.jsonl"))["train/lr"]  # what the report plots
    assert [s for s, _ in logged] == list(range(1, batches + 1))
    np.testing.assert_allclose([v for _, v in logged], expected, rtol=1e-6)
    for step, value in enumerate(expected, start=1):
        assert f"step {step} / {batches}: " in hub_info.text
        line = next(l for l in hub_info.text.splitlines() if f"step {step} / {batches}: " in l)
        assert f"lr={value:.3e}" in line, line


# -- the epoch's training metrics across a resume ------------------------------------------------
class Crash(Exception):
    pass


class CrashAt(paddle.callbacks.Callback):
    def __init__(self, step):
        super().__init__()
        self.step = step

    def on_train_batch_end(self, step, logs=None):
        if self.model.train_state.global_step == self.step:
            raise Crash(f"stopped at step {self.step}")


class AccuracyAndF1(hub.ImageClassifierTask):
    def _add_metrics(self):
        from hubtrain.metrics import F1, Accuracy

        return [Accuracy(), F1()]


def _metric_run(ckpt, kind=hub.ImageClassifierTask, **options):
    config = hub.RunConfig(num_epoch=2, batch_size=16, log_interval=1, save_ckpt_interval=4, seed=3,
                           checkpoint_dir=str(ckpt), **options)
    return kind(feature=mlp_backbone(), num_classes=10, hidden_units=[16], config=config)


def _logged(ckpt, name):
    return read_scalars(str(ckpt / "scalars.jsonl"))[f"train/{name}"]


def test_epoch_metrics_carry_on_after_a_crash_mid_epoch(tmp_path, small, hub_info):
    train, _ = small
    train = Digits(np.concatenate([train.x, train.x[:80]]), np.concatenate([train.y, train.y[:80]]))  # 15 batches
    _metric_run(tmp_path / "a", AccuracyAndF1).finetune(train)
    with pytest.raises(Crash):
        _metric_run(tmp_path / "b", AccuracyAndF1).finetune(train, callbacks=[CrashAt(11)])  # last checkpoint: step 8
    hub_info.clear()
    _metric_run(tmp_path / "b", AccuracyAndF1).finetune(train)
    assert "Resuming from checkpoint" in hub_info.text and "(step 8)" in hub_info.text
    assert "are not in the checkpoint" not in hub_info.text
    for name in ("acc", "f1"):
        straight, resumed = _logged(tmp_path / "a", name), _logged(tmp_path / "b", name)
        assert [s for s, _ in straight] == [s for s, _ in resumed] == list(range(1, 31))
        assert straight == resumed, name  # the steps after the resume (9..15) count the whole epoch


def test_epoch_metrics_carry_on_after_a_run_stopped_by_max_steps(tmp_path, small):
    train, _ = small
    _metric_run(tmp_path / "a").finetune(train)
    _metric_run(tmp_path / "b", max_steps=3).finetune(train)  # saved at its end, step 3
    _metric_run(tmp_path / "b").finetune(train)
    assert _logged(tmp_path / "a", "acc") == _logged(tmp_path / "b", "acc")


def test_a_metric_without_saved_counts_says_it_restarts(tmp_path, small, hub_info):
    train, _ = small

    def fit(callbacks=None, resume=False):
        task = _metric_run(tmp_path / "fit")
        opt = paddle.optimizer.Adam(learning_rate=1e-3, parameters=task.parameters())
        task.prepare(opt, paddle.nn.CrossEntropyLoss(), paddle.metric.Accuracy())
        task.fit(train, batch_size=32, epochs=1, log_freq=1, save_dir=str(tmp_path / "fit"), verbose=0,
                 callbacks=callbacks, resume=resume)

    with pytest.raises(Crash):
        fit([CrashAt(5)])  # paddle's Accuracy; checkpoint at step 4, mid-epoch (5 batches)
    hub_info.clear()
    fit(resume=True)
    warnings = [r.getMessage() for r in hub_info.records if "training metric" in r.getMessage()]
    assert len(warnings) == 1, warnings
    assert warnings[0].startswith("training metric acc (paddle.metric.metrics.Accuracy): its counts so far in "
                                  "epoch 1 are not in the checkpoint, so resumed at step 4")


def test_hub_metric_state_is_plain_data_and_round_trips():
    from hubtrain.metrics import Accuracy, F1, MeanSquaredError, MultiLabelAUC, Pearson, SquadF1

    rng = np.random.RandomState(0)
    logits, labels = paddle.to_tensor(rng.randn(20, 4).astype("float32")), paddle.to_tensor(rng.randint(0, 4, (20, 1)))
    pred, target = paddle.to_tensor(rng.randn(20, 1).astype("float32")), paddle.to_tensor(rng.randn(20, 1).astype("float32"))
    multi = paddle.to_tensor(rng.randint(0, 2, (20, 3)).astype("float32"))
    cases = [(Accuracy(), (logits, labels)), (F1(), (logits, labels)), (Pearson(), (pred, target)),
             (MeanSquaredError(), (pred, target)), (MultiLabelAUC(), (logits[:, :3], multi)),
             (SquadF1(), (["a b", "c"], [["a b"], ["d"]]))]
    for metric, args in cases:
        computed = metric.compute(*args)
        metric.update(*(computed if isinstance(computed, tuple) else [computed]))
        state = metric.state_dict()
        for value in state["statistics"]:
            assert isinstance(value, (int, float, np.ndarray)), (type(metric).__name__, type(value))
        again = type(metric)()
        again.set_state_dict(state)
        assert np.allclose(again.accumulate(), metric.accumulate()), type(metric).__name__
        again.update(*(computed if isinstance(computed, tuple) else [computed]))  # keeps counting after
        metric.update(*(computed if isinstance(computed, tuple) else [computed]))
        assert np.allclose(again.accumulate(), metric.accumulate()), type(metric).__name__
