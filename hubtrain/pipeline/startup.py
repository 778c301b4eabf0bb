"""The default startup stage: weights initialised, or loaded from `init_model_path`."""
from __future__ import annotations

from ..engine.checkpoint import CheckpointManager
from ..engine.report import log
from .stages import Context, StartupBase
from .warm_start import warm_start

__all__ = ["Startup", "holds_weights"]


def holds_weights(checkpoint_dir: str) -> bool:
    """Whether a checkpoint directory has weights to load: a best model or a step checkpoint."""
    manager = CheckpointManager(checkpoint_dir)
    return manager.best_dir is not None or bool(manager.steps())


class Startup(StartupBase):
    """In dygraph the network's weights are initialised when it is built (seeded by the instance
    stage); this stage loads the entry's `init_model_path` over them when one is given. A predict
    or export entry that comes to the network before anything gave it weights (no train entry,
    no init_model_path before it) loads the checkpoint directory's best model (else its newest
    checkpoint), as the run file's check made sure there is one."""

    def startup(self, context: Context) -> None:
        entry = context["runner"]
        loaded = self.load(context)
        ckpt = context.get("checkpoint_dir")
        if loaded is None and entry["class"] in ("predict", "export") and context.get("weights") is None \
                and ckpt and holds_weights(ckpt):
            loaded = warm_start(context["task"], ckpt)
        if loaded is None:
            context.setdefault("init_model", None)
            return
        context["init_model"] = loaded
        context["weights"] = loaded
        if entry["class"] == "train" and ckpt and CheckpointManager(ckpt).steps():
            log("WARNING", f"{ckpt} already holds checkpoints: training resumes from the newest of them, which "
                f"replaces the warm-start weights from {loaded}", level=30)
