"""The `hubtrain` command: demo, run, train, eval, zoo, report, export, predict."""
from __future__ import annotations

import argparse
import sys
from typing import Optional, Sequence

from .export.onnx import DEFAULT_OPSET

__all__ = ["main"]

_USER_ERRORS = (FileNotFoundError, FileExistsError, IsADirectoryError, ValueError, TypeError, ImportError,
                RuntimeError)


def _parser() -> argparse.ArgumentParser:
    from .commands import EXIT_CODES, MODULES

    parser = argparse.ArgumentParser(prog="hubtrain", description="Fine-tuning on PaddlePaddle's high-level API.",
                                     epilog=EXIT_CODES)
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("demo", help="fine-tune a pretrained backbone on real data, offline", add_help=False)
    for module in MODULES:
        module.add_parsers(sub)
    export = sub.add_parser("export", help="convert an export directory (written by task.export) to ONNX")
    export.add_argument("export_dir", help="a directory written by task.export(path)")
    export.add_argument("--onnx", required=True, metavar="OUT.onnx", help="the ONNX file to write")
    export.add_argument("--opset", type=int, default=DEFAULT_OPSET, help="ONNX opset (raised by paddle2onnx when needed)")
    predict = sub.add_parser("predict", help="predict raw examples from a file with an export directory")
    predict.add_argument("export_dir", help="a directory written by task.export(path)")
    predict.add_argument("--input", required=True, metavar="FILE",
                         help="one example per line: a text, text_a<TAB>text_b, or an image path")
    predict.add_argument("--output", metavar="FILE", help="JSON lines out (default: stdout)")
    predict.add_argument("--batch-size", type=int, default=32, help="examples per batch (default 32)")
    predict.add_argument("--threads", type=int, default=None, help="CPU math threads (default: paddle's)")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = _parser()
    args, rest = parser.parse_known_args(argv)
    if args.version:
        from . import __version__

        print(__version__)
        return 0
    if args.command == "demo":
        from .demo import main as demo

        demo(rest)
        return 0
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if args.command in ("export", "predict"):
        from .export import commands

        try:
            if args.command == "export":
                return commands.onnx_command(args.export_dir, args.onnx, args.opset)
            return commands.predict_command(args.export_dir, args.input, args.output, args.batch_size, args.threads)
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
