"""All-reduces and time per optimizer step of accumulated training under 2 processes, with the
accumulated batches under DataParallel's `no_sync` (hubtrain's default) and with an all-reduce
after every batch (`sync_every_batch=True`, what paddle.Model does).

Every run is a whole `paddle.distributed.launch` job in fresh processes (gloo on CPU), the two
settings alternating run by run: on one node (one launcher, 2 processes) and on two nodes on
loopback (two launchers, `--nnodes 2 --master 127.0.0.1:PORT`, one process each). A worker
trains hubtrain `task.fit(accumulate_grad_batches=4)` on the loop suite's MLP (784-512-512-10)
or transformer (common.py), after a warm-up fit; it times its measured fit from the first step
to the last. The all-reduces are counted, not estimated: paddle's reducer logs every fused
all-reduce it starts ("group [i] start fused_allreduce") at glog verbosity 3
(`GLOG_vmodule=reducer=3`), and the lines rank 0 logged during the measured fit are counted.

    python benchmarks/allreduce.py            # about 5 minutes on 2 CPU cores
    python benchmarks/allreduce.py --quick    # a smoke run
"""
from __future__ import annotations

import argparse
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Optional

from common import SEED, alternating, build_reference, mlp_workload, progress, transformer_workload
from contenders import adam, hub_task
from fit_worker import StepClock

import paddle  # noqa: E402  (after common, which quiets paddle's import-time warnings)

ACCUMULATE = 4
SETTINGS = ("sync", "nosync")
LAYOUTS = {"one node": (1, 2), "two nodes": (2, 1)}  # nodes, processes per node
_BEGIN, _END = "measured fit begins", "measured fit ends"
_ALL_REDUCE = re.compile(r"group \[\d+\] start fused_allreduce")
_GROUP = re.compile(r"The Group\[(\d+)\]")  # the reducer's gradient buckets: one fused all-reduce each per sync


def workload(name: str, updates: int, global_batch: int):
    make = mlp_workload if name == "mlp" else transformer_workload
    hidden = {"hidden": 512} if name == "mlp" else {}
    w = make(updates * ACCUMULATE, 1, ACCUMULATE, batch=global_batch, **hidden)
    w.initial = [p.numpy() for p in build_reference(w).parameters()]
    return w


def worker(args: argparse.Namespace) -> int:
    """One rank of a job: a warm-up fit, then the measured one; rank 0 writes the result."""
    from hubtrain.engine import distributed

    ranks, rank = distributed.world_size(), distributed.rank()
    w = workload(args.workload, args.updates, args.global_batch)
    paddle.set_device("cpu")
    task = hub_task(w, "cpu", seed=SEED)
    task.sync_every_batch = args.worker == "sync"
    task.prepare(adam(task.network))
    per_rank = args.global_batch // ranks
    task.fit(w.dataset(ACCUMULATE), batch_size=per_rank, epochs=1, shuffle=True, verbose=0,
             accumulate_grad_batches=ACCUMULATE)
    clock = StepClock()
    distributed.barrier()
    print(_BEGIN, file=sys.stderr, flush=True)
    task.fit(w.dataset(args.updates * ACCUMULATE), batch_size=per_rank, epochs=1, shuffle=True, verbose=0,
             callbacks=[clock], accumulate_grad_batches=ACCUMULATE)
    print(_END, file=sys.stderr, flush=True)
    result = {"rank": rank, "seconds": clock.last - clock.first, "batches": clock.steps,
              "updates": task.train_state.optimizer_step}  # the state is this fit's own
    everyone = distributed.gather(result)
    if rank == 0:
        with open(args.result, "w") as f:
            json.dump({"workload": w.name, "description": w.description, "ranks": everyone}, f)
    return 0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def job(setting: str, layout: str, options: list, workdir: str, r: int) -> dict:
    """One whole launch of `setting` in `layout` (`options` begin with `--workload NAME`): its
    result, with the all-reduces rank 0 counted."""
    nodes, per_node = LAYOUTS[layout]
    tag = f"{options[1]}-{layout.replace(' ', '-')}-{setting}-{r}"  # a fresh log directory for every job
    result = os.path.join(workdir, tag + ".json")
    env = dict(os.environ, GLOG_vmodule="reducer=3")
    master = ["--nnodes", str(nodes), "--master", f"127.0.0.1:{free_port()}"] if nodes > 1 else []
    launchers = []
    for node in range(nodes):
        command = [sys.executable, "-m", "paddle.distributed.launch", *master, "--nproc_per_node", str(per_node),
                   "--log_dir", os.path.join(workdir, tag, f"node{node}"), os.path.abspath(__file__),
                   "--worker", setting, *options, "--result", result]
        launchers.append(subprocess.Popen(command, cwd=workdir, env=env, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.STDOUT))
    codes = [launcher.wait(timeout=900) for launcher in launchers]
    rank0_log = os.path.join(workdir, tag, "node0", "workerlog.0")
    log = open(rank0_log).read()
    if any(codes) or _BEGIN not in log or _END not in log:
        raise RuntimeError(f"{tag} failed (exit {codes}):\n{log[-3000:]}")
    with open(result) as f:
        res = json.load(f)
    res["all_reduces"] = len(_ALL_REDUCE.findall(log.split(_BEGIN, 1)[1].split(_END, 1)[0]))
    res["groups"] = 1 + max(int(g) for g in _GROUP.findall(log))
    return res


