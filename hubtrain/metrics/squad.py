"""SQuAD exact match and token F1 over answer strings, and a metric that sums them.

Normalisation is the official SQuAD script's: lower case, drop ASCII punctuation, drop the
articles a/an/the, collapse whitespace. Two additions for Chinese text, which the official
script (written for English) would treat as one token per run of characters: every CJK
character is a token of its own, and CJK / full-width punctuation is dropped too. An example
scores the best over its reference answers; an empty prediction against an empty reference
(an unanswerable question) scores 1, as in the SQuAD 2.0 script. Scores are fractions in [0, 1]
(the official script prints them times 100).

Answer extraction (merging windows, picking spans) is the task's job; the task passes the
extracted answer strings to `SquadEM` / `SquadF1` via `compute`, or its own per-example sums to
`update(sum_em, sum_f1, count)`.
"""
from __future__ import annotations

import collections
import re
import string
import unicodedata
from typing import Any, Mapping, Sequence

from .base import HubMetric

__all__ = ["normalize_answer", "answer_tokens", "exact_match", "token_f1", "squad_scores", "squad_em_f1",
           "SquadEM", "SquadF1"]

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_ASCII_PUNCT = set(string.punctuation)


def _cjk(ch: str) -> bool:
    code = ord(ch)
    return (0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF or 0x20000 <= code <= 0x2A6DF
            or 0xF900 <= code <= 0xFAFF or 0x2F800 <= code <= 0x2FA1F)


def _dropped(ch: str) -> bool:
    if ch in _ASCII_PUNCT:
        return True
    code = ord(ch)
    wide = 0x3000 <= code <= 0x303F or 0xFF00 <= code <= 0xFFEF
    return wide and unicodedata.category(ch).startswith("P")


def normalize_answer(text: str) -> str:
    """The official SQuAD normalisation (plus dropping CJK punctuation)."""
    text = "".join(ch for ch in str(text).lower() if not _dropped(ch))
    return " ".join(_ARTICLES.sub(" ", text).split())


def answer_tokens(text: str) -> list[str]:
    """Tokens of the normalised answer: whitespace words, each CJK character on its own."""
    tokens: list[str] = []
    for word in normalize_answer(text).split():
        run = ""
        for ch in word:
            if _cjk(ch):
                tokens.extend([run, ch] if run else [ch])
                run = ""
            else:
                run += ch
        if run:
            tokens.append(run)
    return tokens


def _references(answers: str | Sequence[str]) -> list[str]:
    answers = [answers] if isinstance(answers, str) else [str(a) for a in answers]
    return answers or [""]  # no reference answer: the question is unanswerable


def exact_match(prediction: str, answers: str | Sequence[str]) -> float:
    """1.0 when the normalised prediction equals a normalised reference, else 0.0."""
    pred = answer_tokens(prediction)
    return float(any(pred == answer_tokens(a) for a in _references(answers)))


def _f1(pred: list[str], gold: list[str]) -> float:
    if not pred or not gold:
        return float(pred == gold)
    same = sum((collections.Counter(pred) & collections.Counter(gold)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(gold)
    return 2 * precision * recall / (precision + recall)


def token_f1(prediction: str, answers: str | Sequence[str]) -> float:
    """Best token-overlap F1 of the prediction against the references."""
    pred = answer_tokens(prediction)
    return max(_f1(pred, answer_tokens(a)) for a in _references(answers))


def _aligned(predictions: Any, references: Any) -> tuple[list[str], list]:
    if isinstance(references, Mapping):
        if not isinstance(predictions, Mapping):
            raise ValueError("references is a mapping of question id -> answers; pass predictions as a mapping "
                             "of question id -> answer text too.")
        # a question without a prediction scores 0, as in the official script
        return [predictions.get(qid) for qid in references], list(references.values())
    predictions, references = list(predictions), list(references)
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions for {len(references)} references; pass one predicted "
                         f"answer per question.")
    return predictions, references


def squad_scores(predictions: Any, references: Any) -> tuple[list[float], list[float]]:
    """Per-question exact match and F1. `predictions`: answer strings; `references`: per question
    a reference string or a list of them. Both may instead be mappings keyed by question id."""
    predictions, references = _aligned(predictions, references)
    em, f1 = [], []
    for pred, answers in zip(predictions, references):
        if pred is None:
            em.append(0.0)
            f1.append(0.0)
        else:
            em.append(exact_match(pred, answers))
            f1.append(token_f1(pred, answers))
    return em, f1


def squad_em_f1(predictions: Any, references: Any) -> tuple[float, float]:
    """Mean exact match and mean F1 over the questions (fractions; 0.0 for no questions)."""
    em, f1 = squad_scores(predictions, references)
    return (sum(em) / len(em), sum(f1) / len(f1)) if em else (0.0, 0.0)


class SquadMetric(HubMetric):
    """Keeps the sums of per-question exact match and F1 and the number of questions."""

    def reset(self) -> None:
        self.sum_em = 0.0
        self.sum_f1 = 0.0
        self.count = 0

    def compute(self, predictions: Any, references: Any) -> tuple[float, float, int]:
        em, f1 = squad_scores(predictions, references)
        return sum(em), sum(f1), len(em)

    def update(self, sum_em: Any, sum_f1: Any, count: Any) -> None:
        self.sum_em += float(sum_em)
        self.sum_f1 += float(sum_f1)
        self.count += int(count)

    def statistics(self) -> tuple:
        return (self.sum_em, self.sum_f1, self.count) if self.count else ()


class SquadEM(SquadMetric):
    def __init__(self, name: str = "em") -> None:
        super().__init__(name)

    def accumulate(self) -> float:
        return self.sum_em / self.count if self.count else 0.0


class SquadF1(SquadMetric):
    def __init__(self, name: str = "f1") -> None:
        super().__init__(name)

    def accumulate(self) -> float:
        return self.sum_f1 / self.count if self.count else 0.0
