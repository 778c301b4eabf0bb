"""The main job, offline: fine-tune the real all-MiniLM-L6-v2 on real BBC News articles (five
topics), PaddleHub's way: module -> dataset -> reader -> strategy -> RunConfig -> task ->
finetune_and_eval -> predict. `--task digits` runs a ten-second version on scikit-learn's digits:
a backbone pretrained on digits 0-4, fine-tuned on 5-9.

On a CPU with 2 cores or more the BBC News run starts 2 processes under paddle.distributed.launch,
each on half the cores and half of every batch of 16: paddle runs much of a transformer step
(everything but the matrix products) on one thread, so two processes keep both cores busy where one
cannot (a 1.36x faster step on 2 cores, `benchmarks/cpu_setup.py`). `--nproc 1` runs one process."""
from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any, Optional, Sequence

__all__ = ["main", "bbc_news", "digits"]


def _array_dataset(x: Any, y: Any) -> Any:
    """(x[i], [y[i]]) pairs as a paddle Dataset (paddle is imported when a demo runs, not for --help)."""
    import numpy as np
    import paddle

    class ArrayDataset(paddle.io.Dataset):
        def __init__(self) -> None:
            super().__init__()
            self.x, self.y = x, y

        def __getitem__(self, i: int):
            return self.x[i], np.array([self.y[i]], dtype="int64")

        def __len__(self) -> int:
            return len(self.x)

    return ArrayDataset()


def _digits():
    from sklearn.datasets import load_digits

    data = load_digits()
    x = (data.data / 16.0).astype("float32").reshape(-1, 1, 8, 8)
    return x, data.target.astype("int64")


def backbone() -> Any:
    import paddle.nn as nn

    return nn.Sequential(nn.Conv2D(1, 16, 3, padding=1), nn.BatchNorm2D(16), nn.ReLU(),
                         nn.Conv2D(16, 32, 3, padding=1), nn.BatchNorm2D(32), nn.ReLU(), nn.MaxPool2D(2),
                         nn.Flatten(), nn.Linear(32 * 4 * 4, 64), nn.ReLU(), nn.Dropout(0.1))


def pretrain(x: Any, y: Any, epochs: int = 5) -> Any:
    """A backbone trained on digits 0-4 with a plain paddle.Model, its head then thrown away."""
    import paddle

    import hubtrain as hub

    net = backbone()
    task = hub.ImageClassifierTask(feature=net, num_classes=5, feature_dim=64,
                                   inputs=[paddle.static.InputSpec([None, 1, 8, 8], "float32", "image")])
    task.prepare(paddle.optimizer.Adam(learning_rate=3e-3, parameters=task.parameters()))
    task.fit(_array_dataset(x, y), batch_size=32, epochs=epochs, verbose=0)
    return net


def digits(checkpoint_dir: str = "runs/demo-digits", epochs: int = 6) -> dict:
    """Digits 5-9 fine-tuned from a backbone pretrained on digits 0-4."""
    import numpy as np
    import paddle

    import hubtrain as hub

    x, y = _digits()
    paddle.seed(0)
    old = y < 5
    net = pretrain(x[old], y[old])
    xs, ys = x[~old], y[~old] - 5
    order = np.random.RandomState(0).permutation(len(xs))
    xs, ys = xs[order], ys[order]
    n = len(xs)
    train, dev, test = (_array_dataset(xs[a:b], ys[a:b]) for a, b in ((0, int(.6 * n)), (int(.6 * n), int(.8 * n)), (int(.8 * n), n)))

    config = hub.RunConfig(num_epoch=epochs, batch_size=32, log_interval=10, eval_interval=20, seed=42,
                           checkpoint_dir=checkpoint_dir,
                           strategy=hub.AdamWeightDecayStrategy(learning_rate=2e-3, warmup_proportion=0.1))
    task = hub.ImageClassifierTask(feature=net, num_classes=5, config=config,
                                   inputs=[paddle.static.InputSpec([None, 1, 8, 8], "float32", "image")])
    task.finetune_and_eval(train, dev, test)
    results = {"dev": task.train_state.best_score, "test": task.last_result("test")["acc"]}
    print(f"digits 5-9 fine-tuned from a digits 0-4 backbone: best dev acc {results['dev']:.4f}, "
          f"test acc {results['test']:.4f} ({len(train)} train / {len(dev)} dev / {len(test)} test); "
          f"checkpoints in {os.path.abspath(checkpoint_dir)}")
    return results


