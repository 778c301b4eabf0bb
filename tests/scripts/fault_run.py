"""A fine-tune for fault tests: killed, signalled, starved of disk, run twice at once.

    fault_run.py CKPT_DIR OUT.npz DATA.npz

Digits (from DATA.npz, written by the test: scikit-learn takes seconds to import), an MLP with
dropout, shuffled batches of 32 for 2 epochs (76 steps), AdamW with warm-up, a checkpoint every
4 steps (newest 2 kept), dev evaluated every 10 steps (the best model saved). At the end the
network (the best model, loaded for the test split) and the last TrainState go to OUT.npz.
Runs the same under `paddle.distributed.launch` (OUT gets `.rank<N>` before `.npz`).

Test-only behaviour, from the environment; none of it is in the library:

  FAULT_PROGRESS=path    the global step after every step (rank 0)
  FAULT_MARKER=path      written when the run pauses at FAULT_PAUSE or FAULT_PAUSE_EVAL
  FAULT_PAUSE=ev=pat;ev=pat     pause (sleep until killed) when Python's audit events match in
                         this order (an argument matching the glob *pat*), e.g.
                         "open=.tmp-step_8-*/optimizer.safetensors": the pause lands inside the
                         library's checkpoint writing, just before that operation
  FAULT_PAUSE_EVAL=S:B   pause during the dev evaluation at step S, after its batch B
  FAULT_STEP_SLEEP=sec   sleep after every step (so a signal lands mid-run)
  FAULT_FSIZE=S:bytes    from step S on, files may grow to `bytes` only (RLIMIT_FSIZE; SIGXFSZ
                         ignored, so a write past it fails with EFBIG)
  FAULT_WORKERS=n        DataLoader worker processes
  FAULT_POISON=i         training sample i's features all inf
  FAULT_NONFINITE=what   RunConfig(on_nonfinite=what)
"""
import fnmatch
import os
import resource
import signal
import sys
import time

import numpy as np
import paddle

import hubtrain as hub
from tiny import Digits, mlp_backbone


def _env(name, default=None):
    return os.environ.get(name, default)


class Pauser:
    """Sleeps until killed once the audit events of FAULT_PAUSE have been seen in order."""

    def __init__(self, marker_fd, spec):
        self.marker_fd = marker_fd
        self.steps = [tuple(part.split("=", 1)) for part in spec.split(";") if part]
        self.busy = False

    def pause(self, what):
        os.write(self.marker_fd, f"paused {os.getpid()} {what}\n".encode())
        while True:
            time.sleep(60)

    def __call__(self, event, args):
        if self.busy or not self.steps:
            return
        want_event, pattern = self.steps[0]
        if event != want_event or not any(isinstance(a, str) and fnmatch.fnmatchcase(a, f"*{pattern}*") for a in args):
            return
        self.busy = True
        self.steps.pop(0)
        if not self.steps:
            self.pause(f"{event} {args[:2]}")
        self.busy = False


class TestHooks(paddle.callbacks.Callback):
    def __init__(self, progress_fd, marker_fd):
        super().__init__()
        self.progress_fd, self.marker_fd = progress_fd, marker_fd
        self.sleep = float(_env("FAULT_STEP_SLEEP", "0"))
        self.pause_eval = tuple(int(v) for v in _env("FAULT_PAUSE_EVAL", "-1:-1").split(":"))
        self.fsize = tuple(int(v) for v in _env("FAULT_FSIZE", "-1:0").split(":"))
        self.eval_batches = 0

    def on_train_batch_end(self, step, logs=None):
        global_step = self.model.train_state.global_step
        if self.progress_fd is not None:
            os.pwrite(self.progress_fd, f"{global_step:<10d}".encode(), 0)
        if global_step == self.fsize[0]:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (self.fsize[1], resource.RLIM_INFINITY))
        if self.sleep:
            time.sleep(self.sleep)

    def on_eval_begin(self, logs=None):
        self.eval_batches = 0

    def on_eval_batch_end(self, step, logs=None):
        self.eval_batches += 1
        if (self.model.phase == "dev" and self.model.train_state.global_step == self.pause_eval[0]
                and self.eval_batches == self.pause_eval[1]):
            os.write(self.marker_fd, f"paused {os.getpid()} eval\n".encode())
            while True:
                time.sleep(60)


def splits(path):
    data = np.load(path)
    return tuple(Digits(data[f"{s}_x"], data[f"{s}_y"]) for s in ("train", "dev", "test"))


def main(ckpt_dir, out, data):
    rank = paddle.distributed.get_rank()
    progress = _env("FAULT_PROGRESS") if rank == 0 else None
    progress_fd = os.open(progress, os.O_WRONLY | os.O_CREAT, 0o644) if progress else None
    marker_fd = os.open(_env("FAULT_MARKER", os.devnull), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    if _env("FAULT_PAUSE"):
        sys.addaudithook(Pauser(marker_fd, _env("FAULT_PAUSE")))
    train, dev, test = splits(data)
    if _env("FAULT_POISON"):
        train.x = train.x.copy()
        train.x[int(_env("FAULT_POISON"))] = np.inf
    config = hub.RunConfig(num_epoch=2, batch_size=32, log_interval=5, eval_interval=10, save_ckpt_interval=4,
                           keep_checkpoint_max=2, checkpoint_dir=ckpt_dir, seed=11,
                           num_workers=int(_env("FAULT_WORKERS", "0")), on_nonfinite=_env("FAULT_NONFINITE", "stop"),
                           strategy=hub.AdamWeightDecayStrategy(learning_rate=5e-3, warmup_proportion=0.1))
    task = hub.ImageClassifierTask(feature=mlp_backbone(), num_classes=10, hidden_units=[32], config=config)
    task.finetune_and_eval(train, dev, test, callbacks=[TestHooks(progress_fd, marker_fd)])
    if paddle.distributed.get_world_size() > 1:
        out = out.replace(".npz", f".rank{rank}.npz")
    state = task.train_state
    np.savez(out, **{k: v.numpy() for k, v in task.network.state_dict().items()},
             __step=np.array(state.global_step), __best=np.array(state.best_score),
             __skipped=np.array(state.skipped_batches))


if __name__ == "__main__":
    main(*sys.argv[1:])
