"""ReadingComprehensionTask: span search against brute force, windows merged across batch
boundaries, training on a small SQuAD-format set (a tiny BERT over the MiniLM vocabulary) well
above trivial answers, and answers outside their context refused naming the question."""
import collections
import itertools
import os

import numpy as np
import pytest

import hubtrain as hub
from hubtrain.data.base import BaseDataset
from hubtrain.data.example import InputExample, LabelError
from hubtrain.data.rc_reader import RCFeature
from hubtrain.data.squad import SquadDataset
from hubtrain.metrics import squad_em_f1
from hubtrain.tasks.spans import WindowMerger, best_spans
from tiny_tasks import minilm_vocab, write_bert, write_squad


# ---------------------------------------------------------------- span search and merging
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_best_span_matches_brute_force(seed):
    rng = np.random.RandomState(seed)
    rows, steps, longest = 6, 9, 3
    start, end = rng.randn(rows, steps), rng.randn(rows, steps)
    valid = rng.rand(rows, steps) > 0.3
    valid[0] = False  # no span at all
    got_start, got_end, got_score = best_spans(start, end, valid, longest, n_best_size=steps)
    for i in range(rows):
        spans = [(a, b) for a, b in itertools.product(range(steps), repeat=2)
                 if valid[i, a] and valid[i, b] and 0 <= b - a < longest]
        if not spans:
            assert got_score[i] == -np.inf
            continue
        a, b = max(spans, key=lambda s: start[i, s[0]] + end[i, s[1]])
        assert (got_start[i], got_end[i]) == (a, b)
        assert got_score[i] == pytest.approx(start[i, a] + end[i, b])


def _feature(index, window, context, spans, start=0, end=0):
    n = len(spans)
    return RCFeature(index, f"q{index}", window, np.zeros(n, "int64"), np.zeros(n, "int64"), start, end,
                     spans, context)


def test_windows_merge_across_batches_into_the_best_answer():
    context = "alpha beta gamma delta"
    words = [(0, 5), (6, 10), (11, 16), (17, 22)]
    features = [_feature(0, 0, context, [None, words[0], words[1], None]),
                _feature(0, 1, context, [None, words[2], words[3], None]),
                _feature(1, 0, context, [None, words[0], words[1], None])]
    merger = WindowMerger(features, max_answer_length=2, n_best_size=4)
    low, high = np.full((1, 4), -5.0), np.full((1, 4), -5.0)
    first = merger.feed(np.array([[0, 1, 0, 0]], float), np.array([[0, 1, 0, 0]], float))  # "alpha", score 2
    assert first == []  # question 0 still has a window to come
    second = merger.feed(np.concatenate([np.array([[0, 0, 3, 0]], float), low]),
                         np.concatenate([np.array([[0, 0, 3, 0]], float), high]))  # "delta", score 6
    assert second == [(0, "delta"), (1, "alpha")] and merger.done
    with pytest.raises(ValueError, match="get_dataset"):
        merger.feed(low, high)


# ---------------------------------------------------------------- training
@pytest.fixture(scope="module")
def squad_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("facts")
    write_squad(root / "train.json", 400, seed=0)
    write_squad(root / "dev.json", 80, seed=1)
    return str(root)


