"""What a user waits for: the wall time of a whole training call, each in a fresh process of its
own, on an overhead-bound MLP (64 -> 128 -> ReLU -> 10, batch 64, Adam, accuracy counted, 512
steps an epoch, seeded synthetic data).

    python benchmarks/fit_overhead.py --out fit_overhead.json    # 4 rounds (--rounds)
    python benchmarks/fit_overhead.py --quick                     # a smoke run: 64 steps, 1 round

Contenders:

  hand           a hand-written dygraph loop: DataLoader, forward, cross_entropy, backward, step,
                 clear_grad, loss and accuracy summed on the device and read every 10 steps
  paddle_fit     paddle.Model(net, inputs, labels).prepare(Adam, CrossEntropyLoss, Accuracy())
                 .fit(verbose=0)
  hub_model_fit  the same with hubtrain.Model
  task_fit       hubtrain's ImageClassifierTask (accuracy its default metric), prepare(Adam),
                 fit(verbose=0)
  finetune       the same task from a RunConfig (Adam at a fixed rate, no regulariser),
                 finetune(); it ends with a checkpoint, into a temporary directory

Every contender runs for 1 epoch and for 3, each run a process of its own, the runs alternating
(the order reversed every other round), since this machine's speed drifts over minutes. T is the
wall time of the training call alone: the DataLoader and every batch in it, not the process start,
the imports, nor building the network and the optimizer, which are reported apart. An epoch
beyond the first is timed inside the 3-epoch call, from the end of its first epoch to the end of
its third, halved: the first epoch carries one-off costs (first kernels, the allocator's growth,
lazy imports) and the call ends with some (the closing checkpoint), which T1 shows. Taking both
ends from one process spares the estimate the process-to-process spread that (T3 - T1) / 2 adds.
Ratios to `hand` are taken round by round, then the median over the rounds. Tables go to stdout,
progress to stderr.
"""
from __future__ import annotations

import time

STARTED = time.time()  # before the imports: a worker's import time is counted from here

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from typing import Any, Callable, Optional  # noqa: E402

from common import (SEED, Workload, adam, alternating, build_reference, environment,  # noqa: E402
                    fresh_network, mlp_workload, progress, quartiles)
from contenders import finetune_task, hand_fit, hapi_model, hub_task, timed  # noqa: E402

import paddle  # noqa: E402

CONTENDERS = ("hand", "paddle_fit", "hub_model_fit", "task_fit", "finetune")
HUB_CLASSES = {"hub_model_fit": "Model", "task_fit": "ImageClassifierTask", "finetune": "ImageClassifierTask"}
MAX_RATIO = {"hub_model_fit": 1.10, "task_fit": 1.10, "finetune": 1.10}  # over hand's: an epoch beyond the first, T3
EPOCHS = (1, 3)
STEPS, QUICK_STEPS = 512, 64
INPUTS, HIDDEN, BATCH = 64, 128, 64


def workload(steps: int) -> Workload:
    """The MLP, its data (steps x batch samples, seeded) and the reference initial weights."""
    w = mlp_workload(steps, 1, 0, batch=BATCH, hidden=HIDDEN, inputs=INPUTS, deep=False)
    w.initial = [p.numpy() for p in build_reference(w).parameters()]
    return w


class EpochSteps(paddle.callbacks.Callback):
    """Counts the steps and notes the time at the end of each epoch (`logs["step"]` is the last
    step's index): one call an epoch, so it adds nothing to a step."""

    def __init__(self, marks: list) -> None:
        super().__init__()
        self.steps, self.marks = 0, marks

    def on_epoch_end(self, epoch, logs=None):
        self.marks.append(time.perf_counter())
        self.steps += logs["step"] + 1


# ---------------------------------------------------------------------------------------- worker
def build(contender: str, w: Workload, epochs: int, workdir: str,
          marks: list) -> tuple[Callable[[], Any], Callable[[], int]]:
    """Everything before the training call (network, optimizer, task, dataset), then the call and
    a way to read how many steps it ran; `marks` gets the time of each epoch's end."""
    data = w.dataset(w.steps)
    if contender == "hand":
        net = fresh_network(w)
        opt = adam(net)
        result: dict = {}
        return ((lambda: result.update(hand_fit(net, opt, data, w.batch_size, epochs, epoch_marks=marks))),
                lambda: result["steps"])
    counter = EpochSteps(marks)
    if contender in ("paddle_fit", "hub_model_fit"):
        import hubtrain as hub

        model = hapi_model(w, paddle.Model if contender == "paddle_fit" else hub.Model)
        return (lambda: model.fit(data, batch_size=w.batch_size, epochs=epochs, shuffle=True, verbose=0,
                                  callbacks=[counter])), lambda: counter.steps
    if contender == "task_fit":
        task = hub_task(w, "cpu")
        task.prepare(adam(task.network))
        return (lambda: task.fit(data, batch_size=w.batch_size, epochs=epochs, shuffle=True, verbose=0,
                                 callbacks=[counter])), lambda: counter.steps
    task = finetune_task(w, "cpu", os.path.join(workdir, "ckpt"), epochs)
    return (lambda: task.finetune(data, callbacks=[counter])), lambda: counter.steps