def summary(runs: list) -> dict:
    updates = runs[0]["ranks"][0]["updates"]
    per_update = [max(rank["seconds"] for rank in run["ranks"]) / rank_updates(run) for run in runs]
    return {"updates": updates, "batches": runs[0]["ranks"][0]["batches"], "groups": runs[0]["groups"],
            "all_reduces_per_update": sorted({run["all_reduces"] / rank_updates(run) for run in runs}),
            "s_per_update": statistics.median(per_update), "min": min(per_update), "max": max(per_update)}


def rank_updates(run: dict) -> int:
    return run["ranks"][0]["updates"]


def main(argv: Optional[list] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--worker", choices=SETTINGS, help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    parser.add_argument("--workload", choices=("mlp", "transformer"), default="mlp", help=argparse.SUPPRESS)
    parser.add_argument("--updates", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--global-batch", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--rounds", type=int, default=3, help="runs of each setting per workload and layout")
    parser.add_argument("--layouts", default="one node,two nodes", help="'one node', 'two nodes' or both")
    parser.add_argument("--quick", action="store_true", help="few updates, one round: a smoke run")
    parser.add_argument("--json", help="also write every run's figures here")
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args)

    rounds = 1 if args.quick else args.rounds
    cases = [("mlp", 2 if args.quick else 32, 64), ("transformer", 1 if args.quick else 4, 32)]
    layouts = [name.strip() for name in args.layouts.split(",")]
    started = time.perf_counter()
    table, everything = [], []
    with tempfile.TemporaryDirectory(prefix="bench-allreduce-") as workdir:
        for name, updates, global_batch in cases:
            options = ["--workload", name, "--updates", str(updates), "--global-batch", str(global_batch)]
            for layout in layouts:
                def one(setting: str, r: int) -> dict:
                    res = job(setting, layout, options, workdir, r)
                    progress(f"  {name}, {layout}, round {r + 1}/{rounds} {setting}: {res['all_reduces']} "
                             f"all-reduces, {max(x['seconds'] for x in res['ranks']):.2f} s")
                    return res

                runs = alternating(rounds, SETTINGS, one)
                everything.append({"workload": name, "layout": layout, "runs": runs})
                figures = {s: summary(runs[s]) for s in SETTINGS}
                table.append((name, runs["sync"][0]["description"], layout, figures))
    print("| workload | layout | batches / updates | gradient buckets | fused all-reduces per update: every batch / no_sync | "
          "s per update: every batch | s per update: no_sync | no_sync / every batch |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for name, description, layout, f in table:
        sync, nosync = f["sync"], f["nosync"]
        print(f"| {description} | {layout} | {sync['batches']} / {sync['updates']} | {sync['groups']} | "
              f"{'/'.join(f'{x:g}' for x in sync['all_reduces_per_update'])} / "
              f"{'/'.join(f'{x:g}' for x in nosync['all_reduces_per_update'])} | "
              f"{sync['s_per_update']:.4f} ({sync['min']:.4f}-{sync['max']:.4f}) | "
              f"{nosync['s_per_update']:.4f} ({nosync['min']:.4f}-{nosync['max']:.4f}) | "
              f"{nosync['s_per_update'] / sync['s_per_update']:.3f} |")
    progress(f"{time.perf_counter() - started:.0f} s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(everything, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
