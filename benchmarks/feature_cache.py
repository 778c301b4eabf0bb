"""A frozen backbone with and without the feature cache (`RunConfig(feature_cache=...)`): the
time of each training epoch and the accuracy reached, training a classifier head on the real
all-MiniLM-L6-v2, frozen (`module.context(trainable=False)`), on BBC News.

    python benchmarks/feature_cache.py                 # 3 epochs at 256 tokens, 1 round
    python benchmarks/feature_cache.py --quick         # 1 epoch of 10 steps: a smoke run

Each setting trains in a fresh process (the settings alternate, the order reversed every other
round): AdamWeightDecayStrategy (lr 5e-3, 10% warm-up, linear decay), batch 16, seed 42, then dev
and test with the trained weights. An epoch's time runs from its first batch to its last (no
evaluation inside). Tables go to stdout, progress to stderr.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from typing import Optional


def work(cache: bool, epochs: int, max_seq_len: int, max_steps: Optional[int], out: str) -> None:
    import hubtrain as hub
    from hubtrain.engine.events import Callback

    class EpochTimes(Callback):
        def __init__(self) -> None:
            self.times: list[float] = []

        def epoch_begin(self, loop) -> None:
            self.started = time.perf_counter()

        def epoch_end(self, loop) -> None:
            self.times.append(time.perf_counter() - self.started)

    module = hub.Module(name="all-minilm-l6-v2")
    data = hub.dataset.BBCNews()
    reader = hub.reader.ClassifyReader(dataset=data, vocab_path=module.get_vocab_path(), max_seq_len=max_seq_len)
    strategy = hub.AdamWeightDecayStrategy(learning_rate=5e-3, weight_decay=0.01, warmup_proportion=0.1,
                                           lr_scheduler="linear_decay")
    times = EpochTimes()
    with tempfile.TemporaryDirectory(prefix="feature-cache-") as ckpt:
        config = hub.RunConfig(num_epoch=epochs, batch_size=16, strategy=strategy, seed=42, feature_cache=cache,
                               checkpoint_dir=ckpt, use_vdl=False, max_steps=max_steps, log_interval=50)
        _, outputs, _ = module.context(trainable=False, max_seq_len=max_seq_len)
        task = hub.TextClassifierTask(data_reader=reader, feature=outputs["pooled_output"],
                                      num_classes=data.num_labels, config=config)
        started = time.perf_counter()
        task.finetune(callbacks=[times])
        seconds = time.perf_counter() - started
        scores = {}
        for phase in ("dev", "test"):
            task.eval(phase=phase)
            scores[phase] = task.last_result(phase)["acc"]
        frozen = task.current_run.frozen
        counts = [frozen.cache.computed, frozen.cache.read] if frozen.cache is not None else None
    with open(out, "w") as f:
        json.dump({"seconds": seconds, "epochs": times.times, "steps": task.train_state.global_step,
                   "counts": counts, **scores}, f)


def main(argv: Optional[list] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--max-seq-len", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="1 epoch of 10 steps: a smoke run, not a measurement")
    parser.add_argument("--out", metavar="PATH", help="every run as JSON")
    parser.add_argument("--worker", choices=("plain", "cached"), help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    epochs, max_steps = (1, 10) if args.quick else (args.epochs, None)
    if args.worker:
        work(args.worker == "cached", epochs, args.max_seq_len, max_steps, args.result)
        return 0
    from common import run_settings

    options = ["--epochs", str(args.epochs), "--max-seq-len", str(args.max_seq_len)] + (["--quick"] if args.quick else [])
    runs, total = run_settings(__file__, ("plain", "cached"), options, args.rounds,
                               lambda res: f"epochs {', '.join(f'{t:.1f}' for t in res['epochs'])} s, "
                                           f"dev {res['dev']:.4f}, test {res['test']:.4f}")
    first = runs["plain"][0]
    later = {s: statistics.median(t for x in rs for t in x["epochs"][1:]) if epochs > 1 else None
             for s, rs in runs.items()}
    print(f"all-MiniLM-L6-v2 frozen, classifier head, BBC News (max_seq_len {args.max_seq_len}), batch 16, "
          f"{first['steps']} steps over {epochs} epoch(s); {args.rounds} round(s), each run a fresh process "
          f"({total:.0f} s)")
    print()
    print("| features | first epoch s | each later epoch s (median) | speed-up, later epochs | whole run s "
          "| features computed / read | dev acc | test acc |")
    print("|---|---:|---:|---:|---:|---|---|---|")
    for setting, results in runs.items():
        first_epoch = statistics.median(x["epochs"][0] for x in results)
        whole = statistics.median(x["seconds"] for x in results)
        each = f"{later[setting]:.2f}" if later[setting] is not None else "-"
        ratio = f"{later['plain'] / later[setting]:.0f}x" if later[setting] else "-"
        counts = " / ".join(str(c) for c in results[0]["counts"]) if results[0]["counts"] else "-"
        dev = ", ".join(f"{x['dev']:.4f}" for x in results)
        test = ", ".join(f"{x['test']:.4f}" for x in results)
        print(f"| {setting} | {first_epoch:.1f} | {each} | {ratio} | {whole:.0f} | {counts} | {dev} | {test} |")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(runs, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
