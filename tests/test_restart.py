"""`hubtrain run --max-restart K`: a job whose worker is killed mid-epoch is started again on
every node, resumes from the newest checkpoint and ends bit-identical to a run never interrupted;
a worker that dies at every start stops the job after K restarts, naming its rank and its log,
every checkpoint whole. Two nodes on loopback, one process each, under Paddle's launcher."""
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from hubtrain.cli import main as cli
from hubtrain.launch import failed_workers
from hubtrain.serialization.records import read_weights
from nodes import free_port
from pipeline_workspace import TRAIN_ENTRY, write_file, write_run_file
from tiny_text import sentiment_rows

# 64 examples / 2 processes / 16 a batch: 2 steps an epoch, 16 in all; checkpoints at 4, 8, 12, 16
ENTRY = (TRAIN_ENTRY.replace("epochs: 2", "epochs: 8") + "    save_ckpt_interval: 4\n"
         '    runner_class_path: "{workspace}/dying.py"\n')

# The training runner, with rank 1's process ending by SIGKILL (no clean-up, as a lost machine or
# the out-of-memory killer ends it) after step KILL_AT: once, or at every start.
DYING = """\
import os
import signal

import paddle

from hubtrain.pipeline.runner import Runner as TrainRunner

KILL_AT, EVERY_START = {kill_at}, {every_start}
MARKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "killed")


class Die(paddle.callbacks.Callback):
    def on_train_batch_end(self, step, logs=None):
        if paddle.distributed.get_rank() != 1 or self.model.train_state.global_step != KILL_AT:
            return
        if os.path.exists(MARKER) and not EVERY_START:
            return
        with open(MARKER, "a") as f:
            f.write("rank 1 killed at step %d\\n" % KILL_AT)
        os.kill(os.getpid(), signal.SIGKILL)


class Runner(TrainRunner):
    def _train(self, context):
        task = context["task"]
        task.finetune_and_eval(callbacks=[Die()])
        context["evaluated"] = ["dev", "test"]
        return {{"steps": task.train_state.global_step, "dev": dict(task.last_result("dev")),
                "test": dict(task.last_result("test"))}}
"""


def _workspace(path, module_dir, kill_at=0, every_start=False):
    """The run file and its data: reviews of 4 to 16 words, few long ones, so that the two ranks' batches pad to
    different lengths and their dropout draws differ in number (each rank's random state then
    goes its own way, and a resume has to give each rank its own back)."""
    write_file(str(path), "dying.py", DYING.format(kill_at=kill_at, every_start=every_start))
    rng = np.random.default_rng(0)
    for name, n, seed in (("train.tsv", 64, 0), ("dev.tsv", 24, 1), ("test.tsv", 24, 2)):
        rows = [(text + " and the film was good" * (2 if rng.random() < 0.05 else int(rng.integers(0, 2))), label)
                for text, label in sentiment_rows(n, seed)]
        write_file(str(path / "data"), name, "".join(f"{text}\t{label}\n" for text, label in rows))
    write_run_file(str(path), module_dir, ENTRY)
    return path


def _env():
    return dict(os.environ, HUBTRAIN_LOG_LEVEL="INFO", PYTHONUNBUFFERED="1")


def _two_nodes(ws, max_restart):
    """`hubtrain run` on node 0 and node 1 of a loopback job: [(exit code, stdout, stderr)] by node."""
    master = f"127.0.0.1:{free_port()}"
    nodes = [subprocess.Popen([sys.executable, "-m", "hubtrain", "run", "run.yaml", "--nproc", "1", "--nnodes", "2",
                               "--master", master, "--node-rank", str(node), "--max-restart", str(max_restart)],
                              cwd=str(ws), env=_env(), text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for node in (0, 1)]
    done = []
    try:
        for node in nodes:
            out, err = node.communicate(timeout=300)
            done.append((node.returncode, out, err))
    finally:
        for node in nodes:
            if node.poll() is None:
                node.terminate()
                node.communicate(timeout=60)
    return done


def _weights(path):
    return read_weights(str(path / "model.safetensors"))


def _summary(ws):
    with open(ws / "ckpt" / "run_summary.json") as f:
        return json.load(f)["runs"][-1]["entries"][0]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, tiny_bert_dir):
    """The same run file on the same two nodes, nobody killed. (Not one node of 2 processes: each
    node's processes share its cores, so there each process would compute with 1 thread, here 2,
    and the float sums would differ in the last digits.)"""
    ws = _workspace(tmp_path_factory.mktemp("uninterrupted"), tiny_bert_dir)
    (code0, _, err0), (code1, _, err1) = _two_nodes(ws, max_restart=0)
    assert (code0, code1) == (0, 0), (err0 + err1)[-3000:]
    return ws


