"""Several training processes, on this node or on many, through Paddle's own launcher: the command
a user would type (`python -m paddle.distributed.launch --nproc_per_node N [--nnodes M --master
IP:PORT [--rank R]] ...`), shown, then run, one launcher per node.

The launcher prints its node's first worker's log as it grows and keeps every worker's in its log
directory (`workerlog.<local rank>`). With `max_restart`, a launcher whose job failed is started
again, up to that many times, on every node: the workers resume from the newest checkpoint.
(Paddle 3.3.1's launcher restarts a job itself only with an etcd master; docs/distributed.md.)"""
from __future__ import annotations

import ipaddress
import logging
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass
from typing import IO, Optional, Sequence

from .engine.report import log

__all__ = ["launched", "check_launch", "launch_command", "log_directory", "run_launched", "worker_arguments",
           "failed_workers", "FailedWorker", "ENTRY", "LAUNCH_OPTIONS"]

ENTRY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "__main__.py")  # `hubtrain` as a script path

# hubtrain's options that say how to launch, with whether each takes a value: the workers are not given them
LAUNCH_OPTIONS = {"--nproc": True, "--nnodes": True, "--master": True, "--node-rank": True, "--max-restart": True}

# The launcher's line for a worker that failed (Paddle 3.3.1, launch/job/container.py, Container.__str__)
_FAILED_LINE = re.compile(r"Container rank (\d+) status failed cmd .* code (-?\d+) log (\S+)")


def launched() -> bool:
    """Whether this process is a worker that paddle.distributed.launch started (such a process
    trains; it never starts another launcher)."""
    return "PADDLE_LOCAL_SIZE" in os.environ or "PADDLE_TRAINER_ID" in os.environ


def check_launch(nproc: int, nnodes: int = 1, master: Optional[str] = None, node_rank: Optional[int] = None,
                 max_restart: int = 0) -> None:
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
    if max_restart < 0:
        raise ValueError(f"--max-restart {max_restart} is not accepted: give how many times a failed job may start "
                         f"again, a whole number >= 0 (the same on every node).")
    if node_rank is not None and not 0 <= node_rank < nnodes:
        raise ValueError(f"--node-rank {node_rank} is not accepted: give this node's place, 0 to {nnodes - 1} "
                         f"(0 on the --master node), or leave it out to let the launcher number the nodes.")


