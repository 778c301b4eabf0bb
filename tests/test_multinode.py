"""Two nodes on loopback: two `paddle.distributed.launch` launchers on this machine given
`--nnodes 2 --master 127.0.0.1:PORT` form one gloo job, which trains, evaluates and predicts
exactly as one launcher with the same number of processes; a job whose worker is killed stops,
its checkpoints whole (restarts: tests/test_restart.py)."""
import os

import numpy as np
import paddle
import pytest

import hubtrain as hub
from launch import SCRIPTS
from nodes import launch_nodes
from tiny import Digits, mlp_backbone

pytestmark = pytest.mark.slow


def _arrays(out, rank):
    return np.load(out / f"rank{rank}.npz")


@pytest.mark.parametrize("per_node", [1, 2])
def test_two_nodes_end_as_one_node_with_the_same_processes(tmp_path, digits, per_node):
    """dist_run.py's fine-tune on 2 loopback nodes of `per_node` processes and on one node of
    2 x `per_node`: the same weights, dev result and predictions on every rank, bit for bit."""
    ranks = 2 * per_node
    argv = lambda out: [os.path.join(SCRIPTS, "dist_run.py"), out, out / "ck", "train"]  # noqa: E731
    two_nodes, one_node = tmp_path / "two_nodes", tmp_path / "one_node"
    launchers, logs = launch_nodes(argv(two_nodes), two_nodes / "log", tmp_path, nnodes=2, nproc_per_node=per_node,
                                   timeout=240, HUBTRAIN_LOG_LEVEL="INFO")
    assert [launcher.returncode for launcher in launchers] == [0, 0], launchers[0].stdout[-3000:]
    assert sorted(logs) == [f"node{node}/workerlog.{local}" for node in (0, 1) for local in range(per_node)]
    launchers, one_logs = launch_nodes(argv(one_node), one_node / "log", tmp_path, nnodes=1, nproc_per_node=ranks,
                                       timeout=240, HUBTRAIN_LOG_LEVEL="INFO")
    assert launchers[0].returncode == 0, launchers[0].stdout[-3000:]

    # the same weights, dev result and predictions on every rank of both jobs, bit for bit
    reference = _arrays(one_node, 0)
    for out in (one_node, two_nodes):
        for rank in range(ranks):
            arrays = _arrays(out, rank)
            assert sorted(arrays.files) == sorted(reference.files)
            for name in reference.files:
                assert np.array_equal(arrays[name], reference[name]), f"{out.name} rank {rank}: {name}"
    assert int(reference["__step"]) == 2 * -(-320 // (ranks * 16))  # 320 samples / ranks / 16, 2 epochs

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

    # global rank 0 (node 0's first process) alone wrote checkpoints and log lines; the same checkpoints
    first = logs["node0/workerlog.0"]
    for name, text in logs.items():
        assert ("Saving model checkpoint" in text) == (text is first) and ("[   TRAIN]" in text) == (text is first)
    assert sorted(os.listdir(two_nodes / "ck")) == sorted(os.listdir(one_node / "ck"))
    assert (two_nodes / "ck" / "best_model" / "manifest.json").is_file()

    # node 1's processes are ranks per_node.. of the job, numbered 0.. on their node
    for local in range(per_node):
        env = (two_nodes / "log" / "node1" / f"envlog.{local}").read_text().splitlines()
        assert {f"PADDLE_TRAINER_ID={per_node + local}", f"PADDLE_LOCAL_RANK={local}"} <= set(env)

    # the math threads are split between the processes of a node, not of the job
    per_node_text = f"for {per_node} processes)" if per_node > 1 else "cpu math     2 math threads"
    assert per_node_text in first and f"for {ranks} processes)" not in first, first[-2000:]
    assert f"for {ranks} processes)" in one_logs["node0/workerlog.0"]


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
