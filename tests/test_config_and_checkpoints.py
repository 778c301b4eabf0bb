"""RunConfig validation, checkpoint integrity, and bad input refused before anything is overwritten."""
import os
import random

import numpy as np
import paddle
import pytest

import hubtrain as hub
from hubtrain.engine.checkpoint import CheckpointManager
from tiny import Digits, mlp_backbone


# ---------------------------------------------------------------- RunConfig
def test_config_defaults_match_paddlehub():
    c = hub.RunConfig()
    assert c.seed is None  # nothing is seeded unless asked
    assert (c.num_epoch, c.batch_size, c.log_interval, c.eval_interval, c.save_ckpt_interval) == (1, 32, 10, 100, None)
    assert c.use_cuda is None and c.device == "cpu"


@pytest.mark.parametrize("options, words", [
    (dict(num_epohc=3), ["unknown option 'num_epohc'", "Did you mean 'num_epoch'", "batch_size"]),
    (dict(batch_size=0), ["'batch_size' = 0", "whole number >= 1"]),
    (dict(batch_size=2.5), ["'batch_size' = 2.5"]),
    (dict(log_interval=-1), ["'log_interval' = -1"]),
    (dict(use_cuda="yes"), ["'use_cuda' = 'yes'", "True (a GPU", "False or None"]),
    (dict(amp_level="O3"), ["'amp_level' = 'O3'", "'O1' or 'O2'"]),
    (dict(strategy="adam"), ["'strategy' = 'adam'", "hubtrain strategy"]),
    (dict(seed=-3), ["'seed' = -3"]),
])
def test_config_rejects_bad_options_naming_them(options, words):
    with pytest.raises(ValueError) as e:
        hub.RunConfig(**options)
    for w in words:
        assert w in str(e.value)


def test_config_use_cuda_true_without_gpu_runs_on_the_cpu_with_one_warning(hub_warnings):
    config = hub.RunConfig(use_cuda=True)
    assert config.device == "cpu" and config.device == "cpu"
    warnings = [r.getMessage() for r in hub_warnings.records]
    assert len(warnings) == 1 and "sees no GPU: running on the CPU" in warnings[0] and "use_cuda=False" in warnings[0]


# ---------------------------------------------------------------- strategies
def test_lr_schedule_steps_once_per_optimizer_step_under_accumulation(tmp_path, digits):
    train = Digits(digits[0].x[:160], digits[0].y[:160])     # 10 batches of 16
    config = hub.RunConfig(seed=0, num_epoch=1, batch_size=16, accumulate_steps=4,
                           strategy=hub.AdamWeightDecayStrategy(learning_rate=0.1, warmup_proportion=0.0))
    task = hub.ImageClassifierTask(feature=mlp_backbone(), num_classes=10, config=config)
    task.fit(train, batch_size=16, epochs=1, verbose=0, accumulate_grad_batches=4)
    # 10 batches, updates after batches 4, 8 and 10 (the epoch's end)
    assert task.train_state.optimizer_step == 3
    assert task.current_run.optimization.scheduler.last_epoch == 3


# ---------------------------------------------------------------- checkpoints
def _finetuned(tmp_path, digits, **cfg):
    train = Digits(digits[0].x[:64], digits[0].y[:64])
    config = hub.RunConfig(seed=0, num_epoch=1, batch_size=16, save_ckpt_interval=2, checkpoint_dir=str(tmp_path / "ck"), **cfg)
    task = hub.ImageClassifierTask(feature=mlp_backbone(), num_classes=10, config=config)
    task.finetune(train)
    return task, train


def test_checkpoint_has_manifest_and_keeps_newest(tmp_path, digits):
    _finetuned(tmp_path, digits, keep_checkpoint_max=1)
    names = sorted(os.listdir(tmp_path / "ck"))
    assert [n for n in names if n.startswith("step_")] == ["step_4"]
    assert not [n for n in names if n.startswith(".tmp")]
    manifest = CheckpointManager(str(tmp_path / "ck")).verify(str(tmp_path / "ck" / "step_4"))
    assert set(manifest["files"]) >= {"model.safetensors", "optimizer.safetensors", "rng.json", "trainer_state.json"}


