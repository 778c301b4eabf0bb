"""One throughput run of hubtrain's `task.fit` in a fresh process, as a user runs it: in one
process or under `paddle.distributed.launch` (gloo on CPU), in dygraph or with
`RunConfig(to_static=True)`:

    python benchmarks/fit_worker.py --workload mlp --steps 512 --global-batch 64 --out r.json
    python benchmarks/fit_worker.py --workload transformer --steps 8 --global-batch 32 --to-static --out r.json
    python -m paddle.distributed.launch --nproc_per_node 2 benchmarks/fit_worker.py --workload mlp ... --out r.json

Every rank trains on `steps * global_batch` samples with a batch of `global_batch / ranks`, so one
process and two make the same number of steps over the same samples. A short warm-up fit on the
same task pays the one-time costs first (kernels, the DataParallel wrapper, the first gloo
exchange, the conversion to a static program). The ranks then meet at a barrier, and each times
its measured fit from the start of the first step to the end of the last. Rank 0 writes every
rank's times, and its warm-up's, to `--out` as JSON.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Optional

from common import SEED, build_reference, mlp_workload, transformer_workload
from contenders import adam, hub_task

import paddle  # noqa: E402  (after common, which quiets paddle's import-time warnings)


class StepClock(paddle.callbacks.Callback):
    """The start of the first training step and the end of the last."""

    def __init__(self) -> None:
        super().__init__()
        self.first: Optional[float] = None
        self.last: Optional[float] = None
        self.steps = 0

    def on_train_batch_begin(self, step, logs=None):
        if self.first is None:
            self.first = time.perf_counter()

    def on_train_batch_end(self, step, logs=None):
        self.last = time.perf_counter()
        self.steps += 1


def main(argv: Optional[list] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workload", choices=("mlp", "transformer"), required=True)
    parser.add_argument("--steps", type=int, required=True, help="measured steps (the same on every rank)")
    parser.add_argument("--global-batch", type=int, required=True, help="samples per step over all ranks")
    parser.add_argument("--warmup-steps", type=int, default=2)
    parser.add_argument("--device", choices=("cpu", "gpu"), default="cpu")
    parser.add_argument("--to-static", action="store_true", help="train with RunConfig(to_static=True)")
    parser.add_argument("--out", required=True, help="JSON file rank 0 writes")
    args = parser.parse_args(argv)

    from hubtrain.engine import distributed

    ranks, rank = distributed.world_size(), distributed.rank()
    if args.global_batch % ranks:
        parser.error(f"--global-batch {args.global_batch} does not split evenly over {ranks} processes")
    per_rank = args.global_batch // ranks
    make = mlp_workload if args.workload == "mlp" else transformer_workload
    # The workload's own batch is the global one, so its data is steps * global batch samples.
    w = make(args.steps, 1, args.warmup_steps, batch=args.global_batch)
    w.initial = [p.numpy() for p in build_reference(w).parameters()]
    paddle.set_device(args.device)

    task = hub_task(w, args.device, seed=SEED, to_static=args.to_static)
    task.prepare(adam(task.network))
    warm = w.dataset(args.warmup_steps)
    started = time.perf_counter()
    task.fit(warm, batch_size=per_rank, epochs=1, shuffle=True, verbose=0)
    warmup_seconds = time.perf_counter() - started
    if args.to_static and not isinstance(task.network.forward, paddle.jit.api.StaticFunction):
        raise RuntimeError("to_static fell back to dygraph: the run would not measure to_static")
    data = w.dataset(args.steps)
    clock = StepClock()
    distributed.barrier()
    task.fit(data, batch_size=per_rank, epochs=1, shuffle=True, verbose=0, callbacks=[clock])
    if args.device == "gpu":
        paddle.device.synchronize()
    seconds = clock.last - clock.first
    mine = {"rank": rank, "seconds": seconds, "steps": clock.steps}
    everyone = distributed.gather(mine) if ranks > 1 else [mine]
    if rank == 0:
        samples = len(data)
        result = {"workload": w.name, "processes": ranks, "global_batch": args.global_batch,
                  "batch_per_process": per_rank, "steps": clock.steps, "samples": samples,
                  "to_static": args.to_static, "warmup_seconds": warmup_seconds, "seconds": seconds,
                  "samples_per_s": samples / seconds, "ranks": everyone}
        with open(args.out, "w") as f:
            json.dump(result, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
