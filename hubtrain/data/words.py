"""The words of a text, for word-level modules (PaddleHub 1.x's Senta and its LACClassifyReader):
Chinese word segmentation, and word vocabularies read from and written to files.

Segmentation is jieba's. PaddleHub 1.x segmented with Baidu's LAC, whose last release (LAC 2.1.2)
imports `paddle.fluid`, which Paddle 3 no longer has; jieba is pure Python, is already installed
with paddlenlp, and cuts Chinese text into words much as LAC does. A callable `text -> [words]`
may be given instead wherever a segmenter is taken.

A vocabulary file has one word per line, its id the line's number, or `word<TAB>id` per line
(PaddleHub 1.x's and Senta's layout). `<pad>`/`[PAD]` and `<unk>`/`[UNK]` are the padding and
unknown-word entries when present.
"""
from __future__ import annotations

import importlib.util
import os
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Optional, Sequence, Union

from ..log import warnings_only
from .tokenization import load_vocab

__all__ = ["WordVocab", "read_word_vocab", "write_word_vocab", "JiebaSegmenter", "make_segmenter",
           "vocab_from_texts", "PAD_TOKEN", "UNK_TOKEN", "JIEBA_REQUIREMENT"]

PAD_TOKEN, UNK_TOKEN = "<pad>", "<unk>"
_PAD_TOKENS = (PAD_TOKEN, "[PAD]")
_UNK_TOKENS = (UNK_TOKEN, "[UNK]")
JIEBA_REQUIREMENT = "jieba==0.42.1"

Segmenter = Callable[[str], list]


@dataclass
class WordVocab:
    """word -> id; `size` is one more than the largest id (the rows an embedding needs)."""

    ids: dict
    path: Optional[str] = None

    @property
    def size(self) -> int:
        return max(self.ids.values(), default=-1) + 1

    @property
    def pad_id(self) -> Optional[int]:
        return next((self.ids[t] for t in _PAD_TOKENS if t in self.ids), None)

    @property
    def unk_id(self) -> Optional[int]:
        return next((self.ids[t] for t in _UNK_TOKENS if t in self.ids), None)

    def __len__(self) -> int:
        return len(self.ids)

    def __contains__(self, word: str) -> bool:
        return word in self.ids


def read_word_vocab(path: str) -> WordVocab:
    """A vocabulary file (one word per line, or `word<TAB>id`, as PaddleHub 1.x's `load_vocab` read
    it); errors name the file and line."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"vocabulary not found: {path}; pass vocab_path=module.get_vocab_path() (a word "
                                f"module's vocab.txt: one word per line, or word<TAB>id).")
    ids = {word: i for word, i in load_vocab(path).items() if word}
    if not ids:
        raise ValueError(f"{path}: the vocabulary is empty; write one word per line.")
    return WordVocab(ids, path)


def write_word_vocab(words: Sequence[str], path: str) -> None:
    """One word per line, in id order."""
    bad = next((w for w in words if not w or "\n" in w or "\t" in w or w != w.strip()), None)
    if bad is not None:
        raise ValueError(f"cannot write the word {bad!r} to a vocabulary file: words are non-empty and hold no tab, "
                         f"newline or surrounding space.")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(words) + "\n")


class JiebaSegmenter:
    """text -> words, by jieba's default (accurate) mode; spaces are dropped. The dictionary is
    loaded at the first text (about a second), and again in a process this object is sent to."""

    name = "jieba"

    def __init__(self) -> None:
        if importlib.util.find_spec("jieba") is None:  # fail when the reader is made, not at its first text
            raise ImportError(f"word segmentation needs jieba: pip install {JIEBA_REQUIREMENT} (or pass "
                              f"segmenter=<a function from a text to its list of words>).")
        self._tokenizer: Any = None

    def __call__(self, text: str) -> list:
        if self._tokenizer is None:
            import jieba

            with warnings_only("jieba"):
                tokenizer = jieba.Tokenizer()
                tokenizer.initialize()
            self._tokenizer = tokenizer
        return [w for w in self._tokenizer.lcut(text) if w.strip()]

    def __getstate__(self) -> dict:
        return {"_tokenizer": None}  # jieba's tokenizer holds a lock; a worker loads its own


def make_segmenter(segmenter: Union[None, str, Segmenter] = None) -> Segmenter:
    """None or "jieba": jieba; a callable: itself; "lac": refused (it needs paddle.fluid)."""
    if segmenter is None or segmenter == "jieba":
        return JiebaSegmenter()
    if segmenter == "lac":
        raise ValueError("segmenter='lac': Baidu's LAC package (2.1.2, its last release) imports paddle.fluid, which "
                         "Paddle 3 no longer has. Use segmenter='jieba' (the default) or pass a function from a text "
                         "to its list of words.")
    if callable(segmenter):
        return segmenter
    raise ValueError(f"segmenter={segmenter!r}: use 'jieba' or a function from a text to its list of words.")


def vocab_from_texts(texts: Iterable[str], segmenter: Union[None, str, Segmenter] = None, min_count: int = 1,
                     max_words: Optional[int] = None) -> list:
    """`<pad>`, `<unk>`, then the words of `texts` seen at least `min_count` times, most frequent
    first (ties in order of first appearance), at most `max_words` of them."""
    if not isinstance(min_count, int) or min_count < 1:
        raise ValueError(f"min_count={min_count!r}: use a whole number >= 1.")
    if max_words is not None and (not isinstance(max_words, int) or max_words < 1):
        raise ValueError(f"max_words={max_words!r}: use a whole number >= 1, or None for no limit.")
    cut = make_segmenter(segmenter)
    counts: Counter = Counter()
    for text in texts:
        counts.update(cut(text))
    words = [w for w, n in counts.most_common() if n >= min_count and w not in _PAD_TOKENS + _UNK_TOKENS]
    if not words:
        raise ValueError(f"no word occurs {min_count} time(s) or more in the texts given; give more text or lower "
                         f"min_count.")
    return [PAD_TOKEN, UNK_TOKEN] + words[:max_words]
