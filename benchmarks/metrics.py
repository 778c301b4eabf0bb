"""Metric cost per batch: hubtrain's metrics against paddle's own `Precision`, `Recall` and `Auc`.

Each contender handles a batch the way its training loop does. paddle's metrics go through
hapi's path: `compute` (which passes the tensors through), a copy of each output to numpy, then
`update`, which loops over the samples in Python. hubtrain's go through its task step:
`compute` on the tensors, then `update`, which adds the batch's statistics on the device without
a host copy. hubtrain's AUC keeps the logits and ranks them once per evaluation in
`accumulate`, so the table also gives the cost of a whole evaluation: B batches plus one
`accumulate`.

Inputs are a binary task's network outputs: logits [N, 2] for hubtrain's Precision/Recall,
logits [N, 1] for its AUC (one label), and the positive-class probability [N, 1] (Precision,
Recall) or both class probabilities [N, 2] (Auc) for paddle's, as those metrics expect. Labels
are int64 [N, 1]. Every batch is made before timing.

    python benchmarks/metrics.py            # about 7 s on 2 CPU cores
    python benchmarks/metrics.py --quick    # smoke run
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import time
import warnings
from typing import Any, Callable

os.environ.setdefault("HUBTRAIN_LOG_LEVEL", "WARNING")
warnings.filterwarnings("ignore", category=UserWarning, module=r"paddle\.")

import numpy as np  # noqa: E402
import paddle  # noqa: E402

from hubtrain.metrics import MultiLabelAUC, Precision, Recall  # noqa: E402


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def make_batches(size: int, count: int, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    batches = []
    for _ in range(count):
        label = rng.integers(0, 2, (size, 1))
        logits = rng.normal(0, 1, (size, 2)).astype("float32") + np.eye(2, dtype="float32")[label[:, 0]]
        prob = np.exp(logits - logits.max(1, keepdims=True))
        prob = (prob / prob.sum(1, keepdims=True)).astype("float32")
        batches.append({"logits": paddle.to_tensor(logits), "logit1": paddle.to_tensor(logits[:, 1:] - logits[:, :1]),
                        "prob1": paddle.to_tensor(prob[:, 1:]), "prob": paddle.to_tensor(prob),
                        "label": paddle.to_tensor(label)})
    return batches


def paddle_step(metric: paddle.metric.Metric, *inputs: paddle.Tensor) -> None:
    """hapi's metric step: compute, outputs to numpy, update."""
    outs = metric.compute(*inputs)
    outs = outs if isinstance(outs, (list, tuple)) else [outs]
    metric.update(*[o.numpy() if isinstance(o, paddle.Tensor) else o for o in outs])


def hub_step(metric: Any, *inputs: paddle.Tensor) -> None:
    """hubtrain's metric step: compute and update on tensors."""
    outs = metric.compute(*inputs)
    metric.update(*(outs if isinstance(outs, tuple) else (outs,)))


CASES: dict[str, tuple[Callable, Callable, Callable, Callable]] = {
    # name: (paddle metric, its step inputs, hubtrain metric, its step inputs)
    "precision": (paddle.metric.Precision, lambda b: (b["prob1"], b["label"]),
                  Precision, lambda b: (b["logits"], b["label"])),
    "recall": (paddle.metric.Recall, lambda b: (b["prob1"], b["label"]),
               Recall, lambda b: (b["logits"], b["label"])),
    "auc": (paddle.metric.Auc, lambda b: (b["prob"], b["label"]),
            MultiLabelAUC, lambda b: (b["logit1"], b["label"])),
}


def one_run(make: Callable, step: Callable, inputs: Callable, batches: list[dict]) -> tuple[float, float, float]:
    """(seconds for all updates, seconds for accumulate, value) for a fresh metric."""
    metric = make()
    start = time.perf_counter()
    for b in batches:
        step(metric, *inputs(b))
    updated = time.perf_counter()
    value = metric.accumulate()
    return updated - start, time.perf_counter() - updated, float(value)


