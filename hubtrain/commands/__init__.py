"""The `hubtrain` subcommands besides demo/export/predict, one module each: run, train, eval,
zoo, report. Each module defines `add_parsers(subparsers)` and the functions they dispatch to."""
from . import report, run, train, zoo
from .common import EXIT_CODES, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE

MODULES = (run, train, zoo, report)

__all__ = ["MODULES", "EXIT_CODES", "EXIT_OK", "EXIT_FAILED", "EXIT_USAGE", "EXIT_INTERRUPTED"]
