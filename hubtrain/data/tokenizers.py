"""PaddleHub 1.8's tokenizers: `hub.BertTokenizer`, `hub.ErnieTinyTokenizer`, `hub.CustomTokenizer`.

`encode(text, text_pair=None, max_seq_len=None, ...)` returns the dict PaddleHub 1.8 returned.
For BertTokenizer and ErnieTinyTokenizer, in this key order:
`input_ids` ([CLS] a [SEP] (b [SEP])), `segment_ids`, (`special_tokens_mask`), `seq_len` (the
length before padding), `input_mask`, `position_ids`; with `max_seq_len` the pair is truncated
longest first and, by default (`pad_to_max_seq_len=True`), padded to `max_seq_len`: input_ids
with [PAD]'s id, segment_ids and input_mask with 0, and position_ids run 0..max_seq_len-1.
CustomTokenizer returns `{"text": word ids (padded), "seq_len": n}`, or {} when no word of the
text is in its vocabulary.

BertTokenizer's WordPiece is paddlenlp's BertTokenizer (the one hubtrain's readers use, so a text
encodes to the same ids either way). ErnieTinyTokenizer segments words with ERNIE Tiny's word
dictionary, then sentencepiece; the dictionary is a pickle, read by hubtrain's restricted
unpickler (it may hold data only). paddlenlp and sentencepiece are imported when a tokenizer is
built, never at import.
"""
from __future__ import annotations

import collections
import os
from typing import Any, Callable, Optional, Sequence, Union

__all__ = ["BertTokenizer", "ErnieTinyTokenizer", "CustomTokenizer", "TRUNCATION_STRATEGIES"]

TRUNCATION_STRATEGIES = ("longest_first", "only_first", "only_second", "do_not_truncate")
TextInput = Union[str, Sequence[str], Sequence[int]]


def _vocab_file(path: Any, owner: str) -> str:
    path = os.fspath(path) if path is not None else ""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{owner}: vocab file not found: {path or None!r}; pass vocab_file="
                                f"module.get_vocab_path() or the path of the model's vocab.txt.")
    return path


