"""The hubtrain logger. Importing hubtrain configures no logging: the logger has no handler and
propagates like any library's. The `hubtrain` command installs the line handler; so does the
first log line of a program that has configured no logging of its own, so a plain script still
shows PaddleHub-style progress lines."""
from __future__ import annotations

import contextlib
import logging
import os
import sys
from typing import Iterator

__all__ = ["logger", "LEVEL_VARIABLE", "LineHandler", "LineFormatter", "install_handler", "ensure_output",
           "warnings_only"]

LEVEL_VARIABLE = "HUBTRAIN_LOG_LEVEL"  # INFO by default; WARNING keeps only warnings and errors

logger = logging.getLogger("hubtrain")


class LineHandler(logging.Handler):
    """Writes whole lines to stdout; through tqdm when a bar is on screen so the bar is not torn."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            from tqdm import tqdm

            tqdm.write(self.format(record), file=sys.stdout)
        except Exception:  # a logging handler must never raise into the training loop
            self.handleError(record)


class LineFormatter(logging.Formatter):
    """`[time] [   TAG] - message`. A record logged without a tag (a script's own
    `hub.logger.info(...)`, as PaddleHub 1.x scripts write) is tagged with its level's name."""

    def __init__(self) -> None:
        super().__init__("[%(asctime)s] [%(tag)8s] - %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        if not hasattr(record, "tag"):
            record.tag = record.levelname
        return super().format(record)


def install_handler(propagate: bool = True) -> logging.Handler:
    """Give the hubtrain logger its line handler (once) and the level HUBTRAIN_LOG_LEVEL names.
    `propagate=False` keeps the lines from also reaching the root logger's handlers (the command
    line does this: its handler is the program's output)."""
    level = os.environ.get(LEVEL_VARIABLE, "INFO").strip().upper()
    if not isinstance(logging.getLevelName(level), int):
        raise ValueError(f"{LEVEL_VARIABLE}={level!r} is not a logging level; set it to DEBUG, INFO, WARNING or "
                         f"ERROR, or unset it.")
    logger.setLevel(level)
    logger.propagate = propagate
    for handler in logger.handlers:
        if isinstance(handler, LineHandler):
            return handler
    handler = LineHandler()
    handler.setFormatter(LineFormatter())
    logger.addHandler(handler)
    return handler


def _set_by_paddle(handler: logging.Handler) -> bool:
    """Whether `handler` is the one `import paddle` puts on the root logger (a stderr stream with
    paddle's line format): it is paddle's, not the program's, choice of output."""
    if type(handler) is not logging.StreamHandler or handler.formatter is None:
        return False
    probe = logging.LogRecord("probe", logging.INFO, "probe.py", 7, "m", None, None)
    return handler.formatter.format(probe).endswith("] [    INFO] probe.py:7 - m")


def ensure_output() -> None:
    """Before a log line: when the program has configured no logging (no handler on the hubtrain
    logger, none on the root but paddle's own), install the line handler so the lines are seen
    once, in hubtrain's format, on stdout. Otherwise the records propagate to the program's
    handlers untouched."""
    if logger.handlers:
        return
    if all(_set_by_paddle(h) for h in logging.getLogger().handlers):
        install_handler(propagate=False)


@contextlib.contextmanager
def warnings_only(name: str) -> Iterator[None]:
    """Another library's logger (`name`) keeps only its warnings inside the block, then its own level
    again: paddlenlp and jieba log several INFO lines per load."""
    other = logging.getLogger(name)
    level = other.level
    other.setLevel(logging.WARNING)
    try:
        yield
    finally:
        other.setLevel(level)
