"""A training run whose backbone is frozen from its first step to its last.

The strategy's optimizer holds only the parameters that take a gradient when the run starts, so a
backbone frozen then stays frozen. For such a run the backbone runs in eval mode (TaskNet) and,
unless `RunConfig(feature_cache=False)`, its features come from a cache: computed in the first
epoch, read back in the others and in the dev evaluations of the run."""
from __future__ import annotations

import os
import shutil
import tempfile
from typing import TYPE_CHECKING, Any, Optional

import numpy as np
import paddle
from paddle.io import DataLoader

from ..engine import distributed
from ..engine.events import Callback
from ..engine.plan import TrainPlan
from ..engine.report import is_main_process, log
from ..tasks.feature_cache import FeatureCache, weights_digest

if TYPE_CHECKING:
    from ..tasks.base import BaseTask

__all__ = ["FrozenBackbone", "backbone_frozen"]

CACHE_DIR = "feature_cache"


def backbone_frozen(network: paddle.nn.Layer) -> bool:
    """Whether the network's backbone has parameters and none of them takes a gradient."""
    params = network.backbone.parameters()
    return bool(params) and all(p.stop_gradient for p in params)


def _same(a: Any, b: Any) -> bool:
    """Whether two reads of one sample are equal, field by field."""
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    a = a.numpy() if isinstance(a, paddle.Tensor) else a
    b = b.numpy() if isinstance(b, paddle.Tensor) else b
    return np.array_equal(np.asarray(a), np.asarray(b))


def _why_not_cached(task: "BaseTask", data: Any) -> Optional[str]:
    if task.config.to_static:
        return "to_static converts the whole network, backbone included"
    if not isinstance(data, DataLoader) and len(data) and not _same(data[0], data[0]):
        return ("the train data differ each time they are read (training-time augmentation?), so each "
                "epoch's features would too")
    return None


class FrozenBackbone(Callback):
    """Eval mode and the feature cache for the run; the counts and any note at its end.

    A caller's callback that unfreezes the backbone mid-run ends both from the next batch on. A
    cache that computes most of an epoch again after the first (data that change every epoch) is
    turned off."""

    order = -30

    def __init__(self, task: "BaseTask", plan: TrainPlan, train_data: Any) -> None:
        self.network = task.network
        self.params = self.network.backbone.parameters()
        self.cache: Optional[FeatureCache] = None
        self.note: Optional[str] = None
        self.temporary: Optional[str] = None
        self.rows_before = 0  # rows the cache held when the running epoch began
        self.whole_epoch, self.whole_epochs = False, 0  # epochs run from their first batch here
        if not task.config.feature_cache:
            self.note = "RunConfig(feature_cache=False)"
            return
        self.note = _why_not_cached(task, train_data)
        if self.note is None:
            self.cache = FeatureCache(self.network.backbone, self.network.feature.select, self._directory(plan),
                                      self.network.mask_index)

    def _directory(self, plan: TrainPlan) -> str:
        if plan.checkpoint_dir is None:  # nothing outlives the run: no weights to tell apart
            self.temporary = tempfile.mkdtemp(prefix="hubtrain-features-")
            return self.temporary
        digest = weights_digest(self.network.backbone, repr(self.network.feature.output))
        return os.path.join(plan.checkpoint_dir, CACHE_DIR, digest, f"rank{distributed.rank()}")

    def attach(self) -> None:
        self.network.backbone_frozen = True
        if self.network.training:
            self.network.train()  # the backbone's layers into eval mode now
        self.network.feature_cache = self.cache

    def detach(self) -> None:
        self.network.backbone_frozen = False
        self.network.feature_cache = None
        if self.network.training:
            self.network.train()
        if self.cache is not None:
            self.cache.close()
            if is_main_process():
                cache = self.cache
                log("INFO", f"feature cache: {cache.computed} features computed, {cache.read} read from the cache"
                    + (f"; off since {cache.note}" if cache.note else ""))
        if self.temporary is not None:
            shutil.rmtree(self.temporary, ignore_errors=True)

    def describe(self) -> str:
        """For the run summary."""
        if self.cache is not None:
            where = "a temporary directory" if self.temporary else os.path.abspath(self.cache.directory)
            return f"frozen for the run, in eval mode; features cached in {where}"
        return f"frozen for the run, in eval mode; features not cached: {self.note}"

    def epoch_begin(self, loop: Any) -> None:
        if self.cache is not None:
            self.cache.start_epoch()
            self.rows_before = self.cache.store.rows if self.cache.store is not None else 0
            self.whole_epoch = loop.state.step_in_epoch == 0

    def batch_begin(self, loop: Any) -> None:
        if loop.phase == "train" and self.network.backbone_frozen and any(not p.stop_gradient for p in self.params):
            log("WARNING", "the backbone was unfrozen during the run: from here it trains in train mode and its "
                           "features are computed every step.", level=30)
            self.network.feature_cache = None
            self.network.backbone_frozen = False
            self.network.train()

    def epoch_end(self, loop: Any) -> None:
        cache = self.cache
        if cache is None or not cache.enabled or loop.phase != "train":
            return
        # after a whole epoch in this process the cache holds every training example: an epoch
        # that still computes half as many features as it held has data that change
        if self.whole_epochs and cache.epoch_computed * 2 >= self.rows_before:
            cache.turn_off(f"epoch {loop.state.epoch + 1} computed {cache.epoch_computed} features again, with "
                           f"{self.rows_before} kept: the data change from epoch to epoch")
            log("WARNING", f"feature cache off: {cache.note}.", level=30)
        self.whole_epochs += self.whole_epoch

