"""Readers for Transformer text models (ERNIE/BERT-style): examples -> token ids, and the
collate that pads each batch to its own longest sequence.

Every reader yields, per example, int64 arrays of the example's own length n:
`input_ids` ([CLS] a [SEP] (b [SEP])), `position_ids` (0..n-1), `segment_ids` (0 for a, 1 for b),
`input_mask` (1), then its label field(s) unless the phase is "predict". `collate_fn` pads the
batch to its longest n (never to max_seq_len): input_ids with the tokenizer's pad id, segment
ids and mask with 0, and position ids keep counting (0..longest-1 on every row; the mask hides
the pads). Splits are encoded once, when first asked for (`eager`), so truncations are counted
once per split and logged as one line."""
from __future__ import annotations

import math
from typing import Any, Optional

import numpy as np

from ..engine.report import log
from .example import InputExample, LabelError, label_index, one_text_example
from .nlp import TOKEN_SEPARATOR, float_label
from .reader_base import BaseReader, EncodedDataset
from .tokenization import load_tokenizer, pad_stack, tokenize_capped, truncate_pair

__all__ = ["ClassifyReader", "MultiLabelClassifyReader", "RegressionReader", "SequenceLabelReader",
           "TransformerReader"]

_RANGE = "range"  # collate pads this field with continuing positions


