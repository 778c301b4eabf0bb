"""What hubtrain's CPU math set-up (hubtrain/cpu_math.py) gives a transformer fine-tune step: a
MiniLM-L6-shaped BertModel (hidden 384, 6 layers, 12 heads, FFN 1536, vocab 30,522; random
weights, seeded) with a 5-class head, batch 16 x 128 tokens, AdamW, on this machine's CPU.

    python benchmarks/cpu_setup.py                  # 3 rounds of every setting
    python benchmarks/cpu_setup.py --quick          # 1 round, 2 steps: a smoke run

Settings, each run a fresh process, alternating (the order reversed every other round):

  paddle_defaults   Paddle as installed: one math thread, MKL's default code path
                    (HUBTRAIN_CPU_SETUP=0)
  fast_path_only    MKL's AVX2 path, one thread (HUBTRAIN_CPU_THREADS=1)
  hubtrain          hubtrain's choice for this machine (the cores, the AVX2 path where it is safe)
  dp2_x1            2 processes under paddle.distributed.launch (gloo), 1 thread each, batch 8 each
  dp2_x2            the same with 2 threads each (more threads than cores)

A run times `--steps` steps after one warm-up step; the figure is seconds a step (of the global
batch of 16) and the ratio of paddle_defaults' seconds to each setting's, round by round, then
the median over rounds. Tables go to stdout, progress to stderr.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Optional

SETTINGS = {
    "paddle_defaults": (1, {"HUBTRAIN_CPU_SETUP": "0"}),
    "fast_path_only": (1, {"HUBTRAIN_CPU_THREADS": "1"}),
    "hubtrain": (1, {}),
    "dp2_x1": (2, {"HUBTRAIN_CPU_THREADS": "1"}),
    "dp2_x2": (2, {"HUBTRAIN_CPU_THREADS": "2"}),
}
BATCH, TOKENS, CLASSES = 16, 128, 5


def work(steps: int, out: str) -> None:
    """The steps in this process (one rank of a launch, or alone); rank 0 writes the times."""
    import paddle

    from hubtrain import cpu_math

    chosen = cpu_math.set_up()
    from paddlenlp.transformers import BertConfig, BertModel

    class Pooled(paddle.nn.Layer):
        """BertModel's (sequence, pooled) -> pooled."""

        def forward(self, outputs):
            return outputs[1]

    world = paddle.distributed.get_world_size()
    if world > 1:
        paddle.distributed.init_parallel_env()
    paddle.seed(0)
    config = BertConfig(vocab_size=30522, hidden_size=384, num_hidden_layers=6, num_attention_heads=12,
                        intermediate_size=1536)
    encoder, head = BertModel(config), paddle.nn.Linear(384, CLASSES)
    net = paddle.nn.Sequential(("encoder", encoder), ("pool", Pooled()), ("head", head))
    model = paddle.DataParallel(net) if world > 1 else net  # gradients all-reduced in backward
    opt = paddle.optimizer.AdamW(1e-4, parameters=net.parameters())
    local = BATCH // world
    rank = paddle.distributed.get_rank()
    ids = paddle.randint(1, 30000, [local, TOKENS])
    labels = paddle.randint(0, CLASSES, [local])

    def step() -> float:
        loss = paddle.nn.functional.cross_entropy(model(ids), labels)
        loss.backward()
        opt.step()
        opt.clear_grad()
        return float(loss)

    step()
    started = time.perf_counter()
    for _ in range(steps):
        step()
    seconds = (time.perf_counter() - started) / steps
    if rank == 0:
        with open(out, "w") as f:
            json.dump({"step_s": seconds, "cpu_math": chosen.describe()}, f)


def run(setting: str, steps: int, workdir: str, tag: str) -> dict:
    processes, env = SETTINGS[setting]
    out = os.path.join(workdir, f"{tag}.json")
    full = {k: v for k, v in os.environ.items() if not k.startswith(("HUBTRAIN_CPU", "MKL_", "OMP_"))}
    full.update(env)
    me = [os.path.abspath(__file__), "--worker", "--steps", str(steps), "--out", out]
    if processes > 1:
        cmd = [sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", str(processes),
               "--log_dir", os.path.join(workdir, f"{tag}-log"), *me]
    else:
        cmd = [sys.executable, *me]
    done = subprocess.run(cmd, cwd=workdir, env=full, capture_output=True, text=True)
    if done.returncode != 0 or not os.path.exists(out):
        raise RuntimeError(f"{setting} failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    with open(out) as f:
        return json.load(f)


def main(argv: Optional[list] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, help="rounds of every setting (3; 1 with --quick)")
    parser.add_argument("--steps", type=int, help="timed steps a run (5; 2 with --quick)")
    parser.add_argument("--settings", nargs="+", choices=list(SETTINGS), default=list(SETTINGS))
    parser.add_argument("--quick", action="store_true", help="1 round of 2 steps: a smoke run, not a measurement")
    parser.add_argument("--out", metavar="PATH", help="write every run and the summary as JSON")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    steps = args.steps or (2 if args.quick else 5)
    if args.worker:
        work(steps, args.out)
        return 0
    from common import alternating, progress, quartiles

    rounds = args.rounds or (1 if args.quick else 3)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="cpu-math-") as workdir:
        def one(setting: str, r: int) -> dict:
            res = run(setting, steps, workdir, f"{setting}-{r}")
            progress(f"  round {r + 1}/{rounds} {setting}: {res['step_s']:.3f} s a step ({res['cpu_math']})")
            return res

        runs = alternating(rounds, tuple(args.settings), one)
    total = time.perf_counter() - started
    base = [x["step_s"] for x in runs.get("paddle_defaults", [])]
    rows = []
    for setting, results in runs.items():
        secs = [x["step_s"] for x in results]
        speedups = [b / s for b, s in zip(base, secs)] if base else []
        rows.append({"setting": setting, "step_s": secs, "median_step_s": statistics.median(secs),
                     "speedup": statistics.median(speedups) if speedups else None,
                     "speedup_middle_half": quartiles(speedups) if speedups else None,
                     "cpu_math": results[0]["cpu_math"]})
    print(f"MiniLM-L6-shaped BertModel, batch {BATCH} x {TOKENS}, AdamW; {rounds} round(s) of {steps} steps "
          f"after 1 warm-up, each run a fresh process ({total:.0f} s; {os.cpu_count()} CPUs)")
    print()
    print("| setting | s a step (median) | speed-up over paddle_defaults | middle half | CPU math (rank 0) |")
    print("|---|---:|---:|---:|---|")
    for r in rows:
        speed = "-" if r["speedup"] is None else f"**{r['speedup']:.2f}x**"
        middle = "-" if r["speedup_middle_half"] is None else "{:.2f}-{:.2f}".format(*r["speedup_middle_half"])
        print(f"| {r['setting']} | {r['median_step_s']:.3f} | {speed} | {middle} | {r['cpu_math']} |")
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"rounds": rounds, "steps": steps, "rows": rows, "runs": runs}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
