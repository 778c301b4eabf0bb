"""Start a script as a job of several nodes on this machine: one `paddle.distributed.launch`
per node, all given `--nnodes N --master 127.0.0.1:PORT` (gloo on CPU), and read back each
node's worker logs."""
import os
import socket
import subprocess
import sys

SCRIPTS = os.path.dirname(os.path.abspath(__file__))


def free_port() -> int:
    """A TCP port nobody listens on now (the job's master binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch_nodes(argv, log_dir, cwd, nnodes=2, nproc_per_node=1, extra=(), timeout=300, master=None, **env):
    """([each node's finished launcher, its output as stdout], {"node<K>/workerlog.<N>": text}).
    Node K (`--rank K`: its processes' ranks follow node K-1's; without it the launchers on one
    machine race for node 0) logs under log_dir/node<K>; `extra` are further launcher flags; `master` is the
    launchers' meeting point (127.0.0.1 at a free port unless given, e.g. an etcd:// address); `env` adds variables."""
    environ = dict(os.environ, PYTHONPATH=os.pathsep.join([SCRIPTS, os.environ.get("PYTHONPATH", "")]), **env)
    master = master or f"127.0.0.1:{free_port()}"
    os.makedirs(str(log_dir), exist_ok=True)
    launchers, outputs = [], []
    for node in range(nnodes):
        node_log = os.path.join(str(log_dir), f"node{node}")
        command = [sys.executable, "-m", "paddle.distributed.launch", "--nnodes", str(nnodes), "--master", master,
                   "--rank", str(node), "--nproc_per_node", str(nproc_per_node), "--log_dir", node_log, *extra,
                   *[str(a) for a in argv]]
        outputs.append(os.path.join(str(log_dir), f"launcher{node}.txt"))
        with open(outputs[-1], "w") as out:
            launchers.append(subprocess.Popen(command, env=environ, cwd=cwd, stdout=out, stderr=subprocess.STDOUT))
    done = []
    try:
        for launcher, output in zip(launchers, outputs):
            launcher.wait(timeout=timeout)
            with open(output) as f:
                done.append(subprocess.CompletedProcess(launcher.args, launcher.returncode, f.read(), ""))
    finally:
        for launcher in launchers:  # a launcher left waiting for a peer that is gone: it stops its workers
            if launcher.poll() is None:
                launcher.terminate()
                try:
                    launcher.wait(timeout=40)
                except subprocess.TimeoutExpired:
                    launcher.kill()
                    launcher.wait()
    logs = {}
    for node in range(nnodes):
        node_log = os.path.join(str(log_dir), f"node{node}")
        for name in sorted(os.listdir(node_log)) if os.path.isdir(node_log) else []:
            if "worker" in name:
                with open(os.path.join(node_log, name)) as f:
                    logs[f"node{node}/{name}"] = f.read()
    return done, logs

