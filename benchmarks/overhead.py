"""Training-loop overhead: a hand-written dygraph loop vs `paddle.Model.fit` vs hubtrain's `task.fit`.

All three train the same network from the same initial weights on the same data with Adam at a
fixed learning rate, and track loss and accuracy:

  hand-written    DataLoader + plain BatchSampler, forward, cross_entropy, backward, step,
                  clear_grad; loss and accuracy summed on the device, read to the host every 10 steps
  paddle.Model    paddle.Model(net).prepare(Adam, CrossEntropyLoss, paddle.metric.Accuracy()).fit(verbose=0)
  hubtrain        hub.ImageClassifierTask(feature=backbone, num_classes=N).prepare(Adam) with its
                  default accuracy metric, task.fit(verbose=0, log_freq=10), no checkpoint directory

Workloads: (a) an overhead-bound MLP, (b) a compute-bound small transformer encoder classifier.
Each contender runs once to warm up, then R times, interleaved in rotating order; the table gives
the median wall time of the training call and its ratio to the hand-written loop.

    python benchmarks/overhead.py                  # full run (~4 min on 2 CPU cores)
    python benchmarks/overhead.py --quick          # smoke run
    python benchmarks/overhead.py --device gpu --json results.json
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

import warnings

os.environ.setdefault("HUBTRAIN_LOG_LEVEL", "WARNING")  # read when hubtrain is imported
warnings.filterwarnings("ignore", category=UserWarning, module=r"paddle\.")  # ccache notice, hapi's to_tensor copy

import numpy as np  # noqa: E402
import paddle  # noqa: E402
import paddle.nn as nn  # noqa: E402
from paddle.io import BatchSampler, DataLoader, Dataset  # noqa: E402
from paddle.static import InputSpec  # noqa: E402

import hubtrain as hub  # noqa: E402

SEED = 2026
LR = 1e-3
LOG_EVERY = 10
HAND, HAPI, HUB = "hand-written loop", "paddle.Model.fit", "hubtrain task.fit"
CONTENDERS = (HAND, HAPI, HUB)


# ---------------------------------------------------------------------------------------- data
class ArrayDataset(Dataset):
    """(features, [label]) pairs from two arrays; the first `n` rows only, if given."""

    def __init__(self, x: np.ndarray, y: np.ndarray, n: Optional[int] = None) -> None:
        super().__init__()
        self.x, self.y = x, y
        self.n = len(x) if n is None else min(n, len(x))

    def __getitem__(self, i: int):
        return self.x[i], self.y[i]

    def __len__(self) -> int:
        return self.n


# ---------------------------------------------------------------------------------------- models
class MLPBackbone(nn.Layer):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Dropout(0.1), nn.Linear(512, 512))

    def forward(self, x):
        return self.net(x)


class TransformerBackbone(nn.Layer):
    """Token embedding + learned positions + paddle.nn.TransformerEncoder; [N, T] ids -> [N, T, d]."""

    def __init__(self, vocab: int, seq_len: int, d_model: int, layers: int, heads: int, ffn: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, d_model)
        self.pos = self.create_parameter([1, seq_len, d_model],
                                         default_initializer=nn.initializer.Normal(std=0.02))
        layer = nn.TransformerEncoderLayer(d_model, heads, ffn, dropout=0.1)
        self.encoder = nn.TransformerEncoder(layer, layers)

    def forward(self, ids):
        return self.encoder(self.embed(ids) + self.pos)


class MeanPool(nn.Layer):
    """[N, T, C] -> [N, C]; [N, C] unchanged (what a classifier head does with a feature)."""

    def forward(self, x):
        return x.mean(axis=1) if x.ndim == 3 else x


def make_head(dim: int, num_classes: int) -> nn.Layer:
    """The same head hubtrain's ClassifierTask builds (pool + fc, truncated-normal weights)."""
    return nn.Sequential(MeanPool(), nn.Linear(
        dim, num_classes,
        weight_attr=paddle.ParamAttr(initializer=nn.initializer.TruncatedNormal(std=0.02)),
        bias_attr=paddle.ParamAttr(initializer=nn.initializer.Constant(0.0))))


class Classifier(nn.Layer):
    def __init__(self, backbone: nn.Layer, head: nn.Layer) -> None:
        super().__init__()
        self.backbone, self.head = backbone, head

    def forward(self, x):
        return self.head(self.backbone(x))


@dataclass
class Workload:
    name: str
    make_backbone: Callable[[], nn.Layer]
    feature_dim: int
    num_classes: int
    x: np.ndarray
    y: np.ndarray
    input_spec: InputSpec
    batch_size: int
    steps: int
    repeats: int
    warmup_steps: int
    description: str
    initial: list = field(default_factory=list)

    def dataset(self, steps: int) -> ArrayDataset:
        return ArrayDataset(self.x, self.y, steps * self.batch_size)


