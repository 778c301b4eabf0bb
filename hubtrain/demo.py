"""The main job, offline: pretrain a backbone on handwritten digits 0-4, then fine-tune it with
hubtrain on digits 5-9 (scikit-learn's bundled digits), reporting dev and test accuracy."""
from __future__ import annotations

import argparse
import os
from typing import Optional, Sequence

import numpy as np
import paddle
import paddle.nn as nn

__all__ = ["main"]


class ArrayDataset(paddle.io.Dataset):
    def __init__(self, x: np.ndarray, y: np.ndarray) -> None:
        super().__init__()
        self.x, self.y = x, y

    def __getitem__(self, i: int):
        return self.x[i], np.array([self.y[i]], dtype="int64")

    def __len__(self) -> int:
        return len(self.x)


def _digits():
    from sklearn.datasets import load_digits

    data = load_digits()
    x = (data.data / 16.0).astype("float32").reshape(-1, 1, 8, 8)
    return x, data.target.astype("int64")


def backbone() -> nn.Layer:
    return nn.Sequential(nn.Conv2D(1, 16, 3, padding=1), nn.BatchNorm2D(16), nn.ReLU(),
                         nn.Conv2D(16, 32, 3, padding=1), nn.BatchNorm2D(32), nn.ReLU(), nn.MaxPool2D(2),
                         nn.Flatten(), nn.Linear(32 * 4 * 4, 64), nn.ReLU(), nn.Dropout(0.1))


def pretrain(x: np.ndarray, y: np.ndarray, epochs: int = 5) -> nn.Layer:
    """A backbone trained on digits 0-4 with a plain paddle.Model, its head then thrown away."""
    import hubtrain as hub

    net = backbone()
    task = hub.ImageClassifierTask(feature=net, num_classes=5, feature_dim=64,
                                   inputs=[paddle.static.InputSpec([None, 1, 8, 8], "float32", "image")])
    task.prepare(paddle.optimizer.Adam(learning_rate=3e-3, parameters=task.parameters()))
    task.fit(ArrayDataset(x, y), batch_size=32, epochs=epochs, verbose=0)
    return net


def main(argv: Optional[Sequence[str]] = None) -> dict:
    import hubtrain as hub

    parser = argparse.ArgumentParser(prog="hubtrain demo", description=__doc__)
    parser.add_argument("--checkpoint-dir", default="runs/demo", help="where checkpoints and logs go")
    parser.add_argument("--epochs", type=int, default=6)
    args = parser.parse_args(argv)

    x, y = _digits()
    paddle.seed(0)
    old = y < 5
    net = pretrain(x[old], y[old])
    xs, ys = x[~old], y[~old] - 5
    order = np.random.RandomState(0).permutation(len(xs))
    xs, ys = xs[order], ys[order]
    n = len(xs)
    train, dev, test = (ArrayDataset(xs[a:b], ys[a:b]) for a, b in ((0, int(.6 * n)), (int(.6 * n), int(.8 * n)), (int(.8 * n), n)))

    config = hub.RunConfig(num_epoch=args.epochs, batch_size=32, log_interval=10, eval_interval=20,
                           checkpoint_dir=args.checkpoint_dir,
                           strategy=hub.AdamWeightDecayStrategy(learning_rate=2e-3, warmup_proportion=0.1))
    task = hub.ImageClassifierTask(feature=net, num_classes=5, config=config,
                                   inputs=[paddle.static.InputSpec([None, 1, 8, 8], "float32", "image")])
    task.finetune_and_eval(train, dev, test)
    results = {"dev": task.train_state.best_score, "test": task.last_result("test")["acc"]}
    print(f"digits 5-9 fine-tuned from a digits 0-4 backbone: best dev acc {results['dev']:.4f}, "
          f"test acc {results['test']:.4f} ({len(train)} train / {len(dev)} dev / {len(test)} test); "
          f"checkpoints in {os.path.abspath(args.checkpoint_dir)}")
    return results


if __name__ == "__main__":
    main()