def work(contender: str, epochs: int, steps: int, out: str) -> None:
    """One contender's training call in this process; its times go to `out` as JSON."""
    if contender in HUB_CLASSES:  # what `from hubtrain import ...` costs belongs to the imports
        import hubtrain as hub

        getattr(hub, HUB_CLASSES[contender])
    imported = time.time()
    with tempfile.TemporaryDirectory(prefix="fit-overhead-") as workdir:
        w = workload(steps)
        marks: list = []
        fit, steps_run = build(contender, w, epochs, workdir, marks)
        built = time.time()
        seconds = timed(fit, "cpu")
        ended = time.time()
    done = steps_run()
    if done != epochs * steps or len(marks) != epochs:
        raise RuntimeError(f"{contender} ran {done} steps in {len(marks)} of {epochs} epochs, "
                           f"expected {epochs * steps}")
    later_epoch_s = (marks[-1] - marks[0]) / (epochs - 1) if epochs > 1 else None
    with open(out, "w") as f:
        json.dump({"contender": contender, "epochs": epochs, "steps": done, "fit_s": seconds,
                   "later_epoch_s": later_epoch_s,
                   "started": STARTED, "imported": imported, "built": built, "ended": ended}, f)


# ---------------------------------------------------------------------------------------- rounds
def run_process(contender: str, epochs: int, steps: int, workdir: str, tag: str) -> dict:
    """One worker process; its report with the process start, imports, setup and whole process
    in seconds."""
    out = os.path.join(workdir, f"{tag}.json")
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", contender, "--epochs", str(epochs),
           "--steps", str(steps), "--out", out]
    launched = time.time()
    done = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True)
    finished = time.time()
    if done.returncode != 0 or not os.path.exists(out):
        raise RuntimeError(f"{' '.join(cmd)} failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    with open(out) as f:
        res = json.load(f)
    res.update(start_s=res["started"] - launched, imports_s=res["imported"] - res["started"],
               setup_s=res["built"] - res["imported"], process_s=finished - launched)
    return res


def measure(rounds: int, steps: int) -> dict:
    """Every (contender, epochs) in each round, alternating; runs by "contender/epochs"."""
    kinds = tuple((c, e) for c in CONTENDERS for e in EPOCHS)
    with tempfile.TemporaryDirectory(prefix="fit-overhead-") as workdir:
        def run(kind: tuple, r: int) -> dict:
            contender, epochs = kind
            res = run_process(contender, epochs, steps, workdir, f"{contender}-{epochs}-{r}")
            progress(f"  round {r + 1}/{rounds} {contender}, {epochs} epoch(s): fit {res['fit_s']:.3f}s "
                     f"(process {res['process_s']:.2f}s, start + imports {res['start_s'] + res['imports_s']:.2f}s)")
            return res

        runs = alternating(rounds, kinds, run)
    return {f"{c}/{e}": v for (c, e), v in runs.items()}


def summarize(runs: dict, steps: int) -> list:
    """Per contender: every round's T1, T3 and epoch beyond the first, their ratios to hand's in
    the same round, and the medians."""
    def per_round(contender: str) -> dict:
        t1 = [x["fit_s"] for x in runs[f"{contender}/1"]]
        t3 = [x["fit_s"] for x in runs[f"{contender}/3"]]
        both = runs[f"{contender}/1"] + runs[f"{contender}/3"]
        row = {"t1_s": t1, "t3_s": t3,
                "start_imports_s": statistics.median(x["start_s"] + x["imports_s"] for x in both),
                "setup_s": statistics.median(x["setup_s"] for x in both)}
        row["epoch_s"] = [x["later_epoch_s"] for x in runs[f"{contender}/3"]]
        return row

    hand = per_round("hand")
    rows = []
    for contender in CONTENDERS:
        mine = hand if contender == "hand" else per_round(contender)
        epoch_ratios = [m / h for m, h in zip(mine["epoch_s"], hand["epoch_s"])]
        t1_ratios = [m / h for m, h in zip(mine["t1_s"], hand["t1_s"])]
        t3_ratios = [m / h for m, h in zip(mine["t3_s"], hand["t3_s"])]
        row = {"contender": contender, **mine, "epoch_ratios": epoch_ratios, "t1_ratios": t1_ratios,
               "epoch_median_s": statistics.median(mine["epoch_s"]),
               "step_median_ms": 1000 * statistics.median(mine["epoch_s"]) / steps,
               "epoch_ratio": statistics.median(epoch_ratios), "t1_median_s": statistics.median(mine["t1_s"]),
               "t1_ratio": statistics.median(t1_ratios), "t3_ratios": t3_ratios,
               "t3_median_s": statistics.median(mine["t3_s"]), "t3_ratio": statistics.median(t3_ratios),
               "max_ratio": MAX_RATIO.get(contender)}
        row.update(epoch_ratio_middle_half=quartiles(epoch_ratios), t1_ratio_middle_half=quartiles(t1_ratios),
                   t3_ratio_middle_half=quartiles(t3_ratios))
        limit = row["max_ratio"]
        row["target"] = None if limit is None else row["epoch_ratio"] <= limit and row["t3_ratio"] <= limit
        rows.append(row)
    return rows


def tables(rows: list) -> str:
    """The summary (medians over rounds; the middle half of the rounds lies between the quartiles)
    and every round's values, as plain markdown tables."""
    def cells(values: list, digits: int) -> str:
        return ", ".join(f"{v:.{digits}f}" for v in values)

    def middle(pair: tuple) -> str:
        return f"{pair[0]:.3f}-{pair[1]:.3f}"

    lines = ["| contender | epoch beyond the first: median s | ms a step | ratio to hand | middle half | "
             "T3: median s | ratio to hand | middle half | T1: median s | ratio to hand | middle half | "
             "start + imports s | setup s | target (epoch and T3 ratios) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        target = "-" if r["target"] is None else f"<= {r['max_ratio']:.2f}: {'PASS' if r['target'] else 'FAIL'}"
        lines.append(f"| {r['contender']} | {r['epoch_median_s']:.3f} | {r['step_median_ms']:.3f} | "
                     f"**{r['epoch_ratio']:.3f}** | {middle(r['epoch_ratio_middle_half'])} | {r['t3_median_s']:.3f} | "
                     f"**{r['t3_ratio']:.3f}** | {middle(r['t3_ratio_middle_half'])} | {r['t1_median_s']:.3f} | "
                     f"{r['t1_ratio']:.3f} | {middle(r['t1_ratio_middle_half'])} | {r['start_imports_s']:.2f} | "
                     f"{r['setup_s']:.2f} | {target} |")
    lines += ["", "| contender | T1 s, each round | T3 s, each round | epoch beyond the first s | ratio to hand | "
              "T3 ratio to hand | T1 ratio to hand |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['contender']} | {cells(r['t1_s'], 3)} | {cells(r['t3_s'], 3)} | {cells(r['epoch_s'], 3)} | "
                     f"{cells(r['epoch_ratios'], 3)} | {cells(r['t3_ratios'], 3)} | {cells(r['t1_ratios'], 3)} |")
    return "\n".join(lines)


def main(argv: Optional[list] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, help="rounds of every contender at 1 and 3 epochs (4; 1 with --quick)")
    parser.add_argument("--steps", type=int, help=f"steps an epoch ({STEPS}; {QUICK_STEPS} with --quick)")
    parser.add_argument("--quick", action="store_true", help="fewer steps, 1 round: a smoke run, not a measurement")
    parser.add_argument("--out", metavar="PATH", help="write every run, the summary and the environment to PATH")
    parser.add_argument("--report", metavar="PATH", help="print the tables of a run saved with --out, and exit")
    parser.add_argument("--worker", choices=CONTENDERS, help=argparse.SUPPRESS)
    parser.add_argument("--epochs", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    steps = args.steps or (QUICK_STEPS if args.quick else STEPS)
    if args.worker:
        if not args.out:
            parser.error("--worker needs --out")
        work(args.worker, args.epochs, steps, args.out)
        return 0
    if args.report:
        with open(args.report) as f:
            saved = json.load(f)
        print(tables(summarize(saved["runs"], saved["settings"]["steps"])))
        return 0
    rounds = args.rounds or (1 if args.quick else 4)
    started = time.perf_counter()
    load = os.getloadavg()[0]
    runs = measure(rounds, steps)
    rows = summarize(runs, steps)
    total = time.perf_counter() - started
    print(f"{workload(steps).description}, Adam, accuracy counted; {rounds} round(s) of 1 and 3 epochs, "
          f"each run a fresh process ({total:.0f} s; 1-minute load {load:.2f} before, {os.getloadavg()[0]:.2f} after)")
    print()
    print(tables(rows))
    if args.out:
        report = {"settings": {"rounds": rounds, "steps": steps, "epochs": list(EPOCHS), "batch_size": BATCH,
                               "inputs": INPUTS, "hidden": HIDDEN, "seed": SEED},
                  "environment": environment("cpu", args.quick, total), "summary": rows, "runs": runs}
        with open(args.out, "w") as f:
            json.dump(report, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