def mlp_workload(steps: int, repeats: int, warmup: int) -> Workload:
    rng = np.random.RandomState(0)
    batch = 64
    n = max(steps, warmup) * batch
    x = rng.standard_normal((n, 784)).astype("float32")
    y = rng.randint(0, 10, (n, 1)).astype("int64")
    return Workload("mlp", MLPBackbone, 512, 10, x, y, InputSpec([None, 784], "float32", "x"),
                    batch, steps, repeats, warmup,
                    f"MLP 784-512-ReLU-Dropout-512-10, batch {batch}, {steps} steps")


def transformer_workload(steps: int, repeats: int, warmup: int, d_model: int = 256, layers: int = 4,
                         heads: int = 4, ffn: int = 512, seq_len: int = 64, batch: int = 32,
                         vocab: int = 1000) -> Workload:
    rng = np.random.RandomState(1)
    n = max(steps, warmup) * batch
    x = rng.randint(0, vocab, (n, seq_len)).astype("int64")
    y = rng.randint(0, 4, (n, 1)).astype("int64")
    return Workload("transformer", lambda: TransformerBackbone(vocab, seq_len, d_model, layers, heads, ffn),
                    d_model, 4, x, y, InputSpec([None, seq_len], "int64", "ids"), batch, steps, repeats, warmup,
                    f"TransformerEncoder d_model {d_model}, {layers} layers, {heads} heads, ffn {ffn}, "
                    f"seq {seq_len}, batch {batch}, {steps} steps")


# ---------------------------------------------------------------------------------------- weights
def build_reference(w: Workload) -> Classifier:
    paddle.seed(SEED)
    return Classifier(w.make_backbone(), make_head(w.feature_dim, w.num_classes))


def load_initial(net: nn.Layer, initial: list) -> None:
    """Copy the reference initial weights in parameter order (backbone first, then the head's fc)."""
    params = net.parameters()
    if len(params) != len(initial):
        raise RuntimeError(f"network has {len(params)} parameters, the reference {len(initial)}")
    for p, value in zip(params, initial):
        if list(p.shape) != list(value.shape):
            raise RuntimeError(f"parameter {p.name} has shape {p.shape}, the reference {list(value.shape)}")
        p.set_value(value)


def adam(net: nn.Layer) -> paddle.optimizer.Optimizer:
    return paddle.optimizer.Adam(learning_rate=LR, parameters=net.parameters())


# ---------------------------------------------------------------------------------------- contenders
def sync(device: str) -> None:
    if device == "gpu":
        paddle.device.synchronize()


def run_hand(w: Workload, steps: int, device: str) -> dict:
    paddle.seed(SEED)
    net = Classifier(w.make_backbone(), make_head(w.feature_dim, w.num_classes))
    load_initial(net, w.initial)
    opt = adam(net)
    data = w.dataset(steps)
    gc.collect()
    sync(device)
    t0 = time.perf_counter()
    loader = DataLoader(data, batch_sampler=BatchSampler(data, batch_size=w.batch_size, shuffle=True),
                        return_list=True)
    net.train()
    loss_sum, correct, seen, done = None, None, 0, 0
    last = {}
    for x, y in loader:
        logits = net(x)
        loss = nn.functional.cross_entropy(logits, y)
        loss.backward()
        opt.step()
        opt.clear_grad()
        hit = (logits.argmax(axis=-1, keepdim=True) == y).astype("int64").sum()
        batch_loss = loss.detach() * y.shape[0]
        loss_sum = batch_loss if loss_sum is None else loss_sum + batch_loss
        correct = hit if correct is None else correct + hit
        seen += y.shape[0]
        done += 1
        if done % LOG_EVERY == 0:
            last = {"loss": float(loss_sum) / seen, "acc": float(correct) / seen}
            loss_sum, correct, seen = None, None, 0
    sync(device)
    elapsed = time.perf_counter() - t0
    return {"seconds": elapsed, "steps": done, **last}


class _CountSteps(paddle.callbacks.Callback):
    def __init__(self) -> None:
        super().__init__()
        self.steps = 0

    def on_train_batch_end(self, step, logs=None):
        self.steps += 1


def run_hapi(w: Workload, steps: int, device: str, count: bool = False) -> dict:
    paddle.seed(SEED)
    net = Classifier(w.make_backbone(), make_head(w.feature_dim, w.num_classes))
    load_initial(net, w.initial)
    model = paddle.Model(net, inputs=[w.input_spec], labels=[InputSpec([None, 1], "int64", "label")])
    model.prepare(adam(net), nn.CrossEntropyLoss(), paddle.metric.Accuracy())
    data = w.dataset(steps)
    counter = _CountSteps() if count else None
    gc.collect()
    sync(device)
    t0 = time.perf_counter()
    model.fit(data, batch_size=w.batch_size, epochs=1, shuffle=True, verbose=0,
              callbacks=[counter] if counter else None)
    sync(device)
    elapsed = time.perf_counter() - t0
    out = {"seconds": elapsed}
    if counter:
        out["steps"] = counter.steps
    return out


