"""The reader a task makes of a tokenized dataset (PaddleHub 1.8's `Task(dataset=...)`): each
record becomes the network's input fields by name (input_ids, position_ids, segment_ids,
input_mask, and seq_len for a sequence labeller; a word module's `words` and `seq_len` from a
CustomTokenizer's `text` and `seq_len`), cut to its `seq_len`, and each batch is padded to its
own longest record as hubtrain's readers pad, never to max_seq_len. For a [CLS]/[SEP] tokenizer
the reader is a TransformerReader, so the task exports with the tokenizer and predicts raw texts
as a reader-built one does."""
from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np

from .base import PHASES
from .example import InputExample, LabelError, one_text_example
from .reader_base import BaseReader, EncodedDataset
from .records import record_fields, record_length
from .text_readers import TransformerReader
from .tokenization import pad_stack

__all__ = ["RecordReader", "TransformerRecordReader", "WordRecordReader", "record_reader"]

_PADDED_WITH_ID = ("input_ids", "text", "words")


def record_reader(dataset: Any) -> BaseReader:
    """The reader for `dataset`, built with a tokenizer; an error naming the fix otherwise."""
    tokenizer = getattr(dataset, "tokenizer", None)
    if not hasattr(dataset, "get_records") or tokenizer is None:
        raise ValueError(f"dataset={type(dataset).__name__}: a task reads a dataset built with a tokenizer, e.g. "
                         f"hub.dataset.ChnSentiCorp(tokenizer=hub.BertTokenizer(vocab_file=module."
                         f"get_vocab_path()), max_seq_len=128); or pass data_reader=hub.reader.ClassifyReader("
                         f"dataset=..., vocab_path=...) instead.")
    if getattr(tokenizer, "cls_token_id", None) is None or getattr(tokenizer, "sep_token_id", None) is None:
        return WordRecordReader(dataset)
    return TransformerRecordReader(dataset)


def _numpy_dtype(dtype: Any) -> str:
    from paddle.base.data_feeder import convert_dtype

    return convert_dtype(dtype)


class RecordReader:
    """What both record readers do (a task built with `dataset=` has one as its data_reader). The
    task tells the reader, once its network is built, which inputs the network takes and the
    label specs (`bind`); raw texts given to predict are encoded with the dataset's tokenizer."""

    dataset: Any
    tokenizer: Any
    max_seq_len: int
    pad_id: int
    _datasets: dict

    def bind(self, input_names: Sequence[str], label_specs: Sequence[Any]) -> None:
        """The network's input names and the task's label specs (paddle InputSpecs)."""
        self.input_names = list(input_names)
        self.label_specs = list(label_specs)
        self.field_names = tuple(self.input_names) + tuple(spec.name for spec in self.label_specs)
        self.num_inputs = len(self.input_names)
        self._datasets.clear()

    def _unbound(self) -> None:
        """No network yet: `bind` names its inputs."""
        self.input_names: list[str] = []
        self.label_specs: list = []

    # ---------------------------------------------------------------- splits
    def get_dataset(self, phase: str) -> Optional[EncodedDataset]:
        phase = PHASES.get(phase, phase)
        if phase not in self._datasets:
            if not self.dataset.has_split(phase):
                return None
            self._datasets[phase] = EncodedDataset(self.dataset.get_records(phase), _RecordEncoder(self, phase),
                                                   eager=True)
        return self._datasets[phase]

    def examples_dataset(self, data: Sequence[Any]) -> EncodedDataset:
        """Predict data: records (tokenizer.encode's dicts), or texts ("text", ["text"], ["a", "b"])
        encoded with the dataset's tokenizer."""
        records = [item if isinstance(item, dict) else self._record_of(item, i) for i, item in enumerate(data)]
        return EncodedDataset(records, _RecordEncoder(self, "predict"), eager=True)

    def _record_of(self, item: Any, index: int) -> dict:
        example = self._example_from_raw(item, index)
        record = self.tokenizer.encode(text=example.text_a, text_pair=example.text_b, max_seq_len=self.max_seq_len)
        if not record:
            raise ValueError(f"data[{index}]: the tokenizer gives nothing for {example.text_a!r} (no word of it is in "
                             f"the vocabulary).")
        return record

    def fields(self, record: dict, phase: str, where: str) -> tuple:
        """A record as the network's input fields, then (unless predicting) its label fields."""
        fields = record_fields(record, self.input_names, where)
        if phase == "predict":
            return tuple(fields)
        n = record_length(record)
        for spec in self.label_specs:
            if spec.name not in record:
                raise LabelError(f"{where}: the {phase} record has no {spec.name!r} (it has {', '.join(record)}); a "
                                 f"labelled split's examples need labels.")
            shape = [None if d is None or d < 0 else int(d) for d in spec.shape[1:]]
            value = record[spec.name]
            if shape == [None]:  # one label per token
                fields.append(np.asarray(value[:n], dtype=_numpy_dtype(spec.dtype)))
            else:
                value = np.asarray(value, dtype=_numpy_dtype(spec.dtype))
                fields.append(value.reshape([-1 if d is None else d for d in shape]))
        return tuple(fields)

    # ---------------------------------------------------------------- batching
    def collate_fn(self, batch: Any) -> list:
        out = []
        for name, column in zip(self.field_names, zip(*batch)):
            if name == "position_ids":  # 0..longest-1 on every row, as the readers pad
                longest = max(len(a) for a in column)
                out.append(np.tile(np.arange(longest, dtype=np.int64), (len(column), 1)))
            elif name in _PADDED_WITH_ID:
                out.append(pad_stack(column, self.pad_id))
            elif name in ("segment_ids", "input_mask"):
                out.append(pad_stack(column, 0))
            elif self._per_token(name):
                out.append(pad_stack(column, self._label_pad()))
            else:
                out.append(np.stack(column))
        return out

    def _per_token(self, name: str) -> bool:
        spec = next((s for s in self.label_specs if s.name == name), None)
        return spec is not None and len(spec.shape) == 2 and spec.shape[1] in (None, -1)

    def _label_pad(self) -> int:
        labels = self.dataset.get_labels() if hasattr(self.dataset, "get_labels") else []
        return labels.index("O") if "O" in labels else 0


class TransformerRecordReader(RecordReader, TransformerReader):
    """Records of a [CLS]/[SEP] tokenizer (hub.BertTokenizer, hub.ErnieTinyTokenizer)."""

    def __init__(self, dataset: Any) -> None:
        TransformerReader.__init__(self, dataset=dataset, max_seq_len=dataset.max_seq_len,
                                   tokenizer=dataset.tokenizer)
        self._unbound()


class WordRecordReader(RecordReader, BaseReader):
    """Records of a word tokenizer (hub.CustomTokenizer: `text`, `seq_len`) for a word module,
    whose input `words` takes the record's `text`."""

    eager = True

    def __init__(self, dataset: Any) -> None:
        BaseReader.__init__(self, dataset)
        self.tokenizer, self.max_seq_len = dataset.tokenizer, dataset.max_seq_len
        self.pad_id = int(getattr(self.tokenizer, "pad_token_id", 0) or 0)
        self._unbound()

    def _example_from_raw(self, item: Any, index: int) -> InputExample:
        return one_text_example(item, index, '"text", ["text"] or a record')


class _RecordEncoder:
    """A picklable record -> fields for one phase (DataLoader workers may pickle it)."""

    def __init__(self, reader: RecordReader, phase: str) -> None:
        self.reader, self.phase = reader, phase

    def __call__(self, record: dict) -> tuple:
        return self.reader.fields(record, self.phase, f"{self.phase} record")
