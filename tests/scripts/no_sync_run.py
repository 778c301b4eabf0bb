"""Accumulated fine-tunes under `paddle.distributed.launch`, for tests/test_no_sync.py and
benchmarks/allreduce.py.

    no_sync_run.py OUT_DIR MODE [MODE ...]

Each MODE fine-tunes a fresh task on the same 256 digits (16 per batch, 4 batches accumulated
per update, gradient clipping and the gradient check on, 2 epochs): "sync" all-reduces after
every batch (`sync_every_batch`), "nosync" only at updates, "static" is "nosync" with the
forward under to_static. Around each, stderr gets the lines `mode NAME begin` / `mode NAME end`
(so paddle's reducer log lines between them can be counted), and each rank writes
OUT_DIR/<MODE>.rank<N>.npz with its final weights, optimizer steps, batches and seconds."""
import os
import sys
import time

import numpy as np
import paddle
import paddle.nn as nn

import hubtrain as hub
from tiny import Digits, digits_splits


def finetune(mode, train):
    config = hub.RunConfig(num_epoch=2, batch_size=16, accumulate_steps=4, grad_clip_norm=1.0,
                           check_gradients=True, log_interval=100, eval_interval=None, seed=3,
                           to_static=mode == "static", use_vdl=False,
                           strategy=hub.AdamWeightDecayStrategy(learning_rate=5e-3))
    paddle.seed(0)  # the same initial weights in every mode, and no dropout: to_static's RNG differs
    backbone = nn.Sequential(nn.Linear(64, 64), nn.ReLU())
    task = hub.ImageClassifierTask(feature=backbone, num_classes=10, hidden_units=[16], config=config)
    task.sync_every_batch = mode == "sync"
    print(f"mode {mode} begin", file=sys.stderr, flush=True)
    began = time.perf_counter()
    task.finetune(train)
    seconds = time.perf_counter() - began
    print(f"mode {mode} end", file=sys.stderr, flush=True)
    return task, seconds


def main(out_dir, *modes):
    train, _, _ = digits_splits()
    train = Digits(train.x[:256], train.y[:256])
    for mode in modes:
        task, seconds = finetune(mode, train)
        state = task.train_state
        np.savez(os.path.join(out_dir, f"{mode}.rank{paddle.distributed.get_rank()}.npz"),
                 **{k: v.numpy() for k, v in task.network.state_dict().items()},
                 __updates=np.array(state.optimizer_step), __batches=np.array(state.global_step),
                 __seconds=np.array(seconds))


if __name__ == "__main__":
    main(*sys.argv[1:])
