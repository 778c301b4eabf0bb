"""Training-loop overhead: a hand-written dygraph loop vs `paddle.Model.fit` vs hubtrain's `task.fit`.

All three train the same network from the same initial weights on the same data with Adam at a
fixed learning rate, and track loss and accuracy:

  hand-written    DataLoader + plain BatchSampler, forward, cross_entropy, backward, step,
                  clear_grad; loss and accuracy summed on the device, read to the host every 10 steps
  paddle.Model    paddle.Model(net).prepare(Adam, CrossEntropyLoss, paddle.metric.Accuracy()).fit(verbose=0)
  hubtrain        hub.ImageClassifierTask(feature=backbone, num_classes=N).prepare(Adam) with its
                  default accuracy metric, task.fit(verbose=0, log_freq=10), no checkpoint directory

Workloads: (a) an overhead-bound MLP, (b) a compute-bound small transformer encoder classifier.
The pieces live in common.py (workloads, weights, interleaved timing) and contenders.py (the
training calls); run_all.py runs the whole suite, with more contenders.
Each contender runs once to warm up, then R times, interleaved in rotating order; the table gives
the median wall time of the training call and its ratio to the hand-written loop.

    python benchmarks/overhead.py                  # full run (~4 min on 2 CPU cores)
    python benchmarks/overhead.py --quick          # smoke run
    python benchmarks/overhead.py --device gpu --json results.json
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Optional

from common import add_loop_options, bench, check_device, environment, mlp_workload, overhead_table, progress, transformer_workload
from contenders import HAND, HAPI, HUB, run_hand, run_hapi, run_hub

import paddle  # noqa: E402  (after common, which quiets paddle's import-time warnings)

RUNNERS = {HAND: run_hand, HAPI: run_hapi, HUB: run_hub}


def main(argv: Optional[list] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_loop_options(parser)
    parser.add_argument("--workloads", default="mlp,transformer", help="comma-separated: mlp, transformer")
    args = parser.parse_args(argv)

    problem = check_device(args.device)
    if problem:
        parser.error(problem)
    paddle.set_device(args.device)

    quick = args.quick
    mlp_steps = args.mlp_steps or (64 if quick else 512)
    mlp_repeats = args.mlp_repeats or (2 if quick else 5)
    # On 2 CPU cores one transformer step takes ~1.2 s, so the CPU default is 12 steps per run to
    # keep the whole benchmark near 4 minutes; a GPU runs the 80 steps the workload is meant to have.
    tf_steps = args.tf_steps or (4 if quick else (80 if args.device == "gpu" else 12))
    tf_repeats = args.tf_repeats or (1 if quick else 3)

    makers = {"mlp": lambda: mlp_workload(mlp_steps, mlp_repeats, warmup=min(mlp_steps, 32)),
              "transformer": lambda: transformer_workload(tf_steps, tf_repeats, warmup=2)}
    names = [n.strip() for n in args.workloads.split(",") if n.strip()]
    for n in names:
        if n not in makers:
            parser.error(f"unknown workload {n!r}: choose from {sorted(makers)}")

    started = time.perf_counter()
    results = []
    for n in names:
        w = makers[n]()
        progress(f"{w.name}: {w.description}")
        results.append(bench(w, args.device, RUNNERS, warmup_kwargs={HAPI: {"count": True}}))
    total = time.perf_counter() - started

    env = environment(args.device, quick, total)
    print(f"\npaddle {env['paddle']}, device {env['device']}, {env['cpu_count']} CPU(s), "
          f"{'QUICK smoke run, ' if quick else ''}total {total:.0f}s\n")
    print(overhead_table(results))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"env": env, "results": results}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
