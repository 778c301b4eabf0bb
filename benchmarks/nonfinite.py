"""What the non-finite checks cost per step, on an MLP 784-512-512-10 (common.py).

  loss check       `math.isfinite` on the loss's host copy, which every step makes anyway (plus
                   the copy that frees paddle's view of the loss tensor); timed per call
  gradient check   the global gradient norm: one reduction per parameter tensor, one host copy.
                   It runs only when grad_clip_norm is set or check_gradients=True; timed per call
                   on the MLP's gradients after a backward pass
  task.fit         the MLP trained by hubtrain's task.fit without and with check_gradients=True,
                   interleaved in rotating order as in run_all.py's loop part (the first is the baseline)

    python benchmarks/nonfinite.py                # about a minute on 2 CPU cores
    python benchmarks/nonfinite.py --quick        # a smoke run
"""
from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from typing import Optional

from common import bench, build_reference, environment, mlp_workload, overhead_table, progress
from contenders import hub_task, timed_fit

import paddle  # noqa: E402

from hubtrain.engine.numerics import global_grad_norm  # noqa: E402

PLAIN, CHECKED = "task.fit (loss checked)", "task.fit check_gradients=True"


def run_fit(w, steps: int, device: str, check_gradients: bool = False) -> dict:
    return timed_fit(hub_task(w, device, check_gradients=check_gradients), w, steps, device)


def per_call(fn, calls: int, rounds: int = 5) -> float:
    """Median over rounds of the mean time of one call, in microseconds."""
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        times.append((time.perf_counter() - t0) / calls * 1e6)
    return statistics.median(times)


def micro(w, device: str, quick: bool) -> dict:
    """The two checks alone, on the MLP's real loss and gradients."""
    w.initial = [p.numpy() for p in build_reference(w).parameters()]
    task = hub_task(w, device)
    net = task.network
    x = paddle.to_tensor(w.x[:w.batch_size])
    y = paddle.to_tensor(w.y[:w.batch_size])
    loss = paddle.nn.functional.cross_entropy(net(x), y)
    loss.backward()
    params = net.parameters()
    view = loss.numpy()
    host = view.copy()
    calls = 2000 if quick else 20000
    return {
        "loss_check_us": per_call(lambda: math.isfinite(host.item()), calls),
        "loss_copy_us": per_call(lambda: view.copy(), calls),
        "grad_norm_us": per_call(lambda: global_grad_norm(params), calls // 100),
        "tensors": len(params), "parameters": int(sum(p.size for p in params)),
    }


def main(argv: Optional[list] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="few steps and repeats: a smoke run")
    parser.add_argument("--steps", type=int, default=None, help="steps per measured run (256)")
    parser.add_argument("--repeats", type=int, default=None, help="measured runs per contender (5)")
    args = parser.parse_args(argv)
    paddle.set_device("cpu")
    steps = args.steps or (32 if args.quick else 256)
    repeats = args.repeats or (1 if args.quick else 5)
    started = time.perf_counter()

    w = mlp_workload(steps, repeats, warmup=min(steps, 32), hidden=512)
    costs = micro(w, "cpu", args.quick)
    progress(f"{w.name}: {w.description}")
    result = bench(w, "cpu", {PLAIN: run_fit, CHECKED: lambda *a: run_fit(*a, check_gradients=True)})
    step_ms = 1000 * next(r["step_median_s"] for r in result["rows"] if r["contender"] == PLAIN)

    print(f"## Non-finite checks on the MLP ({costs['parameters']:,} parameters in {costs['tensors']} tensors)\n")
    print("| check | per call | share of a task.fit step |")
    print("|---|---:|---:|")
    for name, key in (("loss: math.isfinite on the host copy", "loss_check_us"),
                      ("loss: copying paddle's host view (frees the tensor)", "loss_copy_us"),
                      ("gradients: global norm", "grad_norm_us")):
        print(f"| {name} | {costs[key]:.1f} us | {costs[key] / (step_ms * 10):.2f}% |")
    print(f"\ntask.fit step: {step_ms:.2f} ms (median step of {repeats} runs of {steps} steps)\n")
    print(overhead_table([result]))
    env = environment("cpu", args.quick, time.perf_counter() - started)
    print(f"\npaddle {env['paddle']}, {env['cpu_count']} CPUs, {env['date']}, {env['total_seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
