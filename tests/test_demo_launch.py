"""`hubtrain demo` in two processes: the command line starts Paddle's launcher itself, shows the
command a user would type, and the run trains once over both (rank 0 reports and writes)."""
import os
import subprocess
import sys

import pytest

from hubtrain.launch import ENTRY, launch_command


def test_the_command_is_paddles_launcher_on_hubtrain():
    command = launch_command(2, ["demo", "--epochs", "1"], "runs/demo/logs")
    assert command == [sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", "2",
                       "--log_dir", "runs/demo/logs", ENTRY, "demo", "--epochs", "1"]
    with pytest.raises(ValueError, match="whole number >= 1"):
        launch_command(0, [], "logs")


@pytest.mark.slow
def test_the_demo_runs_in_two_processes(tmp_path):
    ckpt = tmp_path / "ck"
    env = dict(os.environ, HUBTRAIN_LOG_LEVEL="INFO")
    done = subprocess.run([sys.executable, "-m", "hubtrain", "demo", "--nproc", "2", "--max-steps", "2",
                           "--max-seq-len", "32", "--checkpoint-dir", str(ckpt)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-3000:]
    assert "starting 2 processes" in out and "-m paddle.distributed.launch --nproc_per_node 2" in out
    logs = {name: open(ckpt / "logs" / name).read() for name in os.listdir(ckpt / "logs") if "workerlog" in name}
    assert sorted(logs) == ["workerlog.0", "workerlog.1"]
    # one report, from the first process; each process took 8 of the step's 16 articles
    assert "fine-tuned on BBC News" in logs["workerlog.0"] and "2 processes" in logs["workerlog.0"]
    assert "fine-tuned on BBC News" not in logs["workerlog.1"]
    assert "batches of 8" in logs["workerlog.0"]
    assert "cpu math     1 math thread " in logs["workerlog.0"]  # the 2 cores shared by the 2 processes
    assert (ckpt / "step_2").is_dir()


def test_a_bad_process_count_is_refused():
    done = subprocess.run([sys.executable, "-m", "hubtrain", "demo", "--nproc", "0"], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode != 0 and "--nproc 0 is not accepted" in done.stderr
