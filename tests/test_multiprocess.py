"""Real 2-process runs under paddle.distributed.launch (gloo on CPU): gradients in step, an
evaluation split between the ranks that equals one process's, prediction in order, a resumed
run, and a failing rank that stops the job with its error shown."""
import os

import numpy as np
import paddle
import pytest

import hubtrain as hub
from launch import SCRIPTS, launch_two
from tiny import Digits, mlp_backbone

def _launch(tmp_path, name, mode, ckpt=None):
    out = tmp_path / name
    out.mkdir()
    done, logs = launch_two([os.path.join(SCRIPTS, "dist_run.py"), out, ckpt or out / "ck", mode], out / "log",
                            tmp_path, HUBTRAIN_LOG_LEVEL="INFO")
    return done, out, logs


@pytest.mark.slow
def test_two_processes_train_in_step_and_evaluate_every_sample_once(tmp_path, digits):
    done, out, logs = _launch(tmp_path, "run", "train")
    assert done.returncode == 0, "".join(logs.values())[-3000:]
    ranks = [np.load(out / f"rank{r}.npz") for r in (0, 1)]
    for name in ranks[0].files:
        assert np.array_equal(ranks[0][name], ranks[1][name]), name
    assert int(ranks[0]["__step"]) == 20                       # 320 samples / 2 ranks / 16, 2 epochs

    # one process, the same weights, the same 37 dev samples
    dev = Digits(digits[1].x[:37], digits[1].y[:37])
    task = hub.ImageClassifierTask(feature=mlp_backbone(), num_classes=10, hidden_units=[16])
    task.network.set_state_dict({k: paddle.to_tensor(ranks[0][k]) for k in task.network.state_dict()})
    single = task.evaluate(dev, batch_size=8)
    assert float(ranks[0]["__acc"]) == single["acc"]
    np.testing.assert_allclose(float(ranks[0]["__loss"]), single["loss"], rtol=1e-6)
    probs = ranks[0]["__probs"]
    assert probs.shape == (37, 10)
    np.testing.assert_allclose(probs, np.concatenate(task.predict(dev, batch_size=8)[0]), rtol=1e-5, atol=1e-6)

    # rank 0 alone wrote checkpoints, the best model and the log lines
    assert (out / "ck" / "best_model" / "manifest.json").is_file()
    worker0, worker1 = logs["workerlog.0"], logs["workerlog.1"]
    assert "Saving model checkpoint" in worker0 and "Saving model checkpoint" not in worker1
    assert "[   TRAIN]" in worker0 and "[   TRAIN]" not in worker1


@pytest.mark.slow
def test_two_process_run_resumed_ends_where_an_uninterrupted_one_does(tmp_path):
    done, straight, logs = _launch(tmp_path, "straight", "train")
    assert done.returncode == 0, "".join(logs.values())[-3000:]
    ck = tmp_path / "shared_ck"
    done, first, logs = _launch(tmp_path, "first", "crash", ckpt=ck)
    assert done.returncode != 0 and "met a bad batch at step 13" in logs["workerlog.0"]
    done, second, logs = _launch(tmp_path, "second", "train", ckpt=ck)
    assert done.returncode == 0, "".join(logs.values())[-3000:]
    assert "Resuming from checkpoint" in logs["workerlog.0"] and "(step 12)" in logs["workerlog.0"]
    a, b = np.load(straight / "rank0.npz"), np.load(second / "rank0.npz")
    assert int(b["__step"]) == 20
    for name in a.files:
        if not name.startswith("__"):
            assert np.array_equal(a[name], b[name]), name


def test_a_failing_rank_stops_the_job_with_its_error(tmp_path):
    done, out, logs = _launch(tmp_path, "fail", "fail")
    assert done.returncode != 0
    assert "rank 1 met a bad batch at step 3" in logs["workerlog.1"]
    assert not (out / "rank0.npz").exists()
