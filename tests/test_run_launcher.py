"""`hubtrain run FILE --nproc N`: the command line starts Paddle's launcher with the same run file,
prints the command it starts (the one the launcher then runs), keeps every worker's log under the
run's checkpoint_dir/logs, and exits with the launcher's exit code; launch options that cannot
work are refused before anything starts; a worker of a launch never starts another launcher; a
SIGTERM is passed on to the launcher, whose workers stop."""
import os
import shlex
import signal
import subprocess
import sys
import time

import pytest

from hubtrain.cli import main as cli
from hubtrain.launch import ENTRY, launch_command, log_directory, worker_arguments
from pipeline_workspace import TRAIN_ENTRY, write_file, write_run_file


def _hubtrain(argv, cwd, **popen):
    env = dict(os.environ, HUBTRAIN_LOG_LEVEL="INFO", PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "-m", "hubtrain", *argv], cwd=str(cwd), env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **popen)


def _launcher_settings(err):
    """The launcher's own `name: value` configuration lines (it prints them on stderr)."""
    found = {}
    for line in err.splitlines():
        if line.startswith("LAUNCH INFO") and ": " in line:
            key, _, value = line.split(" ", 4)[-1].partition(": ")
            found[key.strip()] = value.strip()
    return found


@pytest.mark.slow
def test_run_nproc_2_trains_in_two_processes_under_the_printed_command(tmp_path, tiny_bert_dir):
    write_run_file(str(tmp_path / "ws"), tiny_bert_dir)
    proc = _hubtrain(["run", "ws/run.yaml", "--nproc", "2"], tmp_path)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, (out + err)[-3000:]
    started = [line for line in out.splitlines() if "starting 2 processes" in line]
    assert len(started) == 1, out[-3000:]
    command = shlex.split(started[0].split("): ", 1)[1])
    logs = tmp_path / "ws" / "ckpt" / "logs"
    assert command == [sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", "2", "--log_dir",
                       str(logs), ENTRY, "run", "ws/run.yaml"]
    settings = _launcher_settings(err)        # what the launcher read: the printed command, less --nproc
    assert (settings["nproc_per_node"], settings["log_dir"], settings["training_script"]) == ("2", str(logs), ENTRY)
    assert settings["training_script_args"] == "['run', 'ws/run.yaml']"

    worker = {r: (logs / f"workerlog.{r}").read_text() for r in (0, 1)}
    env = {r: (logs / f"envlog.{r}").read_text().splitlines() for r in (0, 1)}
    assert {"PADDLE_TRAINERS_NUM=2", "PADDLE_TRAINER_ID=1"} <= set(env[1])
    assert "step 4 / 4" in worker[0]                      # 64 examples / 2 processes / 16, 2 epochs
    assert "step 4 / 4" in out                            # rank 0's log, shown as it grew
    assert "Saving model checkpoint" in worker[0] and "Saving model checkpoint" not in worker[1]
    assert "done; results in" in worker[0] and "done; results in" not in worker[1]
    assert (tmp_path / "ws" / "ckpt" / "step_4").is_dir()
    assert (tmp_path / "ws" / "ckpt" / "best_model" / "manifest.json").is_file()


