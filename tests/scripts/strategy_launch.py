"""Strategies under `paddle.distributed.launch`; each rank writes its final weights and its
pretrained ones to OUT_DIR/rank<N>.npz.

- l2sp: when training starts, the weights of a layer with no data gradient are moved 0.3 away
  from their pretrained values; the pull should bring them back by (1 - lr * coeff) per step.
- ulmfit: 3 epochs of gradual unfreezing; the weights at the start of every epoch are saved too
  (epoch<E>.<name>)."""
import os
import sys

import numpy as np
import paddle
import paddle.nn as nn

import hubtrain as hub
from tiny import Digits, digits_splits


class ZeroBranch(nn.Layer):
    """`idle` sits in the graph with a data gradient of exactly zero."""

    def __init__(self):
        super().__init__()
        paddle.seed(0)
        self.used = nn.Linear(64, 32)
        self.idle = nn.Linear(64, 32)

    def forward(self, x):
        return nn.functional.relu(self.used(x)) + 0.0 * self.idle(x)


class Drift(paddle.callbacks.Callback):
    def on_train_begin(self, logs=None):
        idle = self.model.network.backbone.idle.weight
        idle.set_value(idle.numpy() + 0.3)


class EpochWeights(paddle.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.seen = {}

    def on_epoch_begin(self, epoch, logs=None):
        for k, v in self.model.network.state_dict().items():
            self.seen[f"epoch{epoch}.{k}"] = v.numpy().copy()


def main(out_dir, ckpt_dir, variant="l2sp"):
    train, _, _ = digits_splits()
    backbone = ZeroBranch()
    pretrained = {k: v.numpy().copy() for k, v in backbone.state_dict().items()}
    if variant == "l2sp":
        strategy, epochs = hub.L2SPFinetuneStrategy(learning_rate=0.1, optimizer_name="sgd",
                                                    regularization_coeff=0.5), 2
        callbacks = [Drift()]
    else:
        strategy, epochs = hub.ULMFiTStrategy(learning_rate=1e-2, dis_blocks=3, frz_blocks=3), 3
        callbacks = [EpochWeights()]
        paddle.seed(0)   # three units, so three blocks: backbone.0, backbone.2, head.1
        backbone = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU())
        pretrained = {k: v.numpy().copy() for k, v in backbone.state_dict().items()}
    config = hub.RunConfig(num_epoch=epochs, batch_size=16, checkpoint_dir=ckpt_dir, log_interval=20,
                           strategy=strategy)
    task = hub.ImageClassifierTask(feature=backbone, num_classes=10, config=config)
    task.finetune(Digits(train.x[:256], train.y[:256]), callbacks=callbacks)
    seen = callbacks[0].seen if variant == "ulmfit" else {}
    rank = paddle.distributed.get_rank()
    np.savez(os.path.join(out_dir, f"rank{rank}.npz"),
             **{k: v.numpy() for k, v in task.network.state_dict().items()},
             **{f"pretrained.{k}": v for k, v in pretrained.items()}, **seen,
             __world=np.array(paddle.distributed.get_world_size()), __steps=np.array(task.train_state.global_step))


if __name__ == "__main__":
    main(*sys.argv[1:])
