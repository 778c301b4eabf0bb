"""One prediction run of the MLP task over a lazily generated dataset, in a fresh process, and
that process's peak RSS:

    python benchmarks/predict_memory.py --samples 200000 --mode stream --out r.json

`--mode stream` is `task.predict(dataset, output_file=...)`: one JSON line per sample, nothing
kept. `--mode memory` is `task.predict(dataset)`, which returns every output. `--mode paddle-loop`
is the reference: a plain paddle DataLoader over the same data and the same network's forward
and softmax, each batch's probabilities copied to numpy and dropped. The dataset makes each
sample from its index (a row of a small fixed table, scaled by a factor from the index), so the
data itself takes the same memory at any size.

The peak RSS is the `ru_maxrss` of the predicting process, read with `os.wait4` when it exits.
Linux carries the peak of the process a child was forked from into the child's `ru_maxrss`, so
the predicting process is started from this small launcher (which imports nothing heavy), not
from a caller that holds paddle in memory. The predicting process also records its own peak
before predicting (after a one-batch prediction that loads kernels and the DataLoader).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
from typing import Optional

MODES = ("paddle-loop", "stream", "memory")
TABLE_ROWS = 1024


def peak_rss_mb() -> float:
    """This process's peak resident set size so far (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def launch(args: argparse.Namespace) -> int:
    """Run the prediction in a child of this small process; add the child's ru_maxrss to its JSON."""
    cmd = [sys.executable, os.path.abspath(__file__), "--child", "--samples", str(args.samples), "--mode", args.mode,
           "--batch-size", str(args.batch_size), "--device", args.device, "--out", args.out]
    proc = subprocess.Popen(cmd)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        print(f"{' '.join(cmd)} failed (exit {proc.returncode})", file=sys.stderr)
        return proc.returncode
    with open(args.out) as f:
        result = json.load(f)
    result["child_peak_rss_mb"] = usage.ru_maxrss / 1024
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)
    return 0


def predict(args: argparse.Namespace) -> int:
    import tempfile
    import time

    import numpy as np

    from common import SEED, MLPBackbone

    import paddle
    from paddle.io import Dataset

    import hubtrain as hub

    class LazySamples(Dataset):
        """`n` MLP inputs made on demand from the index: constant memory whatever `n` is."""

        def __init__(self, n: int) -> None:
            super().__init__()
            self.n = n
            self.table = np.random.RandomState(SEED).standard_normal((TABLE_ROWS, 784)).astype("float32")

        def __getitem__(self, i: int):
            scale = np.float32(1.0 + (i // TABLE_ROWS) % 7 / 7.0)
            return (self.table[i % TABLE_ROWS] * scale,)

        def __len__(self) -> int:
            return self.n

    def plain_loop(network: paddle.nn.Layer, data: Dataset) -> int:
        """Forward every batch and drop the probabilities: prediction without a framework."""
        network.eval()
        rows = 0
        with paddle.no_grad():
            for (x,) in paddle.io.DataLoader(data, batch_size=args.batch_size, return_list=True):
                rows += len(paddle.nn.functional.softmax(network(x)).numpy())
        return rows

    paddle.set_device(args.device)
    paddle.seed(SEED)
    task = hub.ImageClassifierTask(feature=MLPBackbone(512), num_classes=10, feature_dim=512,
                                   config=hub.RunConfig(use_cuda=(args.device == "gpu")))
    # One small prediction first, so the peak before the measured one includes what any
    # prediction loads (kernels, the DataLoader), whatever the size.
    if args.mode == "paddle-loop":
        plain_loop(task.network, LazySamples(args.batch_size))
    else:
        task.predict(LazySamples(args.batch_size), batch_size=args.batch_size, verbose=0)
    before = peak_rss_mb()
    data = LazySamples(args.samples)
    with tempfile.TemporaryDirectory(prefix="predict-bench-") as workdir:
        t0 = time.perf_counter()
        if args.mode == "stream":
            path = task.predict(data, batch_size=args.batch_size, verbose=0,
                                output_file=os.path.join(workdir, "predictions.jsonl"))
            seconds = time.perf_counter() - t0
            with open(path, encoding="utf-8") as f:
                rows = sum(1 for _ in f)
        elif args.mode == "memory":
            outputs = task.predict(data, batch_size=args.batch_size, verbose=0)
            seconds = time.perf_counter() - t0
            rows = sum(len(batch) for batch in outputs[0])
        else:
            rows = plain_loop(task.network, data)
            seconds = time.perf_counter() - t0
        after = peak_rss_mb()
    if rows != args.samples:
        raise RuntimeError(f"prediction gave {rows} rows for {args.samples} samples")
    with open(args.out, "w") as f:
        json.dump({"mode": args.mode, "samples": args.samples, "batch_size": args.batch_size, "rows": rows,
                   "seconds": seconds, "peak_rss_before_mb": before, "peak_rss_after_mb": after}, f, indent=2)
    return 0


def main(argv: Optional[list] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, required=True)
    parser.add_argument("--mode", choices=MODES, required=True)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--device", choices=("cpu", "gpu"), default="cpu")
    parser.add_argument("--out", required=True, help="JSON file for this run's numbers")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)  # the predicting process
    args = parser.parse_args(argv)
    return predict(args) if args.child else launch(args)


if __name__ == "__main__":
    sys.exit(main())
