"""The `hubtrain` command."""
from __future__ import annotations

import argparse
import sys
from typing import Optional, Sequence

__all__ = ["main"]


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="hubtrain", description="Fine-tuning on PaddlePaddle's high-level API.")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("demo", help="fine-tune a pretrained backbone on real data, offline", add_help=False)
    args, rest = parser.parse_known_args(argv)
    if args.version:
        from . import __version__

        print(__version__)
        return 0
    if args.command == "demo":
        from .demo import main as demo

        demo(rest)
        return 0
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
