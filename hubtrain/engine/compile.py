"""RunConfig(to_static=True): the network's forward under `paddle.jit.to_static` for training,
evaluation and prediction alike.

Paddle converts the whole forward into one static program. Should the conversion fail (a
construct it cannot express) or the converted forward fail where the plain one would not, the
task goes back to the plain forward for good and says why, naming the line of the network's code
that failed.
"""
from __future__ import annotations

import os
import re
import traceback
import weakref
from typing import Any, Callable, Optional, Sequence

import paddle

from .report import log

__all__ = ["compile_forward", "convert_forward", "StaticForward", "ConvertedPerFeed"]

_PADDLE_DIR = os.path.dirname(paddle.__file__)
_COMPILED: "weakref.WeakSet[paddle.nn.Layer]" = weakref.WeakSet()  # networks whose forward was put under to_static


def compile_forward(network: paddle.nn.Layer, specs: Optional[Sequence] = None, extra_specs: Sequence = ()) -> None:
    """Put `network`'s forward under to_static (once: a forward already converted, or given back
    after a failed conversion, is left as it is). With the backbone's input `specs` (then
    `extra_specs`, fed after them) any sequence length is one program."""
    if network not in _COMPILED:
        _COMPILED.add(network)
        network.forward = StaticForward(network, specs, extra_specs)


class StaticForward:
    """A network's forward converted by to_static. Its first call runs the conversion; if that
    fails, the network gets its plain forward back for good, and the run says why."""

    def __init__(self, network: paddle.nn.Layer, specs: Optional[Sequence], extra_specs: Sequence) -> None:
        self.network = network
        self.plain = network.forward
        self.converted = ConvertedPerFeed(self.plain, list(specs), list(extra_specs)) if specs \
            else convert_forward(self.plain, None)
        self.pending = True

    def __call__(self, *inputs: Any) -> Any:
        if not self.pending:
            return self.converted(*inputs)
        try:
            outputs = self.converted(*inputs)
        except Exception as error:  # any conversion failure: the plain forward decides whether it is real
            self.network.forward = self.plain
            cause, where = _describe(error)
            log("WARNING", f"to_static could not run {type(self.network).__name__}.forward ({cause}){where}; "
                           f"this task runs in dygraph mode from here.", level=30)
            return self.plain(*inputs)
        finally:
            self.pending = False
        self.network.forward = self.converted  # it works: no wrapper in the way from now on
        return outputs


class ConvertedPerFeed:
    """The forward converted once per number of backbone inputs fed, for backbones whose last
    inputs are optional (a text module fed `input_ids` alone). The inputs left out are passed as
    None, which the program holds as constants: the backbone's own defaults run inside it. The
    extra inputs (after the backbone's) always come last, as the network is fed them."""

    def __init__(self, forward: Callable, backbone_specs: list, extra_specs: list) -> None:
        self.forward = forward
        self.backbone_specs = backbone_specs
        self.extra_specs = extra_specs
        self.converted: dict[int, Callable] = {}

    def __call__(self, *inputs: Any) -> Any:
        fed = min(len(inputs) - len(self.extra_specs), len(self.backbone_specs))
        left_out = len(self.backbone_specs) - fed
        if fed not in self.converted:
            specs = self.backbone_specs[:fed] + [None] * left_out + self.extra_specs
            self.converted[fed] = convert_forward(self.forward, specs)
        return self.converted[fed](*inputs[:fed], *([None] * left_out), *inputs[fed:])


def convert_forward(forward: Callable, input_spec: Any = None) -> Callable:
    """The forward converted whole into one static program, as every task converts it.

    Whole-graph conversion rather than the default bytecode tracing, which keeps graph breaks in
    Python; `benchmarks/static_step.py` measures what it gains on a transformer."""
    strategy = paddle.static.BuildStrategy()
    strategy.enable_inplace = True
    return paddle.jit.to_static(forward, input_spec=input_spec, full_graph=True, build_strategy=strategy)


_FRAME = re.compile(r'File "([^"]+)", line (\d+)')
_CAUSE = re.compile(r"^\s*(?:[\w.]+\.)?(\w+(?:Error|Exception)): (.+)$")


def _where(error: BaseException) -> str:
    """The innermost frame of the failure outside paddle itself: the network's own code."""
    frames = [f for f in traceback.extract_tb(error.__traceback__)
              if os.path.isfile(f.filename) and not f.filename.startswith(_PADDLE_DIR)]
    if not frames:
        return ""
    frame = frames[-1]
    code = f": {frame.line.strip()}" if frame.line else ""
    return f" at {frame.filename}:{frame.lineno}{code}"


def _describe(error: BaseException) -> tuple[str, str]:
    """What failed, and where. A conversion failure comes as paddle's report of the transformed
    code: the network's frame with the failing line marked, paddle's own frames, the cause last."""
    text = str(error).strip()
    if not text.startswith("In transformed code"):
        return f"{type(error).__name__}: {text.splitlines()[0] if text else ''}", _where(error)
    lines = text.splitlines()
    causes = [m.groups() for m in map(_CAUSE.match, lines) if m]
    cause = f"{causes[-1][0]}: {causes[-1][1].split('. ')[0]}" if causes else type(error).__name__
    frames = [(f, n) for f, n in _FRAME.findall(text) if not f.startswith(_PADDLE_DIR)]
    if not frames:
        return cause, ""
    marked = [lines[i - 1].strip() for i, line in enumerate(lines) if "<--- HERE" in line and i > 0]
    return cause, f" at {frames[-1][0]}:{frames[-1][1]}" + (f": {marked[-1]}" if marked else "")