class TransformerReader(BaseReader):
    """What the text readers share: the tokenizer, [CLS]/[SEP] framing, truncation counting, padding.

    The tokenizer is `tokenizer` when given, else the one saved beside `vocab_path`
    (tokenizer_config.json, read by paddlenlp's AutoTokenizer), else, with `sp_model_path` and
    `word_dict_path` (ERNIE Tiny's files: `module.get_spm_path()`, `module.get_word_dict_path()`,
    None for other modules, when they change nothing), PaddleHub 1.x's tokenizer over them, else a
    BertTokenizer over the vocab file. `reader.label_map` is `{label: id}`. `in_tokens` (batches
    counted in tokens) is not supported."""

    eager = True
    field_names = ("input_ids", "position_ids", "segment_ids", "input_mask", "label")
    num_inputs = 4
    sp_kind = "segmenting"  # the tokenizer ERNIE Tiny's files make (hubtrain.data.sp_tokenizers)

    def __init__(self, dataset: Any = None, vocab_path: Optional[str] = None, max_seq_len: int = 128,
                 do_lower_case: bool = True, sp_model_path: Optional[str] = None,
                 word_dict_path: Optional[str] = None, random_seed: Optional[int] = None, tokenizer: Any = None,
                 in_tokens: bool = False) -> None:
        super().__init__(dataset)
        name = type(self).__name__
        if in_tokens:
            raise ValueError(f"{name}: in_tokens=True (batch size counted in tokens) is not supported; leave it "
                             f"False and set the batch size in RunConfig.")
        if int(max_seq_len) < 3:
            raise ValueError(f"{name}: max_seq_len={max_seq_len} leaves no room for text besides [CLS] and [SEP]; "
                             f"use 128 or so (at most the model's 512).")
        self.max_seq_len = int(max_seq_len)
        self.random_seed = random_seed
        self.tokenizer = load_tokenizer(vocab_path, do_lower_case, tokenizer, sp_model_path, word_dict_path, name,
                                        self.sp_kind)
        self.vocab_path = vocab_path
        self.pad_id = _token_id(self.tokenizer, "pad_token_id", 0)
        self.cls_id = _token_id(self.tokenizer, "cls_token_id", None)
        self.sep_id = _token_id(self.tokenizer, "sep_token_id", None)
        self.unk_token = getattr(self.tokenizer, "unk_token", "[UNK]")
        # Position ids, single-text segment ids and masks are slices of these (read-only) arrays, so
        # an encoded split holds real memory only for its token ids.
        self._positions, self._zeros, self._ones = (_frozen(np.arange(self.max_seq_len, dtype=np.int64)),
                                                    _frozen(np.zeros(self.max_seq_len, dtype=np.int64)),
                                                    _frozen(np.ones(self.max_seq_len, dtype=np.int64)))
        self._truncated: dict = {}
        self.truncation_counts: dict = {}

    # ---------------------------------------------------------------- encoding
    def _encode(self, example: Any, phase: str) -> tuple:
        ids, segments = self._token_ids(example, phase)
        n = len(ids)
        segments = np.asarray(segments, dtype=np.int64) if example.text_b is not None else self._zeros[:n]
        fields = (np.asarray(ids, dtype=np.int64), self._positions[:n], segments, self._ones[:n])
        if phase == "predict":
            return fields
        return fields + self._label_fields(example)

    def _token_ids(self, example: Any, phase: str) -> tuple:
        """[CLS] a [SEP] (b [SEP]) ids and segment ids, truncated longest-first to max_seq_len."""
        source = _where(example)
        has_b = example.text_b is not None
        budget = self.max_seq_len - (3 if has_b else 2)
        a = tokenize_capped(self.tokenizer, _text(example.text_a, "text_a", source), budget)
        b = tokenize_capped(self.tokenizer, _text(example.text_b, "text_b", source), budget) if has_b else []
        len_a, len_b = truncate_pair(len(a), len(b), budget) if has_b else (min(len(a), budget), 0)
        if len_a < len(a) or len_b < len(b):
            self._truncated.setdefault(phase, []).append(source)
        ids = [self.cls_id] + self.tokenizer.convert_tokens_to_ids(a[:len_a]) + [self.sep_id]
        segments = [0] * len(ids)
        if has_b:
            ids += self.tokenizer.convert_tokens_to_ids(b[:len_b]) + [self.sep_id]
            segments += [1] * (len_b + 1)
        return ids, segments

    def _label_fields(self, example: Any) -> tuple:
        return (np.asarray([label_index(example.label, self._label_map(), _where(example))], dtype=np.int64),)

    def _example_from_raw(self, item: Any, index: int) -> InputExample:
        """`"text"`, `["text"]` or `["text_a", "text_b"]` (PaddleHub's predict data), or an InputExample."""
        if isinstance(item, InputExample):
            return item
        if isinstance(item, str):
            return InputExample(guid=index, text_a=item, source=f"data[{index}]")
        if isinstance(item, (list, tuple)) and len(item) in (1, 2) and all(isinstance(t, str) for t in item):
            return InputExample(guid=index, text_a=item[0], text_b=item[1] if len(item) == 2 else None,
                                source=f"data[{index}]")
        raise ValueError(f"data[{index}]: expected \"text\", [\"text\"] or [\"text_a\", \"text_b\"], found {item!r}.")

    def _after_encoding(self, dataset: EncodedDataset, phase: str) -> None:
        """One log line per split naming the file, how many examples were truncated, and the first."""
        sources = self._truncated.pop(phase, [])
        self.truncation_counts[phase] = len(sources)
        if not sources:
            return
        total, first = len(dataset), sources[0]
        files = {s.rsplit(":", 1)[0] for s in sources if ":" in s}
        if len(files) == 1 and first.rsplit(":", 1)[-1].isdigit():
            file, line = first.rsplit(":", 1)
            where, at = file, f"first at line {line}"
        else:
            where, at = f"{phase} split", f"first: {first}"
        log("INFO", f"{where}: {len(sources)} of {total} examples are longer than max_seq_len={self.max_seq_len} "
                    f"and were truncated ({at}).")

    # ---------------------------------------------------------------- batching
    def _padding(self) -> tuple:
        """Per field: the pad value, _RANGE for continuing positions, or None to stack as is."""
        return (self.pad_id, _RANGE, 0, 0)

    def collate_fn(self, batch: Any) -> list:
        fields = list(zip(*batch))
        padding = self._padding()
        out = []
        for i, column in enumerate(fields):
            pad = padding[i] if i < len(padding) else None
            if pad is None:
                out.append(np.stack(column))
            elif pad == _RANGE:
                longest = max(len(a) for a in column)
                out.append(np.tile(np.arange(longest, dtype=column[0].dtype), (len(column), 1)))
            else:
                out.append(pad_stack(column, pad))
        return out


