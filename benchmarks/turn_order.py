"""Why the suite's MLP takes turns of 16 steps in random orders: the MLP contenders in turns of
1 and of 16 steps, each in one fixed order and in that order reversed. A contender's ratio to
the hand-written loop should not depend on whom it follows; the table shows by how much it does.

    python benchmarks/turn_order.py            # about 2 minutes on 2 CPU cores
    python benchmarks/turn_order.py --quick    # a smoke run
"""
from __future__ import annotations

import argparse
import statistics
import sys
from typing import Optional

from common import mlp_workload, progress
from contenders import HAND, HAPI, HUB, HUB_FINETUNE, HUB_LOSS_ONLY, TRAINER, quiet_trainer
from lockstep import bench_in_turns
from run_all import loop_runners

import paddle  # noqa: E402  (after common, which quiets paddle's import-time warnings)

ORDER = [HAND, HAPI, TRAINER, HUB, HUB_FINETUNE, HUB_LOSS_ONLY]


def main(argv: Optional[list] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="few steps and rounds: a smoke run")
    args = parser.parse_args(argv)
    paddle.set_device("cpu")
    steps, rounds = (64, 1) if args.quick else (256, 4)
    quiet_trainer()
    runners = loop_runners("mlp")
    orders = {"forward": ORDER, "reversed": [HAND] + ORDER[:0:-1]}
    ratios = {}
    for turn_steps in (1, 16):
        for label, order in orders.items():
            progress(f"turns of {turn_steps}, {label}: {' -> '.join(order)}")
            res = bench_in_turns(mlp_workload(steps, rounds, warmup=min(steps, 32)), "cpu",
                                 {name: runners[name] for name in ORDER}, turn_steps, order=order)
            for r in res["rows"][1:]:
                ratios[(turn_steps, label, r["contender"])] = statistics.median(r["step_ratios"])
    print(f"MLP, {steps} steps x{rounds} rounds per case; step ratio to the hand-written loop (median over rounds)\n")
    print("| contender | 1 step, forward | 1 step, reversed | difference | 16 steps, forward | 16 steps, reversed | difference |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name in ORDER[1:]:
        cells = []
        for turn_steps in (1, 16):
            a, b = ratios[(turn_steps, "forward", name)], ratios[(turn_steps, "reversed", name)]
            cells += [f"{a:.3f}", f"{b:.3f}", f"{abs(a - b):.3f}"]
        print(f"| {name} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
