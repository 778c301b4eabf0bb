"""Gradient accumulation under 2 real processes (paddle.distributed.launch, gloo on CPU): the
batches before an update run under DataParallel's no_sync, so an update costs one all-reduce
instead of one per batch, and ends where all-reducing every batch ends (to float rounding).

The all-reduces are counted from paddle's own reducer, which logs each fused all-reduce it
starts ("group [i] start fused_allreduce") at glog verbosity 3."""
import contextlib
import os
import re

import numpy as np
import paddle
import pytest

from hubtrain.engine.step import Step
from launch import SCRIPTS, launch_two

MODES = ("sync", "nosync", "static")


def _all_reduces(log: str) -> tuple[dict, int]:
    """({mode: fused all-reduces started between its begin and end lines}, groups per backward)."""
    counts = {}
    for mode in MODES:
        section = log.split(f"mode {mode} begin", 1)[1].split(f"mode {mode} end", 1)[0]
        counts[mode] = len(re.findall(r"group \[\d+\] start fused_allreduce", section))
    groups = 1 + max(int(g) for g in re.findall(r"The Group\[(\d+)\]", log))
    return counts, groups


@pytest.mark.slow
def test_accumulated_batches_all_reduce_once_per_update_and_end_where_per_batch_sync_does(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    done, logs = launch_two([os.path.join(SCRIPTS, "no_sync_run.py"), out, *MODES], tmp_path / "log", tmp_path,
                            GLOG_vmodule="reducer=3")
    assert done.returncode == 0, "".join(logs.values())[-3000:]
    runs = {mode: [np.load(out / f"{mode}.rank{r}.npz") for r in (0, 1)] for mode in MODES}
    updates, batches = int(runs["sync"][0]["__updates"]), int(runs["sync"][0]["__batches"])
    assert (updates, batches) == (4, 16)  # 256 samples / 2 ranks / 16 a batch, 2 epochs, 4 batches an update

    for log in logs.values():
        counts, groups = _all_reduces(log)
        assert counts == {"sync": batches * groups, "nosync": updates * groups, "static": updates * groups}

    names = [n for n in runs["sync"][0].files if not n.startswith("__")]
    for mode, (rank0, rank1) in runs.items():
        assert (int(rank0["__updates"]), int(rank0["__batches"])) == (updates, batches), mode
        for name in names:
            assert np.array_equal(rank0[name], rank1[name]), (mode, name)
    sync, nosync, static = (runs[m][0] for m in MODES)
    for name in names:
        # the same sum of gradients, rounded in another order: all-reducing every batch adds each
        # batch to an already averaged sum; no_sync sums each rank's batches, then averages once
        np.testing.assert_allclose(nosync[name], sync[name], rtol=0, atol=1e-6, err_msg=name)
        assert np.array_equal(static[name], nosync[name]), name


def test_only_the_batches_before_an_update_run_forward_and_backward_inside_defer_sync():
    paddle.seed(0)
    net = paddle.nn.Linear(3, 2)
    seen = []

    @contextlib.contextmanager
    def defer_sync():
        seen.append("enter")
        yield
        seen.append("gradient" if net.weight.grad is not None else "no gradient")  # backward ran inside

    step = Step(net, lambda out, y: paddle.nn.functional.mse_loss(out, y),
                paddle.optimizer.SGD(0.1, parameters=net.parameters()), defer_sync=defer_sync)
    x, y = np.ones((4, 3), "float32"), np.zeros((4, 2), "float32")
    for update in (False, False, True):
        step.train([x], [y], update, defer=True)           # the loop's accumulated batches
    assert seen == ["enter", "gradient", "enter", "gradient"]
    seen.clear()
    for update in (False, False, True):
        step.train([x], [y], update)                       # a caller's own train_batch(update=False)
    assert seen == []                                      # keeps paddle.Model's all-reduce per batch