def bbc_news(checkpoint_dir: str = "runs/demo", epochs: int = 2, batch_size: int = 16, max_seq_len: int = 256,
             learning_rate: float = 1e-4, max_steps: Optional[int] = None) -> dict:
    """all-MiniLM-L6-v2 fine-tuned on BBC News (1,781 train / 223 dev / 221 test articles).
    `batch_size` is the whole step's, shared by the processes of a launch."""
    import numpy as np
    import paddle

    import hubtrain as hub

    world = paddle.distributed.get_world_size()
    if batch_size % world:
        raise ValueError(f"a batch of {batch_size} cannot be shared by {world} processes: use --nproc 1, 2 or 4.")

    module = hub.Module(name="all-minilm-l6-v2")
    dataset = hub.dataset.BBCNews()
    reader = hub.reader.ClassifyReader(dataset=dataset, vocab_path=module.get_vocab_path(), max_seq_len=max_seq_len)
    strategy = hub.AdamWeightDecayStrategy(learning_rate=learning_rate, weight_decay=0.01, warmup_proportion=0.1,
                                           lr_scheduler="linear_decay")
    config = hub.RunConfig(num_epoch=epochs, batch_size=batch_size // world, strategy=strategy, log_interval=10, seed=42,
                           eval_interval=50, checkpoint_dir=checkpoint_dir, max_steps=max_steps)
    inputs, outputs, _ = module.context(trainable=True, max_seq_len=max_seq_len)
    feed_list = [inputs[name].name for name in ("input_ids", "position_ids", "segment_ids", "input_mask")]
    task = hub.TextClassifierTask(data_reader=reader, feature=outputs["pooled_output"], feed_list=feed_list,
                                  num_classes=dataset.num_labels, metrics_choices=["acc"], config=config)
    start = time.perf_counter()
    task.finetune_and_eval()
    minutes = (time.perf_counter() - start) / 60
    if paddle.distributed.get_rank() != 0:  # the first process reports for all
        return {}
    samples = ["Shares in the carmaker fell sharply after it warned that profits would miss forecasts.",
               "The striker scored twice as the home side came back to win the cup tie.",
               "The prime minister faces a vote on the bill in the Commons next week."]
    labels = dataset.get_labels()
    probabilities = np.concatenate([rs.run_results[0] for rs in task.predict(data=[[t] for t in samples])])
    for text, p in zip(samples, probabilities):
        print(f"  {labels[int(np.argmax(p))]:>13}  {text}")
    results = {"dev": task.train_state.best_score, "test": task.last_result("test")["acc"], "minutes": minutes}
    print(f"all-MiniLM-L6-v2 fine-tuned on BBC News: best dev acc {results['dev']:.4f}, test acc "
          f"{results['test']:.4f} ({len(dataset.get_train_examples())} train / {len(dataset.get_dev_examples())} "
          f"dev / {len(dataset.get_test_examples())} test articles, {minutes:.1f} min); checkpoints in "
          f"{os.path.abspath(checkpoint_dir)}" + (f"; {world} processes" if world > 1 else ""))
    return results


def _processes(asked: Optional[int], task: str) -> int:
    """`--nproc`, or for BBC News on a CPU with 2 cores or more, 2 (see the module's note)."""
    if asked is not None:
        if asked < 1:
            raise SystemExit(f"hubtrain demo: error: --nproc {asked} is not accepted: give a whole number >= 1.")
        return asked
    import paddle

    from . import cpu_math

    on_gpu = paddle.device.is_compiled_with_cuda() and paddle.device.cuda.device_count() > 0
    return 2 if task == "bbc-news" and not on_gpu and cpu_math.available_cores() >= 2 else 1


def main(argv: Optional[Sequence[str]] = None) -> dict:
    parser = argparse.ArgumentParser(prog="hubtrain demo", description=__doc__)
    parser.add_argument("--task", choices=("bbc-news", "digits"), default="bbc-news")
    parser.add_argument("--checkpoint-dir", default=None, help="where checkpoints and logs go")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--max-seq-len", type=int, default=256, help="tokens per article (BBC News)")
    parser.add_argument("--learning-rate", type=float, default=1e-4)
    parser.add_argument("--max-steps", type=int, default=None, help="stop after this many steps (a smoke run)")
    parser.add_argument("--nproc", type=int, default=None,
                        help="processes under paddle.distributed.launch (BBC News on a CPU: 2 on 2 cores or more)")
    args = parser.parse_args(argv)
    if args.task == "digits":
        return digits(args.checkpoint_dir or "runs/demo-digits", args.epochs or 6)
    from . import launch

    nproc = _processes(args.nproc, args.task)
    if nproc > 1 and not launch.launched():
        import hubtrain as hub

        hub.Module(name="all-minilm-l6-v2")  # converted once, here, not by every process at once
        checkpoint_dir = args.checkpoint_dir or "runs/demo"
        code = launch.run_launched(nproc, ["demo", *(argv if argv is not None else sys.argv[1:])],
                                   os.path.join(checkpoint_dir, "logs"), checkpoint_dir=checkpoint_dir)
        if code:
            raise SystemExit(code)
        return {}
    return bbc_news(args.checkpoint_dir or "runs/demo", args.epochs or 2, max_seq_len=args.max_seq_len,
                    learning_rate=args.learning_rate, max_steps=args.max_steps)


if __name__ == "__main__":
    main()