class _StartStep(paddle.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.step = self.model.train_state.global_step


@pytest.mark.parametrize("damage, words", [
    ("truncate", "is truncated or altered (100 bytes, the manifest says"),
    ("flip", "is corrupted (SHA-256 differs from the manifest)"),
])
def test_damaged_newest_checkpoint_is_reported_and_the_previous_one_used(tmp_path, digits, capsys, damage, words):
    task, train = _finetuned(tmp_path, digits)
    weights = tmp_path / "ck" / "step_4" / "model.safetensors"
    data = weights.read_bytes()
    if damage == "truncate":
        weights.write_bytes(data[:100])
    else:  # one bit flipped, same size: only the checksum can tell
        weights.write_bytes(data[:500] + bytes([data[500] ^ 1]) + data[501:])
    manager = CheckpointManager(str(tmp_path / "ck"))
    path, problems = manager.latest()
    assert path.endswith("step_2")
    assert words in problems[0] and str(weights) in problems[0]
    # a run on the directory says so and resumes from step_2 (then goes on to write step_4 afresh)
    capsys.readouterr()
    config = hub.RunConfig(seed=0, num_epoch=1, batch_size=16, save_ckpt_interval=2, checkpoint_dir=str(tmp_path / "ck"))
    again = hub.ImageClassifierTask(feature=mlp_backbone(), num_classes=10, config=config)
    start = _StartStep()
    again.finetune(train, callbacks=[start])
    out = capsys.readouterr().out
    assert f"checkpoint file {weights} {words}" in out and "Passing over it to an older checkpoint." in out
    assert start.step == 2 and again.train_state.global_step == 4
    assert manager.latest() == (str(tmp_path / "ck" / "step_4"), [])
    for name, value in again.network.state_dict().items():  # the same end as the run never damaged
        assert np.array_equal(value.numpy(), task.network.state_dict()[name].numpy()), name


def test_no_usable_checkpoint_is_an_error_and_nothing_is_overwritten(tmp_path, digits):
    task, train = _finetuned(tmp_path, digits)
    for step in ("step_2", "step_4"):
        f = tmp_path / "ck" / step / "model.safetensors"
        f.write_bytes(f.read_bytes()[:-10])
    before = {p: p.stat().st_mtime_ns for p in (tmp_path / "ck").rglob("*") if p.is_file() and p.name != ".lock"}
    config = hub.RunConfig(seed=0, num_epoch=2, batch_size=16, checkpoint_dir=str(tmp_path / "ck"))
    again = hub.ImageClassifierTask(feature=mlp_backbone(), num_classes=10, config=config)
    with pytest.raises(hub.CheckpointError, match="no usable checkpoint .*truncated.*Move or delete"):
        again.finetune(train)
    after = {p: p.stat().st_mtime_ns for p in (tmp_path / "ck").rglob("*") if p.is_file() and p.name != ".lock"}
    assert before == after


def test_checkpoint_of_another_network_is_refused(tmp_path, digits):
    task, train = _finetuned(tmp_path, digits)
    config = hub.RunConfig(seed=0, num_epoch=2, batch_size=16, checkpoint_dir=str(tmp_path / "ck"))
    other = hub.ImageClassifierTask(feature=mlp_backbone(), num_classes=10, hidden_units=[16], config=config)
    with pytest.raises(hub.CheckpointError, match="different network.*new directory"):
        other.finetune(train)
    assert sorted(n for n in os.listdir(tmp_path / "ck") if n.startswith("step_")) == ["step_2", "step_4"]


def test_second_run_on_the_same_directory_is_refused(tmp_path, digits):
    manager = CheckpointManager(str(tmp_path / "ck"))
    manager.acquire()
    try:
        train = Digits(digits[0].x[:64], digits[0].y[:64])
        config = hub.RunConfig(seed=0, num_epoch=1, batch_size=16, checkpoint_dir=str(tmp_path / "ck"))
        task = hub.ImageClassifierTask(feature=mlp_backbone(), num_classes=10, config=config)
        with pytest.raises(hub.CheckpointError, match=f"in use by another run \\(process {os.getpid()}\\)"):
            task.finetune(train)
    finally:
        manager.release()


def test_leftovers_of_a_killed_write_are_cleaned(tmp_path, digits):
    task, train = _finetuned(tmp_path, digits)
    (tmp_path / "ck" / ".tmp-step_6-999999").mkdir()
    best = tmp_path / "ck" / "best_model"
    best.mkdir()
    (best / "x").write_text("1")
    os.rename(best, tmp_path / "ck" / ".tmp-best_model-999999.old")
    manager = CheckpointManager(str(tmp_path / "ck"))
    manager.acquire()
    manager.release()
    names = os.listdir(tmp_path / "ck")
    assert "best_model" in names and not [n for n in names if n.startswith(".tmp")]


# ---------------------------------------------------------------- bad input
def test_label_out_of_range_names_num_classes(tmp_path, digits):
    train = Digits(digits[0].x[:64], digits[0].y[:64])
    task = hub.ImageClassifierTask(feature=mlp_backbone(), num_classes=5,
                                   config=hub.RunConfig(seed=0, batch_size=16, checkpoint_dir=str(tmp_path / "ck")))
    with pytest.raises(ValueError, match=r"outside \[0, 5\).*num_classes=5"):
        task.finetune(train)
    assert not [n for n in os.listdir(tmp_path / "ck") if n.startswith("step_")]


def test_label_shape_that_disagrees_with_add_label(tmp_path, digits):
    class FlatLabels(Digits):
        def __getitem__(self, i):
            return self.x[i], np.int64(self.y[i])

    task = hub.ImageClassifierTask(feature=mlp_backbone(), num_classes=10, config=hub.RunConfig(seed=0, batch_size=16))
    with pytest.raises(ValueError, match=r"labels have shape \[16\].*_add_label\(\) declares 'label' with shape \[None, 1\]"):
        task.fit(FlatLabels(digits[0].x[:64], digits[0].y[:64]), batch_size=16, verbose=0)


def test_empty_dataset_is_refused(tmp_path):
    task = hub.ImageClassifierTask(feature=mlp_backbone(), num_classes=10)
    with pytest.raises(ValueError, match="the train dataset is empty"):
        task.fit(Digits(np.zeros((0, 64), "float32"), np.zeros(0, "int64")), verbose=0)


def test_feature_of_unknown_type_is_refused():
    with pytest.raises(TypeError, match="feature must be"):
        hub.ImageClassifierTask(feature="resnet", num_classes=10)


def test_num_classes_must_be_sensible():
    with pytest.raises(ValueError, match="num_classes = 1"):
        hub.TextClassifierTask(feature=mlp_backbone(), num_classes=1)


def test_a_resumed_rank_gets_its_own_random_states_back():
    """A job's RNG file holds every rank's states (each rank draws its own dropout masks, more or
    fewer as its batches pad longer or shorter); each rank of a job of that size takes its own,
    and a job of another size rank 0's, as from a one-process file."""
    from hubtrain.engine.checkpoint import capture_rng, ranks_rng, restore_rng

    paddle.seed(1)
    states, next_draws = [], []
    for _ in range(3):                      # three ranks' states, each followed by its own draws
        states.append(capture_rng())
        next_draws.append((paddle.rand([2]).numpy(), np.random.rand(), random.random()))
    job = ranks_rng(states)
    assert set(job) - set(states[0]) == {"other_ranks"} and ranks_rng(states[:1]) == states[0]
    for rank in range(3):
        restore_rng(job, rank, 3)
        draws = (paddle.rand([2]).numpy(), np.random.rand(), random.random())
        assert np.array_equal(draws[0], next_draws[rank][0]) and draws[1:] == next_draws[rank][1:]
    restore_rng(job, 1, 2)                  # a job of 2 resuming a checkpoint of 3: rank 0's
    assert np.array_equal(paddle.rand([2]).numpy(), next_draws[0][0])
