"""Start a script or command in 2 CPU processes under `paddle.distributed.launch` (gloo), as the
multi-process tests do, and read back each worker's log."""
import os
import subprocess
import sys

SCRIPTS = os.path.dirname(os.path.abspath(__file__))


def launch_two(argv, log_dir, cwd, **env):
    """(the finished launcher, {"workerlog.N": text}). `argv` is a script path and its arguments,
    or a console command; tests/scripts is on the workers' PYTHONPATH; `env` adds variables."""
    environ = dict(os.environ, PYTHONPATH=os.pathsep.join([SCRIPTS, os.environ.get("PYTHONPATH", "")]), **env)
    done = subprocess.run([sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", "2",
                           "--log_dir", str(log_dir), *[str(a) for a in argv]],
                          env=environ, capture_output=True, text=True, timeout=300, cwd=cwd)
    logs = {f: open(os.path.join(log_dir, f)).read() for f in sorted(os.listdir(log_dir)) if "worker" in f}
    return done, logs
