"""Reading comprehension (SQuAD-style): start and end logits per token of each window, merged
over a question's windows into its answer, scored with SQuAD exact match and F1."""
from __future__ import annotations

import math
from collections import OrderedDict
from typing import Any, Optional, Sequence

import numpy as np
import paddle
import paddle.nn as nn
from paddle.static import InputSpec

from ..data.example import LabelError
from ..metrics import SquadEM, SquadMetric, make_metrics
from ..metrics.cmrc2018 import Cmrc2018EM, Cmrc2018F1
from ..runs.records import is_records
from ..runs.results import Figures
from ..state import RunState
from .base import BaseTask
from .checks import check_labels
from .net import as_sequence_feature, sequence_feature_dim
from .spans import WindowMerger, best_spans

__all__ = ["ReadingComprehensionTask", "check_answers"]


SUB_TASKS = ("squad", "squad2.0", "cmrc2018", "drcd")  # PaddleHub 1.x's
_CHINESE = ("cmrc2018", "drcd")


class _NullAnswerMerger(WindowMerger):
    """SQuAD 2.0's merge: a question is answered "" (no answer) when its smallest null score
    (start + end logit of the [CLS] token, over its windows) exceeds its best span's score by
    more than `threshold`, as PaddleHub 1.x's squad2.0 sub-task decided."""

    def __init__(self, features: Sequence[Any], max_answer_length: int, n_best_size: int, threshold: float) -> None:
        super().__init__(features, max_answer_length, n_best_size)
        self.threshold = threshold
        self._null: dict = {}   # example_index -> smallest null score so far
        self._best: dict = {}   # example_index -> best span score so far

    def feed(self, start_logits: np.ndarray, end_logits: np.ndarray) -> list[tuple[int, str]]:
        count, steps = start_logits.shape[0], start_logits.shape[1]
        rows = self.features[self.cursor:self.cursor + count]
        if len(rows) == count:  # else the base refuses the batch
            _, _, scores = best_spans(start_logits, end_logits, self._valid(rows, steps), self.max_answer_length,
                                      self.n_best_size)
            nulls = start_logits[:, 0].astype(np.float64) + end_logits[:, 0].astype(np.float64)
            for feature, score, null in zip(rows, scores, nulls):
                index = feature.example_index
                self._null[index] = min(self._null.get(index, math.inf), float(null))
                self._best[index] = max(self._best.get(index, -math.inf), float(score))
        finished = super().feed(start_logits, end_logits)
        out = []
        for index, text in finished:
            null, best = self._null.pop(index), self._best.pop(index)
            out.append((index, "" if null - best > self.threshold else text))
        return out


class _SpanHead(nn.Layer):
    """sequence feature [N, T, H] -> start logits [N, T], end logits [N, T]."""

    def __init__(self, feature_dim: int, dropout: float) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout) if dropout else None
        self.fc = nn.Linear(feature_dim, 2,
                            weight_attr=paddle.ParamAttr(initializer=nn.initializer.TruncatedNormal(std=0.02)),
                            bias_attr=paddle.ParamAttr(initializer=nn.initializer.Constant(0.0)))

    def forward(self, feature: paddle.Tensor) -> list[paddle.Tensor]:
        if self.dropout is not None:
            feature = self.dropout(feature)
        logits = self.fc(feature)
        return [logits[:, :, 0], logits[:, :, 1]]


class _SpanLoss(nn.Layer):
    """Mean of the start and end positions' cross-entropies."""

    def forward(self, start_logits: paddle.Tensor, end_logits: paddle.Tensor, start: paddle.Tensor,
                end: paddle.Tensor) -> paddle.Tensor:
        loss_start = nn.functional.cross_entropy(start_logits, start.reshape([-1, 1]).astype("int64"))
        loss_end = nn.functional.cross_entropy(end_logits, end.reshape([-1, 1]).astype("int64"))
        return (loss_start + loss_end) / 2


