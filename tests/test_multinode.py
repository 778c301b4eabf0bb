"""Two nodes on loopback: two `paddle.distributed.launch` launchers on this machine given
`--nnodes 2 --master 127.0.0.1:PORT` form one gloo job, which trains, evaluates and predicts
exactly as one launcher with the same number of processes; a job whose worker is killed stops,
its checkpoints whole (restarts: tests/test_restart.py)."""
import os

import numpy as np
import paddle
import pytest

import hubtrain as hub
from launch import SCRIPTS, launch_two
from nodes import launch_nodes
from tiny import Digits, mlp_backbone

pytestmark = pytest.mark.slow


def _arrays(out, rank):
    return np.load(out / f"rank{rank}.npz")


@pytest.fixture(scope="module")
def two_nodes(tmp_path_factory):
    """dist_run.py's fine-tune on 2 loopback nodes of 1 process: (its output directory, its logs)."""
    out = tmp_path_factory.mktemp("two_nodes")
    launchers, logs = launch_nodes([os.path.join(SCRIPTS, "dist_run.py"), out, out / "ck", "train"], out / "log",
                                   out, nnodes=2, nproc_per_node=1, timeout=240, HUBTRAIN_LOG_LEVEL="INFO")
    assert [launcher.returncode for launcher in launchers] == [0, 0], launchers[0].stdout[-3000:]
    return out, logs


def test_two_nodes_of_one_process_end_as_one_node_of_two(tmp_path, digits, two_nodes):
    one_node = tmp_path / "one_node"
    one_node.mkdir()
    done, one_logs = launch_two([os.path.join(SCRIPTS, "dist_run.py"), one_node, one_node / "ck", "train"],
                                one_node / "log", tmp_path, HUBTRAIN_LOG_LEVEL="INFO")
    assert done.returncode == 0, "".join(one_logs.values())[-3000:]
    two_nodes, logs = two_nodes
    assert sorted(logs) == ["node0/workerlog.0", "node1/workerlog.0"]

    # the same weights, dev result and predictions on every rank of both jobs, bit for bit
    reference = _arrays(one_node, 0)
    for out in (one_node, two_nodes):
        for rank in (0, 1):
            arrays = _arrays(out, rank)
            assert sorted(arrays.files) == sorted(reference.files)
            for name in reference.files:
                assert np.array_equal(arrays[name], reference[name]), f"{out.name} rank {rank}: {name}"
    assert int(reference["__step"]) == 20                      # 320 samples / 2 ranks / 16, 2 epochs

    # the dev result is one process's over the same weights: each of the 37 samples counted once
    dev = Digits(digits[1].x[:37], digits[1].y[:37])
    task = hub.ImageClassifierTask(feature=mlp_backbone(), num_classes=10, hidden_units=[16])
    task.network.set_state_dict({k: paddle.to_tensor(reference[k]) for k in task.network.state_dict()})
    single = task.evaluate(dev, batch_size=8)
    assert float(reference["__acc"]) == single["acc"]
    np.testing.assert_allclose(float(reference["__loss"]), single["loss"], rtol=1e-6)
    probs = reference["__probs"]
    assert probs.shape == (37, 10)                             # in order, none repeated
    np.testing.assert_allclose(probs, np.concatenate(task.predict(dev, batch_size=8)[0]), rtol=1e-5, atol=1e-6)

    # global rank 0 (node 0's process) alone wrote checkpoints and log lines; the same checkpoints
    node0, node1 = logs["node0/workerlog.0"], logs["node1/workerlog.0"]
    assert "Saving model checkpoint" in node0 and "Saving model checkpoint" not in node1
    assert "[   TRAIN]" in node0 and "[   TRAIN]" not in node1
    assert sorted(os.listdir(two_nodes / "ck")) == sorted(os.listdir(one_node / "ck"))
    assert (two_nodes / "ck" / "best_model" / "manifest.json").is_file()

    # the math threads are split between the processes of a node, not of the job
    assert "cpu math" in node0 and "for 2 processes)" not in node0, node0[-2000:]
    assert "for 2 processes)" in one_logs["workerlog.0"]



def test_paddles_launcher_alone_restarts_nothing_and_the_job_stops_with_its_checkpoints(tmp_path):
    """With an `IP:PORT` master Paddle's launcher ignores `--max_restart` (docs/distributed.md,
    "A lost worker"): the job stops naming the dead worker's log, its checkpoints whole. hubtrain's
    `--max-restart` starts it again (tests/test_restart.py)."""
    out = tmp_path / "lost"
    out.mkdir()
    argv = [os.path.join(SCRIPTS, "lost_worker_run.py"), out, out / "ck", 1, 14]  # rank 1 dies after step 14
    launchers, logs = launch_nodes(argv, out / "log", tmp_path, extra=["--max_restart", "3"], timeout=120,
                                   HUBTRAIN_LOG_LEVEL="INFO")
    assert (out / "killed").read_text() == "rank 1 killed at step 14\n"
    codes = [launcher.returncode for launcher in launchers]
    assert codes[1] == 256 - 9, launchers[1].stdout[-3000:]     # the launcher exits with its worker's -9
    assert codes[0] != 0                                          # the peer of a dead worker fails too
    assert "code -9 log " + str(out / "log" / "node1" / "workerlog.0") in launchers[1].stdout
    assert logs["node0/workerlog.0"].count("Resuming from checkpoint") == 0    # started once, not again
    assert not (out / "rank0.npz").exists() and not (out / "rank1.npz").exists()
    steps = sorted(int(name[5:]) for name in os.listdir(out / "ck") if name.startswith("step_"))
    assert steps == [4, 8, 12]                                    # no checkpoint lost
    assert (out / "ck" / "step_12" / "manifest.json").is_file()