def run_hub(w: Workload, steps: int, device: str) -> dict:
    paddle.seed(SEED)
    config = hub.RunConfig(use_cuda=(device == "gpu"), log_interval=LOG_EVERY)
    task = hub.ImageClassifierTask(feature=w.make_backbone(), num_classes=w.num_classes, config=config,
                                   feature_dim=w.feature_dim)
    load_initial(task.network, w.initial)
    task.prepare(adam(task.network))
    data = w.dataset(steps)
    gc.collect()
    sync(device)
    t0 = time.perf_counter()
    task.fit(data, batch_size=w.batch_size, epochs=1, shuffle=True, log_freq=LOG_EVERY, verbose=0)
    sync(device)
    elapsed = time.perf_counter() - t0
    return {"seconds": elapsed, "steps": task.train_state.global_step}


RUNNERS = {HAND: run_hand, HAPI: run_hapi, HUB: run_hub}


# ---------------------------------------------------------------------------------------- driver
def bench(w: Workload, device: str) -> dict:
    w.initial = [p.numpy() for p in build_reference(w).parameters()]

    # Warm-up: every code path once (kernels, allocator, lazy imports); also checks step counts.
    for name in CONTENDERS:
        kwargs = {"count": True} if name == HAPI else {}
        res = RUNNERS[name](w, w.warmup_steps, device, **kwargs)
        if res.get("steps") != w.warmup_steps:
            raise RuntimeError(f"{name} ran {res.get('steps')} steps in warm-up, expected {w.warmup_steps}")
        print(f"  [{w.name}] warm-up {name}: {res['seconds']:.2f}s", file=sys.stderr, flush=True)

    times: dict[str, list[float]] = {c: [] for c in CONTENDERS}
    for r in range(w.repeats):
        order = CONTENDERS[r % 3:] + CONTENDERS[:r % 3]
        for name in order:
            res = RUNNERS[name](w, w.steps, device)
            if "steps" in res and res["steps"] != w.steps:
                raise RuntimeError(f"{name} ran {res['steps']} steps, expected {w.steps}")
            times[name].append(res["seconds"])
            print(f"  [{w.name}] repeat {r + 1}/{w.repeats} {name}: {res['seconds']:.3f}s",
                  file=sys.stderr, flush=True)

    base = statistics.median(times[HAND])
    rows = []
    for name in CONTENDERS:
        med = statistics.median(times[name])
        # Each round runs the three contenders back to back, so a per-round ratio compares runs
        # made under the same machine conditions; its median resists slow drifts in CPU speed.
        paired = [t / h for t, h in zip(times[name], times[HAND])]
        rows.append({"contender": name, "median_s": med, "ms_per_step": 1000 * med / w.steps,
                     "ratio_to_hand": med / base, "paired_ratio_median": statistics.median(paired),
                     "min_s": min(times[name]), "max_s": max(times[name]), "times_s": times[name],
                     "paired_ratios": paired})
    return {"workload": w.name, "description": w.description, "steps": w.steps, "repeats": w.repeats,
            "batch_size": w.batch_size, "rows": rows}


def markdown(results: list[dict]) -> str:
    lines = ["| workload | contender | median s | ms/step | min-max s | ratio of medians | median per-round ratio |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for res in results:
        for row in res["rows"]:
            lines.append(f"| {res['workload']} ({res['steps']} steps x{res['repeats']}) | {row['contender']} | "
                         f"{row['median_s']:.3f} | {row['ms_per_step']:.2f} | "
                         f"{row['min_s']:.3f}-{row['max_s']:.3f} | {row['ratio_to_hand']:.3f} | "
                         f"{row['paired_ratio_median']:.3f} |")
    return "\n".join(lines)


def main(argv: Optional[list] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="few steps and repeats: a smoke run, not a measurement")
    parser.add_argument("--device", choices=("cpu", "gpu"), default="cpu", help="where to train (paddle.set_device)")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
    parser.add_argument("--workloads", default="mlp,transformer", help="comma-separated: mlp, transformer")
    parser.add_argument("--mlp-steps", type=int, default=None, help="steps per measured MLP run (512)")
    parser.add_argument("--mlp-repeats", type=int, default=None, help="measured MLP runs per contender (5)")
    parser.add_argument("--tf-steps", type=int, default=None,
                        help="steps per measured transformer run (12 on CPU, 80 on GPU)")
    parser.add_argument("--tf-repeats", type=int, default=None, help="measured transformer runs per contender (3)")
    args = parser.parse_args(argv)

    if args.device == "gpu" and not (paddle.is_compiled_with_cuda() and paddle.device.cuda.device_count() > 0):
        parser.error("--device gpu needs paddlepaddle-gpu and a visible GPU")
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
        print(f"{w.name}: {w.description}", file=sys.stderr, flush=True)
        results.append(bench(w, args.device))
    total = time.perf_counter() - started

    env = {"paddle": paddle.__version__, "hubtrain": hub.__version__, "python": platform.python_version(),
           "device": args.device, "cpu_count": os.cpu_count(), "platform": platform.platform(),
           "date": time.strftime("%Y-%m-%d"), "quick": quick, "total_seconds": round(total, 1)}
    print(f"\npaddle {env['paddle']}, device {env['device']}, {env['cpu_count']} CPU(s), "
          f"{'QUICK smoke run, ' if quick else ''}total {total:.0f}s\n")
    print(markdown(results))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"env": env, "results": results}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
