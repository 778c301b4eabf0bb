"""The result file a PaddleHub-style hyperparameter tuner reads (PaddleHub 1.x's autofinetune).

Such a tuner starts each trial as a process with a trial id in the environment variable
`PaddleHub_AutoDL_Trial_ID`; the trial's script calls `hub.report_final_result(score)` once, which
appends the line `<trial id>\\t<score>\\n` to `<home>/.paddlehub/tmp/tmp.txt`, `<home>` being
`$HUB_HOME` when that names a directory, else the user's home directory. The tuner then reads the
last line carrying its trial's id. The file holds text only, no code.
"""
from __future__ import annotations

import math
import numbers
import os
from typing import Any, Optional

import numpy as np

from ..engine.report import is_main_process, log

__all__ = ["report_final_result", "result_file", "TRIAL_VARIABLE"]

TRIAL_VARIABLE = "PaddleHub_AutoDL_Trial_ID"


def result_file() -> str:
    """Where trial results are appended, as PaddleHub 1.x placed the file."""
    home = os.environ.get("HUB_HOME")
    if not (home and os.path.isdir(home)):
        home = os.path.expanduser("~")
    return os.path.join(home, ".paddlehub", "tmp", "tmp.txt")


def _score(result: Any) -> float:
    value = result.item() if isinstance(result, np.ndarray) and result.size == 1 else result
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, np.number)):
        raise TypeError(f"report_final_result({result!r}): the result must be one number (the trial's score, e.g. "
                        f"the best dev accuracy task.train_state.best_score).")
    value = float(value)
    if math.isnan(value):
        raise ValueError("report_final_result(nan): a tuner cannot rank a trial by NaN; report the score the run "
                         "reached (e.g. task.train_state.best_score), or 0.0 for a failed trial.")
    return value


def report_final_result(result: Any) -> Optional[str]:
    """Record this trial's final score for the tuner that started the process (see the module
    docstring); returns the file written. Without a trial id in the environment (the script was
    not started by a tuner) nothing is written, and a warning says so. Under several processes
    only rank 0 writes."""
    value = _score(result)
    trial = os.environ.get(TRIAL_VARIABLE)
    if not trial:
        log("WARNING", f"report_final_result({value!r}): no {TRIAL_VARIABLE} in the environment, so no tuner "
                       f"started this run and the result is not recorded.", level=30)
        return None
    if any(ch in trial for ch in "\t\r\n"):
        raise ValueError(f"{TRIAL_VARIABLE}={trial!r} holds a tab or line break, which would break the result "
                         f"file's lines: give the trial an id without them.")
    path = result_file()
    if not is_main_process():
        return path
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "a", encoding="utf-8") as f:
        f.write(f"{trial}\t{value!r}\n")  # one write: lines of trials running side by side stay whole
    return path
