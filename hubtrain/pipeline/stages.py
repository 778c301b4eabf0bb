"""The five stages of a staged run and the context they share.

A run file's runner entries run in order; for each entry the stages run as
instance -> network -> startup -> runner -> terminal, each an object made with the context and
called with it. A stage may jump ahead by setting `context["status"]` to a later stage's
"<stage>_pass" (e.g. "terminal_pass" to skip what is left but the terminal).
"""
from __future__ import annotations

from typing import Any

__all__ = ["InstanceBase", "NetworkBase", "StartupBase", "RunnerBase", "TerminalBase", "STAGES", "STAGE_BASES",
           "STAGE_METHODS", "CONTEXT_KEYS", "Context"]

Context = dict  # the shared dict; CONTEXT_KEYS documents what the default stages put in it

CONTEXT_KEYS: dict[str, str] = {
    "run_id": "this run's id (start time and process id), its key in run_summary.json",
    "run_file": "the validated run file (a dict; {workspace} expanded, paths absolute)",
    "run_file_path": "the YAML file the run came from (None for a run built in memory)",
    "workspace": "the workspace directory (absolute)",
    "runner_index": "position of the current runner entry",
    "runner_name": "name of the current runner entry",
    "runner": "the current runner entry (a dict, defaults filled in)",
    "status": "'<stage>_pass' of the stage about to run; a stage sets a later one to skip ahead",
    "stages": "what ran so far: [{'runner', 'stage', 'class'}] in order",
    "rank": "this process's rank (0 in a single process)",
    "world_size": "the number of processes",
    "device": "'cpu' or 'gpu'",
    "dataset": "the dataset (instance stage)",
    "module": "the hub.Module (network stage)",
    "reader": "the reader that encodes the dataset for the task (network stage)",
    "strategy": "the fine-tuning strategy (network stage)",
    "config": "the current entry's hub.RunConfig (network stage; also task.config)",
    "task": "the task: network, loss, metrics (network stage)",
    "init_model": "the weights the startup stage loaded (a path), or None",
    "weights": "where the network's trained weights came from (a path loaded, or the train entry), or None",
    "checkpoint_dir": "the run's checkpoint directory (absolute), or None",
    "evaluated": "splits the current entry evaluated, e.g. ['dev', 'test'] (runner stage)",
    "results": "[{'runner', 'class', ...}] one record per finished entry (runner stage)",
    "outputs": "files and directories written: {'export': path, 'predictions': path, 'confusion_dev': path, ...}",
}


class Stage:
    """A stage is built with the run's context; its one method does the stage's work."""

    def __init__(self, context: Context) -> None:
        pass


class InstanceBase(Stage):
    """Everything before the network: environment, seeds, datasets."""

    def instance(self, context: Context) -> None:
        pass


class NetworkBase(Stage):
    """The network: module, reader, task (head, loss, metrics) and strategy."""

    def build_network(self, context: Context) -> None:
        pass


class StartupBase(Stage):
    """Initialisation of the weights, and warm start from `init_model_path`."""

    def startup(self, context: Context) -> None:
        pass

    def load(self, context: Context) -> Any:
        """Load the runner entry's `init_model_path` into `context["task"]`; None when unset."""
        from .warm_start import warm_start

        path = context["runner"].get("init_model_path")
        if not path:
            return None
        return warm_start(context["task"], path)


class RunnerBase(Stage):
    """The work of the entry: train, evaluate, predict or export."""

    def run(self, context: Context) -> None:
        pass


class TerminalBase(Stage):
    """After the entry: summary, export, clean-up."""

    def terminal(self, context: Context) -> None:
        pass


STAGES = ("instance", "network", "startup", "runner", "terminal")
STAGE_BASES = {"instance": InstanceBase, "network": NetworkBase, "startup": StartupBase, "runner": RunnerBase,
               "terminal": TerminalBase}
STAGE_METHODS = {"instance": "instance", "network": "build_network", "startup": "startup", "runner": "run",
                 "terminal": "terminal"}
