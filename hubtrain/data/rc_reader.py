"""Reading comprehension (SQuAD-style): a question and a context -> windows of wordpieces over
the context, answer start/end positions as labels, and the mapping from each window's tokens
back to the context's characters so predicted spans become answer text."""
from __future__ import annotations

import bisect
import unicodedata
from dataclasses import dataclass
from typing import Any, Optional, Sequence

import numpy as np

from ..engine.report import log
from .example import InputExample
from .reader_base import EncodedDataset, PHASES
from .text_readers import TransformerReader, _text, _where
from .tokenization import is_cjk

__all__ = ["ReadingComprehensionReader", "RCFeature"]


@dataclass
class RCFeature:
    """One window of one question: model inputs, the answer's token positions in the window
    (0 and 0, the [CLS] token, when the answer is not inside it), and per token the (start, end)
    characters of the context it came from (None for the question and special tokens)."""

    example_index: int
    guid: Any
    window: int
    input_ids: np.ndarray
    segment_ids: np.ndarray
    start_position: int
    end_position: int
    token_spans: list
    context: str

    def answer_text(self, start: int, end: int) -> str:
        """The context text from token `start` to token `end` (inclusive); "" when the span is
        not inside the context part of this window."""
        spans = self.token_spans
        if not (0 <= start <= end < len(spans)) or spans[start] is None or spans[end] is None:
            return ""
        return self.context[spans[start][0]:spans[end][1]]

    def fields(self, with_labels: bool) -> tuple:
        n = len(self.input_ids)
        out = (self.input_ids, np.arange(n, dtype=np.int64), self.segment_ids, np.ones(n, dtype=np.int64))
        if with_labels:
            out += (np.asarray([self.start_position], dtype=np.int64), np.asarray([self.end_position], dtype=np.int64))
        return out


class _FeatureFields:
    """A picklable feature -> tuple of arrays for one phase."""

    def __init__(self, with_labels: bool) -> None:
        self.with_labels = with_labels

    def __call__(self, feature: RCFeature) -> tuple:
        return feature.fields(self.with_labels)


