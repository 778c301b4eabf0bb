"""CMRC 2018's scoring of Chinese extractive answers (also DRCD's in PaddleHub 1.x).

It differs from SQuAD's in two ways. Exact match compares the answers lower-cased with the
listed punctuation (mostly Chinese, plus a few ASCII marks) removed, nothing else normalised. F1
is over the longest common *contiguous* run of tokens, where each Chinese character and each
listed punctuation mark is a token and other text is split into words and punctuation marks
(the official script uses NLTK's word tokenizer there; here runs of letters and digits, decimal
numbers kept whole, and single marks stand in for it). Scores are fractions in [0, 1].
"""
from __future__ import annotations

import re
from typing import Any

from .squad import SquadEM, SquadF1, _aligned, _references

__all__ = ["cmrc2018_segments", "cmrc2018_exact_match", "cmrc2018_f1", "cmrc2018_scores", "Cmrc2018EM",
           "Cmrc2018F1"]

# The marks the CMRC 2018 scoring treats as punctuation
_MARKS = frozenset("-:_*^/\\~`+=，。：？！“”；’《》·、「」（）－～『』")
_WORDS = re.compile(r"\d+(?:[.,]\d+)+|\w+|[^\w\s]")


def _chinese(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fa5"


def cmrc2018_segments(text: str, drop_marks: bool = False) -> list[str]:
    """The tokens CMRC 2018's F1 compares: each Chinese character and mark alone, other text in words."""
    tokens: list[str] = []
    run = ""
    for ch in str(text).lower().strip():
        if drop_marks and ch in _MARKS:
            continue
        if _chinese(ch) or ch in _MARKS:
            tokens.extend(_WORDS.findall(run))
            run = ""
            tokens.append(ch)
        else:
            run += ch
    tokens.extend(_WORDS.findall(run))
    return tokens


def _longest_common_run(a: list[str], b: list[str]) -> int:
    best, previous = 0, [0] * (len(b) + 1)
    for x in a:
        current = [0] * (len(b) + 1)
        for j, y in enumerate(b):
            if x == y:
                current[j + 1] = previous[j] + 1
                best = max(best, current[j + 1])
        previous = current
    return best


def _without_marks(text: str) -> str:
    return "".join(ch for ch in str(text).lower().strip() if ch not in _MARKS)


def cmrc2018_exact_match(prediction: str, answers: Any) -> float:
    """1.0 when the prediction equals a reference once lower-cased and stripped of the marks."""
    pred = _without_marks(prediction)
    return float(any(pred == _without_marks(a) for a in _references(answers)))


def cmrc2018_f1(prediction: str, answers: Any) -> float:
    """Best F1 of the longest common run of tokens against the references (1.0 for an empty
    prediction of an empty reference)."""
    pred = cmrc2018_segments(prediction, drop_marks=True)
    best = 0.0
    for answer in _references(answers):
        gold = cmrc2018_segments(answer, drop_marks=True)
        if not pred or not gold:
            best = max(best, float(pred == gold))
            continue
        common = _longest_common_run(gold, pred)
        if common:
            precision, recall = common / len(pred), common / len(gold)
            best = max(best, 2 * precision * recall / (precision + recall))
    return best


def cmrc2018_scores(predictions: Any, references: Any) -> tuple[list[float], list[float]]:
    """Per-question exact match and F1 (a question without a prediction scores 0)."""
    predictions, references = _aligned(predictions, references)
    em = [0.0 if p is None else cmrc2018_exact_match(p, r) for p, r in zip(predictions, references)]
    f1 = [0.0 if p is None else cmrc2018_f1(p, r) for p, r in zip(predictions, references)]
    return em, f1


class Cmrc2018EM(SquadEM):
    """Exact match as CMRC 2018 scores it; reported as "em"."""

    def compute(self, predictions: Any, references: Any) -> tuple[float, float, int]:
        em, f1 = cmrc2018_scores(predictions, references)
        return sum(em), sum(f1), len(em)


class Cmrc2018F1(SquadF1):
    """F1 as CMRC 2018 scores it; reported as "f1"."""

    def compute(self, predictions: Any, references: Any) -> tuple[float, float, int]:
        em, f1 = cmrc2018_scores(predictions, references)
        return sum(em), sum(f1), len(em)
