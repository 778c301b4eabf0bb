"""SQuAD-format reading-comprehension files (SQuAD, CMRC2018 and DRCD share the shape)."""
from __future__ import annotations

import json
from typing import Any, Optional

from .base import BaseDataset
from .example import InputExample
from .table import TableError, read_text

__all__ = ["SquadDataset"]


class SquadDataset(BaseDataset):
    """Questions over contexts from SQuAD-format JSON files
    (`{"data": [{"title", "paragraphs": [{"context", "qas": [{"id", "question", "answers":
    [{"text", "answer_start"}], "is_impossible"}]}]}]}`).

    Each example: guid = the question id, text_a = the question, text_b = the context, label =
    the first answer as `{"text", "answer_start"}` (None for an unanswerable question), `extra` =
    {"answers": every answer, "is_impossible", "title"}; source = "file (question id ...)".

    An answer whose text is not at its answer_start in the context is an error; with
    `strict=False` it is moved to the nearest place the text occurs, or the question is dropped
    when it does not occur at all (counted in `self.repaired` / `self.dropped`)."""

    def __init__(self, base_path: Optional[str] = None, train_file: Optional[str] = None,
                 dev_file: Optional[str] = None, test_file: Optional[str] = None,
                 predict_file: Optional[str] = None, strict: bool = True,
                 version_2_with_negative: bool = False) -> None:
        self.strict = strict
        self.version_2_with_negative = version_2_with_negative
        self.repaired = 0
        self.dropped = 0
        super().__init__(base_path=base_path, train_file=train_file, dev_file=dev_file, test_file=test_file,
                         predict_file=predict_file)

    def _read_file(self, path: str, phase: str) -> list:
        try:
            data = json.loads(read_text(path))
        except json.JSONDecodeError as e:
            raise TableError(f"{path}:{e.lineno}: not valid JSON ({e.msg}); a SQuAD-format file is one JSON "
                             f"object with a 'data' list.") from None
        articles = data.get("data") if isinstance(data, dict) else None
        if not isinstance(articles, list):
            raise TableError(f"{path}: no 'data' list at the top level; a SQuAD-format file looks like "
                             f'{{"data": [{{"paragraphs": [{{"context": ..., "qas": [...]}}]}}]}}.')
        examples = []
        for a, article in enumerate(articles):
            for p, paragraph in enumerate(_field(article, "paragraphs", list, f"{path} data[{a}]")):
                where = f"{path} data[{a}].paragraphs[{p}]"
                context = _field(paragraph, "context", str, where)
                for q, qa in enumerate(_field(paragraph, "qas", list, where)):
                    example = self._example(qa, context, article.get("title"), f"{where}.qas[{q}]", path, phase)
                    if example is not None:
                        examples.append(example)
        if not examples:
            raise TableError(f"{path}: the file has no questions; add 'qas' entries to its paragraphs.")
        return examples

    def _example(self, qa: Any, context: str, title: Any, where: str, path: str, phase: str) -> Optional[InputExample]:
        qid = str(_field(qa, "id", (str, int), where))
        source = f"{path} (question id {qid})"
        question = _field(qa, "question", str, where)
        impossible = bool(qa.get("is_impossible", False))
        answers = [] if impossible else [self._answer(a, context, source) for a in qa.get("answers", [])]
        answers = [a for a in answers if a is not None]
        if not answers and not impossible and phase == "train":
            if qa.get("answers"):
                return None  # every answer was dropped (strict=False)
            raise TableError(f"{source}: a training question needs an answer, or is_impossible: true.")
        label = dict(answers[0]) if answers else None
        extra = {"answers": answers, "is_impossible": impossible, "title": title}
        return InputExample(guid=qid, text_a=question, text_b=context, label=label, source=source, extra=extra)

    def _answer(self, answer: Any, context: str, source: str) -> Optional[dict]:
        text = _field(answer, "text", str, source)
        start = _field(answer, "answer_start", int, source)
        if context[start:start + len(text)] == text and text:
            return {"text": text, "answer_start": start}
        if self.strict:
            raise TableError(f"{source}: the answer {text!r} is not at answer_start {start} of the context "
                             f"(found {context[start:start + len(text)]!r}); fix answer_start, or pass "
                             f"strict=False to move it to where the text occurs.")
        places = _occurrences(context, text) if text else []
        if not places:
            self.dropped += 1
            return None
        self.repaired += 1
        return {"text": text, "answer_start": min(places, key=lambda s: abs(s - start))}


def _occurrences(context: str, text: str) -> list:
    places, at = [], context.find(text)
    while at >= 0:
        places.append(at)
        at = context.find(text, at + 1)
    return places


def _field(record: Any, name: str, kind: Any, where: str) -> Any:
    if not isinstance(record, dict) or name not in record:
        raise TableError(f"{where}: missing '{name}'; see the SQuAD format.")
    value = record[name]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise TableError(f"{where}: '{name}' should be {getattr(kind, '__name__', 'a string or number')}, "
                         f"found {type(value).__name__}.")
    return value
