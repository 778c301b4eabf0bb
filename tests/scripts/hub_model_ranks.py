"""One rank of a 2-process hub.Model and paddle.Model fit and evaluate on the same data; writes
both models' results and weights to <out>/rank<N>.npz."""
import sys

import numpy as np
import paddle
from paddle.static import InputSpec

import hubtrain as hub


class Points(paddle.io.Dataset):
    def __init__(self, n, seed):
        rs = np.random.RandomState(seed)
        self.x = rs.rand(n, 8).astype("float32")
        self.y = rs.randint(0, 3, (n, 1)).astype("int64")

    def __getitem__(self, i):
        return self.x[i], self.y[i]

    def __len__(self):
        return len(self.x)


def main(out):
    paddle.distributed.init_parallel_env()
    saved = {}
    for label, cls in (("paddle", paddle.Model), ("hub", hub.Model)):
        paddle.seed(3)
        network = paddle.nn.Sequential(paddle.nn.Linear(8, 16), paddle.nn.ReLU(), paddle.nn.Linear(16, 3))
        model = cls(network, [InputSpec([None, 8], "float32", "x")], [InputSpec([None, 1], "int64", "y")])
        model.prepare(paddle.optimizer.Adam(0.05, parameters=network.parameters()), paddle.nn.CrossEntropyLoss(),
                      paddle.metric.Accuracy())
        model.fit(Points(22, 0), Points(11, 1), batch_size=4, epochs=2, shuffle=False, verbose=0)
        result = model.evaluate(Points(11, 1), batch_size=4, verbose=0)  # 11 samples: the sampler pads one
        saved[f"{label}_loss"], saved[f"{label}_acc"] = np.asarray(result["loss"]), np.asarray(result["acc"])
        for key, value in network.state_dict().items():
            saved[f"{label}_{key}"] = value.numpy()
    np.savez(f"{out}/rank{paddle.distributed.get_rank()}.npz", **saved)


if __name__ == "__main__":
    main(sys.argv[1])
