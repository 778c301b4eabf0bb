"""A NaN or inf loss or gradient stops the run naming the step, the batch's samples and the last
good checkpoint, or (on_nonfinite="skip") the batch is left out and counted. Never trained on."""
import json
import os
import re

import numpy as np
import paddle
import paddle.nn as nn
import pytest

import hubtrain as hub
from tiny import Digits, mlp_backbone

BAD = 37  # the poisoned sample


def _data(digits, n=160, poison="nan"):
    x, y = digits[0].x[:n].copy(), digits[0].y[:n].copy()
    x[BAD, 5] = {"nan": np.nan, "inf": np.inf}[poison]
    return Digits(x, y)


def _linear():
    """A linear backbone: a NaN or inf feature reaches the loss (a ReLU would turn NaN into 0)."""
    paddle.seed(0)
    return nn.Linear(64, 32)


def _task(feature=None, **cfg):
    config = hub.RunConfig(batch_size=16, num_epoch=2, seed=7, **cfg)  # BAD: batch 3 of epoch 1, 6 of epoch 2
    return hub.ImageClassifierTask(feature=feature or _linear(), num_classes=10, config=config)


def _finite(task):
    return all(np.isfinite(p.numpy()).all() for p in task.network.parameters())


def _batch_of(task, sample, epoch):
    """The position in `epoch` of the batch that holds `sample`, from the run's own sampler."""
    sampler = task.current_run.envs["train"].loader.batch_sampler
    return next(b for b in range(10) if sample in sampler.batch_indices(epoch, b))


# ---------------------------------------------------------------- options
@pytest.mark.parametrize("options, words", [
    (dict(on_nonfinite="ignore"), ["'on_nonfinite' = 'ignore'", "'stop'", "'skip'"]),
    (dict(check_gradients="yes"), ["'check_gradients' = 'yes'", "True or False"]),
])
def test_options_are_validated(options, words):
    with pytest.raises(ValueError) as e:
        hub.RunConfig(**options)
    for w in words:
        assert w in str(e.value)


# ---------------------------------------------------------------- the loss
@pytest.mark.parametrize("poison", ["nan", "inf"])
def test_nonfinite_loss_stops_naming_step_samples_and_last_good_checkpoint(tmp_path, digits, poison):
    task = _task(checkpoint_dir=str(tmp_path / "ck"), save_ckpt_interval=1)
    before = {k: v.numpy().copy() for k, v in task.network.state_dict().items()}
    with pytest.raises(hub.NonFiniteError) as e:
        task.finetune(_data(digits, poison=poison))
    err = e.value
    position = _batch_of(task, BAD, 0)
    assert err.step == position + 1 and err.kind == "loss" and not np.isfinite(err.value)
    assert BAD in err.indices and len(err.indices) == 16
    assert err.indices == task.current_run.envs["train"].loader.batch_sampler.batch_indices(0, position)
    text = str(err)
    assert f"non-finite loss ({err.value}) at step {err.step} (epoch 1, batch {err.step} of 10)" in text
    assert str(BAD) in text and "stopped before updating the weights" in text and "on_nonfinite='skip'" in text
    assert err.step == 3 and err.checkpoint == str(tmp_path / "ck" / "step_2")
    assert f"The last good checkpoint is {err.checkpoint}." in text
    assert _finite(task) and task.train_state.optimizer_step == err.step - 1
    assert any(not np.array_equal(before[k], v.numpy()) for k, v in task.network.state_dict().items())


def test_skip_leaves_the_batch_out_counts_it_and_trains_on(tmp_path, digits, capsys):
    task = _task(checkpoint_dir=str(tmp_path / "ck"), on_nonfinite="skip", eval_interval=None)
    run_states = task.finetune(_data(digits))
    state = task.train_state
    # the poisoned sample's batch, once per epoch: no optimizer step, no samples counted
    assert state.skipped_batches == 2 and state.global_step == 20 and state.optimizer_step == 18
    assert _finite(task)
    losses = [float(rs.run_results[0]) for rs in run_states if rs.run_examples]
    assert len(losses) == 18 and np.isfinite(losses).all()
    assert sum(rs.run_examples for rs in run_states) == 160 * 2 - 32
    err = capsys.readouterr().out
    assert err.count("non-finite loss (nan)") == 2 and "left out, no optimizer step" in err and str(BAD) in err
    assert "2 batch(es) of this run were left out" in err
    with open(tmp_path / "ck" / "step_20" / "trainer_state.json") as f:
        assert json.load(f)["skipped_batches"] == 2


def test_skip_under_gradient_accumulation_keeps_the_window_s_other_batches(digits):
    task = _task(on_nonfinite="skip", accumulate_steps=2)
    task.fit(_data(digits), batch_size=16, epochs=2, verbose=0, accumulate_grad_batches=2)
    state = task.train_state
    assert state.skipped_batches == 2 and _finite(task)
    # 5 windows of 2 batches per epoch, each still with a batch to step on (in epoch 2 the bad batch
    # closes its window: the window steps on its first batch alone)
    assert state.optimizer_step == 10


# ---------------------------------------------------------------- gradients
class GatedBackbone(nn.Layer):
    """An MLP whose output is scaled by sqrt(a * x[:, 0]). Feature 0 is 1 for every sample but
    the poisoned one, where it is 0: its forward pass is finite (sqrt(0) = 0), its gradient for
    `a` is not (0.5 / sqrt(0) * 0 = NaN)."""

    def __init__(self):
        super().__init__()
        paddle.seed(0)
        self.fc = nn.Linear(64, 32)
        self.a = self.create_parameter([1], default_initializer=nn.initializer.Constant(1.0))

    def forward(self, x):
        return self.fc(x) * paddle.sqrt(self.a * x[:, :1])


