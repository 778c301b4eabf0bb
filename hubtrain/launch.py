"""Several training processes on this node through Paddle's own launcher: the command a user
would type (`python -m paddle.distributed.launch --nproc_per_node N ...`), shown, then run.

The launcher prints the first worker's log as it grows and keeps every worker's in its log
directory (`workerlog.<rank>`)."""
from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
from typing import Sequence

from .engine.report import log

__all__ = ["launched", "launch_command", "run_launched", "ENTRY"]

ENTRY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "__main__.py")  # `hubtrain` as a script path


def launched() -> bool:
    """Whether this process is a worker that paddle.distributed.launch started."""
    return "PADDLE_LOCAL_SIZE" in os.environ or "PADDLE_TRAINER_ID" in os.environ


def launch_command(nproc: int, args: Sequence[str], log_dir: str) -> list[str]:
    """`hubtrain <args>` in `nproc` processes under paddle.distributed.launch."""
    if nproc < 1:
        raise ValueError(f"the number of processes must be a whole number >= 1, got {nproc}.")
    return [sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", str(nproc),
            "--log_dir", log_dir, ENTRY, *args]


def run_launched(nproc: int, args: Sequence[str], log_dir: str) -> int:
    """Run `hubtrain <args>` in `nproc` processes and wait; the launcher's exit code. A Ctrl-C or
    SIGTERM here is passed on to the launcher once (it stops its workers, which checkpoint), and
    the launcher is waited for."""
    command = launch_command(nproc, args, log_dir)
    log("INFO", f"starting {nproc} processes (worker logs in {os.path.abspath(log_dir)}): {shlex.join(command)}")
    launcher = subprocess.Popen(command)
    passed_on = False
    while True:
        try:
            return launcher.wait()
        except KeyboardInterrupt:
            if not passed_on and launcher.poll() is None:
                launcher.send_signal(signal.SIGTERM)
                passed_on = True
