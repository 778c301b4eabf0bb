"""SIGTERM and SIGINT, sent for real: the run finishes its step, writes a checkpoint and stops
non-zero saying how to resume; started again it resumes there and ends as a run never stopped.
A second SIGINT stops at once. Handlers exist only during a training call."""
import os
import re
import signal
import threading
import time

import numpy as np
import paddle
import pytest

import hubtrain as hub
from fault_tools import Run, assert_same_as_straight, leftovers, newest_whole_step, resumed_step

pytest_plugins = ["fault_tools"]  # its fixtures: data, straight
from tiny import Digits, mlp_backbone

STOPPED = re.compile(r"Training stopped by (SIG\w+|a signal to another rank) after step (\d+) of \d+; "
                     r"checkpoint written to (\S+)\. To resume, run the same command again")


def _signal_at(run, step, send):
    run.wait_for(lambda: run.step() >= step, f"step {step}")
    send()
    code = run.wait()
    return code, run.log()


def _check_stopped(code, log, ckpt, name, after):
    assert code != 0, log[-3000:]
    assert f"hubtrain: {name} received: finishing the current step" in log
    found = STOPPED.search(log)
    assert found, log[-3000:]
    assert found.group(1) == name
    step = int(found.group(2))
    assert after <= step <= after + 3
    assert found.group(3) == os.path.join(ckpt, f"step_{step}")
    assert newest_whole_step(ckpt) == step and leftovers(ckpt) == []
    assert "TrainingInterrupted" in log  # the exception's name ends the traceback
    return step


@pytest.mark.parametrize("name", ["SIGTERM", "SIGINT"])
def test_signal_writes_a_checkpoint_and_the_same_command_resumes_bit_identical(tmp_path, data, straight, name):
    ckpt = str(tmp_path / "ck")
    run = Run(tmp_path, "stopped", ckpt, data, FAULT_STEP_SLEEP=0.05)
    code, log = _signal_at(run, 10, lambda: run.proc.send_signal(getattr(signal, name)))
    step = _check_stopped(code, log, ckpt, name, 10)
    again = Run(tmp_path, "again", ckpt, data)
    assert again.wait() == 0, again.log()[-3000:]
    assert resumed_step(again.log()) == step
    assert_same_as_straight(straight, again.out, ckpt)


def test_ctrl_c_to_the_process_group_with_loader_workers(tmp_path, data):
    """A terminal's Ctrl-C reaches the DataLoader's worker processes too: the stop is the same."""
    ckpt = str(tmp_path / "ck")
    run = Run(tmp_path, "stopped", ckpt, data, new_session=True, FAULT_STEP_SLEEP=0.05, FAULT_WORKERS=2)
    code, log = _signal_at(run, 10, lambda: os.killpg(run.proc.pid, signal.SIGINT))
    step = _check_stopped(code, log, ckpt, "SIGINT", 10)
    again = Run(tmp_path, "again", ckpt, data, FAULT_WORKERS=2)
    assert again.wait() == 0, again.log()[-3000:]
    assert resumed_step(again.log()) == step


@pytest.mark.slow
def test_second_sigint_stops_at_once_without_a_checkpoint(tmp_path, data):
    ckpt = str(tmp_path / "ck")
    run = Run(tmp_path, "stopped", ckpt, data, FAULT_STEP_SLEEP=1.0)

    def twice():
        run.proc.send_signal(signal.SIGINT)
        time.sleep(0.3)  # both land while step 6's callbacks still run
        run.proc.send_signal(signal.SIGINT)

    code, log = _signal_at(run, 6, twice)
    assert code != 0
    assert "Training stopped at once by a second SIGINT, in the middle of step 7, which is lost. To resume, run " \
           f"the same command again: it continues from the newest checkpoint, {os.path.join(ckpt, 'step_4')}." in log
    assert newest_whole_step(ckpt) == 4 and leftovers(ckpt) == []
    again = Run(tmp_path, "again", ckpt, data)
    assert again.wait() == 0 and resumed_step(again.log()) == 4