def _gated_data(digits, n=160):
    x, y = digits[0].x[:n].copy(), digits[0].y[:n].copy()
    x[:, 0] = 1.0
    x[BAD, 0] = 0.0
    return Digits(x, y)


@pytest.mark.parametrize("cfg", [dict(check_gradients=True), dict(grad_clip_norm=1.0)])
def test_nonfinite_gradient_with_a_finite_loss_stops_when_checked(tmp_path, digits, cfg):
    task = _task(GatedBackbone(), checkpoint_dir=str(tmp_path / "ck"), save_ckpt_interval=2, **cfg)
    with pytest.raises(hub.NonFiniteError, match=r"non-finite gradients \(global norm nan\) at step") as e:
        task.finetune(_gated_data(digits))
    assert e.value.kind == "gradient" and BAD in e.value.indices and _finite(task)
    assert e.value.step == _batch_of(task, BAD, 0) + 1


def test_unchecked_nonfinite_gradient_is_caught_at_the_next_loss(tmp_path, digits):
    """Without a gradient check the bad update (step 3) happens and the next loss is NaN: the run
    stops there, saying the weights are already non-finite and these samples are not to blame."""
    task = _task(GatedBackbone(), checkpoint_dir=str(tmp_path / "ck"))
    with pytest.raises(hub.NonFiniteError, match="weights are already non-finite, so these samples are not to "
                       "blame.*Set check_gradients=True.*No checkpoint with finite weights exists yet") as e:
        task.finetune(_gated_data(digits))
    assert e.value.step == 4 and e.value.kind == "loss"


def test_a_checkpoint_is_never_written_with_nonfinite_weights(tmp_path, digits):
    """A NaN update the loss does not show (a ReLU MLP turns the NaN sample's activations into 0,
    so its loss stays finite and every later one too, while its first layer's gradient is NaN) is
    caught before the next checkpoint: that checkpoint is not written and the last good one named."""
    task, data = _task(mlp_backbone(), checkpoint_dir=str(tmp_path / "ck"), save_ckpt_interval=2), _data(digits)
    with pytest.raises(hub.NonFiniteError, match=r"non-finite weights at step 4, found before writing its "
                       r"checkpoint, which was not written.*The last good checkpoint is .*step_2\.") as e:
        task.finetune(data)
    assert e.value.kind == "weights" and e.value.checkpoint == str(tmp_path / "ck" / "step_2")
    assert sorted(os.listdir(tmp_path / "ck")) == [".lock", "step_2"]


def test_skip_drops_an_update_with_nonfinite_gradients(digits):
    task = _task(GatedBackbone(), on_nonfinite="skip", check_gradients=True)
    task.fit(_gated_data(digits), batch_size=16, epochs=2, verbose=0)
    assert task.train_state.skipped_batches == 2 and task.train_state.optimizer_step == 18 and _finite(task)


def test_summary_says_what_is_checked(tmp_path, digits, capsys):
    import logging

    from hubtrain.engine.report import logger

    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        _task(grad_clip_norm=1.0, on_nonfinite="skip").fit(_data(digits, 48), batch_size=16, verbose=0)
    finally:
        logger.setLevel(level)
    assert "a non-finite loss or gradient skips its batch" in capsys.readouterr().out


# ---------------------------------------------------------------- two processes
def test_two_processes_skip_the_same_update(tmp_path):
    """One rank's batch holds the poisoned sample: every rank still runs its backward pass, the
    all-reduced gradients are non-finite on every rank, and every rank drops that update."""
    from fault_tools import Run, write_data

    data = write_data(str(tmp_path / "digits.npz"))
    run = Run(tmp_path, "skip", tmp_path / "ck", data, launch=2, FAULT_POISON=BAD, FAULT_NONFINITE="skip")
    assert run.wait() == 0, run.log()[-3000:]
    ranks = [np.load(tmp_path / f"skip.rank{r}.npz") for r in (0, 1)]
    for name in ranks[0].files:
        assert np.array_equal(ranks[0][name], ranks[1][name]) and np.isfinite(ranks[0][name]).all(), name
    assert int(ranks[0]["__skipped"]) == 2  # once per epoch
    logs = [(tmp_path / "skip.launch" / f"workerlog.{r}").read_text() for r in (0, 1)]
    assert all("left out, no optimizer step" in log for log in logs)
    assert any(re.search(rf"left out, no optimizer step \(.*training samples \[[^\]]*\b{BAD}\b", log) for log in logs)


@pytest.mark.slow
def test_two_processes_stop_before_a_checkpoint_with_nonfinite_weights(tmp_path):
    from fault_tools import Run, newest_whole_step, write_data

    data = write_data(str(tmp_path / "digits.npz"))
    run = Run(tmp_path, "stop", tmp_path / "ck", data, launch=2, FAULT_POISON=BAD)
    assert run.wait() != 0
    logs = [(tmp_path / "stop.launch" / f"workerlog.{r}").read_text() for r in (0, 1)]
    assert any("NonFiniteError: non-finite weights at step 12" in log for log in logs), logs[0][-3000:]
    assert newest_whole_step(str(tmp_path / "ck")) == 8