def test_reading_comprehension_task_learns_to_answer(tmp_path, squad_dir):
    dataset = SquadDataset(base_path=squad_dir, train_file="train.json", dev_file="dev.json")
    module = hub.Module(directory=write_bert(str(tmp_path / "bert"), vocab_file=minilm_vocab(), hidden=64, layers=2))
    reader = hub.reader.ReadingComprehensionReader(dataset=dataset, vocab_path=module.get_vocab_path(),
                                                   max_seq_length=40, doc_stride=12, max_query_length=12)
    dev = reader.get_dataset("dev")
    assert len(dev) > len(dataset.get_dev_examples())  # some contexts need two windows
    inputs, outputs, program = module.context(trainable=True)
    task = hub.ReadingComprehensionTask(outputs["sequence_output"], data_reader=reader, max_answer_length=5,
                                        config=hub.RunConfig(num_epoch=3, batch_size=32, log_interval=1000,
                                                             checkpoint_dir=str(tmp_path / "ckpt"),
                                                             strategy=hub.DefaultFinetuneStrategy(
                                                                 learning_rate=5e-3, regularization_coeff=0.0)))
    assert task.metric_variable_names() == ["loss", "em", "f1"]
    task.finetune_and_eval()
    result = task.last_result("dev")

    # trivial answers: the most common training answer, or the context's first word
    examples = dataset.get_dev_examples()
    answers = [[a["text"] for a in ex.extra["answers"]] for ex in examples]
    common = collections.Counter(ex.label["text"] for ex in dataset.get_train_examples()).most_common(1)[0][0]
    assert result["em"] > 0.8 and result["f1"] >= result["em"]
    assert result["em"] > squad_em_f1([common] * len(examples), answers)[0] + 0.5
    assert result["em"] > squad_em_f1([ex.text_b.split()[0] for ex in examples], answers)[0] + 0.5
    assert task.variable("em") == pytest.approx(result["em"])
    again = task.evaluate(dev, batch_size=7)  # hapi's call; windows now straddle other batch boundaries
    assert again["em"] == pytest.approx(result["em"]) and again["f1"] == pytest.approx(result["f1"])
    assert os.path.isdir(tmp_path / "ckpt" / "best_model")

    # predict merges each question's windows into its answer; evaluation's scores agree with it
    questions = [[ex.text_a, ex.text_b] for ex in examples]
    predicted = list(task.predict(data=questions, return_result=True).values())  # {question id: answer}
    assert len(predicted) == len(examples)
    assert squad_em_f1(predicted, answers)[0] == pytest.approx(result["em"])
    assert task.predict(data=[{"question": "where does bob live ?",
                               "context": "the market opened early . bob lives in oslo ."}],
                        return_result=True) == {0: "oslo"}


# ---------------------------------------------------------------- bad input
class _QuestionFile(BaseDataset):
    """question<TAB>context<TAB>answer<TAB>answer_start per line."""

    def _read_file(self, path, phase):
        examples = []
        with open(path, encoding="utf-8") as f:
            for number, line in enumerate(f, start=1):
                question, context, answer, start = line.rstrip("\n").split("\t")
                examples.append(InputExample(guid=number, text_a=question, text_b=context, source=f"{path}:{number}",
                                             label={"text": answer, "answer_start": int(start)}))
        return examples


@pytest.mark.parametrize("row, words", [("who ?\tbob lives in oslo .\toslo\t40", "outside the context"),
                                        ("who ?\tbob lives in oslo .\toslo\t-3", "outside the context"),
                                        ("who ?\tbob lives in oslo .\toslo\t2", "not at answer_start 2")])
def test_answer_outside_the_context_names_the_question(tmp_path, tiny_bert_dir, row, words):
    path = tmp_path / "train.tsv"
    path.write_text("where ?\tbob lives in oslo .\toslo\t13\n" + row + "\n", encoding="utf-8")
    dataset = _QuestionFile(base_path=str(tmp_path), train_file="train.tsv")
    module = hub.Module(directory=tiny_bert_dir)
    reader = hub.reader.ReadingComprehensionReader(dataset=dataset, vocab_path=module.get_vocab_path(),
                                                   max_seq_length=32, max_query_length=8)
    with pytest.raises(LabelError, match=words) as err:
        hub.ReadingComprehensionTask(module.context()[1]["sequence_output"], data_reader=reader)
    assert f"{path}:2" in str(err.value)


@pytest.mark.parametrize("bad", [(1, 9), (4, 2), (-1, 0)])
def test_answer_position_outside_the_window_is_refused(tmp_path, tiny_bert_dir, bad):
    module = hub.Module(directory=tiny_bert_dir)
    task = hub.ReadingComprehensionTask(module.context()[1]["sequence_output"],
                                        config=hub.RunConfig(num_epoch=1, batch_size=4,
                                                             checkpoint_dir=str(tmp_path / "ckpt")))
    spans = [(1, 2), (1, 3), bad, (1, 4)]
    rows = [(np.arange(6, dtype="int64"), np.arange(6, dtype="int64"), np.zeros(6, "int64"), np.ones(6, "int64"),
             np.array([s], "int64"), np.array([e], "int64")) for s, e in spans]
    with pytest.raises(LabelError, match="not inside the window's 6 tokens, or ends before it starts") as err:
        task.finetune(rows)
    assert "train example 2" in str(err.value)
