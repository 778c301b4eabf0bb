"""The default instance stage: device, seeds, dataset."""
from __future__ import annotations

import paddle

from ..runs.training import seed_everything
from .building import build_dataset
from .stages import Context, InstanceBase

__all__ = ["Instance"]


class Instance(InstanceBase):
    """Sets the device and seeds paddle, numpy and random with the entry's seed (before the
    network is built, so a head starts from the same weights every run), then builds the
    dataset once for the whole run."""

    def instance(self, context: Context) -> None:
        config = context["config"]
        device = config.device
        paddle.set_device(device)
        context["device"] = device
        seed_everything(config.seed)
        if context.get("dataset") is None:
            context["dataset"] = build_dataset(context["run_file"]["dataset"])
