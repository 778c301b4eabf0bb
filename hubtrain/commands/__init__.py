"""The `hubtrain` subcommands besides demo and predict, one module each: run, train, eval,
export, zoo, report. Each module defines `add_parsers(subparsers)` and the functions they dispatch to."""
from . import export, report, run, train, zoo
from .common import EXIT_CODES, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_TERMINATED, EXIT_USAGE

MODULES = (run, train, export, zoo, report)

__all__ = ["MODULES", "EXIT_CODES", "EXIT_OK", "EXIT_FAILED", "EXIT_USAGE", "EXIT_INTERRUPTED",
           "EXIT_TERMINATED"]
