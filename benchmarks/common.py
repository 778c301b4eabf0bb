"""What the training-loop benchmarks share: the two workloads (their networks and data), one set
of initial weights copied into every contender, and the interleaved timing of contenders.

Importing this module sets HUBTRAIN_LOG_LEVEL=WARNING (unless set) before hubtrain is imported,
so log lines are not printed while a loop is timed; the log events themselves still run. It also
sets up the CPU math (threads, MKL's code path) as hubtrain chooses for this machine, before any
contender runs: a hand-written loop then computes as fast as hubtrain's, and only the loops'
own work differs. HUBTRAIN_CPU_SETUP=0 runs every contender on paddle's defaults instead.
"""
from __future__ import annotations

import argparse

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence

os.environ.setdefault("HUBTRAIN_LOG_LEVEL", "WARNING")  # read when hubtrain is imported
warnings.filterwarnings("ignore", category=UserWarning, module=r"paddle\.")  # ccache notice, hapi's to_tensor copy

import numpy as np  # noqa: E402
import paddle  # noqa: E402
import paddle.nn as nn  # noqa: E402
import paddle.nn.functional as F  # noqa: E402
from paddle.io import Dataset  # noqa: E402
from paddle.static import InputSpec  # noqa: E402

from hubtrain import cpu_math  # noqa: E402

CPU_MATH = cpu_math.set_up()  # before any contender's first matrix product

SEED = 2026
LR = 1e-3
LOG_EVERY = 10


def progress(message: str) -> None:
    """Progress goes to stderr; stdout carries only the tables."""
    print(message, file=sys.stderr, flush=True)


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
    """inputs -> hidden -> ReLU, then, if `deep`, Dropout(0.1) -> hidden."""

    def __init__(self, hidden: int = 128, inputs: int = 784, deep: bool = True) -> None:
        super().__init__()
        tail = [nn.Dropout(0.1), nn.Linear(hidden, hidden)] if deep else []
        self.net = nn.Sequential(nn.Linear(inputs, hidden), nn.ReLU(), *tail)

    def forward(self, x):
        return self.net(x)


class EncoderLayer(nn.Layer):
    """Post-norm self-attention and a ReLU feed-forward block: the computation of
    `paddle.nn.TransformerEncoderLayer` with its defaults, written out because importing
    paddlenlp replaces that class's forward. This way the network is the same with or without
    paddlenlp imported."""

    def __init__(self, d_model: int, heads: int, ffn: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.self_attn = nn.MultiHeadAttention(d_model, heads, dropout=dropout)
        self.linear1 = nn.Linear(d_model, ffn)
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(ffn, d_model)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)

    def forward(self, x):
        x = self.norm1(x + self.dropout1(self.self_attn(x, x, x)))
        return self.norm2(x + self.dropout2(self.linear2(self.dropout(F.relu(self.linear1(x))))))


class TransformerBackbone(nn.Layer):
    """Token embedding + learned positions + a stack of encoder layers; [N, T] ids -> [N, T, d]."""

    def __init__(self, vocab: int, seq_len: int, d_model: int, layers: int, heads: int, ffn: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, d_model)
        self.pos = self.create_parameter([1, seq_len, d_model],
                                         default_initializer=nn.initializer.Normal(std=0.02))
        self.layers = nn.LayerList([EncoderLayer(d_model, heads, ffn) for _ in range(layers)])

    def forward(self, ids):
        x = self.embed(ids) + self.pos
        for layer in self.layers:
            x = layer(x)
        return x


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


# ---------------------------------------------------------------------------------------- workloads
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


def mlp_workload(steps: int, repeats: int, warmup: int, batch: int = 64, hidden: int = 128, inputs: int = 784,
                 deep: bool = True) -> Workload:
    """The suite's MLP has 128 hidden units: small enough that the loop's own work (fetching the
    batch, callbacks, bookkeeping) is a visible share of a CPU step. With 512, a CPU step is
    mostly matrix products and the frameworks come out within 1-2% of each other. `deep=False`
    leaves out the second hidden layer: inputs -> hidden -> 10."""
    rng = np.random.RandomState(0)
    n = max(steps, warmup) * batch
    x = rng.standard_normal((n, inputs)).astype("float32")
    y = rng.randint(0, 10, (n, 1)).astype("int64")
    layers = f"{inputs}-{hidden}-ReLU" + (f"-Dropout-{hidden}" if deep else "")
    return Workload("mlp", lambda: MLPBackbone(hidden, inputs, deep), hidden, 10, x, y,
                    InputSpec([None, inputs], "float32", "x"), batch, steps, repeats, warmup,
                    f"MLP {layers}-10, batch {batch}, {steps} steps")


