"""A fine-tune that a test can kill and start again: digits, dropout, shuffled batches,
checkpoints every 7 steps, dev evaluation every 20. Writes the final weights to OUT.npz.
The variant "ulmfit" trains with ULMFiTStrategy (its unfreezing plan crosses epochs) and a
weight average."""
import os
import sys
import time

import numpy as np
import paddle

import hubtrain as hub
from tiny import digits_splits, mlp_backbone


class Progress(paddle.callbacks.Callback):
    def __init__(self, path, pause):
        super().__init__()
        self.path, self.pause = path, pause

    def on_train_batch_end(self, step, logs=None):
        with open(self.path, "w") as f:
            f.write(str(self.model.train_state.global_step))
        time.sleep(self.pause)


def main(ckpt_dir, out, progress, pause="0.02", variant="adamw"):
    train, dev, test = digits_splits()
    strategy, extra = hub.AdamWeightDecayStrategy(learning_rate=5e-3, warmup_proportion=0.1), {}
    if variant == "ulmfit":
        strategy, extra = hub.ULMFiTStrategy(learning_rate=1e-2, dis_blocks=2, frz_blocks=3), {"ema_decay": 0.9}
    config = hub.RunConfig(num_epoch=3, batch_size=32, log_interval=10, eval_interval=20, save_ckpt_interval=7,
                           checkpoint_dir=ckpt_dir, seed=7, strategy=strategy, **extra)
    task = hub.ImageClassifierTask(feature=mlp_backbone(), num_classes=10, hidden_units=[32], config=config)
    task.finetune_and_eval(train, dev, test, callbacks=[Progress(progress, float(pause))])
    np.savez(out, **{k: v.numpy() for k, v in task.network.state_dict().items()},
             __step=np.array(task.train_state.global_step))


if __name__ == "__main__":
    main(*sys.argv[1:])