class ReadingComprehensionReader(TransformerReader):
    """Examples with text_a = question, text_b = context and label = {"text", "answer_start"}
    (SquadDataset's) -> one feature per window: the question (at most `max_query_length`
    pieces) then a slice of the context, windows starting `doc_stride` pieces apart until the
    context is covered. Fields: input_ids, position_ids, segment_ids, input_mask, then
    start_position and end_position (int64 [1]) unless predicting. A split's dataset rows are
    its features: `reader.get_dataset(phase).examples[i]` is the RCFeature of row i, with
    `answer_text(start, end)` for predicted positions. `max_seq_length` is PaddleHub's spelling
    of `max_seq_len`."""

    field_names = ("input_ids", "position_ids", "segment_ids", "input_mask", "start_position", "end_position")
    num_inputs = 4

    def __init__(self, dataset: Any = None, vocab_path: Optional[str] = None, max_seq_len: int = 384,
                 doc_stride: int = 128, max_query_length: int = 64, do_lower_case: bool = True,
                 sp_model_path: Optional[str] = None, word_dict_path: Optional[str] = None,
                 random_seed: Optional[int] = None, tokenizer: Any = None, in_tokens: bool = False,
                 max_seq_length: Optional[int] = None) -> None:
        if max_seq_length is not None:
            max_seq_len = max_seq_length
        super().__init__(dataset, vocab_path, max_seq_len, do_lower_case, sp_model_path, word_dict_path, random_seed,
                         tokenizer, in_tokens)
        if doc_stride < 1 or max_query_length < 1:
            raise ValueError(f"ReadingComprehensionReader: doc_stride={doc_stride} and max_query_length="
                             f"{max_query_length} should both be at least 1.")
        if max_query_length + 4 > self.max_seq_len:
            raise ValueError(f"ReadingComprehensionReader: max_query_length={max_query_length} leaves no room for the "
                             f"context in max_seq_len={self.max_seq_len}; lower it or raise max_seq_len.")
        self.doc_stride = int(doc_stride)
        self.max_query_length = int(max_query_length)

    # ---------------------------------------------------------------- datasets of features
    def get_dataset(self, phase: str) -> Optional[EncodedDataset]:
        phase = PHASES.get(phase, phase)
        if phase not in self._datasets:
            if self.dataset is None or not self.dataset.has_split(phase):
                return None
            self._datasets[phase] = self._build(self.dataset.get_examples(phase), phase)
        return self._datasets[phase]

    def examples_dataset(self, data: Sequence[Any]) -> EncodedDataset:
        return self._build([self._example_from_raw(item, i) for i, item in enumerate(data)], "predict")

    def _build(self, examples: Sequence[Any], phase: str) -> EncodedDataset:
        features: list = []
        outside = 0
        for index, example in enumerate(examples):
            made = self.features_of(example, index, with_answer=phase != "predict")
            outside += int(phase != "predict" and example.label is not None and all(f.start_position == 0 for f in made))
            features.extend(made)
        built = EncodedDataset(features, _FeatureFields(phase != "predict"), eager=False)
        if len(features) > len(examples) or outside:
            log("INFO", f"{phase}: {len(examples)} questions -> {len(features)} windows of max_seq_len="
                        f"{self.max_seq_len} (doc_stride={self.doc_stride}); {outside} answers fit in no window.")
        return built

    def features_of(self, example: Any, index: int = 0, with_answer: bool = True) -> list:
        """The windows of one example."""
        source = _where(example)
        question = _text(example.text_a, "text_a (the question)", source)
        context = _text(example.text_b, "text_b (the context)", source)
        query = self.tokenizer.tokenize(question)[:self.max_query_length]
        pieces, spans = self._context_pieces(context)
        answer = self._answer_pieces(example.label, spans, source) if with_answer else None
        room = self.max_seq_len - len(query) - 3
        offset = len(query) + 2
        query_ids = self.tokenizer.convert_tokens_to_ids(query)
        features, start = [], 0
        while True:
            length = min(len(pieces) - start, room)
            ids = [self.cls_id] + query_ids + [self.sep_id] + \
                self.tokenizer.convert_tokens_to_ids(pieces[start:start + length]) + [self.sep_id]
            segments = [0] * offset + [1] * (length + 1)
            token_spans = [None] * offset + spans[start:start + length] + [None]
            first, last = 0, 0
            if answer is not None and start <= answer[0] and answer[1] < start + length:
                first, last = answer[0] - start + offset, answer[1] - start + offset
            features.append(RCFeature(index, example.guid, len(features), np.asarray(ids, dtype=np.int64),
                                      np.asarray(segments, dtype=np.int64), first, last, token_spans, context))
            if start + length >= len(pieces):
                return features
            start += min(length, self.doc_stride)

    def _context_pieces(self, context: str) -> tuple:
        """The context's wordpieces and, per piece, the characters of the word it came from."""
        pieces, spans = [], []
        for begin, end in _words_with_spans(context):
            for piece in self.tokenizer.tokenize(context[begin:end]):
                pieces.append(piece)
                spans.append((begin, end))
        return pieces, spans

    @staticmethod
    def _answer_pieces(label: Any, spans: list, source: str) -> Optional[tuple]:
        """(first, last) piece of the answer, or None when there is none or it has no pieces."""
        if label is None:
            return None
        if not isinstance(label, dict) or "answer_start" not in label or "text" not in label:
            raise ValueError(f"{source}: a reading-comprehension label is {{'text': ..., 'answer_start': ...}} or "
                             f"None, found {label!r}.")
        begin = int(label["answer_start"])
        end = begin + len(label["text"])
        first = bisect.bisect_right([s[1] for s in spans], begin)  # first piece ending after the answer starts
        last = bisect.bisect_left([s[0] for s in spans], end) - 1  # last piece starting before it ends
        if first >= len(spans) or last < first:
            return None
        return first, last

    def _example_from_raw(self, item: Any, index: int) -> InputExample:
        """`[question, context]`, `{"question": ..., "context": ...}` or an InputExample."""
        if isinstance(item, InputExample):
            return item
        if isinstance(item, dict) and "question" in item and "context" in item:
            return InputExample(guid=item.get("id", index), text_a=item["question"], text_b=item["context"],
                                source=f"data[{index}]")
        if isinstance(item, (list, tuple)) and len(item) == 2:
            return InputExample(guid=index, text_a=item[0], text_b=item[1], source=f"data[{index}]")
        raise ValueError(f"data[{index}]: expected [question, context] or {{'question': ..., 'context': ...}}, "
                         f"found {item!r}.")


def _is_punctuation(char: str) -> bool:
    cp = ord(char)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(char).startswith("P")


def _words_with_spans(text: str) -> list:
    """(start, end) of each word as BERT-style tokenizers split text: at whitespace, with every
    punctuation mark and CJK character a word of its own."""
    words, start = [], None
    for i, char in enumerate(text):
        if char.isspace() or is_cjk(char) or _is_punctuation(char):
            if start is not None:
                words.append((start, i))
                start = None
            if not char.isspace():
                words.append((i, i + 1))
        elif start is None:
            start = i
    if start is not None:
        words.append((start, len(text)))
    return words
