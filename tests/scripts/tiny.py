"""Small real data and a small backbone shared by the tests and their subprocess scripts."""
import numpy as np
import paddle
import paddle.nn as nn


class Digits(paddle.io.Dataset):
    def __init__(self, x, y):
        super().__init__()
        self.x, self.y = x, y

    def __getitem__(self, i):
        return self.x[i], np.array([self.y[i]], dtype="int64")

    def __len__(self):
        return len(self.x)


class Vectors(paddle.io.Dataset):
    """Rows of features with float targets (multi-label flags, regression values)."""

    def __init__(self, x, y):
        super().__init__()
        self.x, self.y = x.astype("float32"), y.astype("float32")

    def __getitem__(self, i):
        return self.x[i], self.y[i]

    def __len__(self):
        return len(self.x)


class WeightSnapshots(paddle.callbacks.Callback):
    """The network's weights as numpy copies at each epoch's start and at the end of training."""

    def __init__(self):
        super().__init__()
        self.at = []

    def on_epoch_begin(self, epoch, logs=None):
        self.at.append({k: v.numpy().copy() for k, v in self.model.network.state_dict().items()})

    def on_train_end(self, logs=None):
        self.at.append({k: v.numpy().copy() for k, v in self.model.network.state_dict().items()})


def digits_splits():
    from sklearn.datasets import load_digits  # here, not at import: scikit-learn takes seconds to import

    data = load_digits()
    x = (data.data / 16.0).astype("float32")
    y = data.target.astype("int64")
    return Digits(x[:1200], y[:1200]), Digits(x[1200:1500], y[1200:1500]), Digits(x[1500:], y[1500:])


def mlp_backbone(seed=0):
    paddle.seed(seed)
    return nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Dropout(0.2))


class ZeroBranch(nn.Layer):
    """A backbone of two pretrained layers, one of which gets an exactly zero data gradient (what a
    regulariser alone then moves)."""

    def __init__(self, seed=0):
        super().__init__()
        paddle.seed(seed)
        self.used = nn.Linear(64, 32)
        self.idle = nn.Linear(64, 32)

    def forward(self, x):
        return nn.functional.relu(self.used(x)) + 0.0 * self.idle(x)
