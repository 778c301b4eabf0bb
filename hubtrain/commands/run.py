"""`hubtrain run FILE.yaml`: a staged run from a run file."""
from __future__ import annotations

import argparse

from .common import EXIT_CODES, EXIT_OK, add_set_option, guarded

__all__ = ["add_parsers", "run_command"]


def add_parsers(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("run", help="run a YAML run file: its runner entries in order, five stages each",
                            description="Run a YAML run file (workspace, module, dataset, task, strategy, runner): "
                                        "each runner entry runs instance, network, startup, runner and terminal.",
                            epilog=EXIT_CODES)
    parser.add_argument("run_file", metavar="FILE.yaml", help="the run file")
    add_set_option(parser)
    parser.add_argument("--allow-outside-workspace", action="store_true",
                        help="accept *_class_path files outside the workspace (they are code the run executes)")
    parser.add_argument("--check", action="store_true", help="validate the run file and stop (nothing runs)")
    parser.add_argument("--debug", action="store_true", help="print the full traceback of a failure")
    parser.set_defaults(handler=run_command)


def run_command(args: argparse.Namespace) -> int:
    from ..pipeline import load_run, run_pipeline

    def work() -> int:
        spec = load_run(args.run_file, args.overrides, args.allow_outside_workspace)
        if args.check:
            entries = ", ".join(f"{e.name} ({e.kind})" for e in spec.entries)
            print(f"{args.run_file}: valid; runner entries: {entries}; checkpoint_dir {spec.checkpoint_dir}")
            return EXIT_OK
        context = run_pipeline(spec)
        if context.get("checkpoint_dir") and context.get("rank", 0) == 0:
            print(f"done; results in {context['checkpoint_dir']} (hubtrain report {context['checkpoint_dir']})")
        return EXIT_OK

    return guarded("run", work, args.debug)
