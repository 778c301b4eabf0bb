"""The `hubtrain` command: demo, run, train, eval, zoo, report, export, predict."""
from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from typing import Optional, Sequence

__all__ = ["main"]

_USER_ERRORS = (FileNotFoundError, FileExistsError, IsADirectoryError, ValueError, TypeError, ImportError,
                RuntimeError)

_INPUT_HELP = ("one example per line, UTF-8: a text; for a model that takes pairs, text_a<TAB>text_b; or an image "
               "path. A line with more tab-separated fields than the model takes (e.g. text<TAB>label) is refused "
               "unless --columns says which to read.")


def _parser() -> argparse.ArgumentParser:
    from .commands import EXIT_CODES, MODULES

    parser = argparse.ArgumentParser(prog="hubtrain", description="Fine-tuning on PaddlePaddle's high-level API.",
                                     epilog=EXIT_CODES)
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    cpu = parser.add_argument_group("CPU math (before the command; docs/cpu-speed.md)")
    cpu.add_argument("--cpu-threads", type=int, metavar="N",
                     help="math threads per process (default: the cores this process may use, shared among the "
                          "processes on this node)")
    cpu.add_argument("--no-cpu-fast-path", action="store_true",
                     help="leave MKL on its default code path on non-Intel processors")
    cpu.add_argument("--no-cpu-setup", action="store_true", help="leave paddle's CPU math settings alone")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("demo", help="fine-tune a pretrained backbone on real data, offline", add_help=False)
    for module in MODULES:
        module.add_parsers(sub)
    predict = sub.add_parser("predict", help="predict raw examples from a file with an export directory",
                             epilog=EXIT_CODES)
    predict.add_argument("export_dir", help="a directory written by task.export(path) or hubtrain export")
    predict.add_argument("--input", required=True, metavar="FILE", help=_INPUT_HELP)
    predict.add_argument("--columns", metavar="N[,M]",
                         help="read these tab-separated columns, counted from 1: 1 for the text of text<TAB>label "
                              "lines, 1,2 for a text pair; other columns are ignored")
    predict.add_argument("--header", action="store_true",
                         help="the first line is a header: skip it. Without --header every line is an example, and "
                              "a first line made of column names (e.g. text_a<TAB>label) is refused")
    predict.add_argument("--output", metavar="FILE", help="JSON lines out (default: stdout)")
    predict.add_argument("--batch-size", type=int, default=32, help="examples per batch (default 32)")
    predict.add_argument("--threads", type=int, default=None, help="CPU math threads (default: as for training: the "
                         "cores this process may use)")
    return parser


def _terminate(signum: int, frame: object) -> None:
    from .commands.common import Terminated

    raise Terminated()


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run one command; SIGINT ends it with status 130 and SIGTERM with 143, each with one line on
    stderr (a training call first finishes its step and writes a checkpoint)."""
    from .commands.common import EXIT_USAGE, interrupted
    from .log import install_handler

    parser = _parser()
    args, rest = parser.parse_known_args(argv)
    args.command_line = list(sys.argv[1:] if argv is None else argv)  # what workers of a launch are given
    command = args.command or "hubtrain"
    if args.version:
        from . import __version__

        print(__version__)
        return 0
    try:
        install_handler(propagate=False)  # the command's output; root handlers would repeat each line
        _cpu_options_to_environment(args)
    except ValueError as e:
        print(f"hubtrain: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    in_main = threading.current_thread() is threading.main_thread()
    previous = None
    try:
        if in_main and args.command and not (args.command == "demo" and {"-h", "--help"} & set(rest)):
            # Importing paddle installs its own C-level SIGTERM handler (a fatal-error report, then an
            # abort), so the command's handler goes in after that import. Every command imports paddle.
            import paddle  # noqa: F401

            previous = signal.signal(signal.SIGTERM, _terminate) or signal.SIG_DFL
            _set_up_cpu_math()
        return _dispatch(parser, args, rest)
    except KeyboardInterrupt as e:  # Ctrl-C, SIGTERM, or a training call stopped by one of them
        return interrupted(command, e)
    finally:
        if previous is not None:  # the handler Python had (paddle's C-level one cannot be put back)
            signal.signal(signal.SIGTERM, previous)


def _cpu_options_to_environment(args: argparse.Namespace) -> None:
    """The CPU math options, as the variables hubtrain/cpu_math.py reads: they reach every task the
    command builds, and the workers of `paddle.distributed.launch`."""
    from .cpu_math import FAST_PATH_VARIABLE, SETUP_VARIABLE, THREADS_VARIABLE

    if args.cpu_threads is not None:
        if args.cpu_threads < 1:
            raise ValueError(f"--cpu-threads {args.cpu_threads} is not accepted: give a whole number >= 1.")
        os.environ[THREADS_VARIABLE] = str(args.cpu_threads)
    if args.no_cpu_fast_path:
        os.environ[FAST_PATH_VARIABLE] = "0"
    if args.no_cpu_setup:
        os.environ[SETUP_VARIABLE] = "0"


def _set_up_cpu_math() -> None:
    """Before the command's first math, so that MKL starts on the path chosen for this machine."""
    from .commands.common import EXIT_USAGE
    from .cpu_math import set_up

    try:
        set_up()
    except ValueError as e:  # a HUBTRAIN_CPU_* variable that is not accepted
        print(f"hubtrain: error: {e}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE) from None


def _dispatch(parser: argparse.ArgumentParser, args: argparse.Namespace, rest: list[str]) -> int:
    if args.command == "demo":
        from .demo import main as demo

        demo(rest)
        return 0
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if args.command == "predict":
        from .export import commands

        try:
            return commands.predict_command(args.export_dir, args.input, args.output, args.batch_size, args.threads,
                                            columns=args.columns, header=args.header)
        except _USER_ERRORS as e:
            print(f"hubtrain {args.command}: error: {e}", file=sys.stderr)
            return 1
    handler = getattr(args, "handler", None)
    if handler is not None:
        return handler(args)
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