def _clean_up_tokenization(text: str) -> str:
    """English detokenization: no space before . ? ! , and inside n't 'm 's 've 're."""
    for spaced, joined in ((" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"),
                           (" 'm", "'m"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re")):
        text = text.replace(spaced, joined)
    return text


def _truncate(ids: list, pair_ids: Optional[list], remove: int, strategy: str, stride: int = 0
              ) -> tuple[list, Optional[list], list]:
    """(ids, pair_ids, overflowing tokens) after removing `remove` tokens, as PaddleHub 1.8 did:
    longest first takes from the longer sequence (the second on a tie) and reports what it took
    from the first; only_first / only_second take from one side."""
    if remove <= 0:
        return ids, pair_ids, []
    if strategy == "longest_first":
        from_a = 0
        b = len(pair_ids) if pair_ids is not None else 0
        for _ in range(remove):
            if pair_ids is None or len(ids) - from_a > b:
                from_a += 1
            else:
                b -= 1
        kept = len(ids) - from_a
        overflow = ids[kept:]
        window = min(kept, stride)
        if window > 0:
            overflow = ids[kept - window:kept] + overflow
        return ids[:kept], (pair_ids[:b] if pair_ids is not None else None), overflow
    if strategy == "only_first":
        if len(ids) <= remove:
            raise ValueError(f"truncation_strategy='only_first' cannot remove {remove} tokens from a first text of "
                             f"{len(ids)}: raise max_seq_len or use 'longest_first'.")
        window = min(len(ids), stride + remove)
        return ids[:-remove], pair_ids, ids[-window:]
    if strategy == "only_second":
        if pair_ids is None or len(pair_ids) <= remove:
            raise ValueError(f"truncation_strategy='only_second' cannot remove {remove} tokens from a second text of "
                             f"{0 if pair_ids is None else len(pair_ids)}: raise max_seq_len or use 'longest_first'.")
        window = min(len(pair_ids), stride + remove)
        return ids, pair_ids[:-remove], pair_ids[-window:]
    if strategy == "do_not_truncate":
        raise ValueError(f"the text is {remove} tokens longer than max_seq_len and truncation_strategy="
                         f"'do_not_truncate': raise max_seq_len or choose another strategy.")
    raise ValueError(f"truncation_strategy={strategy!r}: choose one of {', '.join(TRUNCATION_STRATEGIES)}.")


class _Vocabulary:
    """What both tokenizer kinds share: the vocabulary by id, and 1.8's truncation and clean-up."""

    vocab: "collections.OrderedDict[str, int]"
    ids_to_tokens: "collections.OrderedDict[int, str]"

    def _keep_vocab(self, ids: dict) -> None:
        self.vocab = collections.OrderedDict(sorted(ids.items(), key=lambda item: item[1]))
        self.ids_to_tokens = collections.OrderedDict((i, token) for token, i in self.vocab.items())

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def get_vocab(self) -> dict:
        return dict(self.vocab)

    def truncate_sequences(self, ids: list, pair_ids: Optional[list] = None, num_tokens_to_remove: int = 0,
                           truncation_strategy: str = "longest_first", stride: int = 0) -> tuple:
        return _truncate(list(ids), None if pair_ids is None else list(pair_ids), num_tokens_to_remove,
                         truncation_strategy, stride)

    def clean_up_tokenization(self, out_string: str) -> str:
        return _clean_up_tokenization(out_string)

    def _ids(self, text: TextInput, name: str) -> list:
        """What `encode` takes as a text: a string, a list of tokens or a list of token ids."""
        if isinstance(text, str):
            return self.convert_tokens_to_ids(self.tokenize(text))
        if isinstance(text, (list, tuple)):
            if all(isinstance(t, str) for t in text):
                return self.convert_tokens_to_ids(list(text))
            if all(isinstance(t, int) and not isinstance(t, bool) for t in text):
                return list(text)
        raise ValueError(f"encode(): {name} should be a string, a list of tokens (str) or a list of token ids (int); "
                         f"got {type(text).__name__}.")


class BertTokenizer(_Vocabulary):
    """PaddleHub 1.8's `hub.BertTokenizer(vocab_file, do_lower_case=True, ...)`: WordPiece over
    the vocabulary, [CLS]/[SEP] framing, `encode` and `decode`. Also a tokenizer hubtrain's readers
    accept (`hub.reader.ClassifyReader(..., tokenizer=...)`)."""

    pad_token_type_id = 0

    def __init__(self, vocab_file: str, do_lower_case: bool = True, do_basic_tokenize: bool = True,
                 never_split: Optional[Sequence[str]] = None, unk_token: str = "[UNK]", sep_token: str = "[SEP]",
                 pad_token: str = "[PAD]", cls_token: str = "[CLS]", mask_token: str = "[MASK]",
                 tokenize_chinese_chars: bool = True) -> None:
        from paddlenlp.transformers import BertTokenizer as WordPiece

        from ..engine.report import quiet_paddlenlp

        path = _vocab_file(vocab_file, type(self).__name__)
        with quiet_paddlenlp():
            self._wordpiece = WordPiece(path, do_lower_case=do_lower_case, do_basic_tokenize=do_basic_tokenize,
                                        never_split=never_split, unk_token=unk_token, sep_token=sep_token,
                                        pad_token=pad_token, cls_token=cls_token, mask_token=mask_token,
                                        tokenize_chinese_chars=tokenize_chinese_chars)
        self.do_basic_tokenize = do_basic_tokenize
        self._set_vocab(self._wordpiece.vocab.token_to_idx, do_lower_case, unk_token, sep_token, pad_token, cls_token,
                        mask_token)

    def _set_vocab(self, vocab: dict, do_lower_case: bool, unk_token: str, sep_token: str, pad_token: str,
                   cls_token: str, mask_token: str) -> None:
        self._keep_vocab(vocab)
        self.do_lower_case = do_lower_case
        self.unk_token, self.sep_token, self.pad_token = unk_token, sep_token, pad_token
        self.cls_token, self.mask_token = cls_token, mask_token
        self.all_special_tokens = [unk_token, sep_token, pad_token, cls_token, mask_token]
        missing = [t for t in self.all_special_tokens if t not in self.vocab]
        if missing:
            raise ValueError(f"{type(self).__name__}: the vocabulary has no {', '.join(missing)}; use the model's own "
                             f"vocab.txt, or name its special tokens (unk_token=..., pad_token=...).")
        self.unk_token_id = self.vocab[unk_token]
        self.sep_token_id = self.vocab[sep_token]
        self.pad_token_id = self.vocab[pad_token]
        self.cls_token_id = self.vocab[cls_token]
        self.mask_token_id = self.vocab[mask_token]
        self.all_special_ids = [self.vocab[t] for t in self.all_special_tokens]

    # ---------------------------------------------------------------- vocabulary
    @property
    def basic_tokenizer(self) -> Any:
        return self._wordpiece.basic_tokenizer

    @property
    def wordpiece_tokenizer(self) -> Any:
        return self._wordpiece.wordpiece_tokenizer

    def tokenize(self, text: str) -> list[str]:
        """WordPiece tokens of `text` (special tokens written in the text stay whole)."""
        return self._wordpiece.tokenize(text)

    def convert_tokens_to_ids(self, tokens: Union[None, str, Sequence[str]]) -> Any:
        """A token's id (unknown tokens: [UNK]'s), or a list of them."""
        if tokens is None:
            return None
        if isinstance(tokens, str):
            return self.vocab.get(tokens, self.unk_token_id)
        return [self.vocab.get(token, self.unk_token_id) for token in tokens]

    def convert_ids_to_tokens(self, ids: Union[int, Sequence[int]], skip_special_tokens: bool = False) -> Any:
        if isinstance(ids, int):
            return self.ids_to_tokens.get(ids, self.unk_token)
        special = set(self.all_special_ids) if skip_special_tokens else set()
        return [self.ids_to_tokens.get(int(i), self.unk_token) for i in ids if int(i) not in special]

    def convert_tokens_to_string(self, tokens: Sequence[str]) -> str:
        return " ".join(tokens).replace(" ##", "").strip()

    def save_pretrained(self, directory: str) -> None:
        """Write the vocabulary and settings paddlenlp's AutoTokenizer reads back (for export)."""
        from ..engine.report import quiet_paddlenlp

        with quiet_paddlenlp():
            self._wordpiece.save_pretrained(directory)

    # ---------------------------------------------------------------- special tokens
    def build_inputs_with_special_tokens(self, token_ids_0: list, token_ids_1: Optional[list] = None) -> list:
        if token_ids_1 is None:
            return [self.cls_token_id] + list(token_ids_0) + [self.sep_token_id]
        return [self.cls_token_id] + list(token_ids_0) + [self.sep_token_id] + list(token_ids_1) + [self.sep_token_id]

    def num_special_tokens_to_add(self, pair: bool = False) -> int:
        return 3 if pair else 2

    def get_special_tokens_mask(self, token_ids_0: list, token_ids_1: Optional[list] = None,
                                already_has_special_tokens: bool = False) -> list:
        """1 for [CLS]/[SEP], 0 for the texts' tokens."""
        if already_has_special_tokens:
            if token_ids_1 is not None:
                raise ValueError("get_special_tokens_mask: with already_has_special_tokens=True pass one sequence "
                                 "(it already holds both texts).")
            return [int(i in (self.sep_token_id, self.cls_token_id)) for i in token_ids_0]
        mask = [1] + [0] * len(token_ids_0) + [1]
        return mask if token_ids_1 is None else mask + [0] * len(token_ids_1) + [1]

    def create_segment_ids_from_sequences(self, token_ids_0: list, token_ids_1: Optional[list] = None) -> list:
        first = [0] * (len(token_ids_0) + 2)
        return first if token_ids_1 is None else first + [1] * (len(token_ids_1) + 1)

    # ---------------------------------------------------------------- encode / decode
    def encode(self, text: TextInput, text_pair: Optional[TextInput] = None, max_seq_len: Optional[int] = None,
               pad_to_max_seq_len: bool = True, truncation_strategy: str = "longest_first",
               return_position_ids: bool = True, return_segment_ids: bool = True, return_input_mask: bool = True,
               return_length: bool = True, return_overflowing_tokens: bool = False,
               return_special_tokens_mask: bool = False) -> dict:
        """The model's inputs for a text (or a pair) as PaddleHub 1.8's dict (see the module's doc)."""
        if max_seq_len is not None and (not isinstance(max_seq_len, int) or isinstance(max_seq_len, bool)
                                        or max_seq_len < self.num_special_tokens_to_add(text_pair is not None) + 1):
            raise ValueError(f"encode(): max_seq_len={max_seq_len!r} leaves no room for text besides [CLS] and [SEP]; "
                             f"use e.g. 128.")
        if truncation_strategy not in TRUNCATION_STRATEGIES:
            raise ValueError(f"encode(): truncation_strategy={truncation_strategy!r}: choose one of "
                             f"{', '.join(TRUNCATION_STRATEGIES)}.")
        ids = self._ids(text, "text")
        pair_ids = self._ids(text_pair, "text_pair") if text_pair is not None else None
        encoded: dict = {}
        total = len(ids) + (len(pair_ids) if pair_ids is not None else 0) + \
            self.num_special_tokens_to_add(pair_ids is not None)
        if max_seq_len and total > max_seq_len:
            ids, pair_ids, overflow = _truncate(ids, pair_ids, total - max_seq_len, truncation_strategy)
            if return_overflowing_tokens:
                encoded["overflowing_tokens"] = overflow
                encoded["num_truncated_tokens"] = total - max_seq_len
        input_ids = self.build_inputs_with_special_tokens(ids, pair_ids)
        n = len(input_ids)
        pad = max_seq_len - n if pad_to_max_seq_len and max_seq_len and n < max_seq_len else 0
        encoded["input_ids"] = input_ids + [self.pad_token_id] * pad
        if return_segment_ids:
            encoded["segment_ids"] = self.create_segment_ids_from_sequences(ids, pair_ids) + \
                [self.pad_token_type_id] * pad
        if return_special_tokens_mask:
            encoded["special_tokens_mask"] = self.get_special_tokens_mask(ids, pair_ids) + [1] * pad
        if return_length:
            encoded["seq_len"] = n
        if return_input_mask:
            encoded["input_mask"] = [1] * n + [0] * pad
        if return_position_ids:
            encoded["position_ids"] = list(range(n + pad))
        return encoded

    def decode(self, token_ids: Union[Sequence[int], dict], only_convert_to_tokens: bool = False,
               skip_pad_token: bool = False, skip_special_tokens: bool = False,
               clean_up_tokenization_spaces: bool = True) -> Union[str, list]:
        """Ids (or `encode`'s dict) back to text, or to tokens with `only_convert_to_tokens`."""
        if isinstance(token_ids, dict):
            token_ids = token_ids["input_ids"]
        tokens = [t for t in self.convert_ids_to_tokens(list(token_ids), skip_special_tokens=skip_special_tokens)
                  if not (skip_pad_token and t == self.pad_token)]
        if only_convert_to_tokens:
            return tokens
        text = self.convert_tokens_to_string(tokens) if tokens else ""
        return _clean_up_tokenization(text) if clean_up_tokenization_spaces else text

    def __repr__(self) -> str:
        return f"{type(self).__name__}(vocab_size={self.vocab_size}, do_lower_case={self.do_lower_case})"


class ErnieTinyTokenizer(BertTokenizer):
    """PaddleHub 1.8's `hub.ErnieTinyTokenizer(vocab_file, spm_path, word_dict_path)`: the text is
    cut into words by longest match (up to 5 characters) against the word dictionary, lower-cased
    (with `do_lower_case`), joined by spaces and split into pieces by the sentencepiece model;
    pieces outside the vocabulary become [UNK]. The files are read as the readers read ERNIE
    Tiny's (data/sp_tokenizers.py). Needs the `sentencepiece` package."""

    def __init__(self, vocab_file: str, spm_path: str, word_dict_path: str, do_lower_case: bool = True,
                 unk_token: str = "[UNK]", sep_token: str = "[SEP]", pad_token: str = "[PAD]",
                 cls_token: str = "[CLS]", mask_token: str = "[MASK]") -> None:
        from .sp_tokenizers import SegmentingSentencePieceTokenizer

        owner = type(self).__name__
        path = _vocab_file(vocab_file, owner)
        for name, value, what, getter in (
                ("spm_path", spm_path, "sentencepiece model (spm_cased_simp_sampled.model)", "get_spm_path"),
                ("word_dict_path", word_dict_path, "word dictionary (dict.wordseg.pickle)", "get_word_dict_path")):
            if value is None or not os.path.isfile(os.fspath(value)):
                raise FileNotFoundError(f"{owner}: {name}={value!r} is not a file; pass ERNIE Tiny's {what}, e.g. "
                                        f"module.{getter}(), or use hub.BertTokenizer for other models.")
        self.do_basic_tokenize = False
        self._segmenter = SegmentingSentencePieceTokenizer(path, os.fspath(spm_path), os.fspath(word_dict_path),
                                                           do_lower_case)
        self._set_vocab(self._segmenter.vocab, do_lower_case, unk_token, sep_token, pad_token, cls_token, mask_token)

    @property
    def sp_model(self) -> Any:
        return self._segmenter.sp_model

    @property
    def basic_tokenizer(self) -> Any:
        raise AttributeError("ErnieTinyTokenizer cuts words with its dictionary; it has no basic_tokenizer")

    @property
    def wordpiece_tokenizer(self) -> Any:
        raise AttributeError("ErnieTinyTokenizer splits words with sentencepiece; it has no wordpiece_tokenizer")

    def cut(self, chars: str) -> list[str]:
        """Words by longest match against the dictionary (a character on its own when none matches)."""
        return self._segmenter.cut(chars)

    def tokenize(self, text: str) -> list[str]:
        words = [w for w in self.cut(text) if w != " "]
        if self.do_lower_case:
            words = [w.lower() for w in words]
        pieces = self.sp_model.EncodeAsPieces(" ".join(words))
        return [p if p in self.vocab else self.unk_token for p in pieces]

    def save_pretrained(self, directory: str) -> None:
        raise ValueError("ErnieTinyTokenizer cannot be written into an export: export a task trained with a "
                         "paddlenlp tokenizer (a hub.Module's own, module.tokenizer, or hub.BertTokenizer).")


class CustomTokenizer(_Vocabulary):
    """PaddleHub 1.8's `hub.CustomTokenizer(vocab_file, ...)` for word modules (Senta): the text
    split into words (`cut_function(text)`, by default jieba, for Chinese; whitespace and
    punctuation with `tokenize_chinese_chars=False`), each looked up in the vocabulary, unknown
    words dropped. PaddleHub 1.8 cut Chinese with its LAC module; hubtrain cuts it with jieba, as
    its LACClassifyReader does (data/words.py says why). The padding entry is `pad_token`, else
    the vocabulary's `<pad>`."""

    def __init__(self, vocab_file: str, do_lower_case: bool = True, pad_token: str = "[PAD]",
                 tokenize_chinese_chars: bool = True, cut_function: Optional[Callable[[str], list]] = None) -> None:
        from .words import make_segmenter, read_word_vocab

        owner = type(self).__name__
        words = read_word_vocab(_vocab_file(vocab_file, owner))
        self._keep_vocab(words.ids)
        if pad_token not in self.vocab and words.pad_id is None:
            raise ValueError(f"{owner}: the vocabulary has no pad token {pad_token!r} (nor <pad>); add it to "
                             f"{vocab_file} or name the vocabulary's own with pad_token=...")
        self.pad_token_id = self.vocab[pad_token] if pad_token in self.vocab else words.pad_id
        self.pad_token = self.ids_to_tokens[self.pad_token_id]
        self.do_lower_case = do_lower_case
        self.tokenize_chinese_chars = tokenize_chinese_chars
        if cut_function is not None and not callable(cut_function):
            raise TypeError(f"{owner}: cut_function={cut_function!r} is not callable; pass a function from a text to "
                            f"its list of words, e.g. jieba.lcut.")
        self.cut_function = make_segmenter(cut_function) if tokenize_chinese_chars else cut_function
        self._basic: Any = None

    @property
    def basic_tokenizer(self) -> Any:
        if self._basic is None:
            from paddlenlp.transformers.bert.tokenizer import BasicTokenizer

            self._basic = BasicTokenizer(do_lower_case=self.do_lower_case, tokenize_chinese_chars=False)
        return self._basic

    def tokenize(self, text: str) -> list[str]:
        if self.tokenize_chinese_chars:
            return list(self.cut_function(text))
        return self.basic_tokenizer.tokenize(text)

    def convert_tokens_to_ids(self, tokens: Union[None, str, Sequence[str]]) -> Any:
        """A word's id (None when unknown), or the ids of the known words of a list."""
        if tokens is None:
            return None
        if isinstance(tokens, str):
            return self.vocab.get(tokens)
        return [self.vocab[token] for token in tokens if token in self.vocab]

    def convert_ids_to_tokens(self, ids: Union[int, Sequence[int]], skip_pad_token: bool = False) -> Any:
        if isinstance(ids, int):
            return self.ids_to_tokens.get(ids)
        return [self.ids_to_tokens.get(int(i)) for i in ids if not (skip_pad_token and int(i) == self.pad_token_id)]

    def convert_tokens_to_string(self, tokens: Sequence[str]) -> str:
        return ("" if self.tokenize_chinese_chars else " ").join(tokens).strip()

    def encode(self, text: TextInput, text_pair: Any = None, max_seq_len: Optional[int] = None,
               pad_to_max_seq_len: bool = True, truncation_strategy: str = "longest_first",
               return_length: bool = True, return_overflowing_tokens: bool = False) -> dict:
        """`{"text": word ids, "seq_len": n}` (text_pair is ignored, as in PaddleHub 1.8); {} when no
        word is in the vocabulary."""
        ids = self._ids(text, "text")
        encoded: dict = {}
        if not ids:
            return encoded
        if max_seq_len and len(ids) > max_seq_len:
            ids, _, overflow = _truncate(ids, None, len(ids) - max_seq_len, truncation_strategy)
            if return_overflowing_tokens:
                encoded["overflowing_tokens"] = overflow
                encoded["num_truncated_tokens"] = len(overflow)
        pad = max_seq_len - len(ids) if pad_to_max_seq_len and max_seq_len and len(ids) < max_seq_len else 0
        encoded["text"] = ids + [self.pad_token_id] * pad
        if return_length:
            encoded["seq_len"] = len(ids)
        return encoded

    def decode(self, token_ids: Union[Sequence[int], dict], only_convert_to_tokens: bool = True,
               skip_pad_token: bool = False, clean_up_tokenization_spaces: bool = True) -> Union[str, list]:
        """Ids (or `encode`'s dict) back to words, or to text without `only_convert_to_tokens`."""
        if isinstance(token_ids, dict):
            token_ids = token_ids["text"]
        tokens = self.convert_ids_to_tokens(list(token_ids), skip_pad_token=skip_pad_token)
        if only_convert_to_tokens:
            return tokens
        text = self.convert_tokens_to_string([t for t in tokens if t is not None])
        if not self.tokenize_chinese_chars and clean_up_tokenization_spaces:
            return _clean_up_tokenization(text)
        return text

    def __repr__(self) -> str:
        return f"{type(self).__name__}(vocab_size={self.vocab_size})"
