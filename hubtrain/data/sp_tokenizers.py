"""The tokenizers PaddleHub 1.x readers built from ERNIE Tiny's files (`sp_model_path=module.get_spm_path(),
word_dict_path=module.get_word_dict_path()`), for a vocab.txt with no saved tokenizer beside it.

- `SegmentingSentencePieceTokenizer` (classification, regression, multi-label and reading-comprehension
  readers): the text is cut into words by longest match (up to 5 characters) against the word
  dictionary, lower-cased, joined by spaces and split into pieces by the sentencepiece model;
  pieces not in vocab.txt become [UNK].
- `SentencePieceVocabTokenizer` (SequenceLabelReader): BERT's basic tokenizer, then each token by
  greedy longest match against vocab.txt, its first piece spelt with sentencepiece's "▁" and no
  "##" on the rest; a token that cannot be matched becomes [UNK].

The word dictionary is a pickle (dict.wordseg.pickle): it is read by hubtrain's restricted
unpickler, which admits containers of strings and numbers only; a plain text file of one word
per line is accepted too. sentencepiece is needed for the first tokenizer (it comes with paddlenlp).
"""
from __future__ import annotations

import os
from typing import Any, Optional

from .words import read_word_vocab

__all__ = ["SegmentingSentencePieceTokenizer", "SentencePieceVocabTokenizer", "read_word_dict", "sentencepiece_tokenizer",
           "SENTENCEPIECE_REQUIREMENT"]

SENTENCEPIECE_REQUIREMENT = "sentencepiece==0.2.3"
_WINDOW = 5  # the longest word the dictionary match tries, in characters
_WORD_PIECE_START = "\u2581"
_SPECIAL = {"pad_token": "[PAD]", "cls_token": "[CLS]", "sep_token": "[SEP]", "unk_token": "[UNK]",
            "mask_token": "[MASK]"}


def read_word_dict(path: str) -> frozenset:
    """The words of a word dictionary: a pickle of strings (a set, list, or dict keyed by word), read
    without running anything from it, or a text file of one word per line (its first column)."""
    from ..serialization.restricted_pickle import (CONTAINERS, NUMPY_ARRAYS, RestrictedUnpickler, UnsafeFileError,
                                                   check_plain)

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"word dictionary not found: {path}; pass word_dict_path=module.get_word_dict_path() "
                                f"(ERNIE Tiny's dict.wordseg.pickle).")
    with open(path, "rb") as f:
        head = f.read(2)
    if len(head) == 2 and head[0] == 0x80:  # a pickle (protocol 2 or later)
        allowed = {**NUMPY_ARRAYS, **CONTAINERS, ("builtins", "set"): set, ("__builtin__", "set"): set,
                   ("builtins", "frozenset"): frozenset, ("__builtin__", "frozenset"): frozenset}
        holds = "a word dictionary may only hold words (a set, list or dict of strings)"
        fix = "Give ERNIE Tiny's dict.wordseg.pickle, or a text file of one word per line."
        with open(path, "rb") as f:
            try:
                words = RestrictedUnpickler(f, path, allowed, fix, holds).load()
            except UnsafeFileError:
                raise
            except (EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError) as exc:
                raise ValueError(f"{path}: not a readable pickle ({type(exc).__name__}: {exc}). {fix}") from None
        check_plain(words, path, UnsafeFileError, holds=holds)
        if not isinstance(words, (dict, set, frozenset, list, tuple)):
            raise ValueError(f"{path}: holds a {type(words).__name__}, not a collection of words. {fix}")
        found = frozenset(w.decode("utf-8") if isinstance(w, bytes) else w for w in words
                          if isinstance(w, (str, bytes)))
    else:
        with open(path, encoding="utf-8") as f:
            found = frozenset(line.split("\t")[0].strip() for line in f if line.strip())
    if not found:
        raise ValueError(f"{path}: the word dictionary holds no words.")
    return found


class _VocabTokenizer:
    """What both tokenizers share: vocab.txt (token per line, or token<TAB>id), the special tokens' ids."""

    def __init__(self, vocab_path: str, do_lower_case: bool) -> None:
        self.vocab = read_word_vocab(vocab_path).ids
        self.vocab_path = vocab_path
        self.do_lower_case = do_lower_case
        missing = [token for token in ("[PAD]", "[CLS]", "[SEP]", "[UNK]") if token not in self.vocab]
        if missing:
            raise ValueError(f"{vocab_path}: the vocabulary lacks {', '.join(missing)}; an ERNIE/BERT vocab.txt "
                             f"has them.")
        for name, token in _SPECIAL.items():
            setattr(self, name, token)
            setattr(self, f"{name}_id", self.vocab.get(token))

    def convert_tokens_to_ids(self, tokens: Any) -> Any:
        if isinstance(tokens, str):
            return self.vocab[tokens]
        return [self.vocab[token] for token in tokens]

    def __len__(self) -> int:
        return len(self.vocab)


