"""Sequence labelling (NER-style): a tag per token from the backbone's per-token feature, by an
fc layer and, with `add_crf=True`, a linear-chain CRF decoded with Viterbi."""
from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np
import paddle
import paddle.nn as nn
from paddle.static import InputSpec

from ..metrics import TagScheme, make_metrics
from ..state import RunState
from .base import BaseTask
from .checks import check_labels
from .crf import LinearChainCRF
from .net import as_sequence_feature, sequence_feature_dim
from .paddlehub1 import result_names

__all__ = ["SequenceLabelTask", "IGNORE_INDEX"]

IGNORE_INDEX = -100  # a label the softmax loss skips (SequenceLabelReader(label_pad_value=-100))


def _positions(like: paddle.Tensor, seq_len: paddle.Tensor) -> paddle.Tensor:
    """[N, T] bool: True at the first seq_len positions of each row."""
    steps = like.shape[1]
    return paddle.arange(steps, dtype="int64").unsqueeze(0) < seq_len.reshape([-1, 1]).astype("int64")


class _SequenceHead(nn.Layer):
    """feature [N, T, H], seq_len [N] -> emissions [N, T, C], tag ids [N, T], seq_len [N]."""

    def __init__(self, feature_dim: int, num_classes: int, dropout: float, add_crf: bool) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout) if dropout else None
        self.fc = nn.Linear(feature_dim, num_classes,
                            weight_attr=paddle.ParamAttr(initializer=nn.initializer.TruncatedNormal(std=0.02)),
                            bias_attr=paddle.ParamAttr(initializer=nn.initializer.Constant(0.0)))
        self.crf = LinearChainCRF(num_classes) if add_crf else None

    def forward(self, feature: paddle.Tensor, seq_len: paddle.Tensor) -> list[paddle.Tensor]:
        if self.dropout is not None:
            feature = self.dropout(feature)
        emissions = self.fc(feature)
        seq_len = seq_len.reshape([-1]).astype("int64")
        if self.crf is None:
            tags = paddle.argmax(emissions, axis=-1)
        else:
            tags = self.crf.viterbi(emissions.detach(), seq_len)[0]
        return [emissions, tags, seq_len]


class _SoftmaxLoss(nn.Layer):
    """Token cross-entropy averaged over the positions before seq_len whose label is a tag id."""

    def __init__(self, num_classes: int) -> None:
        super().__init__()
        self.num_classes = num_classes

    def forward(self, emissions: paddle.Tensor, tags: paddle.Tensor, seq_len: paddle.Tensor,
                label: paddle.Tensor) -> paddle.Tensor:
        label = label.reshape(tags.shape).astype("int64")
        scored = _positions(label, seq_len) & (label >= 0) & (label < self.num_classes)
        target = paddle.where(scored, label, paddle.zeros_like(label))
        losses = nn.functional.cross_entropy(emissions, target.unsqueeze(-1), reduction="none").squeeze(-1)
        weights = scored.astype(losses.dtype)
        return (losses * weights).sum() / weights.sum().clip(min=1.0)


class _CRFLoss(nn.Layer):
    """The CRF's negative log-likelihood of the gold tags, averaged over sequences."""

    def __init__(self, crf: LinearChainCRF) -> None:
        super().__init__()
        self._crf = [crf]  # the head owns it; kept out of this layer's parameters

    def forward(self, emissions: paddle.Tensor, tags: paddle.Tensor, seq_len: paddle.Tensor,
                label: paddle.Tensor) -> paddle.Tensor:
        crf = self._crf[0]
        label = label.reshape(tags.shape).astype("int64").clip(min=0, max=crf.num_tags - 1)  # padding: any tag
        return crf.nll(emissions, label, seq_len).mean()


def _check_tag_set(tags: list, scheme: Optional[str], dataset: Any) -> None:
    """Refuse a tag set that fits no chunk scheme; when the tags come from a dataset, say where
    each one first occurs, so the example that brought in an odd tag can be found."""
    try:
        TagScheme.from_labels(tags, scheme)
    except ValueError as err:
        first: dict = {}
        for phase in ("train", "dev", "test"):
            if dataset is None or not hasattr(dataset, "has_split") or not dataset.has_split(phase):
                continue
            for example in dataset.get_examples(phase):
                for tag in example.label if isinstance(example.label, (list, tuple)) else []:
                    first.setdefault(str(tag), getattr(example, "source", None) or f"{phase} example {example.guid}")
        where = "; ".join(f"{tag} first at {first[tag]}" for tag in tags if tag in first and tag != "O")
        raise ValueError(f"SequenceLabelTask: {err}" + (f" Where the tags occur: {where}." if where else "")) from None