def measure(case: str, size: int, batches: list[dict], repeats: int) -> dict:
    p_make, p_inputs, h_make, h_inputs = CASES[case]
    warm = batches[:3]
    one_run(p_make, paddle_step, p_inputs, warm)
    one_run(h_make, hub_step, h_inputs, warm)
    runs: dict[str, list] = {"paddle": [], "hubtrain": []}
    for r in range(repeats):  # alternate who goes first
        order = [("paddle", p_make, paddle_step, p_inputs), ("hubtrain", h_make, hub_step, h_inputs)]
        for who, make, step, inputs in (order if r % 2 == 0 else order[::-1]):
            runs[who].append(one_run(make, step, inputs, batches))
    out = {"metric": case, "batch": size, "batches": len(batches), "repeats": repeats}
    for who, rs in runs.items():
        out[who] = {"update_us": statistics.median(u for u, _, _ in rs) / len(batches) * 1e6,
                    "update_us_min": min(u for u, _, _ in rs) / len(batches) * 1e6,
                    "update_us_max": max(u for u, _, _ in rs) / len(batches) * 1e6,
                    "accumulate_ms": statistics.median(a for _, a, _ in rs) * 1e3,
                    "eval_ms": statistics.median(u + a for u, a, _ in rs) * 1e3,
                    "value": rs[0][2]}
    out["update_ratio"] = out["hubtrain"]["update_us"] / out["paddle"]["update_us"]
    out["eval_ratio"] = out["hubtrain"]["eval_ms"] / out["paddle"]["eval_ms"]
    return out


def table(results: list[dict]) -> str:
    lines = ["| metric | batch | paddle µs/batch | hubtrain µs/batch (min-max) | update cost ratio hubtrain/paddle "
             "| accumulate ms paddle / hubtrain | evaluation ms paddle / hubtrain (ratio) | value paddle / hubtrain |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        p, h = r["paddle"], r["hubtrain"]
        lines.append(f"| {r['metric']} | {r['batch']} | {p['update_us']:.0f} | {h['update_us']:.0f} "
                     f"({h['update_us_min']:.0f}-{h['update_us_max']:.0f}) | {r['update_ratio']:.3f} "
                     f"| {p['accumulate_ms']:.2f} / {h['accumulate_ms']:.2f} "
                     f"| {p['eval_ms']:.1f} / {h['eval_ms']:.1f} ({r['eval_ratio']:.3f}) "
                     f"| {p['value']:.5f} / {h['value']:.5f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="few batches and repeats: a smoke run")
    parser.add_argument("--sizes", default="32,256,1024", help="batch sizes, comma-separated")
    parser.add_argument("--batches", type=int, default=100, help="batches per evaluation (one timed run)")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per contender")
    parser.add_argument("--metrics", default=",".join(CASES), help=f"some of {','.join(CASES)}")
    parser.add_argument("--json", help="also write every number and the environment to this file")
    args = parser.parse_args()
    batches_n, repeats = (10, 2) if args.quick else (args.batches, args.repeats)
    sizes = [int(s) for s in args.sizes.split(",")]
    paddle.set_device("cpu")
    began = time.perf_counter()
    results = []
    for size in sizes:
        batches = make_batches(size, batches_n, seed=size)
        for case in args.metrics.split(","):
            log(f"{case} batch {size}: {batches_n} batches x {repeats} runs")
            results.append(measure(case, size, batches, repeats))
    env = {"date": datetime.date.today().isoformat(), "python": platform.python_version(),
           "paddle": paddle.__version__, "cpus": os.cpu_count(), "machine": platform.machine(),
           "seconds": round(time.perf_counter() - began, 1),
           "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None}
    print(f"{env['date']} · CPU, {env['cpus']} cores · paddle {env['paddle']} · Python {env['python']} · "
          f"{batches_n} batches per evaluation, median of {repeats} runs (total {env['seconds']} s)\n")
    print(table(results))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"environment": env, "results": results}, f, indent=2)


if __name__ == "__main__":
    main()
