"""PaddleHub 1.8's tokenized datasets: a dataset built with `tokenizer=` (and `max_seq_len=`)
encodes each split, when first asked, into records: the dict `tokenizer.encode(text_a, text_b,
max_seq_len)` returns, plus "label" (the label's index in label_list; a float for regression;
0/1 flags for multi-label; a tag id per token for sequence labelling). `get_train_records()`,
`get_records(phase)`, `get_feed_list(phase)` and `batch_records_generator(...)` give them as
PaddleHub 1.8 did. A task given such a dataset reads the records through data/record_reader.py.
"""
from __future__ import annotations

from typing import Any, Iterator, Optional, Sequence

import numpy as np

from ..engine.report import log
from .base import PHASES
from .example import LabelError, label_index

__all__ = ["TokenizedRecords", "sequence_label_records", "record_fields", "record_length", "TOKEN_FIELDS",
           "RECORD_KEYS", "TEXT_DEFAULTS", "DEFAULT_MAX_SEQ_LEN"]

DEFAULT_MAX_SEQ_LEN = 128
# a text backbone's inputs a record may leave out, and their values for n real tokens
TEXT_DEFAULTS = {
    "position_ids": lambda n: np.arange(n, dtype=np.int64),
    "segment_ids": lambda n: np.zeros(n, dtype=np.int64),
    "input_mask": lambda n: np.ones(n, dtype=np.int64),
}
TOKEN_FIELDS = ("input_ids", "position_ids", "segment_ids", "input_mask", "text", "words")
# an input name -> the record key that feeds it when the record has no key of that name: hubtrain's
# word modules call their input "words", PaddleHub 1.8's CustomTokenizer called it "text"
RECORD_KEYS = {"words": "text"}


class TokenizedRecords:
    """What a dataset adds when built with a tokenizer (mixed into BaseNLPDataset and the
    in-memory text datasets). Records are encoded once per split and kept."""

    tokenizer: Any = None
    max_seq_len: int = DEFAULT_MAX_SEQ_LEN

    def _use_tokenizer(self, tokenizer: Any, max_seq_len: Optional[int]) -> None:
        owner = type(self).__name__
        if tokenizer is not None and not all(callable(getattr(tokenizer, m, None)) for m in ("encode", "tokenize")):
            raise TypeError(f"{owner}: tokenizer={tokenizer!r:.60} has no encode() and tokenize(); pass "
                            f"hub.BertTokenizer(vocab_file=...), hub.ErnieTinyTokenizer(...) or "
                            f"hub.CustomTokenizer(...).")
        if max_seq_len is None:
            max_seq_len = DEFAULT_MAX_SEQ_LEN
        if not isinstance(max_seq_len, int) or isinstance(max_seq_len, bool) or max_seq_len < 3:
            raise ValueError(f"{owner}: max_seq_len={max_seq_len!r} should be a whole number of tokens, e.g. 128 (at "
                             f"most the model's 512).")
        self.tokenizer, self.max_seq_len = tokenizer, max_seq_len
        self._records: dict = {}

    # ---------------------------------------------------------------- PaddleHub 1.8's records
    def get_records(self, phase: str, shuffle: bool = False) -> list[dict]:
        """The split's records ([] without a tokenizer or without the split); `shuffle` gives them
        in a random order (numpy's global generator, as PaddleHub 1.8), the kept order unchanged."""
        split = PHASES.get(phase)
        if split is None:
            raise ValueError(f"get_records(phase={phase!r}): choose train, dev (or val), test or predict.")
        examples = self.get_examples(split)
        if self.tokenizer is None or not examples:
            return []
        kept = self._records.get(split)
        if kept is None or kept[0] is not examples:  # a copy (few_shot) may hold other examples
            log("INFO", f"{type(self).__name__}: encoding the {split} split with {type(self.tokenizer).__name__} "
                        f"(max_seq_len={self.max_seq_len})")
            kept = (examples, self._convert_examples_to_records(examples, split))
            self._records[split] = kept
        records = kept[1]
        if shuffle:
            return [records[i] for i in np.random.permutation(len(records))]
        return records

    @property
    def train_records(self) -> list[dict]:
        return self.get_records("train")

    @property
    def dev_records(self) -> list[dict]:
        return self.get_records("dev")

    @property
    def test_records(self) -> list[dict]:
        return self.get_records("test")

    @property
    def predict_records(self) -> list[dict]:
        return self.get_records("predict")

    def get_train_records(self, shuffle: bool = False) -> list[dict]:
        return self.get_records("train", shuffle)

    def get_dev_records(self, shuffle: bool = False) -> list[dict]:
        return self.get_records("dev", shuffle)

    def get_val_records(self, shuffle: bool = False) -> list[dict]:
        return self.get_records("dev", shuffle)

    def get_test_records(self, shuffle: bool = False) -> list[dict]:
        return self.get_records("test", shuffle)

    def get_predict_records(self, shuffle: bool = False) -> list[dict]:
        return self.get_records("predict", shuffle)

    def get_feed_list(self, phase: str) -> list[str]:
        """The keys of the split's records (what PaddleHub 1.8 fed by name)."""
        records = self.get_records(phase)
        return list(records[0]) if records else []

    def batch_records_generator(self, phase: str, batch_size: int, shuffle: bool = True,
                                pad_to_batch_max_seq_len: bool = False) -> Iterator[dict]:
        """Batches as {key: [value per record]}; `pad_to_batch_max_seq_len` cuts the lists that run
        along the tokens (the padded length long) to the batch's longest record, leaving other
        lists (multi-label flags) and the records themselves as they are."""
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_records_generator(batch_size={batch_size!r}): use a whole number >= 1.")
        records = self.get_records(phase, shuffle=shuffle)
        for start in range(0, len(records), batch_size):
            batch = records[start:start + batch_size]
            if pad_to_batch_max_seq_len:
                longest = max(record_length(r) for r in batch)
                batch = [_cut_token_lists(r, longest) for r in batch]
            yield {key: [r[key] for r in batch] for key in batch[0]}

    # ---------------------------------------------------------------- encoding, for subclasses
    def _convert_examples_to_records(self, examples: Sequence[Any], phase: str) -> list[dict]:
        """One record per example: `tokenizer.encode(text_a, text_b, max_seq_len)` and its label.
        An example the tokenizer gives nothing for (CustomTokenizer: no known word) is left out."""
        records, dropped = [], []
        for example in examples:
            record = self.tokenizer.encode(text=example.text_a, text_pair=example.text_b, max_seq_len=self.max_seq_len)
            if not record:
                dropped.append(example)
                continue
            if phase != "predict" and example.label is not None:
                record["label"] = self._record_label(example)
            records.append(record)
        if dropped:
            first = getattr(dropped[0], "source", None) or repr(dropped[0].text_a)[:60]
            log("INFO", f"{type(self).__name__}: {len(dropped)} {phase} example(s) left out: none of their words is "
                        f"in the tokenizer's vocabulary (first: {first})")
        return records

    def _record_label(self, example: Any) -> Any:
        label = example.label
        if isinstance(label, (list, tuple)):  # multi-label flags
            return [int(v) for v in label]
        if isinstance(label, float) or not self.get_labels():  # a regression target
            return float(label)
        return label_index(label, self.label_map, getattr(example, "source", None))