class SequenceLabelTask(BaseTask):
    """A tag per token (NER). `feature` is the backbone's sequence_output [N, T, H]; the network
    is fed the backbone's inputs then `seq_len` [N] (SequenceLabelReader's fifth field: real
    tokens per row, [CLS] and [SEP] included); batches longer than `max_seq_len` (by default the
    data_reader's) are refused. Head: (dropout) -> fc to `num_classes` tag scores
    per token; with `add_crf=True` a linear-chain CRF on top, decoded with Viterbi.

    Labels: int64 [N, T] tag ids. Loss: softmax cross-entropy over the positions before
    seq_len (labels of -100 skipped), or the CRF's negative log-likelihood per sequence.
    Outputs: emissions [N, T, C], tag ids [N, T] (argmax or Viterbi), seq_len [N]. Metrics:
    chunk-level "f1" (default), "precision", "recall" over the tag set `label_list` (or the
    data_reader's dataset's labels), BIO/BIOES/BMES detected from the tags unless `scheme`
    says; a tag set that fits no scheme is refused when the task is built. [CLS], [SEP] and
    padding are never scored (`with_cls_sep=False` when seq_len counts no [CLS]/[SEP]).
    `predict(data=..., return_result=True)` gives per example the tag names of its tokens
    ([CLS], [SEP] and padding cut), as PaddleHub 1.x did."""

    scores_form = True  # _calculate_metrics gives PaddleHub 1.5-1.8's (scores, avg_loss, run_speed)
    default_metrics = ("f1",)
    allowed_metrics = ("f1", "precision", "recall")
    output_names = ("emissions", "tag_ids", "seq_len")
    predict_output_names = ("tag_ids", "seq_len")

    def __init__(self, feature: Any, max_seq_len: Optional[int], num_classes: int, data_reader: Any = None,
                 config: Any = None, metrics_choices: Any = "default", add_crf: bool = False,
                 label_list: Optional[Sequence[str]] = None, dropout: float = 0.0, with_cls_sep: bool = True,
                 scheme: Optional[str] = None, feature_dim: Optional[int] = None, **kwargs: Any) -> None:
        name = type(self).__name__
        if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 1:
            raise ValueError(f"{name}: num_classes={num_classes!r} should be the number of tags (dataset.num_labels).")
        if max_seq_len is None:
            max_seq_len = getattr(data_reader, "max_seq_len", None)
        if max_seq_len is not None and (not isinstance(max_seq_len, int) or isinstance(max_seq_len, bool)
                                        or max_seq_len < 1):
            raise ValueError(f"{name}: max_seq_len={max_seq_len!r} should be the reader's max_seq_len, e.g. 128.")
        self.num_classes = num_classes
        self.max_seq_len = max_seq_len
        self.add_crf = bool(add_crf)
        self.dropout = float(dropout)
        self.with_cls_sep = with_cls_sep
        self.scheme = scheme
        dataset = getattr(data_reader, "dataset", None) or kwargs.get("dataset")  # a reader's, or 1.8's dataset=
        self.label_list = self._tags(label_list, dataset, num_classes)
        if self.label_list is not None and metrics_choices != []:
            _check_tag_set(self.label_list, scheme, dataset)
        ref = as_sequence_feature(feature)
        dim = sequence_feature_dim(ref, feature_dim, name)
        super().__init__(ref, config=config, data_reader=data_reader, metrics_choices=metrics_choices,
                         feature_dim=dim, **kwargs)

    @staticmethod
    def _tags(label_list: Optional[Sequence[str]], dataset: Any, num_classes: int) -> Optional[list]:
        if label_list is None:
            label_list = dataset.get_labels() if dataset is not None and hasattr(dataset, "get_labels") else None
        if label_list is None:
            return None
        tags = [str(t) for t in label_list]
        if len(tags) != num_classes:
            raise ValueError(f"SequenceLabelTask: num_classes={num_classes} but the tag set has {len(tags)} tags "
                             f"({', '.join(tags)}); use num_classes=dataset.num_labels.")
        return tags

    # ------------------------------------------------------------------ network events
    def _build_net(self) -> nn.Layer:
        return _SequenceHead(self.feature_dim, self.num_classes, self.dropout, self.add_crf)

    def _extra_inputs(self) -> list[InputSpec]:
        return [InputSpec([None], "int64", "seq_len")]

    def _add_label(self) -> list[InputSpec]:
        return [InputSpec([None, None], "int64", "label")]

    def _add_loss(self) -> nn.Layer:
        return _CRFLoss(self.network.head.crf) if self.add_crf else _SoftmaxLoss(self.num_classes)

    def _check_metrics(self) -> None:
        """Names only: the tags the chunk metrics need may come with a data_reader later."""
        unknown = [name for name in self.metrics_choices if name not in self.allowed_metrics]
        if unknown:
            raise ValueError(f"metrics_choices names {unknown}, which SequenceLabelTask cannot compute: choose "
                             f"from {list(self.allowed_metrics)}.")

    def _add_metrics(self) -> list:
        if not self.metrics_choices:
            return []
        if self.label_list is None:
            raise ValueError(f"SequenceLabelTask: the chunk metrics {list(self.metrics_choices)} need the tag of "
                             f"each label id: pass label_list=[...] or a data_reader whose dataset has its labels "
                             f"(or metrics_choices=[]).")
        return make_metrics(self.metrics_choices, self.allowed_metrics, kind="sequence_label",
                            label_list=self.label_list, scheme=self.scheme, with_cls_sep=self.with_cls_sep)

    def _metric_inputs(self, outputs: list, labels: list) -> list:
        return [outputs[1], labels[0], outputs[2]]  # tag ids, gold tag ids, seq_len

    def _postprocess(self, outputs: list[paddle.Tensor]) -> list[paddle.Tensor]:
        return [outputs[1], outputs[2]]

    # ------------------------------------------------------------------ checks and predictions
    def _check_batch(self, phase: str, inputs: list, labels: list) -> None:
        super()._check_batch(phase, inputs, labels)
        steps = int(inputs[0].shape[1]) if len(inputs[0].shape) > 1 else 0
        if self.max_seq_len is not None and steps > self.max_seq_len:
            raise ValueError(f"SequenceLabelTask: a {phase} batch holds sequences of {steps} tokens, more than the "
                             f"task's max_seq_len={self.max_seq_len}: give the task the reader's max_seq_len.")
        if not labels:
            return
        label = labels[0].numpy()
        lengths = inputs[-1].numpy().reshape([-1, 1])
        flags = (self._bad_tags(label) & (np.arange(label.shape[1])[None, :] < lengths)).any(axis=1)
        if self.add_crf:
            fix = (f"With add_crf=True every token up to seq_len (including [CLS] and [SEP]) needs a tag id in "
                   f"[0, {self.num_classes}): don't use label_pad_value={IGNORE_INDEX}.")
        else:
            fix = f"Tag ids are in [0, {self.num_classes}), or {IGNORE_INDEX} for a token the loss skips."
        check_labels(self, label, lambda rows: self._bad_tags(rows).reshape(rows.shape[0], -1).any(axis=1),
                     "a tag id is outside the tag set", fix, flags=flags)

    def _bad_tags(self, tags: np.ndarray) -> np.ndarray:
        """True where a label is no tag id (nor, without a CRF, the skipped -100)."""
        ok = (tags >= 0) & (tags < self.num_classes)
        return ~(ok if self.add_crf else ok | (tags == IGNORE_INDEX))

    # ------------------------------------------------------------------ PaddleHub 1.x's results
    def _label_names(self, label_list: Optional[Sequence[str]] = None) -> Optional[list]:
        """The tag names by id: `label_list`, else the task's tags."""
        return super()._label_names(label_list) if label_list is not None else self.label_list

    def _postprocessing(self, run_states: Sequence[RunState], label_list: Optional[Sequence[str]] = None) -> Any:
        """Per example, the tag name of each of its tokens ([CLS]/[SEP] and padding cut), by
        `label_list` or the task's tags; the run states themselves, with a warning, without them."""
        tags = result_names(self, label_list, "tags")
        if tags is None:
            return list(run_states)
        first = 1 if self.with_cls_sep else 0
        found = []
        for run_state in run_states:
            ids, lengths = run_state.run_results[0], run_state.run_results[1]
            for row, length in zip(ids, lengths.reshape([-1])):
                found.append([tags[int(i)] for i in row[first:max(first, int(length) - first)]])
        return found
