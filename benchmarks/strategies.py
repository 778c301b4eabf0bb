"""The four fine-tuning strategies on a real task with few labelled examples.

all-MiniLM-L6-v2 (mean pooling) on BBC News with `--per-label` training articles per topic (100
at the default), the full dev (223) and test (221) splits, `--max-seq-len` 128 tokens. Every
strategy gets the same peak learning rate, epochs, batches and seeds, and otherwise PaddleHub's
defaults. Dev is evaluated after every epoch; the test split is scored with the best dev model.
Each seed draws a different training subset and a different head initialisation.

    python benchmarks/strategies.py                   # 4 strategies x 3 seeds, about 40 min on 2 cores
    python benchmarks/strategies.py --quick           # a smoke run, not a measurement
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import warnings

os.environ.setdefault("HUBTRAIN_LOG_LEVEL", "WARNING")
warnings.filterwarnings("ignore", category=UserWarning, module=r"paddle\.")

import paddle  # noqa: E402

import hubtrain as hub  # noqa: E402

STRATEGIES = {
    "DefaultFinetuneStrategy": lambda lr: hub.DefaultFinetuneStrategy(learning_rate=lr),
    "AdamWeightDecayStrategy": lambda lr: hub.AdamWeightDecayStrategy(learning_rate=lr),
    "L2SPFinetuneStrategy": lambda lr: hub.L2SPFinetuneStrategy(learning_rate=lr),
    "ULMFiTStrategy": lambda lr: hub.ULMFiTStrategy(learning_rate=lr),
}


class DevScores(paddle.callbacks.Callback):
    def __init__(self) -> None:
        super().__init__()
        self.acc: list[float] = []

    def on_eval_end(self, logs=None) -> None:
        if logs and logs.get("phase") == "dev":
            self.acc.append(float(logs["acc"]))


def one_run(name: str, seed: int, args: argparse.Namespace, workdir: str) -> dict:
    dataset = hub.dataset.BBCNews().few_shot(args.per_label, seed=seed)
    module = hub.Module(name="all-minilm-l6-v2")
    reader = hub.reader.ClassifyReader(dataset=dataset, vocab_path=module.get_vocab_path(),
                                       max_seq_len=args.max_seq_len)
    config = hub.RunConfig(num_epoch=args.epochs, batch_size=args.batch_size, eval_interval="epoch", seed=seed,
                           strategy=STRATEGIES[name](args.learning_rate), log_interval=1000,
                           max_steps=args.max_steps, checkpoint_dir=os.path.join(workdir, f"{name}-{seed}"))
    _, outputs, _ = module.context(trainable=True, max_seq_len=args.max_seq_len)
    task = hub.TextClassifierTask(data_reader=reader, feature=outputs["pooled_output"],
                                  num_classes=dataset.num_labels, metrics_choices=["acc"], config=config)
    dev = DevScores()
    start = time.time()
    task.finetune_and_eval(callbacks=[dev])
    return {"strategy": name, "seed": seed, "dev_acc": dev.acc, "best_dev": max(dev.acc),
            "test_acc": float(task.last_result("test")["acc"]), "seconds": time.time() - start,
            "train_examples": len(dataset.get_train_examples())}


def table(results: list[dict]) -> str:
    rows = ["| strategy | test acc (mean ± sd) | per seed | best dev | dev acc by epoch (mean) | minutes / run |",
            "|---|---|---|---|---|---|"]
    for name in STRATEGIES:
        mine = [r for r in results if r["strategy"] == name]
        if not mine:
            continue
        test = [r["test_acc"] for r in mine]
        sd = statistics.stdev(test) if len(test) > 1 else 0.0
        epochs = [statistics.mean(r["dev_acc"][e] for r in mine) for e in range(min(len(r["dev_acc"]) for r in mine))]
        rows.append(f"| {name} | {statistics.mean(test):.3f} ± {sd:.3f} | {' / '.join(f'{t:.3f}' for t in test)} | "
                    f"{statistics.mean(r['best_dev'] for r in mine):.3f} | {' → '.join(f'{a:.3f}' for a in epochs)} | "
                    f"{statistics.mean(r['seconds'] for r in mine) / 60:.1f} |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-label", type=int, default=20)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-seq-len", type=int, default=128)
    parser.add_argument("--learning-rate", type=float, default=1e-4)
    parser.add_argument("--max-steps", type=int, default=None)
    parser.add_argument("--strategies", nargs="+", default=list(STRATEGIES), choices=list(STRATEGIES))
    parser.add_argument("--json", default=None, help="also write every run's numbers here")
    parser.add_argument("--quick", action="store_true", help="2 per label, 1 seed, 2 epochs, 64 tokens")
    args = parser.parse_args()
    if args.quick:
        args.per_label, args.seeds, args.epochs, args.max_seq_len = 2, [0], 2, 64
    results = []
    with tempfile.TemporaryDirectory() as workdir:
        for seed in args.seeds:
            for name in args.strategies:
                results.append(one_run(name, seed, args, workdir))
                r = results[-1]
                print(f"{name} seed {seed}: dev {r['dev_acc']} test {r['test_acc']:.3f} ({r['seconds']:.0f} s)",
                      file=sys.stderr, flush=True)
                if args.json:
                    with open(args.json, "w") as f:
                        json.dump({"args": vars(args), "results": results}, f, indent=1)
    print(table(results))


if __name__ == "__main__":
    main()