def transformer_workload(steps: int, repeats: int, warmup: int, d_model: int = 256, layers: int = 4,
                         heads: int = 4, ffn: int = 512, seq_len: int = 64, batch: int = 32,
                         vocab: int = 1000) -> Workload:
    rng = np.random.RandomState(1)
    n = max(steps, warmup) * batch
    x = rng.randint(0, vocab, (n, seq_len)).astype("int64")
    y = rng.randint(0, 4, (n, 1)).astype("int64")
    return Workload("transformer", lambda: TransformerBackbone(vocab, seq_len, d_model, layers, heads, ffn),
                    d_model, 4, x, y, InputSpec([None, seq_len], "int64", "ids"), batch, steps, repeats, warmup,
                    f"Transformer encoder d_model {d_model}, {layers} layers, {heads} heads, ffn {ffn}, "
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


def fresh_network(w: Workload) -> Classifier:
    """A new network holding the reference initial weights."""
    paddle.seed(SEED)
    net = Classifier(w.make_backbone(), make_head(w.feature_dim, w.num_classes))
    load_initial(net, w.initial)
    return net


def adam(net: nn.Layer) -> paddle.optimizer.Optimizer:
    return paddle.optimizer.Adam(learning_rate=LR, parameters=net.parameters())


def sync(device: str) -> None:
    if device == "gpu":
        paddle.device.synchronize()


# ---------------------------------------------------------------------------------------- timing
Runner = Callable[..., dict]


def warm_up(w: Workload, device: str, runners: dict[str, Runner]) -> dict[str, float]:
    """Put the reference initial weights in `w`, then run every contender once on a short prefix
    of the data: every code path once (kernels, allocator, lazy imports, a to_static conversion),
    and a check of its step count. Returns each contender's warm-up seconds."""
    w.initial = [p.numpy() for p in build_reference(w).parameters()]
    warmups = {}
    for name, runner in runners.items():
        res = runner(w, w.warmup_steps, device)
        if res.get("steps") != w.warmup_steps:
            raise RuntimeError(f"{name} ran {res.get('steps')} steps in warm-up, expected {w.warmup_steps}")
        warmups[name] = res["seconds"]
        progress(f"  [{w.name}] warm-up {name}: {res['seconds']:.2f}s")
    return warmups


def bench(w: Workload, device: str, runners: dict[str, Runner]) -> dict:
    """Warm every contender up once, then time R rounds, each run of a contender bracketed by runs
    of the baseline.

    `runners` maps a contender's name to `runner(workload, steps, device) -> {"seconds", "steps",
    "step_s", ...}`; the first contender is the baseline. A round runs B c1 B c2 ... B cK B (the
    contenders in an order that rotates from round to round), and each contender's run is
    compared with the mean of the baseline runs just before and after it: the machine's speed
    drifts over tens of seconds, and this cancels a drift that is steady over the three runs."""
    warmups = warm_up(w, device, runners)
    names = list(runners)
    base, others = names[0], names[1:]

    def timed(name: str, r: int) -> dict:
        res = runners[name](w, w.steps, device)
        if "steps" in res and res["steps"] != w.steps:
            raise RuntimeError(f"{name} ran {res['steps']} steps, expected {w.steps}")
        progress(f"  [{w.name}] round {r + 1}/{w.repeats} {name}: {res['seconds']:.3f}s")
        return res

    times: dict[str, list[float]] = {c: [] for c in names}
    steps: dict[str, list[float]] = {c: [] for c in names}
    brackets: dict[str, list[tuple[dict, dict]]] = {c: [] for c in others}
    extras: dict[str, list[dict]] = {c: [] for c in others}
    k = len(others)
    for r in range(w.repeats):
        # Rotate the order; with fewer rounds than contenders, spread the rotations evenly.
        shift = r % k if w.repeats >= k else (r * k) // w.repeats
        before = timed(base, r)
        round_base = [before]
        for name in others[shift:] + others[:shift]:
            res = timed(name, r)
            after = timed(base, r)
            round_base.append(after)
            times[name].append(res["seconds"])
            steps[name].append(res["step_s"])
            brackets[name].append((before, after))
            extras[name].append({key: v for key, v in res.items() if key not in ("seconds", "steps", "step_s")})
            before = after
        times[base] += [res["seconds"] for res in round_base]
        steps[base] += [res["step_s"] for res in round_base]

    def ratios(name: str, key: str, mine: list) -> list:
        return [m / ((b[key] + a[key]) / 2) for m, (b, a) in zip(mine, brackets[name])]

    rows = []
    for name in names:
        entry = {"contender": name, "median_s": statistics.median(times[name]), "min_s": min(times[name]),
                 "max_s": max(times[name]), "times_s": times[name], "step_times_s": steps[name],
                 "step_median_s": statistics.median(steps[name]), "warmup_s": warmups[name]}
        if name == base:
            entry.update(call_ratios=None, step_ratios=None)
        else:
            entry.update(call_ratios=ratios(name, "seconds", times[name]),
                         step_ratios=ratios(name, "step_s", steps[name]), extra=extras[name])
        rows.append(entry)
    return {"workload": w.name, "description": w.description, "steps": w.steps, "repeats": w.repeats,
            "batch_size": w.batch_size, "rows": rows}


def alternating(repeats: int, kinds: tuple, run: Callable[[Any, int], dict]) -> dict:
    """`run(kind, r)` for every kind in each of `repeats` rounds, the order reversed every other
    round so that a drift in the machine's speed falls on all kinds alike; results by kind."""
    runs: dict[Any, list] = {kind: [] for kind in kinds}
    for r in range(repeats):
        for kind in (kinds if r % 2 == 0 else kinds[::-1]):
            runs[kind].append(run(kind, r))
    return runs


def worker_result(script: str, setting: str, options: Sequence[str], workdir: str, r: int) -> dict:
    """Run `script --worker <setting> <options> --result <file>` in a fresh process (in `workdir`)
    and read back the JSON it wrote; a failed worker raises with the end of its stderr."""
    result = os.path.join(workdir, f"{setting}-{r}.json")
    command = [sys.executable, os.path.abspath(script), "--worker", setting, *options, "--result", result]
    done = subprocess.run(command, cwd=workdir, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{setting} failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    with open(result) as f:
        return json.load(f)


def run_settings(script: str, settings: tuple, options: Sequence[str], rounds: int,
                 report: Callable[[dict], str]) -> tuple[dict, float]:
    """Every setting's worker (`worker_result`) once a round, alternating; (results by setting,
    seconds taken). `report` words one result for the progress line."""
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-") as workdir:
        def one(setting: str, r: int) -> dict:
            res = worker_result(script, setting, options, workdir, r)
            progress(f"  round {r + 1}/{rounds} {setting}: {report(res)}")
            return res

        runs = alternating(rounds, settings, one)
    return runs, time.perf_counter() - started


def quartiles(values: Sequence[float]) -> tuple[float, float]:
    """The first and third quartiles: the middle half of the per-round ratios lies between them."""
    q = statistics.quantiles(values, n=4, method="inclusive") if len(values) > 1 else [values[0]] * 3
    return q[0], q[2]


def row(result: dict, contender: str) -> dict:
    for r in result["rows"]:
        if r["contender"] == contender:
            return r
    raise KeyError(f"{contender} is not among the contenders of {result['workload']}")


def _ratio_cells(values: Optional[list]) -> str:
    if not values:
        return "**1.000** | 1.000-1.000"
    q1, q3 = quartiles(values)
    return f"**{statistics.median(values):.3f}** | {q1:.3f}-{q3:.3f}"


def overhead_table(results: Sequence[dict]) -> str:
    """Per contender: the whole call and the loop's median step, each as a ratio to the bracketing
    baseline runs (median over rounds, and the middle half of the rounds)."""
    lines = ["| workload | contender | call: median s | min-max s | call ratio: median | middle half | "
             "step: median ms | step ratio: median | middle half |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for res in results:
        for r in res["rows"]:
            lines.append(f"| {res['workload']} ({res['steps']} steps x{res['repeats']}) | {r['contender']} | "
                         f"{r['median_s']:.3f} | {r['min_s']:.3f}-{r['max_s']:.3f} | {_ratio_cells(r['call_ratios'])} | "
                         f"{1000 * r['step_median_s']:.2f} | {_ratio_cells(r['step_ratios'])} |")
    return "\n".join(lines)


def environment(device: str, quick: bool, total_seconds: float) -> dict:
    import hubtrain as hub

    return {"paddle": paddle.__version__, "hubtrain": hub.__version__, "python": platform.python_version(),
            "device": device, "cpu_count": os.cpu_count(), "platform": platform.platform(),
            "date": time.strftime("%Y-%m-%d"), "quick": quick, "total_seconds": round(total_seconds, 1),
            "cpu_math": CPU_MATH.describe()}


def check_device(device: str) -> Optional[str]:
    """None when `device` can be used, else why not."""
    if device == "gpu" and not (paddle.is_compiled_with_cuda() and paddle.device.cuda.device_count() > 0):
        return "--device gpu needs paddlepaddle-gpu and a visible GPU"
    return None


def add_loop_options(parser: "argparse.ArgumentParser") -> None:
    """The options every training-loop benchmark takes: smoke run, device, JSON, steps and repeats."""
    parser.add_argument("--quick", action="store_true", help="few steps and repeats: a smoke run, not a measurement")
    parser.add_argument("--device", choices=("cpu", "gpu"), default="cpu", help="where to run (paddle.set_device)")
    parser.add_argument("--json", metavar="PATH", help="also write every number and the environment to PATH")
    parser.add_argument("--mlp-steps", type=int, help="steps per contender in an MLP round (512)")
    parser.add_argument("--mlp-repeats", type=int, help="MLP rounds (12)")
    parser.add_argument("--tf-steps", type=int, help="steps per contender in a transformer round (6 on CPU, 80 on GPU)")
    parser.add_argument("--tf-repeats", type=int, help="transformer rounds (6)")
