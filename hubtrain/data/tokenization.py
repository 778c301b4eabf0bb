"""Tokenizers for text readers, and the token-level helpers they share: tokenizing no more of a
long text than the sequence can hold, longest-first pair truncation, padding to a batch's longest."""
from __future__ import annotations

import os
from typing import Any, Optional, Sequence

import numpy as np

from ..engine.report import quiet_paddlenlp

__all__ = ["load_vocab", "load_tokenizer", "tokenize_capped", "truncate_pair", "pad_stack", "is_cjk"]


def load_tokenizer(vocab_path: Optional[str] = None, do_lower_case: bool = True, tokenizer: Any = None,
                   sp_model_path: Optional[str] = None, word_dict_path: Optional[str] = None,
                   owner: str = "reader", sp_kind: str = "segmenting") -> Any:
    """`tokenizer` itself when given; else the tokenizer saved with the vocab: its folder's
    tokenizer_config.json through paddlenlp's AutoTokenizer (which also finds sentencepiece
    files there); else, given ERNIE Tiny's `sp_model_path` and `word_dict_path`, PaddleHub 1.x's
    tokenizer over them (sp_tokenizers.py; `sp_kind` "vocab_pieces" for sequence labelling); else
    a plain BertTokenizer over vocab.txt."""
    if tokenizer is not None:
        return tokenizer
    if vocab_path is None:
        raise ValueError(f"{owner}: no tokenizer: pass vocab_path=module.get_vocab_path() or "
                         f"tokenizer=module.tokenizer.")
    vocab_path = os.fspath(vocab_path)
    if not os.path.exists(vocab_path):
        raise FileNotFoundError(f"{owner}: vocab file not found: {vocab_path}; pass module.get_vocab_path(), or the "
                                f"path of the model's vocab.txt.")
    folder = vocab_path if os.path.isdir(vocab_path) else os.path.dirname(os.path.abspath(vocab_path))
    if os.path.isfile(os.path.join(folder, "tokenizer_config.json")):
        from paddlenlp.transformers import AutoTokenizer

        from ..serialization.restricted_pickle import check_data_pickles

        # some of paddlenlp's tokenizers unpickle a file of the folder with Python's own unpickler
        check_data_pickles(folder, f"{owner}: replace the tokenizer folder {folder} with one saved by "
                                   f"tokenizer.save_pretrained, or pass tokenizer=module.tokenizer.")
        with quiet_paddlenlp():
            return AutoTokenizer.from_pretrained(folder)
    if os.path.isdir(vocab_path):
        raise FileNotFoundError(f"{owner}: {vocab_path} is a folder without tokenizer_config.json; pass the path of "
                                f"its vocab.txt.")
    if sp_model_path or word_dict_path:
        from .sp_tokenizers import sentencepiece_tokenizer

        return sentencepiece_tokenizer(vocab_path, sp_model_path, word_dict_path, do_lower_case, sp_kind, owner)
    from paddlenlp.transformers import BertTokenizer

    return BertTokenizer(vocab_path, do_lower_case=do_lower_case)


def load_vocab(vocab_file: str) -> dict[str, int]:
    """A vocab file as {token: id} in file order (PaddleHub 1.x's `load_vocab`): one token a line,
    its id the line number, or `token<TAB>id` lines with their own ids."""
    vocab: dict[str, int] = {}
    with open(vocab_file, encoding="utf-8") as f:
        for number, line in enumerate(f):
            fields = line.rstrip("\r\n").split("\t")
            if len(fields) > 2:
                raise ValueError(f"{vocab_file}:{number + 1}: a vocab line holds a token, or a token, a tab and its "
                                 f"id; this one has {len(fields)} tab-separated fields.")
            token = fields[0].strip()
            if len(fields) == 2 and not fields[1].strip().isdigit():
                raise ValueError(f"{vocab_file}:{number + 1}: the id after the tab, {fields[1]!r}, is not a whole "
                                 f"number.")
            vocab[token] = int(fields[1]) if len(fields) == 2 else number
    return vocab


def is_cjk(char: str) -> bool:
    """A CJK ideograph: BERT-style tokenizers make each one a token of its own."""
    cp = ord(char)
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF or 0x2A700 <= cp <= 0x2B73F
            or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF or 0xF900 <= cp <= 0xFAFF
            or 0x2F800 <= cp <= 0x2FA1F)


_CHARS_PER_TOKEN = 6  # English text runs 4-5.3 characters a wordpiece, Chinese about 1


def tokenize_capped(tokenizer: Any, text: str, cap: int) -> list:
    """Tokens of `text` of which the first `cap` equal the whole text's, and more than `cap` of
    them exactly when the whole text has more. For BERT-style tokenizers, which split on
    whitespace and around CJK characters before anything else, a long text is tokenized only up
    to such a boundary far enough in (twice as far each time that was too short): a 4,000-word
    article costs about what its first `cap` tokens do."""
    limit = cap * _CHARS_PER_TOKEN + 32
    if hasattr(tokenizer, "basic_tokenizer") and hasattr(tokenizer, "wordpiece_tokenizer"):
        while len(text) > limit:
            cut = _boundary_before(text, limit)
            if cut <= 0:
                break
            tokens = tokenizer.tokenize(text[:cut])
            if len(tokens) > cap:
                return tokens
            limit *= 2
    return tokenizer.tokenize(text)


def _boundary_before(text: str, limit: int) -> int:
    for i in range(limit, max(0, limit - 256), -1):
        if text[i].isspace() or is_cjk(text[i]) or is_cjk(text[i - 1]):
            return i
    return 0


def truncate_pair(len_a: int, len_b: int, budget: int) -> tuple:
    """Lengths after longest-first truncation of a pair to `budget` tokens: the longer side
    loses a token at a time (the second on a tie) until the pair fits."""
    excess = len_a + len_b - budget
    if excess <= 0:
        return len_a, len_b
    gap = min(abs(len_a - len_b), excess)
    if len_a > len_b:
        len_a -= gap
    else:
        len_b -= gap
    excess -= gap
    return len_a - excess // 2, len_b - (excess - excess // 2)


def pad_stack(arrays: Sequence[np.ndarray], value: Any) -> np.ndarray:
    """1-D arrays of different lengths -> [N, longest], right-padded with `value`."""
    longest = max(len(a) for a in arrays)
    out = np.full((len(arrays), longest), value, dtype=arrays[0].dtype)
    for row, a in zip(out, arrays):
        row[:len(a)] = a
    return out