@pytest.mark.slow
def test_a_killed_worker_restarts_the_job_which_ends_as_if_never_interrupted(tmp_path, tiny_bert_dir, uninterrupted):
    ws = _workspace(tmp_path / "ws", tiny_bert_dir, kill_at=10)
    (code0, out0, err0), (code1, out1, err1) = _two_nodes(ws, max_restart=2)
    assert (code0, code1) == (0, 0), (err0 + err1)[-4000:]
    assert (ws / "killed").read_text() == "rank 1 killed at step 10\n"

    # each node says why it starts again, once: node 1 names rank 1, its SIGKILL and its log
    log1 = ws / "ckpt" / "logs" / "node1" / "workerlog.0"
    said1 = [line for line in out1.splitlines() if "the job failed on this node" in line]
    assert len(said1) == 1, out1[-3000:]
    assert "rank 1 (worker 0 of this node) ended with signal SIGKILL without a word in its log" in said1[0]
    assert f"its log: {log1}" in said1[0]
    assert "Starting it again (restart 1 of 2)" in said1[0]
    said0 = [line for line in out0.splitlines() if "the job failed on this node" in line]
    assert len(said0) == 1, out0[-3000:]
    assert "rank 0 (worker 0 of this node) ended with signal SIGABRT after its connection to another rank broke " \
           "(a consequence, not the cause)" in said0[0]
    assert f"newest checkpoint here is {ws / 'ckpt' / 'step_8'}" in said0[0]
    starts = [line for line in out0.splitlines() if "starting 1 processes on this node of 2" in line]
    assert len(starts) == 2 and "--job_id hubtrain-restart1" in starts[1] and "--job_id" not in starts[0]

    # the second start resumed from step 8 and ended as the run never interrupted, bit for bit
    worker0 = (ws / "ckpt" / "logs" / "node0" / "workerlog.0").read_text()
    assert "Resuming from checkpoint" in worker0 and "(step 8)" in worker0
    reference = uninterrupted / "ckpt"
    for kept in ("step_16", "best_model"):
        mine, theirs = _weights(ws / "ckpt" / kept), _weights(reference / kept)
        assert sorted(mine) == sorted(theirs)
        for name in theirs:
            assert np.array_equal(mine[name].numpy(), theirs[name].numpy()), f"{kept}: {name}"
    optimizer = read_weights(str(ws / "ckpt" / "step_16" / "optimizer.safetensors"))
    for name, value in read_weights(str(reference / "step_16" / "optimizer.safetensors")).items():
        assert np.array_equal(optimizer[name].numpy(), value.numpy()), name
    mine, theirs = _summary(ws), _summary(uninterrupted)
    assert (mine["steps"], mine["dev"], mine["test"]) == (theirs["steps"], theirs["dev"], theirs["test"]) and \
        mine["steps"] == 16


