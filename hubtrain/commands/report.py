"""`hubtrain report CHECKPOINT_DIR`: report.png and report.html of a run."""
from __future__ import annotations

import argparse

from .common import EXIT_CODES, EXIT_OK, guarded

__all__ = ["add_parsers", "report_command"]


def add_parsers(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("report", help="write report.png and report.html of a run (no server)",
                            description="Plot loss, metrics and learning rate over steps from CHECKPOINT_DIR/"
                                        "scalars.jsonl, and the confusion matrices a classifier's run wrote "
                                        "(confusion_<split>.json), into report.png and a self-contained report.html.",
                            epilog=EXIT_CODES)
    parser.add_argument("checkpoint_dir", metavar="CHECKPOINT_DIR", help="the run's checkpoint_dir")
    parser.add_argument("--output", metavar="DIR", help="where to write them (default: CHECKPOINT_DIR)")
    parser.set_defaults(handler=report_command)


def report_command(args: argparse.Namespace) -> int:
    from ..pipeline.report import write_report

    def work() -> int:
        png, page = write_report(args.checkpoint_dir, args.output)
        print(f"wrote {png}\nwrote {page}")
        return EXIT_OK

    return guarded("report", work, usage_errors=(FileNotFoundError,))
