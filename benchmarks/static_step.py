"""What to_static gains on the benchmark transformer on CPU, step by step in one process and in
processes of their own, and what Paddle's executor setting for CPU programs changes.

    python benchmarks/static_step.py            # about 8 minutes on 2 CPU cores
    python benchmarks/static_step.py --quick    # a smoke run

interleaved  One process trains workload (b) twice from the same weights: in dygraph and with the
             forward converted whole (`paddle.jit.to_static(full_graph=True)`, as
             RunConfig(to_static=True) does). The two take single steps in a new random order
             every round, so a drift in the machine's speed falls on both. Speed-up per round:
             dygraph step / to_static step.
alone        Child processes train one way each, as a user's script does: in dygraph; with
             the forward converted and Paddle's executor running CPU ops on its pool of worker
             threads (Paddle's default, which hubtrain keeps); and converted, run serially in
             the calling thread (FLAGS_new_executor_serial_run); and converted, with worker
             threads, glibc's malloc held to one arena that keeps freed memory
             (MALLOC_ARENA_MAX=1 and fixed trim and mmap thresholds). One child of each kind per
             round, in an order that rotates. Each reports its step time, CPU time over wall
             time, and system time and page faults per step; speed-up per round: the dygraph
             child's step / the other's.

The steps are plain paddle; the conversion is hubtrain's (`convert_forward`); the network, data
and Adam are the suite's. The operators of the converted programs are listed too.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import time
from collections import Counter
from typing import Callable, Optional

from common import adam, build_reference, progress, transformer_workload

import paddle  # noqa: E402  (after common, which quiets paddle's import-time warnings)
import paddle.nn.functional as F  # noqa: E402
from hubtrain.engine.compile import convert_forward  # noqa: E402

SERIAL = "FLAGS_new_executor_serial_run"


def trainer(static: bool) -> tuple[Callable[[int], None], Callable[[], str]]:
    """One training step of workload (b) on batch i, dygraph or with the forward converted; and
    the operators of the converted forward and backward programs."""
    w = transformer_workload(4, 1, 2)
    net = build_reference(w)
    net.train()
    if static:
        net.forward = convert_forward(net.forward, [w.input_spec])
    opt = adam(net)
    n = w.batch_size
    xs = [paddle.to_tensor(w.x[i * n:(i + 1) * n]) for i in range(4)]
    ys = [paddle.to_tensor(w.y[i * n:(i + 1) * n]) for i in range(4)]

    def step(i: int) -> None:
        loss = F.cross_entropy(net(xs[i % 4]), ys[i % 4])
        loss.backward()
        opt.step()
        opt.clear_grad()
        float(loss)  # wait for the step

    def operators() -> str:
        programs = net.forward.get_concrete_program(xs[0])[1].train_program
        ops = Counter(op.name().removeprefix("pd_op.") for program in (programs.forward_program,
                                                                       programs.backward_program)
                      for op in program.global_block().ops if op.name().startswith("pd_op."))
        return ", ".join(f"{name} {n}" for name, n in ops.most_common())

    for i in range(2):  # conversion, first allocations
        step(i)
    return step, operators


def interleaved(rounds: int) -> dict:
    (dygraph, _), (static, operators) = trainer(False), trainer(True)
    steps = {"dygraph": dygraph, "to_static": static}
    times: dict[str, list[float]] = {k: [] for k in steps}
    rng = random.Random(0)
    for r in range(rounds):
        order = list(steps)
        rng.shuffle(order)
        for name in order:
            t0 = time.perf_counter()
            steps[name](r)
            times[name].append(time.perf_counter() - t0)
    ratios = [d / s for d, s in zip(times["dygraph"], times["to_static"])]
    q1, _, q3 = statistics.quantiles(ratios, n=4)
    return {"rounds": rounds, "dygraph_ms": 1000 * statistics.median(times["dygraph"]),
            "static_ms": 1000 * statistics.median(times["to_static"]),
            "speedup": statistics.median(ratios), "q1": q1, "q3": q3, "operators": operators()}


def child(steps: int, static: bool) -> None:
    step, _ = trainer(static)
    r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    for i in range(steps):
        step(i)
    wall, r1 = time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    print(json.dumps({"step_ms": 1000 * wall / steps, "cpu_per_wall": cpu / wall,
                      "sys_ms": 1000 * (r1.ru_stime - r0.ru_stime) / steps,
                      "faults": (r1.ru_minflt - r0.ru_minflt) / steps}))


# glibc's malloc held to one arena that keeps what is freed, so that memory freed in one step
# can serve the next without being mapped again (the page-fault column shows whether it does).
GLIBC_KEEP = {"MALLOC_ARENA_MAX": "1", "MALLOC_TRIM_THRESHOLD_": str(1 << 30), "MALLOC_MMAP_THRESHOLD_": str(1 << 28)}
# kind -> (converted?, environment of the child)
KINDS = {"dygraph": (False, {SERIAL: "0"}), "to_static, worker threads": (True, {SERIAL: "0"}),
         "to_static, serial": (True, {SERIAL: "1"}), "to_static, worker threads, glibc arena kept": (True, GLIBC_KEEP)}


def alone(rounds: int, steps: int) -> dict:
    runs: dict[str, list[dict]] = {kind: [] for kind in KINDS}
    for r in range(rounds):
        order = list(KINDS)
        order = order[r % len(order):] + order[:r % len(order)]
        for kind in order:
            static, extra = KINDS[kind]
            env = dict(os.environ, **extra)
            cmd = [sys.executable, __file__, "--child", str(steps)] + (["--static"] if static else [])
            done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
            if done.returncode != 0:
                raise RuntimeError(f"{kind} child failed:\n{done.stderr[-2000:]}")
            runs[kind].append(json.loads(done.stdout.strip().splitlines()[-1]))
            progress(f"  alone, round {r + 1}/{rounds}, {kind}: {runs[kind][-1]['step_ms']:.0f} ms")
    summary = {}
    for kind, rs in runs.items():
        summary[kind] = {key: statistics.median(r[key] for r in rs) for key in rs[0]}
        summary[kind]["step_ms_all"] = [r["step_ms"] for r in rs]
        summary[kind]["speedups"] = [d["step_ms"] / r["step_ms"] for d, r in zip(runs["dygraph"], rs)]
    return summary


def main(argv: Optional[list] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="few rounds: a smoke run")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--static", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    paddle.set_device("cpu")
    if args.child:
        child(args.child, args.static)
        return 0
    rounds, alone_rounds, steps = (3, 1, 2) if args.quick else (30, 4, 8)
    progress(f"interleaved: {rounds} rounds of one step each")
    inter = interleaved(rounds)
    progress(f"alone: {alone_rounds} rounds of child processes, {steps} steps each")
    kinds = alone(alone_rounds, steps)
    print("\n| measurement | dygraph step ms | to_static step ms | speed-up (median) | middle half |")
    print("|---|---:|---:|---:|---|")
    print(f"| interleaved, {inter['rounds']} rounds | {inter['dygraph_ms']:.0f} | {inter['static_ms']:.0f} | "
          f"**{inter['speedup']:.3f}** | {inter['q1']:.3f}-{inter['q3']:.3f} |")
    print(f"\nOperators in the converted forward and backward programs: {inter['operators']}.")
    print("\n| alone in a process | step ms (median; each round) | speed-up over dygraph (median; each round) | "
          "CPU time / wall | system ms per step | page faults per step |")
    print("|---|---|---|---:|---:|---:|")
    for kind, m in kinds.items():
        each = ", ".join(f"{v:.0f}" for v in m["step_ms_all"])
        speedups = ", ".join(f"{v:.3f}" for v in m["speedups"])
        print(f"| {kind} | {m['step_ms']:.0f} ({each}) | {statistics.median(m['speedups']):.3f} ({speedups}) | "
              f"{m['cpu_per_wall']:.2f} | {m['sys_ms']:.0f} | {m['faults']:,.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