@pytest.mark.slow
def test_a_worker_that_dies_at_every_start_stops_the_job_naming_it(tmp_path, tiny_bert_dir):
    """On one node of 2 processes: both workers fail each time (rank 0 aborts on the broken
    connection), and the message names rank 1, the one killed, first."""
    ws = _workspace(tmp_path / "ws", tiny_bert_dir, kill_at=10, every_start=True)
    done = subprocess.run([sys.executable, "-m", "hubtrain", "run", "run.yaml", "--nproc", "2", "--max-restart", "1"],
                          cwd=str(ws), env=_env(), text=True, capture_output=True, timeout=300)
    assert (ws / "killed").read_text() == "rank 1 killed at step 10\n" * 2
    assert done.returncode != 0, done.stderr[-3000:]

    logs = ws / "ckpt" / "logs"
    failed = [line for line in done.stdout.splitlines() if "the job failed on this node" in line]
    stopped = [line for line in done.stdout.splitlines() if "the job stopped after 1 restart" in line]
    assert len(failed) == 1 and len(stopped) == 1, done.stdout[-3000:]
    for said in (failed[0], stopped[0]):     # the launcher reports rank 0's SIGABRT or rank 1's SIGKILL
        first, second = said.split("): ", 1)[1].split("; its log: ")[:2]
        assert re.match(r"rank 1 \(worker 1 of this node\) ended( with signal SIGKILL)? without a word in its "
                        r"log, as a process ended from outside does \(SIGKILL", first), said
        assert re.match(rf"{re.escape(str(logs / 'workerlog.1'))}; rank 0 \(worker 0 of this node\) ended"
                        rf"( with signal SIGABRT)? after its connection to another rank broke", second), said
    assert "ERROR" in stopped[0] and f"newest checkpoint here is {ws / 'ckpt' / 'step_8'}" in stopped[0]
    # the logs hold both starts: the launcher appends to them
    assert (logs / "workerlog.0").read_text().count("Resuming from checkpoint") == 1

    steps = sorted(int(name[5:]) for name in os.listdir(ws / "ckpt") if name.startswith("step_"))
    assert steps == [4, 8]                                       # none lost, none half-written
    for step in steps:
        assert (ws / "ckpt" / f"step_{step}" / "manifest.json").is_file()
    assert not (ws / "ckpt" / "run_summary.json").exists()


def test_a_failure_names_the_cause_first_from_the_launcher_and_the_logs(tmp_path):
    """The launcher names one failed worker and its exit code; each worker's log, from where this
    start began, says whether it raised, lost a peer, or ended without a word."""
    for local, rank, earlier, now in ((0, 4, "", "W1207 backward.cc] raises gloo::IoException\nterminate called\n"),
                                      (1, 5, "ValueError: from the start before\n", "step 3\n"),
                                      (2, 6, "", "Traceback (most recent call last):\nValueError: bad batch 7\n")):
        (tmp_path / f"envlog.{local}").write_text(f"PADDLE_LOCAL_RANK={local}\nPADDLE_TRAINER_ID={rank}\n")
        (tmp_path / f"workerlog.{local}").write_text(earlier + now)
    offsets = {local: len(earlier) for local, earlier in ((0, ""), (1, "ValueError: from the start before\n"), (2, ""))}
    lines = ["LAUNCH INFO 2026-12-07 Pod failed\n",
             f"Container rank 0 status failed cmd ['python', 'x.py'] code -6 log {tmp_path}/workerlog.0\n"]
    raised, silent, peer = failed_workers(lines, str(tmp_path), 3, offsets)
    (tmp_path / "workerlog.3").write_text("done; results in ck\n")
    aborted, = failed_workers([lines[1].replace("rank 0", "rank 3").replace("log.0", "log.3")], str(tmp_path))
    assert str(aborted) == f"worker 3 of this node ended with signal SIGABRT without a word in its log; its log: " \
                           f"{tmp_path}/workerlog.3"            # no envlog.3: its rank is not known
    assert str(raised) == f"rank 6 (worker 2 of this node) ended, its log ending 'ValueError: bad batch 7'; " \
                          f"its log: {tmp_path}/workerlog.2"
    assert str(silent).startswith("rank 5 (worker 1 of this node) ended without a word in its log")
    assert str(peer) == f"rank 4 (worker 0 of this node) ended with signal SIGABRT after its connection to " \
                        f"another rank broke (a consequence, not the cause); its log: {tmp_path}/workerlog.0"


@pytest.mark.parametrize("options, said", [
    (["--max-restart", "2"], "--max-restart 2 needs --nproc N (or --nnodes)"),
    (["--nproc", "2", "--max-restart", "-1"], "--max-restart -1 is not accepted"),
])
def test_restart_options_that_cannot_work_are_refused(tmp_path, tiny_bert_dir, capsys, options, said):
    path = write_run_file(str(tmp_path / "ws"), tiny_bert_dir)
    assert cli(["run", path, *options]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hubtrain run: error: ") and said in err
    assert not (tmp_path / "ws" / "ckpt").exists()