class ClassifyReader(TransformerReader):
    """Single texts or pairs with a class label: label is int64 [1] (the label's index in the
    dataset's label_list); batched [N, 1]."""


class MultiLabelClassifyReader(TransformerReader):
    """Multi-label examples: label is float32 [num_labels] of 0/1 (ready for a sigmoid
    cross-entropy; cast for AUC). An example's label may be 0/1 flags in label_list order or a
    list of label names."""

    label_dtype = np.float32

    def _label_fields(self, example: Any) -> tuple:
        labels = self.dataset.get_labels() if self.dataset is not None else []
        value, source = example.label, _where(example)
        if not isinstance(value, (list, tuple, np.ndarray)):
            raise LabelError(f"{source}: a multi-label example's label is a list of 0/1 flags or of label names, "
                             f"found {value!r}.")
        flags = list(value)
        if flags and all(isinstance(v, str) for v in flags) and not all(v in ("0", "1") for v in flags):
            chosen = {label_index(name, self._label_map(), source) for name in flags}
            flags = [int(i in chosen) for i in range(len(labels))]
        if len(flags) != len(labels) or any(float(v) not in (0.0, 1.0) for v in flags):
            raise LabelError(f"{source}: label {value!r} should be {len(labels)} flags of 0/1, one per label "
                             f"({', '.join(map(str, labels))}).")
        return (np.asarray([float(v) for v in flags], dtype=self.label_dtype),)


class RegressionReader(TransformerReader):
    """Examples with a number as label: float32 [1]; batched [N, 1]."""

    def _label_fields(self, example: Any) -> tuple:
        value = example.label
        if isinstance(value, (int, float, np.number)) and not isinstance(value, bool) and math.isfinite(value):
            number = float(value)
        else:
            number = float_label(str(value), _where(example))
        return (np.asarray([number], dtype=np.float32),)