@pytest.mark.parametrize("options, said", [
    (["--nproc", "0"], "--nproc 0 is not accepted: give the processes per node"),
    (["--nnodes", "2"], "--nnodes 2 needs --master IP:PORT"),
    (["--nproc", "2", "--nnodes", "2", "--master", "node1:8090"], "--master 'node1:8090' is not IP:PORT"),
    (["--nnodes", "2", "--master", "127.0.0.1"], "--master '127.0.0.1' is not IP:PORT"),
    (["--nnodes", "2", "--master", "127.0.0.1:99999"], "is not IP:PORT"),
    (["--nnodes", "2", "--master", "127.0.0.1:8090", "--node-rank", "2"], "--node-rank 2 is not accepted"),
])
def test_launch_options_that_cannot_work_are_refused_before_anything_starts(tmp_path, tiny_bert_dir, capsys,
                                                                             options, said):
    path = write_run_file(str(tmp_path / "ws"), tiny_bert_dir)
    assert cli(["run", path, *options]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hubtrain run: error: ") and said in err
    assert not (tmp_path / "ws" / "ckpt").exists()


def test_hubtrain_train_refuses_them_too(capsys):
    assert cli(["train", "--module", "m", "--dataset", "D", "--nnodes", "3"]) == 2
    assert "hubtrain train: error: --nnodes 3 needs --master IP:PORT" in capsys.readouterr().err


def test_workers_get_the_command_line_without_the_launch_options():
    argv = ["--cpu-threads", "1", "run", "r.yaml", "--nproc", "2", "--nnodes=2", "--master", "10.0.0.1:8090",
            "--node-rank", "1", "--set", "runner[0].epochs=1"]
    assert worker_arguments(argv) == ["--cpu-threads", "1", "run", "r.yaml", "--set", "runner[0].epochs=1"]


def test_a_node_of_several_gets_paddles_node_options_and_a_log_folder_of_its_own():
    """The options Paddle 3.3.1's launcher reads (launch/context/args_envs.py); two launchers on
    this machine ran this command (docs/distributed.md, "What has been tested here")."""
    logs = log_directory("ck", 2, 1)
    assert logs == os.path.join("ck", "logs", "node1") and log_directory("ck") == os.path.join("ck", "logs")
    assert launch_command(2, ["run", "r.yaml"], logs, nnodes=2, master="10.0.0.1:8090", node_rank=1) == [
        sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", "2", "--nnodes", "2",
        "--master", "10.0.0.1:8090", "--rank", "1", "--log_dir", logs, ENTRY, "run", "r.yaml"]


def test_a_worker_of_a_launch_runs_the_command_itself(tmp_path, tiny_bert_dir, monkeypatch, capsys):
    """The variables the launcher gives its workers: `--nproc` is then ignored, no launcher starts."""
    path = write_run_file(str(tmp_path / "ws"), tiny_bert_dir)
    monkeypatch.setenv("PADDLE_TRAINER_ID", "0")
    monkeypatch.setenv("PADDLE_TRAINERS_NUM", "1")
    assert cli(["run", path, "--nproc", "2", "--set", "runner[0].epochs=1"]) == 0
    out = capsys.readouterr().out
    assert "starting 2 processes" not in out and "done; results in" in out
    assert (tmp_path / "ws" / "ckpt" / "step_4").is_dir() and not (tmp_path / "ws" / "ckpt" / "logs").exists()


@pytest.mark.slow
def test_sigterm_is_passed_on_to_the_launcher_which_stops_its_workers(tmp_path, tiny_bert_dir):
    ws = str(tmp_path / "ws")
    write_file(ws, "wait.py", "import os, time\nfrom hubtrain.pipeline import RunnerBase\n\nclass Runner(RunnerBase):\n"
                              "    def run(self, context):\n        print('waiting', os.getpid(), flush=True)\n"
                              "        time.sleep(120)\n")
    path = write_run_file(ws, tiny_bert_dir, TRAIN_ENTRY + '    runner_class_path: "{workspace}/wait.py"\n')
    proc = _hubtrain(["run", path, "--nproc", "2"], tmp_path)
    logs = tmp_path / "ws" / "ckpt" / "logs"
    deadline, pids = time.monotonic() + 120, []
    while len(pids) < 2 and time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        pids = [int(line.split()[1]) for r in (0, 1) if (logs / f"workerlog.{r}").is_file()
                for line in (logs / f"workerlog.{r}").read_text().splitlines() if line.startswith("waiting ")]
        time.sleep(0.2)
    assert len(pids) == 2, "the workers did not reach their runner stage"
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err[-3000:]
    assert err.splitlines()[-1] == "hubtrain run: interrupted: SIGTERM received"
    assert "Terminating with signal 15" in err and "Force quit" not in err     # the launcher got it once
    assert not [pid for pid in pids if _running(pid)]                       # and its workers are gone


def _running(pid):
    """Whether process `pid` exists and is not a zombie (an ended child not yet reaped)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
