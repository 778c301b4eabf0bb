"""Chunk-level precision, recall and F1 for sequence labelling (NER-style BIO, BIOES, BMES tags).

A chunk is a maximal run of tags of one type, delimited as CoNLL's conlleval does (and seqeval's
default mode): it starts at B/S, at I/E/M after O, E or S, or where the type changes; it ends at
E/S, before O, B or S, or before a type change. A predicted chunk is correct when a labelled chunk
has the same start, end and type. Chunks are found for the whole batch at once with tensor ops.

Positions that are never scored (read as O, so they neither form nor extend a chunk): positions
at or after `seq_len`, the first and last of the `seq_len` positions when `with_cls_sep` (the
[CLS] and [SEP] that SequenceLabelReader counts in seq_len), positions whose label id is not a
tag index (e.g. -100 padding). A predicted id outside the tag list reads as O.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Optional, Sequence

import paddle

from .base import HubMetric, add, host, ratio

__all__ = ["TagScheme", "chunk_counts", "ChunkPrecision", "ChunkRecall", "ChunkF1"]

O, B, I, E, S = range(5)
_LETTERS = {"BIO": {"B": B, "I": I}, "BIOES": {"B": B, "I": I, "E": E, "S": S},
            "BMES": {"B": B, "M": I, "E": E, "S": S}}
_ALIASES = {"BIO": "BIO", "IOB": "BIO", "IOB2": "BIO", "BIOES": "BIOES", "IOBES": "BIOES", "BMES": "BMES"}


@dataclass(frozen=True)
class TagScheme:
    """The tag list read as a scheme: per tag id its role (O/B/I/E/S, M read as I) and type index."""

    scheme: str
    tags: tuple[str, ...]
    roles: tuple[int, ...]
    types: tuple[int, ...]
    type_names: tuple[str, ...]

    @classmethod
    def from_labels(cls, label_list: Sequence[str], scheme: Optional[str] = None) -> "TagScheme":
        """Parse "O" and "<letter>-<type>" tags; detect the scheme (M -> BMES, E or S -> BIOES,
        else BIO) unless given. Raises ValueError naming the tags that do not fit."""
        tags = list(label_list) if label_list is not None else []
        if not tags:
            raise ValueError("chunk metrics need label_list: the tag of each label id, e.g. ['B-PER', 'I-PER', 'O'].")
        odd = [t for t in tags if not isinstance(t, str)]
        if odd:
            raise ValueError(f"label_list: tags must be strings, got {odd[:5]}.")
        dupes = sorted({t for t in tags if tags.count(t) > 1})
        if dupes:
            raise ValueError(f"label_list: tag(s) {dupes} appear more than once; each tag needs one id.")
        malformed = [t for t in tags if t != "O" and (len(t) < 3 or t[1] != "-")]
        if malformed:
            raise ValueError(f"label_list: tag(s) {malformed} are neither 'O' nor '<letter>-<type>' "
                             f"(e.g. 'B-PER'); write chunk tags as BIO, BIOES or BMES tags.")
        letters = {t[0] for t in tags if t != "O"}
        if scheme is None:
            scheme = "BMES" if "M" in letters else "BIOES" if letters & {"E", "S"} else "BIO"
        key = _ALIASES.get(str(scheme).upper())
        if key is None:
            raise ValueError(f"scheme={scheme!r}: use 'BIO', 'BIOES' or 'BMES' (or None to detect it from the tags).")
        allowed = _LETTERS[key]
        bad = [t for t in tags if t != "O" and t[0] not in allowed]
        if bad:
            raise ValueError(f"label_list: tag(s) {bad} do not belong to the {key} scheme, whose letters are "
                             f"{sorted(allowed)} (tags: {tags}); fix the tag set or pass the scheme it uses.")
        type_names = tuple(dict.fromkeys(t[2:] for t in tags if t != "O"))
        roles = tuple(O if t == "O" else allowed[t[0]] for t in tags)
        types = tuple(-1 if t == "O" else type_names.index(t[2:]) for t in tags)
        return cls(key, tuple(tags), roles, types, type_names)


@functools.lru_cache(maxsize=32)
def _tables(scheme: TagScheme, device: str) -> tuple[paddle.Tensor, paddle.Tensor]:
    """Role and type of each tag id, plus one O entry (id len(tags)) for unscored positions."""
    return (paddle.to_tensor(list(scheme.roles) + [O], dtype="int64"),
            paddle.to_tensor(list(scheme.types) + [-1], dtype="int64"))


def _ids(value: paddle.Tensor, shape: list, what: str) -> paddle.Tensor:
    if value.dtype in (paddle.float16, paddle.bfloat16, paddle.float32, paddle.float64) and len(value.shape) == 3:
        value = paddle.argmax(value, axis=-1)  # per-tag scores: take the best tag
    if int(value.numel()) != shape[0] * shape[1]:
        raise ValueError(f"chunk metrics: {what} has shape {list(value.shape)}, the labels {shape}; pass tag ids "
                         f"[N, T] for both.")
    return value.reshape(shape).astype("int64")


def _boundaries(ids: paddle.Tensor, roles: paddle.Tensor, types: paddle.Tensor) -> tuple:
    """Chunk starts, each position's type, and for each position the first chunk end at or after it."""
    n, width = ids.shape[0], ids.shape[1] - 2  # ids carry an O column on each side
    role, kind = roles[ids], types[ids]
    r_prev, r_cur, r_next = role[:, :-2], role[:, 1:-1], role[:, 2:]
    k_prev, k_cur, k_next = kind[:, :-2], kind[:, 1:-1], kind[:, 2:]
    inside = r_cur != O
    start = inside & ((r_cur == B) | (r_cur == S) | (k_prev != k_cur) | (r_prev == E) | (r_prev == S))
    end = inside & ((r_cur == E) | (r_cur == S) | (k_next != k_cur) | (r_next == B) | (r_next == S))
    position = paddle.arange(width, dtype="int64").unsqueeze(0).expand([n, width])
    end_at = paddle.where(end, position, paddle.full_like(position, width))
    next_end = paddle.flip(paddle.cummin(paddle.flip(end_at, [1]), axis=1)[0], [1])
    return start, k_cur, next_end


