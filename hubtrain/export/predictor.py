"""`hub.Predictor`: an export directory run with paddle.inference on raw examples (texts, pairs,
image paths or arrays), preprocessed as the task's reader did, giving one dict per example."""
from __future__ import annotations

import os
from typing import Any, Iterable, Iterator, Optional, Sequence

import numpy as np
import paddle

from .. import cpu_math
from .metadata import read_metadata
from .preprocessing import Encoder, build_encoder

__all__ = ["Predictor"]


def _softmax(x: np.ndarray) -> np.ndarray:
    shifted = np.exp(x - x.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _whole(name: str, value: Any, minimum: int = 1) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"Predictor: {name}={value!r} should be a whole number >= {minimum}.")
    return int(value)


class Predictor:
    """Loads `directory` (written by `task.export`) into a paddle.inference predictor.

    `predict(examples)` takes raw examples as the task's reader did: for text exports a string or
    [text_a, text_b]; for image exports a file path or an (H, W[, C]) RGB uint8 array; for exports
    without a reader the arrays the network takes. Each example gives a dict: classifiers
    {"label", "probabilities"} ("label" a list of labels for multi-label tasks), other tasks their
    named outputs (per-token outputs cut to the example's tokens). A Predictor is not thread-safe:
    make one per thread. `num_threads` defaults to what training would use on this machine
    (hubtrain/cpu_math.py)."""

    def __init__(self, directory: str, use_gpu: bool = False, batch_size: int = 32,
                 num_threads: Optional[int] = None) -> None:
        self.directory = os.path.abspath(os.fspath(directory))
        self.batch_size = _whole("batch_size", batch_size)
        if num_threads is not None:
            num_threads = _whole("num_threads", num_threads)
        self.metadata = read_metadata(self.directory)
        self.encoder: Encoder = build_encoder(self.metadata, self.directory)
        chosen = cpu_math.set_up()
        # paddle.inference keeps threads of its own: the same count as training, unless given
        self.cpu_threads = num_threads if num_threads is not None else chosen.threads
        self._predictor = self._create(bool(use_gpu), self.cpu_threads)
        self._input_names = [spec["name"] for spec in self.metadata["inputs"]]
        # jit.save drops inputs the network never reads; those are encoded but not fed.
        self._feeds = set(self._predictor.get_input_names())
        unknown = sorted(self._feeds - set(self._input_names))
        if unknown:
            raise ValueError(f"{self.directory}: the model takes {unknown}, which its description does not name "
                             f"({', '.join(self._input_names)}); export the task again.")
        self._output_names = list(self._predictor.get_output_names())

    def _create(self, use_gpu: bool, num_threads: Optional[int]) -> Any:
        from paddle import inference

        model = self.metadata["model"]
        config = inference.Config(os.path.join(self.directory, model["program"]),
                                  os.path.join(self.directory, model["params"]))
        if use_gpu:
            if not paddle.is_compiled_with_cuda():
                raise RuntimeError("Predictor(use_gpu=True): this paddle is built without CUDA; install "
                                   "paddlepaddle-gpu, or use use_gpu=False.")
            config.enable_use_gpu(256, 0)
        else:
            config.disable_gpu()
        if num_threads is not None:
            config.set_cpu_math_library_num_threads(num_threads)
        config.disable_glog_info()
        return inference.create_predictor(config)

    # ---------------------------------------------------------------- what it tells
    @property
    def labels(self) -> Optional[list]:
        return self.metadata.get("labels")

    @property
    def task_kind(self) -> str:
        return self.metadata["task"]["kind"]

    @property
    def output_names(self) -> list[str]:
        return [o["name"] for o in self.metadata["outputs"]]

    def __repr__(self) -> str:
        return (f"Predictor({self.directory!r}, task={self.metadata['task']['class']}, "
                f"preprocessing={self.encoder.kind}, batch_size={self.batch_size})")

    # ---------------------------------------------------------------- running
    def run(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        """One batch of already-encoded inputs (in the export's input order) -> the model's outputs."""
        if len(inputs) != len(self._input_names):
            raise ValueError(f"Predictor.run: the model takes {len(self._input_names)} inputs "
                             f"({', '.join(self._input_names)}), got {len(inputs)}.")
        for name, array, spec in zip(self._input_names, inputs, self.metadata["inputs"]):
            if name not in self._feeds:
                continue
            array = np.ascontiguousarray(array, dtype=spec["dtype"])
            handle = self._predictor.get_input_handle(name)
            handle.reshape(list(array.shape))
            handle.copy_from_cpu(array)
        self._predictor.run()
        return [self._predictor.get_output_handle(name).copy_to_cpu() for name in self._output_names]

    def predict(self, examples: Iterable[Any], *, sources: Optional[Sequence[str]] = None) -> list[dict]:
        """Per example, its prediction (see the class docstring), in order, `batch_size` at a time.
        `sources` names the examples in error messages (default "examples[i]")."""
        return list(self.iter_predict(examples, sources=sources))

    def iter_predict(self, examples: Iterable[Any], *, sources: Optional[Iterable[str]] = None) -> Iterator[dict]:
        """`predict`, yielding each batch's results before encoding the next, so a long stream of
        examples (and of their `sources`, read alongside) is never held in memory."""
        if isinstance(examples, (str, bytes, os.PathLike, dict)):
            raise TypeError(f"Predictor.predict takes a list of examples, got a single {type(examples).__name__}; "
                            f"wrap it in a list: predict([example]).")
        named = iter(sources) if sources is not None else None
        batch: list = []
        names: list = []
        for i, example in enumerate(examples):
            batch.append(example)
            names.append(next(named) if named is not None else f"examples[{i}]")
            if len(batch) == self.batch_size:
                yield from self._predict_batch(batch, names)
                batch, names = [], []
        if batch:
            yield from self._predict_batch(batch, names)

    def _predict_batch(self, examples: list, sources: list) -> list[dict]:
        inputs, lengths = self.encoder.encode(examples, sources)
        outputs = self.run(inputs)
        return self._results(outputs, lengths, len(examples))

    def _results(self, outputs: list[np.ndarray], lengths: Optional[list], count: int) -> list[dict]:
        kind = self.task_kind
        post = self.metadata["postprocess"]
        function = post.get("function")
        if kind in ("classifier", "multi_label") and function in ("softmax", "sigmoid"):
            scores = outputs[0]
            if not post["included"]:  # exported without it: the same function, in numpy
                scores = _softmax(scores) if function == "softmax" else _sigmoid(scores)
            return [self._label_result(row, kind) for row in scores]
        described = self.metadata["outputs"]
        results = []
        for i in range(count):
            row = {}
            for out, value in zip(described, outputs):
                item = value[i]
                if out.get("per_token") and lengths is not None:
                    item = item[:lengths[i]]
                row[out["name"]] = item.tolist()
            if kind == "sequence_label" and "tag_ids" in row and "seq_len" in row:
                row["label"] = self._tags(row["tag_ids"], int(row["seq_len"]))
            results.append(row)
        return results

    def _tags(self, tag_ids: list, seq_len: int) -> list:
        """Tag names of the real tokens ([CLS] and [SEP] cut), as predict(data=..., return_result=True)."""
        first = 1 if self.metadata["task"].get("with_cls_sep", True) else 0
        labels = self.labels or []
        return [labels[t] if 0 <= t < len(labels) else t for t in tag_ids[first:max(first, seq_len - first)]]

    def _label_result(self, probs: np.ndarray, kind: str) -> dict:
        labels = self.labels
        name = (lambda j: labels[j] if labels and j < len(labels) else j)
        if kind == "classifier":
            label = name(int(np.argmax(probs)))
        else:
            label = [name(j) for j in np.flatnonzero(probs >= 0.5).tolist()]
        return {"label": label, "probabilities": probs.tolist()}
