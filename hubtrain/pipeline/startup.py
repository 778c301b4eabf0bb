"""The default startup stage: weights initialised, or loaded from `init_model_path`."""
from __future__ import annotations

from ..engine.checkpoint import CheckpointManager
from ..engine.report import log
from .stages import Context, StartupBase

__all__ = ["Startup"]


class Startup(StartupBase):
    """In dygraph the network's weights are initialised when it is built (seeded by the instance
    stage); this stage loads the entry's `init_model_path` over them when one is given."""

    def startup(self, context: Context) -> None:
        loaded = self.load(context)
        if loaded is None:
            context.setdefault("init_model", None)
            return
        context["init_model"] = loaded
        entry = context["runner"]
        ckpt = context.get("checkpoint_dir")
        if entry["class"] == "train" and ckpt and CheckpointManager(ckpt).steps():
            log("WARNING", f"{ckpt} already holds checkpoints: training resumes from the newest of them, which "
                f"replaces the warm-start weights from {loaded}", level=30)
