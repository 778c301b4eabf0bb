"""Zeroing the gradients after a step against releasing them, on an MLP 784-512-512-10 and the
loop benchmark's transformer (common.py): why hubtrain releases them (`hubtrain/engine/steps.py`,
`clear_grad_args`).

Each workload trains one network on one fixed batch (no data loader), alternating blocks of
steps that end with `clear_grad()` (zeroed, paddle's default) and `clear_grad(set_to_zero=False)`
(released); the first step of a block after a switch is not timed. Median seconds per step.

    python benchmarks/gradients.py            # about 2 minutes on 2 CPU cores
    python benchmarks/gradients.py --quick    # a smoke run
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from typing import Optional

from common import build_reference, mlp_workload, transformer_workload

import paddle  # noqa: E402  (after common, which quiets paddle's import-time warnings)


def step_times(w, rounds: int, steps: int) -> dict:
    net = build_reference(w)
    opt = paddle.optimizer.Adam(1e-3, parameters=net.parameters())
    x, y = paddle.to_tensor(w.x[:w.batch_size]), paddle.to_tensor(w.y[:w.batch_size])

    def step(zero: bool) -> None:
        paddle.nn.functional.cross_entropy(net(x), y).backward()
        opt.step()
        opt.clear_grad(set_to_zero=zero)

    times = {True: [], False: []}
    for r in range(rounds):
        for zero in ((True, False) if r % 2 else (False, True)):
            step(zero)  # settles the gradient buffers after a switch
            t0 = time.perf_counter()
            for _ in range(steps):
                step(zero)
            times[zero].append((time.perf_counter() - t0) / steps)
    size = sum(p.numel().item() * p.element_size() for p in net.parameters())
    return {"workload": w.name, "gradient_mb": size / 2**20, "zeroed_s": statistics.median(times[True]),
            "released_s": statistics.median(times[False])}


def main(argv: Optional[list] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="few rounds: a smoke run")
    args = parser.parse_args(argv)
    paddle.set_device("cpu")
    rounds = 2 if args.quick else 8
    cases = [(mlp_workload(8, 1, 8, hidden=512), 50), (transformer_workload(2, 1, 2), 2)]
    print("| workload | gradients MB | zeroed: s per step | released: s per step | released / zeroed |")
    print("|---|---:|---:|---:|---:|")
    for w, steps in cases:
        r = step_times(w, rounds, steps)
        print(f"| {r['workload']} | {r['gradient_mb']:.1f} | {r['zeroed_s']:.4f} | {r['released_s']:.4f} | "
              f"{r['released_s'] / r['zeroed_s']:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
