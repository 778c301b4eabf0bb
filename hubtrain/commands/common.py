"""What the commands share: exit codes and the way errors are reported."""
from __future__ import annotations

import argparse
import sys
import traceback
from typing import Callable

__all__ = ["EXIT_OK", "EXIT_FAILED", "EXIT_USAGE", "EXIT_INTERRUPTED", "EXIT_TERMINATED", "EXIT_CODES", "guarded",
           "add_set_option", "OptionError", "Terminated", "interrupted"]

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

