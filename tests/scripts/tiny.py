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


def digits_splits():
    from sklearn.datasets import load_digits  # here, not at import: scikit-learn takes seconds to import

    data = load_digits()
    x = (data.data / 16.0).astype("float32")
    y = data.target.astype("int64")
    return Digits(x[:1200], y[:1200]), Digits(x[1200:1500], y[1200:1500]), Digits(x[1500:], y[1500:])


def mlp_backbone(seed=0):
    paddle.seed(seed)
    return nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Dropout(0.2))
