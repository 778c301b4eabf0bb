"""RunConfig(to_static=True): the network's forward under `paddle.jit.to_static` for training,
evaluation and prediction alike.

Paddle converts the forward by symbolic tracing, running what it cannot convert eagerly. Should
the converted forward still fail where the plain one would not, the task goes back to the plain
forward for good and says why, naming the line of the network's code that failed.
"""
from __future__ import annotations

import os
import traceback
from typing import TYPE_CHECKING, Any, Callable

import paddle

from .report import log

if TYPE_CHECKING:
    from ..tasks.base import BaseTask

__all__ = ["compile_forward", "first_static_call"]

_PADDLE_DIR = os.path.dirname(paddle.__file__)


def compile_forward(task: "BaseTask") -> None:
    """Put the network's forward under to_static, once per task. The input specs go with it
    when the module declared them (so, e.g., any sequence length is one program)."""
    if not task.config.to_static or task._dygraph_forward is not None:
        return
    network = task.network
    task._dygraph_forward = network.forward
    specs = task.feature.input_spec
    specs = list(specs) + list(task._extra_inputs()) if specs else None
    network.forward = paddle.jit.to_static(network.forward, input_spec=specs)
    task._static_pending = True


def _where(error: BaseException) -> str:
    """The innermost frame of the failure outside paddle itself: the network's own code."""
    frames = [f for f in traceback.extract_tb(error.__traceback__)
              if os.path.isfile(f.filename) and not f.filename.startswith(_PADDLE_DIR)]
    if not frames:
        return ""
    frame = frames[-1]
    code = f": {frame.line.strip()}" if frame.line else ""
    return f" at {frame.filename}:{frame.lineno}{code}"


def first_static_call(task: "BaseTask", call: Callable[[], Any]) -> Any:
    """The first call of the converted forward; on failure, the plain forward from then on."""
    try:
        return call()
    except Exception as error:  # any conversion failure: the plain forward decides whether it is real
        task.network.forward = task._dygraph_forward
        log("WARNING", f"to_static could not run {type(task.network).__name__}.forward "
                       f"({type(error).__name__}: {str(error).strip().splitlines()[0] if str(error).strip() else ''})"
                       f"{_where(error)}; this task runs in dygraph mode from here.", level=30)
        return call()
    finally:
        task._static_pending = False
