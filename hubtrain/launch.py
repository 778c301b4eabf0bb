"""Several training processes, on this node or on many, through Paddle's own launcher: the command
a user would type (`python -m paddle.distributed.launch --nproc_per_node N [--nnodes M --master
IP:PORT [--rank R]] ...`), shown, then run, one launcher per node.

The launcher prints its node's first worker's log as it grows and keeps every worker's in its log
directory (`workerlog.<local rank>`)."""
from __future__ import annotations

import ipaddress
import os
import shlex
import signal
import socket
import subprocess
import sys
from typing import Optional, Sequence

from .engine.report import log

__all__ = ["launched", "check_launch", "launch_command", "log_directory", "run_launched", "worker_arguments",
           "ENTRY", "LAUNCH_OPTIONS"]

ENTRY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "__main__.py")  # `hubtrain` as a script path

# hubtrain's options that say how to launch, with whether each takes a value: the workers are not given them
LAUNCH_OPTIONS = {"--nproc": True, "--nnodes": True, "--master": True, "--node-rank": True}


def launched() -> bool:
    """Whether this process is a worker that paddle.distributed.launch started (such a process
    trains; it never starts another launcher)."""
    return "PADDLE_LOCAL_SIZE" in os.environ or "PADDLE_TRAINER_ID" in os.environ


def check_launch(nproc: int, nnodes: int = 1, master: Optional[str] = None, node_rank: Optional[int] = None) -> None:
    """A ValueError naming the option and the fix for a launch Paddle's launcher could not make
    (checked before anything starts: the launcher itself would wait for ever on some of them)."""
    if nproc < 1:
        raise ValueError(f"--nproc {nproc} is not accepted: give the processes per node, a whole number >= 1.")
    if nnodes < 1:
        raise ValueError(f"--nnodes {nnodes} is not accepted: give the number of nodes, a whole number >= 1.")
    if nnodes > 1 and not master:
        raise ValueError(f"--nnodes {nnodes} needs --master IP:PORT: the address of the first node and a free port "
                         f"there, the same on every node (e.g. --master 10.0.0.1:8090).")
    if master is not None:
        host, sep, port = master.rpartition(":")
        try:
            ipaddress.IPv4Address(host)
            port_number = int(port)
        except ValueError:
            port_number = None
        if not sep or port_number is None or not 0 < port_number < 65536:
            raise ValueError(f"--master {master!r} is not IP:PORT: give the first node's IPv4 address and a free port "
                             f"there, e.g. 10.0.0.1:8090 (127.0.0.1:PORT for nodes on this machine). Paddle's "
                             f"launcher compares the address with each node's own to choose the node that serves "
                             f"the meeting point, so a host name does not work.")
    if node_rank is not None and not 0 <= node_rank < nnodes:
        raise ValueError(f"--node-rank {node_rank} is not accepted: give this node's place, 0 to {nnodes - 1} "
                         f"(0 on the --master node), or leave it out to let the launcher number the nodes.")


def launch_command(nproc: int, args: Sequence[str], log_dir: str, nnodes: int = 1, master: Optional[str] = None,
                   node_rank: Optional[int] = None) -> list[str]:
    """`hubtrain <args>` in `nproc` processes on this node (of `nnodes`) under paddle.distributed.launch."""
    check_launch(nproc, nnodes, master, node_rank)
    command = [sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", str(nproc)]
    if nnodes > 1 or master:
        command += ["--nnodes", str(nnodes), "--master", master]
    if node_rank is not None:
        command += ["--rank", str(node_rank)]
    return command + ["--log_dir", log_dir, ENTRY, *args]


def log_directory(checkpoint_dir: str, nnodes: int = 1, node_rank: Optional[int] = None) -> str:
    """Where this node's launcher keeps its workers' logs: `<checkpoint_dir>/logs`, and for a job
    of several nodes a folder per node under it (`node<R>`, or host name and process id when the
    launcher numbers the nodes), since each node's launcher names its logs by local rank
    (workerlog.0, ...) and a checkpoint_dir on a shared disk would mix them."""
    logs = os.path.join(checkpoint_dir, "logs")
    if nnodes <= 1:
        return logs
    return os.path.join(logs, f"node{node_rank}" if node_rank is not None else f"{socket.gethostname()}-{os.getpid()}")


def worker_arguments(argv: Sequence[str]) -> list[str]:
    """`argv` without hubtrain's launch options (written in full, `--nproc 2` or `--nproc=2`): the
    arguments every worker gets. A worker ignores any launch option that is left (launched())."""
    kept: list[str] = []
    skip = False
    for item in argv:
        if skip:
            skip = False
            continue
        name, equals, _ = item.partition("=")
        if name in LAUNCH_OPTIONS:
            skip = LAUNCH_OPTIONS[name] and not equals
            continue
        kept.append(item)
    return kept


def run_launched(nproc: int, args: Sequence[str], log_dir: str, nnodes: int = 1, master: Optional[str] = None,
                 node_rank: Optional[int] = None) -> int:
    """Run `hubtrain <args>` under Paddle's launcher and wait; the launcher's exit code.

    The launcher runs in its own session, so a Ctrl-C at the terminal reaches it once, from here:
    a Ctrl-C or SIGTERM here is passed on to it once (it stops its workers, which checkpoint), the
    launcher is waited for, and the interruption is raised again for the command to report."""
    command = launch_command(nproc, args, log_dir, nnodes, master, node_rank)
    where = f" on this node of {nnodes}" if nnodes > 1 else ""
    log("INFO", f"starting {nproc} processes{where} (worker logs in {os.path.abspath(log_dir)}): "
                f"{shlex.join(command)}")
    launcher = subprocess.Popen(command, start_new_session=True)
    stopped_by: Optional[KeyboardInterrupt] = None
    while True:
        try:
            code = launcher.wait()
            break
        except KeyboardInterrupt as e:  # Ctrl-C, or SIGTERM turned into Terminated by the command line
            if stopped_by is None and launcher.poll() is None:
                stopped_by = e
                sent = signal.SIGTERM if getattr(e, "signal_name", "SIGINT") == "SIGTERM" else signal.SIGINT
                launcher.send_signal(sent)
    if stopped_by is not None:
        log("INFO", f"the launcher stopped its workers and ended with exit code {code}")
        raise stopped_by
    return code
