"""A run killed with SIGKILL and started again ends with the same weights, bit for bit."""
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

SCRIPT = os.path.join(os.path.dirname(__file__), "scripts", "resume_run.py")


def _env():
    env = dict(os.environ, HUBTRAIN_LOG_LEVEL="INFO")
    env["PYTHONPATH"] = os.pathsep.join([os.path.dirname(SCRIPT), env.get("PYTHONPATH", "")])
    return env


def _run(ckpt, out, progress, pause="0.0", variant="adamw"):
    done = subprocess.run([sys.executable, SCRIPT, str(ckpt), str(out), str(progress), pause, variant], env=_env(),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def _start_and_kill(ckpt, out, progress, at_step, variant="adamw"):
    proc = subprocess.Popen([sys.executable, SCRIPT, str(ckpt), str(out), str(progress), "0.03", variant], env=_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while time.time() < deadline:
        try:
            if int(open(progress).read() or 0) >= at_step:
                break
        except (FileNotFoundError, ValueError):
            pass
        assert proc.poll() is None, "the run ended before it could be killed"
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return int(open(progress).read())


@pytest.mark.slow
def test_sigkill_mid_epoch_then_resume_is_bit_identical(tmp_path):
    _run(tmp_path / "a", tmp_path / "a.npz", tmp_path / "a.progress")
    straight = np.load(tmp_path / "a.npz")
    assert int(straight["__step"]) == 114

    killed_at = [_start_and_kill(tmp_path / "b", tmp_path / "b.npz", tmp_path / "b.progress", s) for s in (30, 61)]
    assert all(0 < k < 114 for k in killed_at)
    assert not (tmp_path / "b.npz").exists()
    steps = sorted(int(p.name[5:]) for p in (tmp_path / "b").iterdir() if p.name.startswith("step_"))
    assert steps and steps[-1] < 114

    log = _run(tmp_path / "b", tmp_path / "b.npz", tmp_path / "b.progress")
    assert "Resuming from checkpoint" in log
    resumed = np.load(tmp_path / "b.npz")
    assert sorted(resumed.files) == sorted(straight.files)
    for name in straight.files:
        assert np.array_equal(resumed[name], straight[name]), name
    # the logged training accuracy too: after a resume mid-epoch it still counts the whole epoch
    from hubtrain.pipeline.report import read_scalars
    acc_a = read_scalars(str(tmp_path / "a" / "scalars.jsonl"))["train/acc"]
    acc_b = read_scalars(str(tmp_path / "b" / "scalars.jsonl"))["train/acc"]
    assert len(acc_a) == 11 and acc_b == acc_a
    # the last training weights too (the arrays above are the best model, loaded for the test split)
    from hubtrain.serialization.records import read_weights
    last_a = read_weights(str(tmp_path / "a" / "step_114" / "model.safetensors"))
    last_b = read_weights(str(tmp_path / "b" / "step_114" / "model.safetensors"))
    for name, value in last_a.items():
        assert np.array_equal(value.numpy(), last_b[name].numpy()), name


@pytest.mark.slow
def test_finished_run_started_again_trains_nothing_more(tmp_path):
    _run(tmp_path / "c", tmp_path / "c1.npz", tmp_path / "c.progress")
    log = _run(tmp_path / "c", tmp_path / "c2.npz", tmp_path / "c.progress")
    assert "Resuming from checkpoint" in log and "(step 114)" in log
    assert "[   TRAIN]" not in log
    first, second = np.load(tmp_path / "c1.npz"), np.load(tmp_path / "c2.npz")
    # the second run ends by loading the best model for the test split, as the first did
    for name in first.files:
        assert np.array_equal(first[name], second[name]), name


@pytest.mark.slow
def test_ulmfit_with_weight_average_killed_mid_plan_resumes_bit_identical(tmp_path):
    """Killed in the second epoch (two of three blocks training), resumed: the unfreezing plan,
    the per-block rates and the weight average all carry on as if never stopped."""
    from hubtrain.serialization.records import read_record, read_weights

    _run(tmp_path / "a", tmp_path / "a.npz", tmp_path / "a.progress", variant="ulmfit")
    killed = _start_and_kill(tmp_path / "b", tmp_path / "b.npz", tmp_path / "b.progress", 50, variant="ulmfit")
    assert 38 < killed < 76  # inside epoch 2 of 3 (38 batches each)
    log = _run(tmp_path / "b", tmp_path / "b.npz", tmp_path / "b.progress", variant="ulmfit")
    assert "Resuming from checkpoint" in log and "epoch 3 trains the top 3 of 3 blocks" in log
    straight, resumed = np.load(tmp_path / "a.npz"), np.load(tmp_path / "b.npz")
    for name in straight.files:
        assert np.array_equal(resumed[name], straight[name]), name
    for step_dir in ("step_114",):
        a = read_weights(str(tmp_path / "a" / step_dir / "model.safetensors"))
        b = read_weights(str(tmp_path / "b" / step_dir / "model.safetensors"))
        ema_a = read_record(str(tmp_path / "a" / step_dir / "callbacks.safetensors"))["ExponentialMovingAverage.0"]
        ema_b = read_record(str(tmp_path / "b" / step_dir / "callbacks.safetensors"))["ExponentialMovingAverage.0"]
        for name, value in a.items():
            assert np.array_equal(value.numpy(), b[name].numpy()), name
            assert np.array_equal(np.asarray(ema_a["shadow"][name]), np.asarray(ema_b["shadow"][name])), name