class SequenceLabelReader(TransformerReader):
    """Token-level labels (NER). An example's text_a is a list of tokens (a string is split on
    "\\x02" when it holds one, else into the tokenizer's words; Chinese gives one per
    character) and its label the list of tags, one per token.

    Each token becomes its wordpieces (an empty one becomes [UNK], so tokens and pieces stay
    aligned; a Chinese character is one piece); the first piece carries the token's tag, further
    pieces its inside tag (B-X -> I-X, or M-X for BMES tag sets; others repeat). Fields:
    input_ids, position_ids, segment_ids, input_mask, seq_len (int64 scalar: real pieces
    including [CLS] and [SEP]; batched [N]), then label (int64 [n]; [CLS], [SEP] and padding
    hold `label_pad_value`, by default the id of "O" as in PaddleHub; pass -100 to have a loss
    ignore them)."""

    field_names = ("input_ids", "position_ids", "segment_ids", "input_mask", "seq_len", "label")
    num_inputs = 5
    sp_kind = "vocab_pieces"  # how PaddleHub 1.x tokenized for sequence labelling with ERNIE Tiny's files

    def __init__(self, dataset: Any = None, vocab_path: Optional[str] = None, max_seq_len: int = 128,
                 do_lower_case: bool = True, sp_model_path: Optional[str] = None,
                 word_dict_path: Optional[str] = None, random_seed: Optional[int] = None, tokenizer: Any = None,
                 in_tokens: bool = False, label_pad_value: Optional[int] = None) -> None:
        super().__init__(dataset, vocab_path, max_seq_len, do_lower_case, sp_model_path, word_dict_path, random_seed,
                         tokenizer, in_tokens)
        self._label_pad_value = label_pad_value
        self._pieces: dict = {}  # token -> its wordpieces: a Chinese corpus repeats a few thousand characters

    @property
    def label_pad_value(self) -> int:
        if self._label_pad_value is not None:
            return self._label_pad_value
        labels = self.dataset.get_labels() if self.dataset is not None else []
        if "O" in labels:
            return labels.index("O")
        raise ValueError(f"{type(self).__name__}: the label list has no 'O' tag to put on [CLS], [SEP] and padding; "
                         f"pass label_pad_value=... (e.g. -100 for a loss that ignores it).")

    def _encode(self, example: Any, phase: str) -> tuple:
        source = _where(example)
        words = self._words(example.text_a, source)
        tags = None if phase == "predict" else self._tags(example, words, source)
        pieces, piece_tags = [], []
        for i, word in enumerate(words):
            sub = self._pieces_of(word)
            pieces.extend(sub)
            if tags is not None:
                piece_tags.append(tags[i])
                piece_tags.extend([self._inside(tags[i])] * (len(sub) - 1))
        budget = self.max_seq_len - 2
        if len(pieces) > budget:
            self._truncated.setdefault(phase, []).append(source)
            pieces, piece_tags = pieces[:budget], piece_tags[:budget]
        ids = [self.cls_id] + self.tokenizer.convert_tokens_to_ids(pieces) + [self.sep_id]
        n = len(ids)
        fields = (np.asarray(ids, dtype=np.int64), self._positions[:n], self._zeros[:n], self._ones[:n],
                  np.asarray(n, dtype=np.int64))
        if tags is None:
            return fields
        pad = self.label_pad_value
        return fields + (np.asarray([pad] + piece_tags + [pad], dtype=np.int64),)

    def _pieces_of(self, word: str) -> list:
        sub = self._pieces.get(word)
        if sub is None:
            sub = self.tokenizer.tokenize(word) or [self.unk_token]
            if len(self._pieces) < 200_000:
                self._pieces[word] = sub
        return sub

    def _words(self, text: Any, source: str) -> list:
        if isinstance(text, (list, tuple)) and all(isinstance(t, str) for t in text):
            return list(text)
        text = _text(text, "text_a", source)
        if TOKEN_SEPARATOR in text:
            return [t for t in text.split(TOKEN_SEPARATOR) if t != ""]
        basic = getattr(self.tokenizer, "basic_tokenizer", None)
        return basic.tokenize(text) if basic is not None else list(text)

    def _tags(self, example: Any, words: list, source: str) -> list:
        tags = example.label
        if isinstance(tags, str):
            tags = [t for t in tags.split(TOKEN_SEPARATOR) if t != ""]
        if not isinstance(tags, (list, tuple)) or len(tags) != len(words):
            found = len(tags) if isinstance(tags, (list, tuple)) else repr(tags)
            raise LabelError(f"{source}: {len(words)} tokens but {found} tags; give one tag per token.")
        lookup = self._label_map()
        return [label_index(tag, lookup, source) for tag in tags]

    def _inside(self, tag_id: int) -> int:
        labels = self.dataset.get_labels() if self.dataset is not None else []
        tag = str(labels[tag_id]) if 0 <= tag_id < len(labels) else ""
        if tag[:2] in ("B-", "S-"):
            for prefix in ("I-", "M-"):
                if prefix + tag[2:] in labels:
                    return labels.index(prefix + tag[2:])
        return tag_id

    def _padding(self) -> tuple:
        return (self.pad_id, _RANGE, 0, 0, None, self.label_pad_value)

    def _example_from_raw(self, item: Any, index: int) -> InputExample:
        """`"text"` or `["text"]` (tokens joined by "\\x02", or plain text), or an InputExample."""
        return one_text_example(item, index, '"text" or ["text"] (tokens may be joined by "\\x02")')


def _frozen(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)
    return array


def _token_id(tokenizer: Any, name: str, default: Optional[int]) -> int:
    value = getattr(tokenizer, name, None)
    if value is None:
        if default is None:
            raise ValueError(f"the tokenizer {type(tokenizer).__name__} has no {name}; use a BERT/ERNIE-style "
                             f"tokenizer with [CLS], [SEP] and [PAD] tokens.")
        return default
    return int(value)


def _where(example: Any) -> str:
    source = getattr(example, "source", None)
    return source if source else f"example {getattr(example, 'guid', '?')}"


def _text(value: Any, name: str, source: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{source}: {name} should be a string, found {type(value).__name__} ({value!r}).")
    return value