def _inside(tag: str, labels: Sequence[str]) -> str:
    """The tag of a token's further pieces: B-X (or S-X) -> I-X, or M-X for BMES tag sets."""
    if tag[:2] in ("B-", "S-"):
        for prefix in ("I-", "M-"):
            if prefix + tag[2:] in labels:
                return prefix + tag[2:]
    return tag


def sequence_label_records(dataset: Any, examples: Sequence[Any], phase: str, outside: str = "O") -> list[dict]:
    """PaddleHub 1.8's sequence-labelling records: each token becomes the tokenizer's pieces (a
    token with none is left out), the first piece carrying its tag and the others its inside tag;
    `encode(pieces)`, and "label" holds a tag id per position, `outside` on [CLS], [SEP] and
    padding."""
    labels = [str(t) for t in dataset.get_labels()]
    lookup = {tag: i for i, tag in enumerate(labels)}
    labelled = phase != "predict"
    if labelled and outside not in lookup:
        raise LabelError(f"{type(dataset).__name__}: the tag set ({', '.join(labels)}) has no {outside!r} for [CLS], "
                         f"[SEP] and padding; add it to label_list.")
    records = []
    for example in examples:
        tags = example.label if labelled and example.label is not None else None
        pieces, piece_tags = [], []
        for i, token in enumerate(example.text_a):
            sub = dataset.tokenizer.tokenize(token)
            pieces.extend(sub)
            if tags is not None and sub:
                tag = str(tags[i])
                piece_tags += [tag] + [_inside(tag, labels)] * (len(sub) - 1)
        record = dataset.tokenizer.encode(text=pieces, max_seq_len=dataset.max_seq_len)
        if tags is not None:
            n = record_length(record)
            kept = [label_index(tag, lookup, getattr(example, "source", None)) for tag in piece_tags[:n - 2]]
            other = lookup[outside]
            record["label"] = [other] + kept + [other] * (len(record["input_ids"]) - len(kept) - 1)
        records.append(record)
    return records


def _cut_token_lists(record: dict, length: int) -> dict:
    """A copy of `record` whose token-long lists are cut to `length`."""
    padded = next((len(record[k]) for k in TOKEN_FIELDS if isinstance(record.get(k), list)), None)
    return {k: v[:length] if isinstance(v, list) and len(v) == padded else v for k, v in record.items()}


def record_length(record: dict) -> int:
    """The record's real tokens: its seq_len, else its longest list."""
    if "seq_len" in record:
        return int(np.asarray(record["seq_len"]).reshape(-1)[0])
    return max((len(v) for v in record.values() if isinstance(v, (list, np.ndarray)) and np.ndim(v) == 1), default=0)


def record_fields(record: dict, input_names: Sequence[str], where: str) -> list[np.ndarray]:
    """A record's input fields by name (`RECORD_KEYS` for a name it lacks), token fields cut to
    its seq_len (int64 arrays). A text backbone's `position_ids`, `segment_ids` and `input_mask`
    left out take their values for the record's own tokens (0..n-1, zeros, ones)."""
    if not isinstance(record, dict):
        raise TypeError(f"{where}: expected a record (the dict tokenizer.encode returns), got {type(record).__name__}.")
    keys = [name if name in record else RECORD_KEYS.get(name, name) for name in input_names]
    missing = [name for name, key in zip(input_names, keys) if key not in record and name not in TEXT_DEFAULTS]
    if missing:
        raise ValueError(f"{where}: the record has no {', '.join(repr(m) for m in missing)} (it has "
                         f"{', '.join(map(str, record)) or 'nothing'}); the network takes {', '.join(input_names)}: "
                         f"give every record those keys, e.g. from the tokenizer's encode().")
    n = record_length(record)
    fields = []
    for name, key in zip(input_names, keys):
        if key not in record:
            fields.append(TEXT_DEFAULTS[name](n))
        elif name in TOKEN_FIELDS:
            fields.append(np.asarray(record[key][:n], dtype=np.int64))
        else:
            fields.append(np.asarray(record[key], dtype=np.int64))
    return fields
