"""LACClassifyReader: texts -> word ids for word-level modules (PaddleHub 1.x's reader for Senta).

    module = hub.Module(name="senta_bilstm")
    reader = hub.reader.LACClassifyReader(dataset=dataset, vocab_path=module.get_vocab_path())

As in PaddleHub 1.x, each text is cut into words and each word becomes its id in the module's word
vocabulary; words not in it are left out. Here the words come from jieba (hubtrain.data.words says
why not LAC). Fields per example: `words` (int64 [n]), `seq_len` (int64 scalar: n; batched [N])
and, unless predicting, `label` (int64 [1]). A batch pads `words` to its longest text with the
vocabulary's padding id. A text with no word in the vocabulary becomes the one unknown-word id
(PaddleHub 1.x dropped such an example with a warning); texts longer than `max_seq_len` words are
cut there. Both are counted in one log line per split.
"""
from __future__ import annotations

import logging
from typing import Any, Optional, Union

import numpy as np

from ..engine.report import log
from .example import InputExample, label_index, one_text_example
from .reader_base import BaseReader, EncodedDataset
from .tokenization import pad_stack
from .words import Segmenter, make_segmenter, read_word_vocab

__all__ = ["LACClassifyReader"]


class LACClassifyReader(BaseReader):
    """Single texts with a class label, as word ids. `segmenter`: "jieba" (default) or a function
    from a text to its words. `in_tokens` (batches counted in tokens) is not supported."""

    eager = True
    field_names = ("words", "seq_len", "label")
    num_inputs = 2

    def __init__(self, vocab_path: Optional[str] = None, dataset: Any = None, in_tokens: bool = False,
                 max_seq_len: int = 128, segmenter: Union[None, str, Segmenter] = None,
                 random_seed: Optional[int] = None) -> None:
        super().__init__(dataset)
        if in_tokens:
            raise ValueError("LACClassifyReader: in_tokens=True (batch size counted in tokens) is not supported; "
                             "leave it False and set the batch size in RunConfig.")
        if vocab_path is None:
            raise ValueError("LACClassifyReader: no word vocabulary: pass vocab_path=module.get_vocab_path() of a "
                             "word module (e.g. hub.Module(name='senta_bilstm')).")
        if not isinstance(max_seq_len, int) or isinstance(max_seq_len, bool) or max_seq_len < 1:
            raise ValueError(f"LACClassifyReader: max_seq_len={max_seq_len!r}: use a whole number of words >= 1.")
        self.vocab = read_word_vocab(vocab_path)
        self.vocab_path = vocab_path
        self.max_seq_len = max_seq_len
        self.random_seed = random_seed
        self.segmenter = make_segmenter(segmenter)
        self.pad_id = self.vocab.pad_id if self.vocab.pad_id is not None else 0
        self.unk_id = self.vocab.unk_id if self.vocab.unk_id is not None else self.pad_id
        self._noted: dict = {}
        self.truncation_counts: dict = {}

    # ---------------------------------------------------------------- encoding
    def word_ids(self, text: str) -> list:
        """The ids of the text's words that the vocabulary has."""
        ids = self.vocab.ids
        return [ids[w] for w in self.segmenter(text) if w in ids]

    def _encode(self, example: Any, phase: str) -> tuple:
        source = _where(example)
        if example.text_b is not None:
            raise ValueError(f"{source}: LACClassifyReader reads one text per example, but this one has a second "
                             f"text (text_b); for text pairs use ClassifyReader with a text module.")
        if not isinstance(example.text_a, str):
            raise TypeError(f"{source}: text_a should be a string, found {type(example.text_a).__name__} "
                            f"({example.text_a!r}).")
        ids = self.word_ids(example.text_a)
        if not ids:
            self._noted.setdefault((phase, "empty"), []).append(source)
            ids = [self.unk_id]
        elif len(ids) > self.max_seq_len:
            self._noted.setdefault((phase, "long"), []).append(source)
            ids = ids[:self.max_seq_len]
        fields = (np.asarray(ids, dtype=np.int64), np.asarray(len(ids), dtype=np.int64))
        if phase == "predict":
            return fields
        return fields + (np.asarray([label_index(example.label, self._label_map(), source)], dtype=np.int64),)

    def _example_from_raw(self, item: Any, index: int) -> InputExample:
        """`"text"` or `["text"]` (PaddleHub's predict data), or an InputExample."""
        return one_text_example(item, index)

    def _after_encoding(self, dataset: EncodedDataset, phase: str) -> None:
        """One log line per split for texts cut at max_seq_len, one for texts without a known word."""
        long, empty = self._noted.pop((phase, "long"), []), self._noted.pop((phase, "empty"), [])
        self.truncation_counts[phase] = len(long)
        total = len(dataset)
        if long:
            log("INFO", f"{phase} split: {len(long)} of {total} texts have more than max_seq_len={self.max_seq_len} "
                        f"known words and were cut there (first: {long[0]}).")
        if empty:
            log("WARNING", f"{phase} split: {len(empty)} of {total} texts have no word in the vocabulary "
                           f"{self.vocab_path} and are read as one unknown word (first: {empty[0]}).",
                logging.WARNING)

    # ---------------------------------------------------------------- batching
    def collate_fn(self, batch: Any) -> list:
        fields = list(zip(*batch))
        out = [pad_stack(fields[0], self.pad_id), np.stack(fields[1])]
        out += [np.stack(column) for column in fields[2:]]
        return out

    def __repr__(self) -> str:
        return (f"LACClassifyReader(vocab={self.vocab_path!r} ({len(self.vocab)} words), "
                f"segmenter={getattr(self.segmenter, 'name', self.segmenter)!r}, max_seq_len={self.max_seq_len})")


def _where(example: Any) -> str:
    source = getattr(example, "source", None)
    return source if source else f"example {getattr(example, 'guid', '?')}"
