"""`hubtrain run FILE.yaml`: a staged run from a run file."""
from __future__ import annotations

import argparse

from .common import (EXIT_CODES, EXIT_OK, add_launch_options, add_set_option, check_launch_options, guarded,
                     launch_workers)

__all__ = ["add_parsers", "run_command"]


def add_parsers(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("run", help="run a YAML run file: its runner entries in order, five stages each",
                            description="Run a YAML run file (module, dataset, task, strategy, runner): each "
                                        "runner entry runs instance, network, startup, runner and terminal. The "
                                        "workspace is the run file's folder (or --workspace): {workspace} expands "
                                        "to it, relative paths start there, and every path must lie inside it.",
                            epilog=EXIT_CODES)
    parser.add_argument("run_file", metavar="FILE.yaml", help="the run file")
    add_set_option(parser)
    parser.add_argument("--workspace", metavar="DIR",
                        help="the run's workspace (default: the run file's folder)")
    parser.add_argument("--allow-outside-workspace", action="store_true",
                        help="accept paths outside the workspace, *_class_path files (code the run executes) "
                             "included: only for a run file you trust")
    parser.add_argument("--check", action="store_true",
                        help="validate the run file and stop: nothing runs, no *_class_path file is imported")
    parser.add_argument("--debug", action="store_true", help="print the full traceback of a failure")
    add_launch_options(parser)
    parser.set_defaults(handler=run_command)


def run_command(args: argparse.Namespace) -> int:
    from ..pipeline import load_run, run_pipeline

    def work() -> int:
        launching = check_launch_options(args)
        spec = load_run(args.run_file, args.overrides, args.allow_outside_workspace, workspace=args.workspace)
        if args.check:
            entries = ", ".join(f"{e.name} ({e.kind})" for e in spec.entries)
            print(f"{args.run_file}: valid; workspace {spec.workspace}; runner entries: {entries}; "
                  f"checkpoint_dir {spec.checkpoint_dir}")
            return EXIT_OK
        if launching:  # checked here; each worker checks it again and runs it
            return launch_workers(args, spec.checkpoint_dir)
        context = run_pipeline(spec)
        if context.get("checkpoint_dir") and context.get("rank", 0) == 0:
            print(f"done; results in {context['checkpoint_dir']} (hubtrain report {context['checkpoint_dir']})")
        return EXIT_OK

    return guarded("run", work, args.debug)