@pytest.mark.slow
def test_two_processes_stop_after_the_same_step(tmp_path, data):
    """SIGTERM to paddle.distributed.launch: it sends SIGTERM to both workers (up to three times),
    they agree on a step, rank 0 writes the checkpoint, both stop, and a second launch resumes."""
    ckpt = str(tmp_path / "ck")
    run = Run(tmp_path, "dist", ckpt, data, launch=2, FAULT_STEP_SLEEP=0.05)
    code, _ = _signal_at(run, 8, lambda: run.proc.send_signal(signal.SIGTERM))
    assert code != 0
    logs = [open(tmp_path / "dist.launch" / f"workerlog.{r}").read() for r in (0, 1)]
    steps = []
    for log in logs:
        found = STOPPED.search(log)
        assert found, log[-3000:]
        steps.append(int(found.group(2)))
    assert steps[0] == steps[1] and newest_whole_step(ckpt) == steps[0] and leftovers(ckpt) == []
    again = Run(tmp_path, "again", ckpt, data, launch=2)
    assert again.wait() == 0, again.log()[-3000:]
    worker0 = open(tmp_path / "again.launch" / "workerlog.0").read()
    assert resumed_step(worker0) == steps[0]
    ranks = [np.load(tmp_path / f"again.rank{r}.npz") for r in (0, 1)]
    for name in ranks[0].files:
        assert np.array_equal(ranks[0][name], ranks[1][name]), name


# ---------------------------------------------------------------- in-process
class SignalAt(paddle.callbacks.Callback):
    """Sends this process a signal at one step and notes the handler seen during the run."""

    def __init__(self, step, sig=signal.SIGTERM):
        super().__init__()
        self.step, self.sig, self.handler = step, sig, None

    def on_train_batch_end(self, step, logs=None):
        self.handler = signal.getsignal(signal.SIGTERM)
        if self.model.train_state.global_step == self.step:
            os.kill(os.getpid(), self.sig)


def _task(**cfg):
    return hub.ImageClassifierTask(feature=mlp_backbone(), num_classes=10,
                                   config=hub.RunConfig(seed=0, batch_size=16, num_epoch=2, **cfg))


def test_training_interrupted_is_a_keyboard_interrupt_naming_the_checkpoint(tmp_path, digits):
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    train = Digits(digits[0].x[:160], digits[0].y[:160])
    task = _task(checkpoint_dir=str(tmp_path / "ck"), save_ckpt_interval=4)
    probe = SignalAt(5)
    with pytest.raises(hub.TrainingInterrupted) as e:
        task.finetune(train, callbacks=[probe])
    # the signal came during step 5's callbacks: step 6 is the first boundary after it
    assert isinstance(e.value, KeyboardInterrupt) and not isinstance(e.value, Exception)
    assert (e.value.signal_name, e.value.step) == ("SIGTERM", 6)
    assert e.value.checkpoint == str(tmp_path / "ck" / "step_6") and os.path.isdir(e.value.checkpoint)
    assert probe.handler not in (before[signal.SIGTERM], signal.SIG_DFL)
    assert {s: signal.getsignal(s) for s in before} == before  # put back
    # started again in this process, as a notebook cell run twice: a new network, new parameter names
    resumed = _task(checkpoint_dir=str(tmp_path / "ck"), save_ckpt_interval=4)
    resumed.finetune(train)
    assert resumed.train_state.global_step == 20
    straight = _task(checkpoint_dir=str(tmp_path / "straight"), save_ckpt_interval=4)
    straight.finetune(train)
    for (name, a), b in zip(straight.network.state_dict().items(), resumed.network.state_dict().values()):
        assert np.array_equal(a.numpy(), b.numpy()), name


def test_without_a_checkpoint_dir_the_message_says_the_run_cannot_resume(digits):
    task = _task()
    with pytest.raises(hub.TrainingInterrupted, match="has no checkpoint directory, so it cannot resume") as e:
        task.fit(Digits(digits[0].x[:160], digits[0].y[:160]), batch_size=16, epochs=2, verbose=0,
                 callbacks=[SignalAt(3, signal.SIGINT)])
    assert e.value.checkpoint is None and e.value.step == 4


def test_outside_the_main_thread_no_handler_is_installed(digits):
    seen, errors = [], []

    def train():
        try:
            probe = SignalAt(-1)
            _task().fit(Digits(digits[0].x[:64], digits[0].y[:64]), batch_size=16, verbose=0, callbacks=[probe])
            seen.append(probe.handler)
        except Exception as e:  # reported below
            errors.append(e)

    before = signal.getsignal(signal.SIGTERM)
    worker = threading.Thread(target=train)
    worker.start()
    worker.join()
    assert not errors and seen == [before]