class SegmentingSentencePieceTokenizer(_VocabTokenizer):
    """ERNIE Tiny's tokenizer from its three files (PaddleHub 1.x's WSSPTokenizer did the same)."""

    def __init__(self, vocab_path: str, sp_model_path: str, word_dict_path: str, do_lower_case: bool = True) -> None:
        super().__init__(vocab_path, do_lower_case)
        try:
            import sentencepiece
        except ImportError:
            raise ImportError(f"sp_model_path needs the sentencepiece package: pip install {SENTENCEPIECE_REQUIREMENT} "
                              f"(it comes with paddlenlp), or leave sp_model_path and word_dict_path out.") from None
        if not os.path.isfile(sp_model_path):
            raise FileNotFoundError(f"sentencepiece model not found: {sp_model_path}; pass "
                                    f"sp_model_path=module.get_spm_path() (ERNIE Tiny's spm_cased_simp_sampled.model).")
        self.sp_model_path, self.word_dict_path = sp_model_path, word_dict_path
        self.words = read_word_dict(word_dict_path)
        self.sp_model = sentencepiece.SentencePieceProcessor()
        try:
            self.sp_model.Load(sp_model_path)
        except (OSError, RuntimeError) as exc:
            raise ValueError(f"{sp_model_path}: not a sentencepiece model ({exc}); pass ERNIE Tiny's "
                             f"spm_cased_simp_sampled.model.") from None

    def cut(self, text: str) -> list:
        """Words by longest match against the dictionary (1 to 5 characters; a character alone when none)."""
        words, at = [], 0
        while at < len(text):
            size = next((n for n in range(_WINDOW, 1, -1) if text[at:at + n] in self.words), 1)
            words.append(text[at:at + size])
            at += size
        return words

    def tokenize(self, text: str) -> list:
        words = [w.lower() for w in self.cut(text) if w != " "]  # PaddleHub 1.x lower-cased here always
        pieces = self.sp_model.EncodeAsPieces(" ".join(words))
        return [piece if piece in self.vocab else self.unk_token for piece in pieces]

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["sp_model"] = None  # a SentencePieceProcessor is rebuilt from its file
        return state

    def __setstate__(self, state: dict) -> None:
        import sentencepiece

        self.__dict__.update(state)
        self.sp_model = sentencepiece.SentencePieceProcessor()
        self.sp_model.Load(self.sp_model_path)


class SentencePieceVocabTokenizer(_VocabTokenizer):
    """PaddleHub 1.x's sequence-labelling tokenizer for ERNIE Tiny: wordpieces spelt as sentencepiece's."""

    max_input_chars_per_word = 100

    def __init__(self, vocab_path: str, do_lower_case: bool = True) -> None:
        super().__init__(vocab_path, do_lower_case)
        from paddlenlp.transformers.bert.tokenizer import BasicTokenizer

        self.basic_tokenizer = BasicTokenizer(do_lower_case=do_lower_case)

    def tokenize(self, text: str) -> list:
        pieces: list = []
        for token in self.basic_tokenizer.tokenize(text):
            pieces.extend(self._pieces(token))
        return pieces

    def _pieces(self, token: str) -> list:
        if len(token) > self.max_input_chars_per_word:
            return [self.unk_token]
        pieces, start = [], 0
        while start < len(token):
            end, piece = len(token), None
            while start < end:
                candidate = (_WORD_PIECE_START if start == 0 else "") + token[start:end]
                if candidate in self.vocab:
                    piece = candidate
                    break
                end -= 1
            if piece is None:
                return [self.unk_token]
            pieces.append(piece)
            start = end
        return pieces


def sentencepiece_tokenizer(vocab_path: str, sp_model_path: Optional[str], word_dict_path: Optional[str],
                            do_lower_case: bool, kind: str, owner: str) -> Any:
    """The tokenizer a PaddleHub 1.x reader built from ERNIE Tiny's files; both paths are needed."""
    missing = [name for name, value in (("sp_model_path", sp_model_path), ("word_dict_path", word_dict_path))
               if not value]
    if missing:
        raise ValueError(f"{owner}: {missing[0]} is missing: ERNIE Tiny's tokenizer needs both sp_model_path="
                         f"module.get_spm_path() and word_dict_path=module.get_word_dict_path() (or neither).")
    if kind == "vocab_pieces":
        return SentencePieceVocabTokenizer(vocab_path, do_lower_case)
    return SegmentingSentencePieceTokenizer(vocab_path, sp_model_path, word_dict_path, do_lower_case)
