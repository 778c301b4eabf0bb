"""A long run of a tiny model, sampling the process's resident memory, open files and threads.

    soak_run.py CKPT_DIR DATA.npz STEPS OUT.json

Digits MLP, batches of 32 (38 per epoch), logs every 50 steps, dev evaluation and a checkpoint
every 250 (newest 2 kept), VisualDL on: every part of a run that repeats. Every 100 steps the
callback records the step, RSS (bytes, /proc/self/statm), open file descriptors (/proc/self/fd)
and threads (/proc/self/status); OUT.json gets the samples.
"""
import json
import math
import os
import sys

import paddle

import hubtrain as hub
from fault_run import splits
from tiny import mlp_backbone

PAGE = os.sysconf("SC_PAGE_SIZE")


def _threads():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("Threads:"))


def _rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


class Sampler(paddle.callbacks.Callback):
    def __init__(self, every=100):
        super().__init__()
        self.every, self.samples = every, []

    def on_train_batch_end(self, step, logs=None):
        global_step = self.model.train_state.global_step
        if global_step % self.every == 0:
            self.samples.append({"step": global_step, "rss": _rss(), "fds": len(os.listdir("/proc/self/fd")),
                                 "threads": _threads()})


def main(ckpt_dir, data, steps, out):
    steps = int(steps)
    train, dev, _ = splits(data)
    config = hub.RunConfig(num_epoch=math.ceil(steps / 38), max_steps=steps, batch_size=32, log_interval=50,
                           eval_interval=250, save_ckpt_interval=250, keep_checkpoint_max=2,
                           checkpoint_dir=ckpt_dir, seed=3,
                           strategy=hub.AdamWeightDecayStrategy(learning_rate=1e-3, warmup_proportion=0.05))
    task = hub.ImageClassifierTask(feature=mlp_backbone(), num_classes=10, hidden_units=[32], config=config)
    sampler = Sampler()
    task.finetune_and_eval(train, dev, callbacks=[sampler])
    with open(out, "w") as f:
        json.dump({"samples": sampler.samples, "steps": task.train_state.global_step}, f)


if __name__ == "__main__":
    main(*sys.argv[1:])
