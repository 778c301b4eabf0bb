"""What a run tells people: log lines, a progress bar in a terminal, VisualDL scalars.

In a terminal the bar redraws in place; anywhere else (a CI log, a pipe) only whole lines are
written, so a log file never holds carriage returns.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import sys
import threading
import time
from typing import TYPE_CHECKING, Iterator, Optional

import paddle
from tqdm import tqdm

from ..log import ensure_output, logger, warnings_only
from .events import Callback

if TYPE_CHECKING:
    from .loop import Loop

__all__ = ["logger", "log", "ScalarWriter", "ProgressBar", "is_main_process", "quiet_paddlenlp", "SCALARS_FILE"]

SCALARS_FILE = "scalars.jsonl"  # beside visualdl/: the same scalars as plain JSON lines, for reports


def is_main_process() -> bool:
    return paddle.distributed.get_rank() == 0


def log(tag: str, message: str, level: int = logging.INFO) -> None:
    """One log line under a PaddleHub-style tag (TRAIN, EVAL, INFO, WARNING); main process only."""
    if level >= logging.WARNING or is_main_process():
        ensure_output()
        logger.log(level, message, extra={"tag": tag})


class ScalarWriter:
    """VisualDL scalars under `<checkpoint_dir>/visualdl` and as JSON lines in
    `<checkpoint_dir>/scalars.jsonl`, opened on first use; silent when off."""

    def __init__(self, logdir: str, enabled: bool = True) -> None:
        self.logdir = logdir
        self.enabled = enabled and is_main_process()
        self._writer = None
        # The same scalars as JSON lines beside the VisualDL directory, readable without VisualDL.
        self.jsonl_path = os.path.join(os.path.dirname(os.path.normpath(logdir)), SCALARS_FILE) if logdir else None
        self._jsonl = None

    def add(self, tag: str, value: float, step: int) -> None:
        if not self.enabled:
            return
        self._add_line(tag, value, step)
        if self._writer is None:
            from visualdl import LogWriter

            self._writer = LogWriter(logdir=self.logdir)
        self._writer.add_scalar(tag=tag, value=float(value), step=step)

    def add_all(self, prefix: str, scalars: dict, step: int) -> None:
        for name, value in scalars.items():
            self.add(f"{prefix}/{name}", value, step)

    def _add_line(self, tag: str, value: float, step: int) -> None:
        if self.jsonl_path is None:
            return
        if self._jsonl is None:
            os.makedirs(os.path.dirname(self.jsonl_path) or ".", exist_ok=True)
            self._jsonl = open(self.jsonl_path, "a", encoding="utf-8")
        self._jsonl.write(json.dumps({"tag": tag, "step": int(step), "value": float(value), "time": time.time()}) + "\n")
        self._jsonl.flush()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._jsonl is not None:
            self._jsonl.close()
            self._jsonl = None


class ProgressBar(Callback):
    """A tqdm bar over the run's training steps, shown only when stderr is a terminal."""

    order = 50

    def __init__(self, enabled: Optional[bool] = None) -> None:
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self._bar: Optional[tqdm] = None

    def fit_begin(self, loop: "Loop") -> None:
        state = loop.state
        if self.enabled and is_main_process():
            self._bar = tqdm(total=state.total_steps, initial=state.global_step, unit="step",
                             dynamic_ncols=True, leave=False)

    def batch_end(self, loop: "Loop") -> None:
        if self._bar is not None and loop.phase == "train":
            self._bar.update(1)

    def fit_end(self, loop: "Loop") -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


@contextlib.contextmanager
def quiet_paddlenlp() -> Iterator[None]:
    """paddlenlp logs a dozen coloured INFO lines per load; keep its warnings only. Its import
    also calls paddle.disable_signal_handler(), which sets SIGTERM back to the system default
    beneath Python: the Python handler in place (the command line's) is put back on the way out."""
    import paddlenlp.utils.log  # noqa: F401 - creates (and resets) paddlenlp's logger, so import first

    try:
        with warnings_only("PaddleNLP"):
            yield
    finally:
        _reinstall_sigterm_handler()


def _reinstall_sigterm_handler() -> None:
    handler = signal.getsignal(signal.SIGTERM)
    if callable(handler) and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, handler)
