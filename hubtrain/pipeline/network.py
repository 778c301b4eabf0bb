"""The default network stage: module, reader, task and strategy."""
from __future__ import annotations

from .building import build_module, build_reader, build_task
from .stages import Context, NetworkBase

__all__ = ["Network"]


class Network(NetworkBase):
    """Builds the task once for the whole run (later entries work on the same network and its
    trained weights) and gives it the current entry's RunConfig."""

    def build_network(self, context: Context) -> None:
        config = context["config"]
        run = context["run_file"]
        if context.get("task") is None:
            if context.get("module") is None:
                context["module"] = build_module(run["module"])
            if context.get("reader") is None:
                context["reader"] = build_reader(run, context["module"], context["dataset"])
            context["task"] = build_task(run, context["module"], context["reader"], context["dataset"], config)
        else:
            context["task"].config = config
        context["strategy"] = config.strategy
