"""A fine-tune under `paddle.distributed.launch`, for the multi-process tests.

    dist_run.py OUT_DIR CKPT_DIR MODE

MODE "train": finetune_and_eval on digits with a dev split of 37 samples (odd, so the ranks get
18 and 19); each rank writes OUT_DIR/rank<N>.npz with its final weights, the dev result and the
37 dev predictions. MODE "fail": rank 1 raises at its third step. MODE "crash": every rank raises
at step 13, after the checkpoint of step 12."""
import os
import sys

import numpy as np
import paddle

import hubtrain as hub
from tiny import Digits, digits_splits, mlp_backbone


class Fail(paddle.callbacks.Callback):
    def __init__(self, ranks, at_step):
        super().__init__()
        self.ranks, self.at_step = ranks, at_step

    def on_train_batch_end(self, step, logs=None):
        rank = paddle.distributed.get_rank()
        if rank in self.ranks and self.model.train_state.global_step == self.at_step:
            raise ValueError(f"rank {rank} met a bad batch at step {self.at_step}")


def main(out_dir, ckpt_dir, mode, callbacks=()):
    train, dev, _ = digits_splits()
    dev = Digits(dev.x[:37], dev.y[:37])
    config = hub.RunConfig(num_epoch=2, batch_size=16, log_interval=5, eval_interval=8, save_ckpt_interval=4,
                           checkpoint_dir=ckpt_dir, seed=3,
                           strategy=hub.AdamWeightDecayStrategy(learning_rate=5e-3))
    task = hub.ImageClassifierTask(feature=mlp_backbone(), num_classes=10, hidden_units=[16], config=config)
    callbacks = {"fail": [Fail((1,), 3)], "crash": [Fail((0, 1), 13)]}.get(mode, []) + list(callbacks)
    task.finetune_and_eval(Digits(train.x[:320], train.y[:320]), dev, callbacks=callbacks)
    result = task.evaluate(dev, batch_size=8)
    probabilities = np.concatenate(task.predict(dev, batch_size=8)[0])
    np.savez(os.path.join(out_dir, f"rank{paddle.distributed.get_rank()}.npz"),
             **{k: v.numpy() for k, v in task.network.state_dict().items()},
             __acc=np.array(result["acc"]), __loss=np.array(result["loss"]), __probs=probabilities,
             __step=np.array(task.train_state.global_step))


if __name__ == "__main__":
    main(*sys.argv[1:])