def launch_command(nproc: int, args: Sequence[str], log_dir: str, nnodes: int = 1, master: Optional[str] = None,
                   node_rank: Optional[int] = None, job_id: Optional[str] = None) -> list[str]:
    """`hubtrain <args>` in `nproc` processes on this node (of `nnodes`) under paddle.distributed.launch.
    `job_id` names the launchers' meeting in the master's store (a restart takes a new one)."""
    check_launch(nproc, nnodes, master, node_rank)
    command = [sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", str(nproc)]
    if nnodes > 1 or master:
        command += ["--nnodes", str(nnodes), "--master", master]
    if node_rank is not None:
        command += ["--rank", str(node_rank)]
    if job_id is not None:
        command += ["--job_id", job_id]
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


# What a worker's log holds when its collective lost a peer (gloo, on CPU, as seen here): its
# abort is then the consequence of another worker's end, not the cause
_PEER_LOST = ("gloo::", "Connection reset by peer", "Connection closed by peer")


@dataclass
class FailedWorker:
    """A worker of this node in a start that failed: its place on the node, its rank in the job
    (from the launcher's envlog), its log, its exit code when the launcher reported it (minus the
    signal that ended it), and what its log says of this start: "peer" (its collective lost a
    peer), "silent" (nothing: killed from outside) or its last line."""
    local_rank: int
    log: str
    rank: Optional[int] = None
    code: Optional[int] = None
    words: str = "silent"

    def __str__(self) -> str:
        who = f"worker {self.local_rank} of this node"
        who = f"rank {self.rank} ({who})" if self.rank is not None else who
        if self.code is None:
            how = ""
        elif self.code < 0 and -self.code in signal.valid_signals():
            how = f" with signal {signal.Signals(-self.code).name}"
        else:
            how = f" with exit code {self.code}"
        if self.words == "peer":
            why = " after its connection to another rank broke (a consequence, not the cause)"
        elif self.words == "silent" and self.code in (None, -signal.SIGKILL):
            why = (" without a word in its log, as a process ended from outside does (SIGKILL: the out-of-memory "
                   "killer, a lost machine, a kill by hand)")
        elif self.words == "silent":
            why = " without a word in its log"
        else:
            why = f", its log ending {self.words!r}"
        return f"{who} ended{how}{why}; its log: {self.log}"


def failed_workers(launcher_lines: Sequence[str], log_dir: str, nproc: int = 0,
                   offsets: Optional[dict[int, int]] = None) -> list[FailedWorker]:
    """This node's workers after a failed start, the likely cause first: those whose log ends in
    an error, then those that ended without a word, then those that lost a peer. The launcher
    reports one failed worker's exit code (the first of its node it finds failed, which on one
    node is often a peer of the one that died); each log is read from `offsets` (its size before
    the start) to its end. Without `nproc`, just the workers the launcher named."""
    codes, logs = {}, {}
    for line in launcher_lines:
        match = _FAILED_LINE.search(line)
        if match:
            codes[int(match.group(1))] = int(match.group(2))
            logs[int(match.group(1))] = match.group(3)
    found = []
    for local in sorted(set(range(nproc)) | set(codes)):
        log_file = logs.get(local, os.path.join(log_dir, f"workerlog.{local}"))
        found.append(FailedWorker(local, log_file, _job_rank(log_dir, local), codes.get(local),
                                  _last_words(log_file, (offsets or {}).get(local, 0))))
    order = {"peer": 2, "silent": 1}
    return sorted(found, key=lambda worker: order.get(worker.words, 0))


def _last_words(log_file: str, offset: int) -> str:
    """What a worker's log says of one start (from `offset`): "peer", "silent" or its last line."""
    try:
        with open(log_file, "rb") as f:
            f.seek(offset)
            text = f.read().decode("utf-8", errors="replace")
    except OSError:
        return "silent"
    if any(mark in text for mark in _PEER_LOST):
        return "peer"
    errors = [line.strip() for line in text.splitlines() if "Error" in line or "error:" in line]
    return errors[-1][:200] if errors else "silent"


def _log_sizes(log_dir: str, nproc: int) -> dict[int, int]:
    """Each worker log's size now, by local rank: a start appends to them, so its part starts there."""
    sizes = {}
    for local in range(nproc):
        path = os.path.join(log_dir, f"workerlog.{local}")
        sizes[local] = os.path.getsize(path) if os.path.isfile(path) else 0
    return sizes


def _job_rank(log_dir: str, local_rank: int) -> Optional[int]:
    """PADDLE_TRAINER_ID of this node's worker `local_rank`, from the environment the launcher
    logged for it (the last start's, as the file grows by one block each start)."""
    rank = None
    try:
        with open(os.path.join(log_dir, f"envlog.{local_rank}"), encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("PADDLE_TRAINER_ID="):
                    rank = int(line.split("=", 1)[1])
    except (OSError, ValueError):
        return None
    return rank


def _pass_on(stream: IO[str], seen: list[str]) -> None:
    """Copy the launcher's stderr (its own log lines) to ours as it comes, keeping the failures."""
    for line in stream:
        sys.stderr.write(line)
        sys.stderr.flush()
        if "status failed" in line:
            seen.append(line)


def _launch_once(command: Sequence[str]) -> tuple[int, list[str]]:
    """Run one launcher and wait: its exit code and its lines about failed workers.

    The launcher runs in its own session, so a Ctrl-C at the terminal reaches it once, from here:
    a Ctrl-C or SIGTERM here is passed on to it once (it stops its workers, which checkpoint), the
    launcher is waited for, and the interruption is raised again for the command to report."""
    launcher = subprocess.Popen(command, start_new_session=True, stderr=subprocess.PIPE, text=True,
                                errors="replace", bufsize=1)
    seen: list[str] = []
    reader = threading.Thread(target=_pass_on, args=(launcher.stderr, seen), daemon=True)
    reader.start()
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
    reader.join(timeout=30)
    if stopped_by is not None:
        log("INFO", f"the launcher stopped its workers and ended with exit code {code}")
        raise stopped_by
    return code, seen


def _newest_checkpoint(checkpoint_dir: Optional[str]) -> str:
    """Where the next start resumes from, as far as this node can see (rank 0 writes checkpoints)."""
    from .engine.checkpoint import CheckpointManager

    steps = CheckpointManager(checkpoint_dir).steps() if checkpoint_dir else []
    if not steps:
        return "no checkpoint on this node yet (the job's rank 0 writes them)"
    return f"the newest checkpoint here is {steps[-1]}"


def run_launched(nproc: int, args: Sequence[str], log_dir: str, nnodes: int = 1, master: Optional[str] = None,
                 node_rank: Optional[int] = None, max_restart: int = 0, checkpoint_dir: Optional[str] = None) -> int:
    """Run `hubtrain <args>` under Paddle's launcher and wait; the launcher's exit code.

    A job that fails (a worker lost, killed or crashed; the launcher stops the others) is started
    again, up to `max_restart` times: every node's launcher fails with the job, so every node
    starts again, each restart meeting under a job id of its own so that no launcher finds the
    last start's peers in the master's store. The workers resume from the newest whole checkpoint
    in `checkpoint_dir`. Each failure is logged naming the failed workers' ranks and logs."""
    check_launch(nproc, nnodes, master, node_rank, max_restart)
    where = f" on this node of {nnodes}" if nnodes > 1 else ""
    for start in range(max_restart + 1):
        command = launch_command(nproc, args, log_dir, nnodes, master, node_rank,
                                 job_id=f"hubtrain-restart{start}" if start else None)
        log("INFO", f"starting {nproc} processes{where} (worker logs in {os.path.abspath(log_dir)}): "
                    f"{shlex.join(command)}")
        offsets = _log_sizes(log_dir, nproc)
        code, lines = _launch_once(command)
        if code == 0:
            return 0
        failed = "; ".join(str(worker) for worker in failed_workers(lines, log_dir, nproc, offsets))
        if start < max_restart:
            log("WARNING", f"the job failed on this node (launcher exit code {code}): {failed}. Starting it again "
                           f"(restart {start + 1} of {max_restart}); the workers resume from the newest whole "
                           f"checkpoint ({_newest_checkpoint(checkpoint_dir)}).", logging.WARNING)
        else:
            again = f" after {max_restart} restart{'s' if max_restart > 1 else ''}" if max_restart else ""
            log("ERROR", f"the job stopped{again} (launcher exit code {code}): {failed}. Checkpoints are written "
                         f"whole or not at all, so none is lost: {_newest_checkpoint(checkpoint_dir)}; the same "
                         f"command, started again once the cause is mended, resumes from it.", logging.ERROR)
    return code