def check_answers(examples: Sequence[Any], phase: str) -> None:
    """Every labelled answer lies inside its context and is the text at its answer_start."""
    for example in examples:
        label = getattr(example, "label", None)
        if not isinstance(label, dict) or "answer_start" not in label or "text" not in label:
            continue
        context = example.text_b if isinstance(example.text_b, str) else ""
        where = getattr(example, "source", None) or f"{phase} example {getattr(example, 'guid', '?')}"
        text, start = str(label["text"]), label["answer_start"]
        if not isinstance(start, (int, np.integer)) or isinstance(start, bool):
            raise LabelError(f"{where}: answer_start={start!r} should be a character offset (an int).")
        end = int(start) + len(text)
        if not text or start < 0 or end > len(context):
            raise LabelError(f"{where}: the answer {text!r} at characters [{start}, {end}) lies outside the context "
                             f"({len(context)} characters); answer_start counts characters of the context from 0.")
        if context[start:end] != text:
            raise LabelError(f"{where}: the answer {text!r} is not at answer_start {start} of the context (found "
                             f"{context[start:end]!r}); fix answer_start.")


class ReadingComprehensionTask(BaseTask):
    """Extractive QA. `feature` is the backbone's sequence_output [N, T, H]; head: (dropout) ->
    fc(2) -> start and end logits per token, [N, T] each. Labels: start and end positions,
    int64 [N, 1] each (ReadingComprehensionReader's; 0 and 0, the [CLS], when the answer is not
    in a window). Loss: mean of the two positions' cross-entropies.

    Evaluation takes each window's best span (start <= end, at most `max_answer_length` tokens,
    inside the context, among the `n_best_size` best starts and ends), keeps the best-scoring
    span over a question's windows, and scores the answer text against the dataset's answers
    with SQuAD exact match "em" and "f1" (both by default). They are scored on evaluations only:
    training batches are shuffled windows, which cannot be merged into answers.
    `predict(data=[[question, context], ...], return_result=True)` gives `{question id: answer}`
    (the id is the example's, or its index in `data`), as PaddleHub 1.x did.

    `sub_task` is PaddleHub 1.x's: "squad" (the default), "squad2.0" (a question may have no
    answer: it is answered "" when the smallest null score, start + end logit of [CLS] over its
    windows, beats the best span's score by more than `null_score_diff_threshold`), "cmrc2018"
    and "drcd" (Chinese: EM and F1 as CMRC 2018 scores them, F1 over the longest common run of
    characters). `_calculate_metrics` keys the scores as PaddleHub 1.x's evaluators did, in
    percent: "exact_match", "f1" (squad); "exact", "f1", "total" (squad2.0); "AVERAGE", "F1",
    "EM", "TOTAL", "SKIP" (cmrc2018, drcd)."""

    scores_form = True  # _calculate_metrics gives PaddleHub 1.5-1.8's (scores, avg_loss, run_speed)
    default_metrics = ("em", "f1")
    allowed_metrics = ("em", "f1")
    output_names = ("start_logits", "end_logits")

    def __init__(self, feature: Any, data_reader: Any = None, config: Any = None, metrics_choices: Any = "default",
                 max_answer_length: int = 30, n_best_size: int = 20, dropout: float = 0.0,
                 feature_dim: Optional[int] = None, sub_task: str = "squad", null_score_diff_threshold: float = 0.0,
                 **kwargs: Any) -> None:
        name = type(self).__name__
        for key, value in (("max_answer_length", max_answer_length), ("n_best_size", n_best_size)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name}: {key}={value!r} should be a whole number >= 1.")
        if not isinstance(sub_task, str) or sub_task.lower() not in SUB_TASKS:
            raise ValueError(f"{name}: sub_task={sub_task!r} is not one of PaddleHub's: choose from "
                             f"{', '.join(SUB_TASKS)} (squad2.0 for questions that may have no answer, cmrc2018 "
                             f"or drcd for Chinese).")
        if not isinstance(null_score_diff_threshold, (int, float)) or isinstance(null_score_diff_threshold, bool) \
                or math.isnan(null_score_diff_threshold):
            raise ValueError(f"{name}: null_score_diff_threshold={null_score_diff_threshold!r} should be a number, "
                             f"e.g. 0.0.")
        self.sub_task = sub_task.lower()
        self.null_score_diff_threshold = float(null_score_diff_threshold)
        self.max_answer_length = max_answer_length
        self.n_best_size = n_best_size
        self.dropout = float(dropout)
        ref = as_sequence_feature(feature)
        dim = sequence_feature_dim(ref, feature_dim, name)
        super().__init__(ref, config=config, data_reader=data_reader, metrics_choices=metrics_choices,
                         feature_dim=dim, **kwargs)
        self._eval_data: Any = None
        self._merger: Optional[WindowMerger] = None
        self._references: Optional[list] = None
        dataset = getattr(data_reader, "dataset", None)
        if dataset is not None and hasattr(dataset, "has_split"):
            for phase in ("train", "dev", "test"):
                if dataset.has_split(phase):
                    check_answers(dataset.get_examples(phase), phase)

    # ------------------------------------------------------------------ network events
    def _build_net(self) -> nn.Layer:
        return _SpanHead(self.feature_dim, self.dropout)

    def _add_label(self) -> list[InputSpec]:
        return [InputSpec([None, 1], "int64", "start_position"), InputSpec([None, 1], "int64", "end_position")]

    def _add_loss(self) -> nn.Layer:
        return _SpanLoss()

    def _add_metrics(self) -> list:
        metrics = make_metrics(self.metrics_choices, self.allowed_metrics, kind="reading_comprehension")
        if self.sub_task in _CHINESE:
            metrics = [Cmrc2018EM() if isinstance(m, SquadEM) else Cmrc2018F1() for m in metrics]
        return metrics

    def prepare(self, optimizer: Any = None, loss: Any = None, metrics: Any = None, amp_configs: Any = None) -> None:
        """As BaseTask's, with EM/F1 kept for evaluations only (see the class docstring)."""
        metrics = metrics if metrics is not None else self._add_metrics()
        super().prepare(optimizer, loss, [], amp_configs)
        self.eval_metrics = list(metrics) if isinstance(metrics, (list, tuple)) else [metrics]

    # ------------------------------------------------------------------ checks
    def _check_batch(self, phase: str, inputs: list, labels: list) -> None:
        super()._check_batch(phase, inputs, labels)
        if len(labels) < 2:
            return
        steps = int(inputs[0].shape[1]) if len(inputs[0].shape) > 1 else 1
        pair = np.concatenate([labels[0].numpy().reshape([-1, 1]), labels[1].numpy().reshape([-1, 1])], axis=1)

        def bad(rows: np.ndarray) -> np.ndarray:
            rows = rows.reshape(rows.shape[0], -1)
            return ((rows < 0) | (rows >= steps)).any(axis=1) | (rows[:, 0] > rows[:, -1])

        check_labels(self, pair, bad, f"an answer span is not inside the window's {steps} tokens, or ends before "
                     f"it starts", "Start and end positions index the window's tokens, start <= end (both 0 when "
                     "the answer is not in the window).", field=(0, 1))

    # ------------------------------------------------------------------ answers
    def evaluate(self, eval_data: Any, *args: Any, **kwargs: Any) -> dict:
        self._eval_data, self._merger = eval_data, None
        try:
            return super().evaluate(eval_data, *args, **kwargs)
        finally:
            self._eval_data = None

    def _features(self, data: Any) -> list:
        data = getattr(data, "dataset", data)  # a DataLoader's dataset
        features = getattr(data, "examples", None)
        if not isinstance(features, list) or not all(hasattr(f, "token_spans") for f in features[:1]):
            raise ValueError(f"{type(self).__name__} evaluates the windows a ReadingComprehensionReader made "
                             f"(reader.get_dataset(phase)); got {type(data).__name__}.")
        return features

    def _answers_of(self, data: Any, features: list) -> list:
        """Per question, its reference answers: the dataset's when `data` is a split of the task's
        reader, else the answer text inside the question's windows."""
        reader = self.data_reader
        dataset = getattr(reader, "dataset", None)
        data = getattr(data, "dataset", data)
        if dataset is not None and hasattr(reader, "get_dataset"):
            for phase in ("dev", "test", "train"):
                if dataset.has_split(phase) and reader.get_dataset(phase) is data:
                    examples = dataset.get_examples(phase)
                    return [[a["text"] for a in (ex.extra or {}).get("answers", [])] or
                            ([ex.label["text"]] if isinstance(ex.label, dict) else [""]) for ex in examples]
        count = features[-1].example_index + 1 if features else 0
        answers: list = [[""] for _ in range(count)]
        for f in features:
            if f.start_position > 0:
                answers[f.example_index] = [f.answer_text(f.start_position, f.end_position)]
        return answers

    def _feed_metrics(self, phase: str, outputs: list, labels: list) -> list:
        metrics = self._metrics_for(phase)
        if not metrics:
            return []
        if self._merger is None or self._merger.done:
            data = self._eval_data if self._eval_data is not None else self.phase_data(self.phase or "dev")
            features = self._features(data)
            self._merger = self._window_merger(features)
            self._references = self._answers_of(data, features)
        finished = self._merger.feed(outputs[0].numpy(), outputs[1].numpy())
        if not finished:
            return []
        predictions = [text for _, text in finished]
        references = [self._references[index] for index, _ in finished]
        return [metric.update(*metric.compute(predictions, references)) for metric in metrics]

    def _window_merger(self, features: list) -> WindowMerger:
        if self.sub_task == "squad2.0":
            return _NullAnswerMerger(features, self.max_answer_length, self.n_best_size,
                                     self.null_score_diff_threshold)
        return WindowMerger(features, self.max_answer_length, self.n_best_size)

    def _predict_examples(self, data: Sequence, load_best_model: bool, return_result: bool,
                          output_file: Optional[str] = None, label_list: Optional[Sequence[str]] = None) -> Any:
        if output_file is not None:
            raise ValueError(f"{type(self).__name__}.predict(output_file=...) is not available: an answer is "
                             f"merged from all windows of its context. Use return_result=True and write the answers.")
        return super()._predict_examples(data, load_best_model, return_result, None, label_list)

    def _predict_dataset(self, data: Sequence) -> Any:
        if self.data_reader is None or not hasattr(self.data_reader, "examples_dataset"):
            raise ValueError(f"{type(self).__name__}.predict(data=...) needs a ReadingComprehensionReader as "
                             f"data_reader, to cut the contexts into windows.")
        if is_records(data, self.input_names):
            raise ValueError(f"{type(self).__name__}.predict(data=...) takes [question, context] pairs (or "
                             f"{{'question': ..., 'context': ...}}), not encoded fields: the reader cuts each "
                             f"context into windows and maps the answers back to its text.")
        return self.data_reader.examples_dataset(data)

    # ------------------------------------------------------------------ PaddleHub 1.x's results
    def _postprocessing(self, run_states: Sequence[RunState], label_list: Optional[Sequence[str]] = None) -> Any:
        """`{question id: answer text}` over the last `predict(data=...)`, its windows merged."""
        features = self._features(self.phase_data("predict"))
        merger = self._window_merger(features)
        answers: dict = {}
        for run_state in run_states:
            answers.update(merger.feed(run_state.run_results[0], run_state.run_results[1]))
        ids: dict = {}
        for feature in features:
            ids.setdefault(feature.example_index, feature.guid)
        return OrderedDict((ids[i], answers.get(i, "")) for i in sorted(ids))

    def _metric_details(self, metrics: Sequence[Any]) -> dict:
        """The number of questions scored."""
        counts = [m.count for m in metrics if isinstance(m, SquadMetric)]
        return {"total": counts[0]} if counts else {}

    def _paddlehub1_scores(self, found: Figures) -> "OrderedDict[str, float]":
        em, f1 = found.values.get("em"), found.values.get("f1")
        total = found.details.get("total")
        scores: OrderedDict = OrderedDict()
        if self.sub_task in _CHINESE:
            if em is not None and f1 is not None:
                scores["AVERAGE"] = 50.0 * (em + f1)
            names = (("F1", f1), ("EM", em))
        else:
            names = (("exact_match" if self.sub_task == "squad" else "exact", em), ("f1", f1))
        scores.update((name, 100.0 * value) for name, value in names if value is not None)
        if scores and total is not None and self.sub_task != "squad":
            scores["TOTAL" if self.sub_task in _CHINESE else "total"] = total
            if self.sub_task in _CHINESE:
                scores["SKIP"] = 0  # every question gets an answer here
        return scores