def chunk_counts(pred_ids: paddle.Tensor, label_ids: paddle.Tensor, seq_len: paddle.Tensor, scheme: TagScheme,
                 with_cls_sep: bool = True) -> paddle.Tensor:
    """[predicted chunks, labelled chunks, correct chunks] (int64) of a batch of tag ids [N, T]."""
    if len(label_ids.shape) < 2:
        raise ValueError(f"chunk metrics: label_ids has shape {list(label_ids.shape)}; pass tag ids [N, T].")
    n, t = int(label_ids.shape[0]), int(label_ids.shape[1])
    if n * t == 0:
        return paddle.zeros([3], dtype="int64")
    label = _ids(label_ids, [n, t], "label_ids")
    pred = _ids(pred_ids, [n, t], "pred_ids")
    lengths = seq_len.reshape([-1, 1]).astype("int64")
    if int(lengths.shape[0]) != n:
        raise ValueError(f"chunk metrics: seq_len has {lengths.shape[0]} entries for {n} sequences.")
    k = len(scheme.tags)
    roles, types = _tables(scheme, paddle.get_device())
    position = paddle.arange(t, dtype="int64").unsqueeze(0)
    scored = position < lengths
    if with_cls_sep:
        scored = scored & (position >= 1) & (position < lengths - 1)
    scored = scored & (label >= 0) & (label < k)
    outside = paddle.full_like(label, k)
    label = paddle.where(scored, label, outside)
    pred = paddle.where(scored & (pred >= 0) & (pred < k), pred, outside)
    edge = paddle.full([n, 1], k, dtype="int64")
    p_start, p_type, p_end = _boundaries(paddle.concat([edge, pred, edge], axis=1), roles, types)
    l_start, l_type, l_end = _boundaries(paddle.concat([edge, label, edge], axis=1), roles, types)
    correct = p_start & l_start & (p_type == l_type) & (p_end == l_end)
    return paddle.stack([p_start.astype("int64").sum(), l_start.astype("int64").sum(),
                         correct.astype("int64").sum()])


class ChunkMetric(HubMetric):
    """Keeps [predicted, labelled, correct] chunk counts; see the module docstring."""

    def __init__(self, name: str, label_list: Sequence[str], scheme: Optional[str] = None,
                 with_cls_sep: bool = True) -> None:
        self.scheme = TagScheme.from_labels(label_list, scheme)
        self.with_cls_sep = with_cls_sep
        super().__init__(name)

    def reset(self) -> None:
        self.counts: Any = None

    def compute(self, pred_ids: paddle.Tensor, label_ids: paddle.Tensor, seq_len: paddle.Tensor) -> paddle.Tensor:
        return chunk_counts(pred_ids, label_ids, seq_len, self.scheme, self.with_cls_sep)

    def update(self, counts: Any) -> None:
        self.counts = add(self.counts, counts)

    def statistics(self) -> tuple:
        return (self.counts,) if self.counts is not None else ()

    def _check_mergeable(self, other: "HubMetric") -> None:
        if (other.scheme, other.with_cls_sep) != (self.scheme, self.with_cls_sep):
            raise ValueError(f"cannot merge {self.name()} metrics over different tag sets or seq_len conventions")

    def precision_recall_f1(self) -> tuple[float, float, float]:
        """All three scores; 0 where a denominator is 0 (no predicted or no labelled chunks)."""
        if self.counts is None:
            return 0.0, 0.0, 0.0
        predicted, labelled, correct = host(self.counts, "int64")
        return (float(ratio(correct, predicted)), float(ratio(correct, labelled)),
                float(ratio(2 * correct, predicted + labelled)))


class ChunkPrecision(ChunkMetric):
    def __init__(self, label_list: Sequence[str], scheme: Optional[str] = None, with_cls_sep: bool = True,
                 name: str = "precision") -> None:
        super().__init__(name, label_list, scheme, with_cls_sep)

    def accumulate(self) -> float:
        return self.precision_recall_f1()[0]


class ChunkRecall(ChunkMetric):
    def __init__(self, label_list: Sequence[str], scheme: Optional[str] = None, with_cls_sep: bool = True,
                 name: str = "recall") -> None:
        super().__init__(name, label_list, scheme, with_cls_sep)

    def accumulate(self) -> float:
        return self.precision_recall_f1()[1]


class ChunkF1(ChunkMetric):
    def __init__(self, label_list: Sequence[str], scheme: Optional[str] = None, with_cls_sep: bool = True,
                 name: str = "f1") -> None:
        super().__init__(name, label_list, scheme, with_cls_sep)

    def accumulate(self) -> float:
        return self.precision_recall_f1()[2]
