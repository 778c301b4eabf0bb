"""What the commands share: exit codes and the way errors are reported."""
from __future__ import annotations

import argparse
import sys
import traceback
from typing import Callable

__all__ = ["EXIT_OK", "EXIT_FAILED", "EXIT_USAGE", "EXIT_INTERRUPTED", "EXIT_TERMINATED", "EXIT_CODES", "guarded",
           "add_set_option", "add_launch_options", "check_launch_options", "launch_workers", "OptionError",
           "Terminated", "interrupted"]

EXIT_OK = 0           # the command did what it was asked
EXIT_FAILED = 1       # the run (or the command's work) failed while running
EXIT_USAGE = 2        # bad arguments, or a run file / option that cannot be used (nothing ran)
EXIT_INTERRUPTED = 130  # stopped by Ctrl-C (SIGINT): 128 + 2, the shell's convention
EXIT_TERMINATED = 143   # stopped by SIGTERM: 128 + 15

EXIT_CODES = ("exit status: 0 done; 1 the run failed while running (the error and the stage are printed); "
              "2 bad arguments or an invalid run file (the key path and the fix are printed, nothing ran); "
              "130 interrupted by Ctrl-C (SIGINT); 143 stopped by SIGTERM (a training step under way is "
              "finished and a checkpoint written first).")


class OptionError(ValueError):
    """A command-line option that cannot be used; the message names the option and the fix."""


class Terminated(KeyboardInterrupt):
    """SIGTERM outside a training call: raised by the command line's handler, so the command
    stops the way Ctrl-C stops it (clean-ups run) and exits 143."""

    signal_name = "SIGTERM"

    def __str__(self) -> str:
        return "SIGTERM received"


def interrupted(command: str, error: KeyboardInterrupt) -> int:
    """One line on stderr for a command stopped by SIGINT or SIGTERM; the exit status 128 + signal."""
    text = str(error)
    print(f"hubtrain {command}: interrupted{': ' + text if text else ''}", file=sys.stderr)
    return EXIT_TERMINATED if getattr(error, "signal_name", "SIGINT") == "SIGTERM" else EXIT_INTERRUPTED


def add_set_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE",
                        help="change one value of the run file, e.g. --set runner[0].epochs=3 or "
                             "--set strategy.learning_rate=5e-5 (repeatable; values are read as YAML)")


def add_launch_options(parser: argparse.ArgumentParser) -> None:
    """--nproc, --nnodes, --master, --node-rank, --max-restart: the command in several processes
    under Paddle's launcher, started again when a worker fails (docs/distributed.md)."""
    group = parser.add_argument_group("several processes and nodes (Paddle's launcher; docs/distributed.md)")
    group.add_argument("--nproc", type=int, metavar="N",
                       help="run in N processes on this node under `python -m paddle.distributed.launch` (the "
                            "command is printed; worker logs in <checkpoint_dir>/logs)")
    group.add_argument("--nnodes", type=int, metavar="M",
                       help="the job spans M nodes: start the same command on each, with the same --master")
    group.add_argument("--master", metavar="IP:PORT",
                       help="the first node's address and a free port there (needed with --nnodes > 1)")
    group.add_argument("--node-rank", type=int, metavar="R",
                       help="this node's place, 0 to M-1 (default: the launcher numbers the nodes, the --master "
                            "node first)")
    group.add_argument("--max-restart", type=int, default=0, metavar="K",
                       help="start the job again, up to K times, when a worker fails; it resumes from the newest "
                            "checkpoint (give the same K on every node; default 0)")


def check_launch_options(args: argparse.Namespace) -> bool:
    """Whether the command is to start Paddle's launcher (several processes or nodes asked for,
    and this process is not one of its workers); an OptionError for options that cannot work."""
    from ..launch import check_launch, launched

    if args.nproc is None and args.nnodes is None:
        if args.max_restart > 0:
            raise OptionError(f"--max-restart {args.max_restart} needs --nproc N (or --nnodes): restarts are "
                              f"made by starting Paddle's launcher again; a run in this one process is not "
                              f"launched (use --nproc 1 to run one process under the launcher).")
    nproc, nnodes = args.nproc if args.nproc is not None else 1, args.nnodes if args.nnodes is not None else 1
    try:
        check_launch(nproc, nnodes, args.master, args.node_rank, args.max_restart)
    except ValueError as e:
        raise OptionError(str(e)) from None
    if args.nproc is None and args.nnodes is None:
        return False
    return (nproc > 1 or nnodes > 1 or args.max_restart > 0) and not launched()


def launch_workers(args: argparse.Namespace, checkpoint_dir: str) -> int:
    """Start the command line the user typed, less its launch options, under Paddle's launcher,
    worker logs in `<checkpoint_dir>/logs` (a folder per node under it for several nodes); the
    launcher's exit code."""
    from ..launch import log_directory, run_launched, worker_arguments

    argv = getattr(args, "command_line", None)
    nnodes = args.nnodes or 1
    return run_launched(args.nproc or 1, worker_arguments(sys.argv[1:] if argv is None else argv),
                        log_directory(checkpoint_dir, nnodes, args.node_rank), nnodes, args.master, args.node_rank,
                        args.max_restart, checkpoint_dir)


def guarded(command: str, work: Callable[[], int], debug: bool = False,
            usage_errors: tuple[type[BaseException], ...] = ()) -> int:
    """Run `work`, turning errors into a message on stderr and the documented exit status
    (`usage_errors` are the command's own input errors: status 2, like an invalid run file)."""
    from ..pipeline import RunFileError, StageError

    try:
        return work()
    except (RunFileError, OptionError, *usage_errors) as e:
        print(f"hubtrain {command}: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt as e:  # Ctrl-C, SIGTERM, or a training call stopped by one (its message says more)
        return interrupted(command, e)
    except StageError as e:
        _report_failure(command, str(e), e.error, debug)
        return EXIT_FAILED
    except Exception as e:  # any other failure of the command's work: reported, exit status 1
        _report_failure(command, f"{type(e).__name__}: {e}", e, debug)
        return EXIT_FAILED


def _report_failure(command: str, message: str, error: BaseException, debug: bool) -> None:
    if debug:
        traceback.print_exception(error, file=sys.stderr)
    else:
        frames = traceback.extract_tb(error.__traceback__)
        where = f" (raised at {frames[-1].filename}:{frames[-1].lineno}; --debug shows the traceback)" if frames else ""
        message += where
    print(f"hubtrain {command}: failed: {message}", file=sys.stderr)

