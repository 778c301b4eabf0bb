"""Staged runs from a YAML run file: instance -> network -> startup -> runner -> terminal for each
runner entry, sharing one context dict (PaddleRec's trainer stages on hubtrain's task API).

    from hubtrain.pipeline import run_pipeline
    context = run_pipeline("run.yaml", overrides=["runner[0].epochs=1"])
    context["task"], context["results"]

A stage is replaced by naming `{stage}_class_path: "{workspace}/file.py"` in a runner entry; the
file defines `Instance`, `Network`, `Startup`, `Runner` or `Terminal`, derived from the base below
(or from the default implementation of the same name, to change a part of it). The workspace is
the run file's folder (or `workspace=`); every path the file names stays inside it.
"""
from .errors import RunFileError
from .stages import (CONTEXT_KEYS, STAGES, InstanceBase, NetworkBase, RunnerBase, StartupBase, TerminalBase)
from .instance import Instance
from .network import Network
from .startup import Startup
from .runner import Runner
from .terminal import Terminal
from .driver import StageError, load_run, run_pipeline
from .schema import EntrySpec, RunSpec
from .warm_start import warm_start

__all__ = ["InstanceBase", "NetworkBase", "StartupBase", "RunnerBase", "TerminalBase", "Instance", "Network",
           "Startup", "Runner", "Terminal", "STAGES", "CONTEXT_KEYS", "RunFileError", "StageError", "RunSpec",
           "EntrySpec", "load_run", "run_pipeline", "warm_start", "write_report"]


def write_report(checkpoint_dir: str, output_dir: str | None = None) -> tuple[str, str]:
    """report.png and report.html of a run (see hubtrain.pipeline.report)."""
    from .report import write_report as write

    return write(checkpoint_dir, output_dir)
