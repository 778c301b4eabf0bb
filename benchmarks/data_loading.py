"""Data loading's share of step time in two real fine-tunes, with 0 and 2 DataLoader workers.

- text: all-MiniLM-L6-v2 on BBC News (ClassifyReader, max_seq_len 128), batch 16
- image: ImageNet MobileNetV2 on Fashion-MNIST (ImageClassificationReader, --image-size px), batch 32

Each run is `task.finetune()` with `RunConfig(max_steps=N)` and a callback that stamps
`on_train_batch_begin` and `on_train_batch_end`: compute is begin -> end of a batch, data wait is
the previous batch's end -> this batch's begin (the DataLoader's `next()` plus what runs between
two batches). The first step (one-off costs) is left out of the shares.

paddle's DataLoader prepares batches ahead of the step in a background thread (num_workers=0) or
in worker processes, so the wait shows only what that prefetching fails to hide. The CPU time it
takes from the training step is shown apart: the time to build the same number of batches in a
loop in the main process (`dataset[i]` and the reader's `collate_fn`), as a share of a step.

    python benchmarks/data_loading.py            # about 4-5 minutes on 2 CPU cores
    python benchmarks/data_loading.py --quick    # a smoke run, not a measurement
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import warnings
from typing import Any, Callable, Optional

os.environ.setdefault("HUBTRAIN_LOG_LEVEL", "WARNING")
warnings.filterwarnings("ignore", category=UserWarning, module=r"paddle\.")

import paddle  # noqa: E402
from paddle.static import InputSpec  # noqa: E402

import hubtrain as hub  # noqa: E402

TARGET = 5.0  # per cent of step time


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class StepClock(paddle.callbacks.Callback):
    """Per batch: data wait (previous batch's end -> this batch's begin; for the first batch, the
    epoch's start) and compute (begin -> end)."""

    def __init__(self) -> None:
        super().__init__()
        self.waits: list[float] = []
        self.computes: list[float] = []
        self._mark: Optional[float] = None
        self._begin = 0.0

    def on_epoch_begin(self, epoch, logs=None) -> None:
        self._mark = time.perf_counter()

    def on_train_batch_begin(self, step, logs=None) -> None:
        self._begin = time.perf_counter()
        self.waits.append(self._begin - self._mark)

    def on_train_batch_end(self, step, logs=None) -> None:
        self._mark = time.perf_counter()
        self.computes.append(self._mark - self._begin)


def text_task(config: hub.RunConfig) -> tuple[hub.BaseTask, Any, float]:
    """MiniLM + ClassifyReader on BBC News; also returns the seconds spent encoding the train split."""
    module = hub.Module(name="all-minilm-l6-v2")
    dataset = hub.dataset.BBCNews()
    reader = hub.reader.ClassifyReader(dataset=dataset, vocab_path=module.get_vocab_path(), max_seq_len=128)
    start = time.perf_counter()
    reader.get_dataset("train")  # encodes every train example once; the task reuses it
    encode = time.perf_counter() - start
    inputs, outputs, _ = module.context(trainable=True, max_seq_len=128)
    task = hub.TextClassifierTask(data_reader=reader, feature=outputs["pooled_output"],
                                  num_classes=dataset.num_labels, config=config)
    return task, reader, encode


def image_task(config: hub.RunConfig, size: int) -> tuple[hub.BaseTask, Any, float]:
    """ImageNet MobileNetV2 + ImageClassificationReader on Fashion-MNIST (images decoded per item)."""
    module = hub.Module(name="mobilenet_v2_imagenet")
    dataset = hub.dataset.FashionMNIST(dev_size=0, max_train=4000)
    reader = hub.reader.ImageClassificationReader(
        image_width=size, image_height=size, images_mean=module.get_pretrained_images_mean(),
        images_std=module.get_pretrained_images_std(), dataset=dataset)
    _, outputs, _ = module.context(trainable=True)
    task = hub.ImageClassifierTask(data_reader=reader, feature=outputs["feature_map"],
                                   num_classes=dataset.num_labels, config=config,
                                   inputs=[InputSpec([None, 3, size, size], "float32", "image")])
    return task, reader, 0.0


def batch_cost(reader: Any, batch: int, count: int) -> float:
    """Median seconds to build one train batch serially: items read (decoded, transformed) and collated."""
    dataset = reader.get_dataset("train")
    times = []
    for k in range(count):
        start = time.perf_counter()
        reader.collate_fn([dataset[(k * batch + i) % len(dataset)] for i in range(batch)])
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(name: str, build: Callable[[hub.RunConfig], tuple[Any, Any, float]], batch: int, steps: int,
            workers: int, strategy: Any) -> dict:
    """One short fine-tune; shares are over steps 2..N."""
    with tempfile.TemporaryDirectory() as ckpt:
        config = hub.RunConfig(batch_size=batch, num_epoch=1, max_steps=steps, num_workers=workers,
                               log_interval=10 ** 6, eval_interval=None, checkpoint_dir=ckpt, use_vdl=False,
                               strategy=strategy())
        task, reader, encode = build(config)
        clock = StepClock()
        start = time.perf_counter()
        task.finetune(callbacks=[clock])
        total = time.perf_counter() - start
    if len(clock.computes) != steps:
        raise RuntimeError(f"{name}: expected {steps} steps, timed {len(clock.computes)}.")
    waits, computes = clock.waits[1:], clock.computes[1:]
    wait, compute = sum(waits), sum(computes)
    cost = batch_cost(reader, batch, steps)
    return {"workload": name, "workers": workers, "steps": steps, "batch": batch,
            "first_wait_ms": clock.waits[0] * 1e3, "first_compute_ms": clock.computes[0] * 1e3,
            "wait_ms": statistics.median(waits) * 1e3, "wait_max_ms": max(waits) * 1e3,
            "compute_ms": statistics.median(computes) * 1e3, "step_ms": (wait + compute) / len(waits) * 1e3,
            "share": 100.0 * wait / (wait + compute), "samples_per_s": batch * len(waits) / (wait + compute),
            "batch_cost_ms": cost * 1e3, "cost_share": 100.0 * cost * len(waits) / (wait + compute),
            "encode_s": encode, "finetune_s": total}


def table(rows: list[dict]) -> str:
    lines = ["| workload | workers | steps timed | data wait ms (median / max) | compute ms (median) | "
             "mean step ms | data wait share | samples/s | first batch wait ms | batch built serially ms (share "
             "of step) | <= 5%? |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        lines.append(f"| {r['workload']} | {r['workers']} | {r['steps'] - 1} | {r['wait_ms']:.1f} / "
                     f"{r['wait_max_ms']:.1f} | {r['compute_ms']:.0f} | {r['step_ms']:.0f} | {r['share']:.2f}% | "
                     f"{r['samples_per_s']:.1f} | {r['first_wait_ms']:.0f} | {r['batch_cost_ms']:.1f} "
                     f"({r['cost_share']:.2f}%) | {'yes' if max(r['share'], r['cost_share']) <= TARGET else '**no**'} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="4 steps each: a smoke run, not a measurement")
    parser.add_argument("--text-steps", type=int, default=16)
    parser.add_argument("--image-steps", type=int, default=20)
    parser.add_argument("--image-size", type=int, default=96)
    parser.add_argument("--workers", default="0,2", help="comma-separated num_workers values")
    parser.add_argument("--workloads", default="text,image", help="text, image or both")
    parser.add_argument("--json", default=None, help="also write the rows and the environment here")
    args = parser.parse_args()
    workers = [int(w) for w in args.workers.split(",")]
    text_steps, image_steps = (4, 4) if args.quick else (args.text_steps, args.image_steps)
    if min(text_steps, image_steps) < 2:
        raise SystemExit("--text-steps and --image-steps must be >= 2 (the first step is not counted).")
    workloads = {
        "text": ("MiniLM / BBC News, seq 128", text_task, 16, text_steps,
                 lambda: hub.AdamWeightDecayStrategy(learning_rate=1e-4, warmup_proportion=0.1)),
        "image": (f"MobileNetV2 / Fashion-MNIST, {args.image_size} px", lambda c: image_task(c, args.image_size),
                  32, image_steps, lambda: hub.AdamWeightDecayStrategy(learning_rate=1e-3, warmup_proportion=0.1)),
    }
    chosen = [w.strip() for w in args.workloads.split(",")]
    unknown = [w for w in chosen if w not in workloads]
    if unknown:
        raise SystemExit(f"--workloads: unknown {unknown}; choose from {list(workloads)}.")

    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    rows = []
    for key in chosen:
        name, build, batch, steps, strategy = workloads[key]
        for w in workers:
            log(f"{name}: {steps} steps, batch {batch}, num_workers={w} ...")
            row = measure(name, build, batch, steps, w, strategy)
            log(f"  data wait {row['share']:.2f}% of step time, batch built serially {row['cost_share']:.2f}%, "
                f"{row['step_ms']:.0f} ms/step, finetune {row['finetune_s']:.0f} s")
            rows.append(row)
    total = time.perf_counter() - started
    env = {"date": datetime.date.today().isoformat(), "cpus": os.cpu_count(), "machine": platform.machine(),
           "python": platform.python_version(), "paddle": paddle.__version__, "total_s": total,
           "load_before": load_before, "load_after": os.getloadavg()[0]}
    print(f"{env['date']} · CPU, {env['cpus']} cores · paddle {env['paddle']} · Python {env['python']} · "
          f"total {total:.0f} s · 1-min load average {load_before:.2f} before, {env['load_after']:.2f} after\n")
    print(table(rows))
    for r in rows:
        if r["encode_s"]:
            print(f"\n{r['workload']} (workers {r['workers']}): encoding the train split before training took "
                  f"{r['encode_s']:.1f} s (not part of any step).")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"env": env, "rows": rows}, f, indent=2)


if __name__ == "__main__":
    main()
