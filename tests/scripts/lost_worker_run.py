"""dist_run.py's fine-tune, where one rank's process dies by SIGKILL once (no clean-up, as a
lost machine or the out-of-memory killer leaves it).

    lost_worker_run.py OUT_DIR CKPT_DIR RANK STEP

RANK's process kills itself at the end of training step STEP unless OUT_DIR/killed exists,
which it writes first; so a restarted job runs through."""
import os
import signal
import sys

import paddle

import dist_run


class Die(paddle.callbacks.Callback):
    def __init__(self, marker, rank, at_step):
        super().__init__()
        self.marker, self.rank, self.at_step = marker, rank, at_step

    def on_train_batch_end(self, step, logs=None):
        if (paddle.distributed.get_rank() == self.rank and self.model.train_state.global_step == self.at_step
                and not os.path.exists(self.marker)):
            with open(self.marker, "w") as f:
                f.write(f"rank {self.rank} killed at step {self.at_step}\n")
            os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":
    out_dir, ckpt_dir, rank, at_step = sys.argv[1:]
    dist_run.main(out_dir, ckpt_dir, "train", [Die(os.path.join(out_dir, "killed"), int(rank), int(at_step))])
